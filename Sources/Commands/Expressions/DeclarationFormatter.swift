/// C declarations as gdb's `whatis`/`ptype` print them, which is what crash shows for `whatis`
/// and `struct NAME`: "struct list_head *next", "char comm[16]", "void (*)(struct rq *, int)",
/// and whole struct bodies with anonymous members expanded in place, four spaces per level.
public struct DeclarationFormatter {
    public let source: any TypeSource
    /// Nesting limit for anonymous records expanded inside each other (a damaged type graph
    /// must not recurse forever).
    public var maxDepth = 32

    public init(source: any TypeSource) { self.source = source }

    /// The type's name as gdb writes it in a cast: "struct mm_struct *", "char (*)[16]".
    public func name(of type: CType) -> String { declaration(type, declarator: "") }

    /// `type` declaring `declarator` ("next" -> "struct list_head *next"); anonymous records and
    /// enums are abbreviated as "struct {...}".
    public func declaration(_ type: CType, declarator: String) -> String {
        declare(type, declarator, expandAt: nil)
    }

    /// The C declaration of `type` wrapped around `declarator`. With `expandAt` set, anonymous
    /// struct/union/enum bodies are written out at that indent level (ptype style).
    func declare(_ type: CType, _ declarator: String, expandAt indent: Int?, depth: Int = 0) -> String {
        func base(_ name: String) -> String { declarator.isEmpty ? name : name + " " + declarator }
        switch type {
        case .void: return base("void")
        case let .integer(i): return base(i.name)
        case let .float(name, _): return base(name)
        case let .typedef(name, _): return base(name)
        case let .record(r):
            if let name = r.name { return base("\(r.kind.rawValue) \(name)") }
            if let indent, depth < maxDepth {
                return base(recordBody(r, indent: indent, depth: depth + 1))
            }
            return base("\(r.kind.rawValue) {...}")
        case let .enumeration(e):
            if let name = e.name { return base("enum \(name)") }
            if indent != nil { return base(enumBody(e)) }
            return base("enum {...}")
        case let .pointer(target):
            var d = "*" + declarator
            if needsParentheses(target) { d = "(" + d + ")" }
            return declare(target, d, expandAt: indent, depth: depth)
        case let .array(element, count):
            return declare(element, declarator + "[" + (count.map { String($0) } ?? "") + "]",
                           expandAt: indent, depth: depth)
        case let .function(returns, parameters, variadic):
            var list: [String]
            if let parameters {
                list = parameters.map { declare($0, "", expandAt: nil) }
                if variadic { list.append("...") }
                if list.isEmpty { list = ["void"] }
            } else {
                list = []
            }
            return declare(returns, declarator + "(" + list.joined(separator: ", ") + ")",
                           expandAt: indent, depth: depth)
        case let .qualified(inner, const, volatile):
            var q: [String] = []
            if const { q.append("const") }
            if volatile { q.append("volatile") }
            let quals = q.joined(separator: " ")
            if case let .array(element, count) = inner {
                // A qualified array is an array of qualified elements; C writes it that way.
                let e: CType
                switch element {
                case let .qualified(t, c, v): e = .qualified(t, const: c || const, volatile: v || volatile)
                default: e = .qualified(element, const: const, volatile: volatile)
                }
                return declare(.array(e, count: count), declarator, expandAt: indent, depth: depth)
            }
            if case let .pointer(target) = inner {
                // A qualified pointer: the qualifier follows the star ("char * const p").
                var d = "* " + quals + (declarator.isEmpty ? "" : " " + declarator)
                if needsParentheses(target) { d = "(" + d + ")" }
                return declare(target, d, expandAt: indent, depth: depth)
            }
            return quals + " " + declare(inner, declarator, expandAt: indent, depth: depth)
        }
    }

    private func needsParentheses(_ target: CType) -> Bool {
        switch target {
        case .array, .function: return true
        case let .qualified(t, _, _): return needsParentheses(t)
        default: return false
        }
    }

    /// "struct {\n<members>\n<indent>}" with members at `indent` + 4 spaces.
    func recordBody(_ r: CRecord, indent: Int, depth: Int) -> String {
        var out = r.kind.rawValue + (r.name.map { " " + $0 } ?? "") + " {\n"
        let lines = memberLines(r, indent: indent + 4, depth: depth)
        for line in lines {
            out += line.text + "\n"
        }
        if lines.isEmpty, !r.isDeclaration { out += String(repeating: " ", count: indent + 4) + "<no data fields>\n" }
        out += String(repeating: " ", count: indent) + "}"
        return out
    }

    func enumBody(_ e: CEnum) -> String {
        var next: Int64 = 0
        var parts: [String] = []
        for en in e.enumerators {
            parts.append(en.value == next ? en.name : "\(en.name) = \(en.value)")
            next = en.value &+ 1
        }
        return "enum " + (e.name.map { $0 + " " } ?? "") + "{" + parts.joined(separator: ", ") + "}"
    }

    /// One printed line of a struct body and the member it declares. A member whose anonymous
    /// type is written out spans several lines: the opening line has no member, the closing
    /// "} name;" line has it. Nested lines carry their own member and the record they belong to.
    public struct MemberLine {
        public var text: String
        /// The member's name when this line ends its declaration.
        public var memberName: String?
        /// True on lines that open an anonymous struct/union body ("    union {").
        public var opensRecord: CRecord.Kind?
    }

    /// The lines of `r`'s body, at `indent` spaces.
    public func memberLines(_ r: CRecord, indent: Int, depth: Int = 0) -> [MemberLine] {
        let pad = String(repeating: " ", count: indent)
        var lines: [MemberLine] = []
        for m in source.members(of: r) {
            let name = m.name ?? ""
            var decl = declare(m.type, name, expandAt: indent, depth: depth)
            if let bits = m.bitSize { decl += " : \(bits)" }
            decl += ";"
            let parts = decl.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 1 {
                lines.append(MemberLine(text: pad + decl, memberName: m.name))
                continue
            }
            let opener: CRecord.Kind? = m.type.resolvedAnonymousRecordKind
            for (i, p) in parts.enumerated() {
                // Nested lines already carry their own indent from the recursive body.
                let text = i == 0 ? pad + p : p
                if i == 0 {
                    lines.append(MemberLine(text: text, memberName: nil, opensRecord: opener))
                } else if i == parts.count - 1 {
                    lines.append(MemberLine(text: text, memberName: m.name))
                } else {
                    lines.append(MemberLine(text: text, memberName: Self.declaredName(p)))
                }
            }
        }
        return lines
    }

    /// The member name a nested body line declares, the way crash finds it in ptype text: the
    /// word before " : " of a bit field, the name inside "(*name)" of a function pointer, else
    /// the last word before ";" without its stars and brackets.
    static func declaredName(_ line: String) -> String? {
        guard line.hasSuffix(";") else { return nil }
        var s = Substring(line.dropLast())
        let words = s.split(separator: " ")
        if let colon = words.firstIndex(of: ":"), colon > words.startIndex {
            s = words[colon - 1]
        }
        for w in s.split(separator: " ") {
            for prefix in ["(*", "*(*", "**(*"] where w.hasPrefix(prefix) {
                return w.dropFirst(prefix.count).split(separator: ")").first.map(String.init)
            }
        }
        guard var word = s.split(separator: " ").last else { return nil }
        while word.first == "*" || word.first == "}" { word = word.dropFirst() }
        if let b = word.firstIndex(of: "[") { word = word[..<b] }
        return word.isEmpty ? nil : String(word)
    }

    /// What crash's `whatis NAME` / `struct NAME` print for a type: the definition of a
    /// struct/union/enum, or "typedef <decl> NAME;", each followed by "SIZE: n".
    public func definition(of type: CType) -> String {
        var out: String
        switch type {
        case let .record(r):
            out = r.isDeclaration ? "\(r.kind.rawValue) \(r.name ?? "") {\n}" : recordBody(r, indent: 0, depth: 0)
        case let .enumeration(e):
            // gdb's ptype of an enum: one "NAME = VALUE" a line, and crash prints no size.
            out = "enum " + (e.name.map { $0 + " " } ?? "") + "{\n"
            for en in e.enumerators { out += "  \(en.name) = \(en.value)\n" }
            return out + "};\n"
        case let .typedef(name, inner):
            // gdb's ptype looks through a chain of typedefs to the type underneath.
            var target = inner
            for _ in 0..<64 {
                guard case let .typedef(_, next) = target else { break }
                target = next
            }
            if case let .record(r) = target, !r.isDeclaration {
                // A typedef of a struct or union shows the body, named or not, as gdb's ptype does.
                out = "typedef " + recordBody(r, indent: 0, depth: 0) + " " + name + ";"
            } else {
                out = "typedef " + declare(target, name, expandAt: 0) + ";"
            }
        default:
            out = declare(type, "", expandAt: 0)
        }
        out += "\n"
        if let size = type.size { out += "SIZE: \(size)\n" }
        return out
    }
}

extension CType {
    /// struct/union when this is an anonymous record (under qualifiers and arrays), else nil.
    var resolvedAnonymousRecordKind: CRecord.Kind? {
        switch self {
        case let .record(r): return r.name == nil ? r.kind : nil
        case let .qualified(t, _, _): return t.resolvedAnonymousRecordKind
        case let .array(t, _): return t.resolvedAnonymousRecordKind
        default: return nil
        }
    }
}

extension DeclarationFormatter {
    /// crash's `struct -o` listing: the struct body with each member's offset (or, given
    /// `address`, its address) in brackets before it, right-aligned to the width of the struct's
    /// size plus four. Like crash, a line gets an offset when its member name is a member of the
    /// struct itself or of one of its anonymous members; members of named inner structs written
    /// out in place get none, their closing "} name;" line does. With `only`, just the lines of
    /// those members are listed and "SIZE:" is left out.
    public func offsetListing(_ r: CRecord, address: UInt64? = nil, only: [String]? = nil) -> String {
        let sizeText = String(r.size)
        let width = sizeText.count + 4
        var out = r.kind.rawValue + (r.name.map { " " + $0 } ?? "") + " {\n"
        var openedAnonymous: CRecord.Kind?
        for line in memberLines(r, indent: 4) {
            // crash notes a top-level "union {" / "struct {" so a selected member that closes it
            // can show what it closes.
            if line.text.hasPrefix("    union {") { openedAnonymous = .union }
            if line.text.hasPrefix("    struct {") { openedAnonymous = .structure }
            let endsBlock = line.text.hasPrefix("    } ")
            guard let name = line.memberName, let offset = source.findMember(name, in: r).map({ $0.bitOffset / 8 }) else {
                if endsBlock { openedAnonymous = nil }
                if only == nil { out += String(repeating: " ", count: sizeText.count + 1) + line.text + "\n" }
                continue
            }
            if let only, !only.contains(name) {
                if endsBlock { openedAnonymous = nil }
                continue
            }
            if endsBlock, only != nil, let kind = openedAnonymous {
                out += String(repeating: " ", count: width + 1) + kind.rawValue + " {\n"
            }
            if endsBlock { openedAnonymous = nil }
            let label = address.map { "  [" + String($0 &+ UInt64(bitPattern: Int64(offset)), radix: 16) + "]" } ?? "  [\(offset)]"
            out += String(repeating: " ", count: max(0, width - label.count)) + label + line.text.dropFirst(3) + "\n"
        }
        out += "}\n"
        if only == nil { out += "SIZE: \(r.size)\n" }
        return out
    }
}

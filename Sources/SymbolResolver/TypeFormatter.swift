/// C declarations in the form gdb and crash print them.
extension KernelTypes {
    /// The type's spelling without a name: "struct list_head *", "char [16]", "void (*)(void)".
    public func typeName(of id: TypeID) -> String {
        declaration(of: id, name: "")
    }

    /// A C declaration: "struct list_head *next", "char comm[16]",
    /// "const struct sched_class *sched_class", "void (*func)(struct callback_head *)",
    /// "unsigned int sched_reset_on_fork : 1" (when `bitSize` is not 0).
    public func declaration(of id: TypeID, name: String, bitSize: UInt32 = 0) -> String {
        var text = declarator(id, inner: name, depth: 0)
        if bitSize != 0 { text += " : \(bitSize)" }
        return text
    }

    private func joined(_ head: String, _ inner: String) -> String {
        inner.isEmpty ? head : head + " " + inner
    }

    private func declarator(_ id: TypeID, inner: String, depth: Int) -> String {
        guard depth < 64 else { return joined("?", inner) }
        switch type(id) {
        case .void:
            return joined("void", inner)
        case let .base(n, _, _), let .typedef(n, _):
            return joined(n, inner)
        case let .structure(c):
            return joined(c.name.map { "struct \($0)" } ?? "struct {...}", inner)
        case let .union(c):
            return joined(c.name.map { "union \($0)" } ?? "union {...}", inner)
        case let .enumeration(n, _, _, _):
            return joined(n.map { "enum \($0)" } ?? "enum {...}", inner)
        case let .forward(n, isUnion):
            return joined((isUnion ? "union " : "struct ") + n, inner)
        case let .pointer(target):
            let next = "*" + inner
            switch type(target) {
            case .array, .function: return declarator(target, inner: "(" + next + ")", depth: depth + 1)
            default: return declarator(target, inner: next, depth: depth + 1)
            }
        case let .array(elem, count):
            return declarator(elem, inner: inner + "[" + (count.map { String($0) } ?? "") + "]", depth: depth + 1)
        case let .function(returns, params, variadic):
            var list = params.map { typeName(of: $0.type) }
            if variadic { list.append("...") }
            let args = list.isEmpty ? "void" : list.joined(separator: ", ")
            return declarator(returns, inner: inner + "(" + args + ")", depth: depth + 1)
        case let .qualified(q, target):
            switch type(target) {
            case .pointer:
                return declarator(target, inner: joined(q.rawValue, inner), depth: depth + 1)
            case let .array(elem, count):
                // A qualified array is an array of qualified elements (C11 6.7.3); gcc often
                // also qualifies the element, which must not print twice.
                if case .qualified(q, _) = type(elem) { return declarator(target, inner: inner, depth: depth + 1) }
                let suffix = "[" + (count.map { String($0) } ?? "") + "]"
                return q.rawValue + " " + declarator(elem, inner: inner + suffix, depth: depth + 1)
            default:
                break
            }
            return q.rawValue + " " + declarator(target, inner: inner, depth: depth + 1)
        }
    }

    /// The anonymous struct or union a member's type is (looking through qualifiers, not
    /// typedefs): such members are printed with their body, as gdb does.
    private func anonymousBody(_ id: TypeID) -> (keyword: String, body: Composite)? {
        var cur = id
        for _ in 0..<8 {
            switch type(cur) {
            case let .qualified(_, t): cur = t
            case let .structure(c) where c.name == nil: return ("struct", c)
            case let .union(c) where c.name == nil: return ("union", c)
            default: return nil
            }
        }
        return nil
    }

    /// The whole type as crash's `whatis` prints it (without the "SIZE:" line): a struct or
    /// union with its members one per line, anonymous members expanded in place; a typedef as
    /// "typedef ... name;"; an enum with its enumerators; any other type as its spelling.
    public func definition(of id: TypeID) -> String {
        var lines: [String] = []
        switch type(id) {
        case let .structure(c):
            appendBody(keyword: "struct", c, indent: 0, trailer: "}", into: &lines)
        case let .union(c):
            appendBody(keyword: "union", c, indent: 0, trailer: "}", into: &lines)
        case let .typedef(name, target):
            if let (kw, c) = anonymousBody(target) {
                lines.append("typedef " + kw + " {")
                appendMembers(c, indent: 4, into: &lines)
                lines.append("} \(name);")
            } else {
                lines.append("typedef " + declaration(of: target, name: name) + ";")
            }
        case let .enumeration(name, _, _, values):
            lines.append((name.map { "enum \($0)" } ?? "enum") + " {")
            var expected: Int64 = 0
            for (i, v) in values.enumerated() {
                let sep = i + 1 < values.count ? "," : ""
                lines.append("    " + v.name + (v.value == expected ? "" : " = \(v.value)") + sep)
                expected = v.value &+ 1
            }
            lines.append("}")
        default:
            lines.append(typeName(of: id))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func appendBody(keyword: String, _ c: Composite, indent: Int, trailer: String, into lines: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        lines.append(pad + keyword + (c.name.map { " \($0)" } ?? "") + " {")
        appendMembers(c, indent: indent + 4, into: &lines)
        lines.append(pad + trailer)
    }

    private func appendMembers(_ c: Composite, indent: Int, into lines: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        for m in c.members {
            if let (kw, body) = anonymousBody(m.type), indent < 64 {
                appendBody(keyword: kw, body, indent: indent, trailer: "}" + (m.name.map { " \($0)" } ?? "") + ";",
                           into: &lines)
            } else {
                lines.append(pad + declaration(of: m.type, name: m.name ?? "", bitSize: m.bitSize) + ";")
            }
        }
    }

    /// One line of a `struct -o` listing.
    public struct OffsetLine: Sendable, Hashable {
        /// Byte offset from the start of the outer type; nil for lines that open or close an
        /// anonymous block.
        public let offset: UInt64?
        /// Nesting depth (0 for the outer type's own members).
        public let depth: Int
        /// The declaration text ("struct list_head *next;", "union {", "};").
        public let text: String
    }

    /// The members of a struct or union with their byte offsets (anonymous members expanded),
    /// for `struct -o`.
    public func offsetLines(of id: TypeID) -> [OffsetLine] {
        guard let c = composite(id) else { return [] }
        var out: [OffsetLine] = []
        func walk(_ c: Composite, base: UInt64, depth: Int) {
            for m in c.members {
                let off = base &+ m.byteOffset
                if let (kw, body) = anonymousBody(m.type), depth < 16 {
                    out.append(OffsetLine(offset: off, depth: depth, text: kw + " {"))
                    walk(body, base: off, depth: depth + 1)
                    out.append(OffsetLine(offset: nil, depth: depth, text: "}" + (m.name.map { " \($0)" } ?? "") + ";"))
                } else {
                    out.append(OffsetLine(offset: off, depth: depth,
                                          text: declaration(of: m.type, name: m.name ?? "", bitSize: m.bitSize) + ";"))
                }
            }
        }
        walk(c, base: 0, depth: 0)
        return out
    }

    /// crash's `struct -o NAME` text (without the "SIZE:" line): each member prefixed by its
    /// offset in brackets, right-aligned to the width of the type's size plus four.
    public func offsetListing(of id: TypeID) -> String {
        guard let c = composite(id) else { return definition(of: id) }
        let keyword: String
        if case .union = type(resolved(id)) { keyword = "union" } else { keyword = "struct" }
        let width = String(c.size).count + 4
        var lines = [keyword + (c.name.map { " \($0)" } ?? "") + " {"]
        for l in offsetLines(of: id) {
            let indent = String(repeating: " ", count: 4 * l.depth)
            if let off = l.offset {
                let tag = "[\(off)]"
                lines.append(String(repeating: " ", count: max(0, width - tag.count)) + tag + " " + indent + l.text)
            } else {
                lines.append(String(repeating: " ", count: width + 1) + indent + l.text)
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}

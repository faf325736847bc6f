/// `whatis`: the definition of a struct, union, enum or typedef, or the declaration of a
/// variable or function, as crash prints them.
public enum WhatisCommand: CrashCommand {
    public static let name = "whatis"
    public static let summary = "show a type's definition or a symbol's declaration"
    public static let usage = """
    NAME
      whatis - show a type's definition or a symbol's declaration

    SYNOPSIS
      whatis [struct | union | enum] name | name.member | symbol | expression

    DESCRIPTION
      For a struct, union or enum: its definition and SIZE. For a typedef: the typedef
      and SIZE. For "type.member": the member with its offset. For a global variable or
      function: its declaration. For another expression: its type.

    EXAMPLES
      crash> whatis jiffies
      volatile unsigned long jiffies;
      crash> whatis pid_t
      typedef int pid_t;
      SIZE: 4
      crash> whatis task_struct.pid
      struct task_struct {
        [2416] pid_t pid;
      }
    """

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        if prefix.contains(".") || prefix.contains("->") {
            // "type.member" or a member chain from a variable.
            guard let context = try? ExpressionContext(session: session) else { return [] }
            return MemberCompletion.typePath(prefix, kind: nil, context: context) + MemberCompletion.expression(prefix, context: context)
        }
        return typeNameCompletions(prefix: prefix, in: session) + session.symbolCompletions(prefix: prefix)
    }

    /// What `whatis` found.
    public struct Result: CommandResult {
        public var text: String
        public var json: JSONValue
        public func renderText() -> String { text }
        public func renderJSON() -> JSONValue { json }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard !arguments.isEmpty else { throw CommandError("usage: whatis [struct|union|enum] name") }
        let text = arguments.joined(separator: " ")
        let context = try ExpressionContext(session: session)
        let formatter = context.formatter
        let source = context.source

        // "struct NAME", "union NAME", "enum NAME", or a bare type name.
        if let t = source.type(named: text), !text.contains(".") {
            if source.global(named: text) == nil || text.hasPrefix("struct ") || text.hasPrefix("union ") || text.hasPrefix("enum ") {
                return Result(text: formatter.definition(of: t), json: typeJSON(t, formatter: formatter, name: text))
            }
        }
        // "type.member": the member's line of the offset listing.
        if let dot = text.firstIndex(of: "."), !text.contains(" ") || text.hasPrefix("struct ") || text.hasPrefix("union ") {
            let typeText = String(text[..<dot])
            let path = String(text[text.index(after: dot)...])
            if source.global(named: typeText) == nil, let t = context.recordType(typeText, kind: nil), let r = t.record {
                let first = String(path.split(separator: ".").first ?? "")
                guard source.findMember(first, in: r) != nil else {
                    throw CommandError("invalid data structure reference: \(text)")
                }
                return Result(text: formatter.offsetListing(r, only: [first]),
                              json: .object([("type", .string(formatter.name(of: t))), ("member", .string(path))]))
            }
        }
        // A plain symbol: its declaration. crash looks at the first word alone when it names a
        // symbol ("whatis jiffies + 1" declares jiffies).
        let symbolName = source.global(named: arguments[0]) != nil ? arguments[0] : text
        if let g = source.global(named: symbolName) {
            let text = symbolName
            guard let type = g.type else {
                if session.vmlinuxPath == nil {
                    throw CommandError("\(text): no type information without a vmlinux (the kernel's BTF declares only per-cpu variables)")
                }
                throw CommandError("\(text): no type information (an ELF symbol without debuginfo)")
            }
            let decl = formatter.declaration(type, declarator: text) + ";"
            return Result(text: decl + "\n", json: .object([
                ("name", .string(text)), ("type", .string(formatter.name(of: type))),
                ("declaration", .string(decl)), ("address", .address(g.address)),
            ]))
        }
        // An enumeration constant: crash names its enum and value ("enum pageflags = 4"), and
        // "(unknown)" for an anonymous enum.
        // Like a symbol, crash looks at the first word alone ("whatis PG_lru + 1").
        if source.global(named: arguments[0]) == nil, let constant = source.enumerator(named: arguments[0]) {
            let text = arguments[0]
            let enumName = constant.type.enumeration?.name.map { "enum \($0)" } ?? "enum (unknown)"
            let line = "\(enumName) = \(constant.value)"
            return Result(text: line + "\n", json: .object([
                ("name", .string(text)), ("type", .string(formatter.name(of: constant.type))),
                ("declaration", .string(line)), ("value", .int(constant.value)),
            ]))
        }
        // Any other expression: its type, like gdb's whatis.
        do {
            let (_, value) = try context.evaluator().evaluate(text)
            let name = formatter.name(of: value.type)
            return Result(text: name + "\n", json: .object([("expression", .string(text)), ("type", .string(name))]))
        } catch {
            throw CommandError("invalid data structure reference: \(text)")
        }
    }

    /// JSON for a type: its declaration text, size and (for records) members with offsets.
    static func typeJSON(_ t: CType, formatter: DeclarationFormatter, name: String) -> JSONValue {
        var pairs: [(String, JSONValue)] = [("name", .string(name)), ("declaration", .string(formatter.definition(of: t)))]
        if let size = t.size { pairs.append(("size", .int(Int64(size)))) }
        if let r = t.record {
            pairs.append(("kind", .string(r.kind.rawValue)))
            pairs.append(("members", .array(formatter.source.members(of: r).map { memberJSON($0, formatter: formatter) })))
        }
        return .object(pairs)
    }

    static func memberJSON(_ m: CMember, formatter: DeclarationFormatter) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("name", m.name.map { .string($0) } ?? .null),
            ("type", .string(formatter.name(of: m.type))),
            ("offset", .int(Int64(m.byteOffset))),
        ]
        if let bits = m.bitSize {
            pairs.append(("bitOffset", .int(Int64(m.bitOffset))))
            pairs.append(("bitSize", .int(Int64(bits))))
        }
        if let size = m.type.size { pairs.append(("size", .int(Int64(size)))) }
        return .object(pairs)
    }

    /// struct/union/typedef/enum names for completion: the kernel's and the loaded modules' BTF.
    static func typeNameCompletions(prefix: String, in session: Session) -> [String] {
        guard !prefix.isEmpty, let kernel = try? session.kernel(), let types = try? kernel.types() else { return [] }
        session.useModuleBTF(in: types)
        return types.typeNames(withPrefix: prefix)
    }
}

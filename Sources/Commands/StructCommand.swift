import DumpModel
/// `struct` and `union`: a structure's definition or offsets, or its contents at an address,
/// with crash's syntax and output.
public enum StructCommand: CrashCommand {
    public static let name = "struct"
    public static let summary = "show a structure's definition, offsets or contents"
    public static let usage = """
    NAME
      struct - structure contents

    SYNOPSIS
      struct struct_name[.member[,member]] [-o] [-x|-d] [address | symbol][:cpuspec] [count]

    DESCRIPTION
      Without an address: the structure's definition and SIZE; with -o, each member's
      offset in brackets. With an address or symbol: its contents, one member per line
      gdb style (nested structures indented, char arrays as strings); with -o, each
      member's address instead of the contents. ".member[,member...]" limits the output
      to those members; a member may be a path ("se.vruntime"). A count prints that many
      consecutive structures.

    \(RecordCommand.cpuspecAndOptionsHelp)

    EXAMPLES
      crash> struct -o list_head
      struct list_head {
         [0] struct list_head *next;
         [8] struct list_head *prev;
      }
      SIZE: 16
      crash> struct task_struct.pid,comm init_task
        pid = 0,
        comm = "swapper/0\\000\\000\\000\\000\\000\\000",
      crash> struct rq.nr_running,cpu runqueues:1
      [1]: ffff8a155f131980
        nr_running = 2,
        cpu = 1,
    """

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        RecordCommand.completions(index: index, prefix: prefix, kind: .structure, in: session)
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try RecordCommand.run(arguments, kind: .structure, in: session)
    }
}

/// `union`: `struct` for unions.
public enum UnionCommand: CrashCommand {
    public static let name = "union"
    public static let summary = "show a union's definition, offsets or contents"
    public static let usage = """
    NAME
      union - union contents

    SYNOPSIS
      union union_name[.member[,member]] [-o] [-x|-d] [address | symbol][:cpuspec] [count]

    DESCRIPTION
      Without an address: the union's definition and SIZE; with -o, each member's offset
      in brackets (always 0 in a union). With an address or symbol: its contents, one member
      per line gdb style (nested structures indented, char arrays as strings); with -o, each
      member's address instead of the contents. ".member[,member...]" limits the output to
      those members; a member may be a path ("b.blocked"). A count prints that many
      consecutive unions.

    \(RecordCommand.cpuspecAndOptionsHelp)

    EXAMPLES
      crash> union rcu_special
      union rcu_special {
          struct {
              u8 blocked;
              u8 need_qs;
              u8 exp_hint;
              u8 need_mb;
          } b;
          u32 s;
      }
      SIZE: 4
      crash> union -o rcu_special
      union rcu_special {
            struct {
                u8 blocked;
                u8 need_qs;
                u8 exp_hint;
                u8 need_mb;
        [0] } b;
        [0] u32 s;
      }
      SIZE: 4
    """

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        RecordCommand.completions(index: index, prefix: prefix, kind: .union, in: session)
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try RecordCommand.run(arguments, kind: .union, in: session)
    }
}

/// The shared work of `struct` and `union`.
enum RecordCommand {
    /// What `struct`/`union` printed.
    struct Result: CommandResult {
        var text: String
        var json: JSONValue
        func renderText() -> String { text }
        func renderJSON() -> JSONValue { json }
    }

    /// Completion of a `struct`/`union` argument: type names, then after "TYPE." its members
    /// (member paths, comma lists); symbols too for the arguments after the first (the address).
    static func completions(index: Int, prefix: String, kind: CRecord.Kind, in session: Session) -> [String] {
        if prefix.hasPrefix("-") { return [] }
        if prefix.contains(".") {
            guard let context = try? ExpressionContext(session: session) else { return [] }
            return MemberCompletion.typePath(prefix, kind: kind, context: context)
        }
        // Options may come first: a later word is the type or the address.
        return WhatisCommand.typeNameCompletions(prefix: prefix, in: session)
            + (index > 0 ? session.symbolCompletions(prefix: prefix) : [])
    }

    static func run(_ arguments: [String], kind: CRecord.Kind, in session: Session) throws -> any CommandResult {
        let command = kind == .structure ? "struct" : "union"
        var offsets = false
        var format = ValuePrinter.Format.natural
        var positional: [String] = []
        for a in arguments {
            if a.hasPrefix("-"), a.count > 1, !a.dropFirst().allSatisfy(\.isNumber) {
                for c in a.dropFirst() {
                    switch c {
                    case "o": offsets = true
                    case "x": format = .hex
                    case "d": format = .radixDecimal
                    default: throw CommandError("invalid option: -\(c)")
                    }
                }
            } else {
                positional.append(a)
            }
        }
        guard let spec = positional.first else {
            throw CommandError("usage: \(command) \(command)_name[.member[,member]] [-o] [address | symbol] [count]")
        }
        guard positional.count <= 3 else { throw CommandError("too many arguments") }

        let context = try ExpressionContext(session: session)
        let formatter = context.formatter
        let source = context.source

        // NAME[.member[,member...]]
        var typeText = spec
        var memberPaths: [String] = []
        if let dot = spec.firstIndex(of: ".") {
            typeText = String(spec[..<dot])
            memberPaths = spec[spec.index(after: dot)...].split(separator: ",").map(String.init)
            guard !memberPaths.isEmpty, memberPaths.allSatisfy({ !$0.isEmpty }) else {
                throw CommandError("invalid data structure reference: \(spec)")
            }
        }
        guard let type = context.recordType(typeText, kind: kind), let record = type.record else {
            throw CommandError("invalid data structure reference: \(typeText)")
        }
        guard record.kind == kind else {
            throw CommandError("data type mismatch: \(typeText) is not a \(command)")
        }
        let evaluator = context.evaluator()
        for path in memberPaths {
            _ = try resolveMember(path, in: type, evaluator: evaluator, spec: spec)
        }

        // Address or symbol, optionally with ":cpuspec" for a per-cpu one, then an optional count.
        var address: UInt64?
        var count = 1
        var cpuSpecifier: String?
        var warning = ""
        if positional.count >= 2 {
            var where_ = positional[1]
            if let colon = where_.firstIndex(of: ":") {
                cpuSpecifier = String(where_[where_.index(after: colon)...])
                where_ = String(where_[..<colon])
            }
            if let g = source.global(named: where_) {
                address = g.address
                if cpuSpecifier != nil, !source.isPerCPU(where_) {
                    warning += "WARNING: \(where_) is not percpu; cpuspec ignored.\n"
                    cpuSpecifier = nil
                } else if cpuSpecifier != nil, let t = g.type, case .pointer = t.resolved {
                    warning += "WARNING: percpu symbol \"\(where_)\" is of type pointer\n"
                }
            } else if let a = parseHexAddress(where_) {
                address = a
            } else {
                throw CommandError("symbol not found: \(where_)")
            }
            if positional.count == 3 {
                guard let n = Int(positional[2]), n > 0 else { throw CommandError("invalid count: \(positional[2])") }
                count = n
            }
        }

        let typeName = formatter.name(of: type)
        guard let address else {
            // Definition or offsets.
            if !memberPaths.isEmpty {
                let firsts = memberPaths.map { String($0.split(separator: ".").first ?? "") }
                return Result(text: formatter.offsetListing(record, only: firsts),
                              json: .object([("type", .string(typeName)),
                                             ("members", .array(memberPaths.map { path in
                                                 memberOffsetJSON(path, type: type, evaluator: evaluator, formatter: formatter)
                                             }))]))
            }
            let text = offsets ? formatter.offsetListing(record) : formatter.definition(of: type)
            return Result(text: text, json: WhatisCommand.typeJSON(type, formatter: formatter, name: typeName))
        }

        guard let size = type.size, size > 0 else { throw CommandError("\(typeName) has no size") }
        // Where to print: the address, or each chosen CPU's instance of a per-cpu offset.
        var starts: [(cpu: Int?, address: UInt64)] = [(nil, address)]
        if let cpuSpecifier {
            let areas = try session.perCPU()
            starts = try session.cpus(cpuSpecifier, in: areas).compactMap { cpu in
                areas.address(ofOffset: address, cpu: cpu).map { (cpu, $0) }
            }
        }
        // crash heads the contents with the command and the name as typed, also for a typedef
        // ("struct irq_cpustat_t {").
        var bareName = Substring(typeText)
        for keyword in ["struct ", "union "] where bareName.hasPrefix(keyword) { bareName = bareName.dropFirst(keyword.count) }
        let header = "\(command) \(bareName)"
        let printer = ValuePrinter(source: source, memory: evaluator.memory, format: format)
        let firsts = memberPaths.isEmpty ? nil : memberPaths.map { String($0.split(separator: ".").first ?? "") }
        // One structure at `base`: its text and its JSON.
        let render = { (base: UInt64, cpuJSON: [(String, JSONValue)]) throws -> (String, JSONValue) in
            if offsets {
                return (formatter.offsetListing(record, address: base, only: firsts),
                        .object(cpuJSON + [("type", .string(typeName)), ("address", .address(base))]))
            }
            let object = TypedValue(type: type, storage: .memory(base))
            if memberPaths.isEmpty {
                let bytes = try read(object, evaluator: evaluator, command: command)
                return (header + " " + printer.topLevel(type, bytes: bytes, address: base) + "\n",
                        .object(cpuJSON + [("type", .string(typeName)), ("address", .address(base)),
                                           ("value", printer.json(type, bytes: bytes, address: base))]))
            }
            var text = ""
            var members: [(String, JSONValue)] = []
            for path in memberPaths {
                let v = try memberValue(path, of: object, evaluator: evaluator, spec: spec)
                let bytes = try read(v, evaluator: evaluator, command: command)
                // crash cuts the member's lines out of gdb's print of the whole struct, where the
                // last member of a struct (often a flexible array) has no comma.
                let comma = type.record.map { Self.isLastMember(path, of: $0, in: source) } == true ? "" : ","
                text += "  \(path) = " + printer.memberText(v.type, bytes: bytes, address: v.address) + comma + "\n"
                members.append((path, printer.json(v.type, bytes: bytes, address: v.address)))
            }
            return (text, .object(cpuJSON + [("type", .string(typeName)), ("address", .address(base)),
                                             ("members", .object(members))]))
        }
        let contents = Contents(warning: warning, starts: starts, count: count, size: UInt64(size),
                                single: count == 1 && starts.count == 1 && cpuSpecifier == nil,
                                render: render, interrupted: session.interruptRequested)
        // A first structure that cannot be read is the command's error, before any output.
        if let first = starts.first { _ = try render(first.address, first.cpu.map { [("cpu", .int(Int64($0)))] } ?? []) }
        return contents
    }

    /// Whether the member `name` (one component, no index) comes last in the struct or union
    /// that holds it: `record`, or an anonymous struct or union inside it, as gdb nests them.
    private static func isLastMember(_ name: String, of record: CRecord, in source: any TypeSource) -> Bool {
        var pending = [record]
        for _ in 0..<64 {
            guard let current = pending.popLast() else { return false }
            let members = source.members(of: current)
            for (i, m) in members.enumerated() {
                if m.name == name { return i == members.count - 1 }
                if m.name == nil, let inner = m.type.record { pending.append(inner) }
            }
        }
        return false
    }

    /// Structures at an address (COUNT of them, at each chosen CPU's instance), rendered and
    /// written one by one: the first shows at once, memory stays flat whatever the count, and
    /// Ctrl-C stops it.
    struct Contents: StreamingResult {
        var warning: String
        var starts: [(cpu: Int?, address: UInt64)]
        var count: Int
        var size: UInt64
        /// One structure asked for, without a cpuspec: the JSON result is that object, not a list.
        var single: Bool
        var render: (UInt64, [(String, JSONValue)]) throws -> (String, JSONValue)
        var interrupted: () -> Bool

        /// Calls `cpuHeader` before each CPU's instances and `body` with each structure's text
        /// and JSON, in order. Throws the read error that stops the display, or
        /// `CommandError.interrupted`.
        func forEach(cpuHeader: (Int, UInt64) throws -> Void, _ body: (String, JSONValue) throws -> Void) throws {
            for start in starts {
                if let cpu = start.cpu { try cpuHeader(cpu, start.address) }
                let cpuJSON: [(String, JSONValue)] = start.cpu.map { [("cpu", .int(Int64($0)))] } ?? []
                for i in 0..<count {
                    if i & 255 == 255, interrupted() { throw CommandError.interrupted }
                    let (offset, o1) = UInt64(i).multipliedReportingOverflow(by: size)
                    let (base, o2) = start.address.addingReportingOverflow(offset)
                    guard !o1, !o2 else {
                        throw CommandError("the count runs past the end of the address space after \(i) structures")
                    }
                    let (text, json) = try render(base, cpuJSON)
                    try body(text, json)
                }
            }
        }

        func streamText(to sink: any OutputSink) throws {
            try sink.write(warning)
            try forEach(cpuHeader: { try sink.write("[\($0)]: \(String($1, radix: 16))\n") }) { text, _ in try sink.write(text) }
        }

        func streamJSON(to sink: any OutputSink) throws {
            if single {
                guard let start = starts.first else { return }
                try sink.write(try render(start.address, []).1.rendered())
                return
            }
            try sink.write("[")
            var first = true
            do {
                try forEach(cpuHeader: { _, _ in }) { _, json in
                    try sink.write((first ? "" : ",") + json.rendered())
                    first = false
                }
            } catch let error as CommandError {
                try sink.write((first ? "" : ",") + JSONValue.object([("error", .string(error.message))]).rendered() + "]")
                throw error
            }
            try sink.write("]")
        }

        func renderText() -> String {
            let sink = StringSink()
            do { try streamText(to: sink) } catch { return sink.text + "\(error)\n" }
            return sink.text
        }

        func renderJSON() -> JSONValue {
            var items: [JSONValue] = []
            do {
                try forEach(cpuHeader: { _, _ in }) { _, json in items.append(json) }
            } catch {
                items.append(.object([("error", .string("\(error)"))]))
            }
            return single && items.count == 1 ? items[0] : .array(items)
        }
    }

    /// The member at `path` ("se.vruntime", "pid_links[1]") of a `type` object in memory.
    static func memberValue(_ path: String, of object: TypedValue, evaluator: ExpressionEvaluator, spec: String) throws -> TypedValue {
        do {
            let e = try ExpressionParser.parse("x." + path)
            return try evaluate(e, base: object, evaluator: evaluator)
        } catch is ExpressionSyntaxError {
            throw CommandError("invalid data structure reference: \(spec)")
        } catch let e as EvaluationError {
            if e.message.hasPrefix("There is no member") { throw CommandError("invalid data structure reference: \(spec)") }
            throw CommandError(e.message)
        }
    }

    /// Checks that `path` names a member of `type` (without reading memory).
    static func resolveMember(_ path: String, in type: CType, evaluator: ExpressionEvaluator, spec: String) throws -> CType {
        // Evaluating against a null object address only computes addresses and types.
        // A bit field is read as soon as it is found: a failed read of address 0 means it exists.
        do {
            return try memberValue(path, of: TypedValue(type: type, storage: .memory(0)), evaluator: evaluator, spec: spec).type
        } catch let e where !(e is CommandError) {
            return .void
        }
    }

    /// Evaluates a member chain whose root identifier stands for `base`: the chain's steps are
    /// collected from the outermost node inwards, then applied from the root out.
    static func evaluate(_ e: Expression, base: TypedValue, evaluator: ExpressionEvaluator) throws -> TypedValue {
        var steps: [Expression.Node] = []
        var at = e.root
        walk: while true {
            switch e.nodes[at] {
            case .identifier: break walk
            case let .member(inner, _), let .index(inner, _):
                steps.append(e.nodes[at])
                at = inner
            default:
                throw EvaluationError("There is no member named \(e).")
            }
        }
        var value = base
        for step in steps.reversed() {
            switch step {
            case let .member(_, name):
                guard let r = value.type.record else { throw EvaluationError("There is no member named \(name).") }
                value = try evaluator.member(name, of: r, in: value)
            case let .index(_, indexNode):
                guard case let .array(element, _) = value.type.resolved, let a = value.address, let es = element.size else {
                    throw EvaluationError("cannot subscript a value that is not an array")
                }
                let index = Expression(nodes: e.nodes, root: indexNode)
                let i = try evaluator.scalar(try evaluator.evaluate(index))
                value = TypedValue(type: element, storage: .memory(a &+ i &* UInt64(es)))
            default:
                break
            }
        }
        return value
    }

    static func memberOffsetJSON(_ path: String, type: CType, evaluator: ExpressionEvaluator, formatter: DeclarationFormatter) -> JSONValue {
        guard let v = try? memberValue(path, of: TypedValue(type: type, storage: .memory(0)), evaluator: evaluator, spec: path) else {
            return .object([("name", .string(path))])
        }
        return .object([("name", .string(path)), ("type", .string(formatter.name(of: v.type))),
                        ("offset", .int(Int64(bitPattern: v.address ?? 0)))])
    }

    static func read(_ v: TypedValue, evaluator: ExpressionEvaluator, command: String) throws -> [UInt8] {
        do {
            return try evaluator.bytes(of: v)
        } catch let e as MemoryFault {
            throw CommandError("invalid kernel virtual address: 0x\(String(e.address, radix: 16)) (\(faultReason(e)))")
        } catch let e as EvaluationError {
            throw CommandError(e.message)
        }
    }
}

extension RecordCommand {
    /// The part of `struct`'s and `union`'s help that is the same for both (indented as the
    /// help's DESCRIPTION is).
    static let cpuspecAndOptionsHelp = """
      ":cpuspec" after a per-cpu symbol (or a per-cpu offset) prints each chosen CPU's
      instance after a "[CPU]: address" line:
        :            the CPU of the current context (the CPU that panicked).
        :a[ll]       every CPU.
        :#[-#][,...] a list of CPUs, e.g. "1,3,5", "1-3" or "1,3,5-7,10".

        -o  show member offsets (or addresses, with an address).
        -x  print integers in hexadecimal.
        -d  print integers in decimal.
    """
}

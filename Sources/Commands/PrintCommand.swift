import DumpModel
/// `p`: evaluates a C expression over the kernel's variables and types and prints it the way
/// crash (gdb) does, numbering each result `$n`.
public enum PrintCommand: CrashCommand {
    public static let name = "p"
    public static let aliases = ["print"]
    public static let summary = "print the value of an expression"
    public static let usage = """
    NAME
      p - print the value of an expression

    SYNOPSIS
      p [-x|-d] expression
      p [-x|-d] symbol[:cpuspec]
      p/x expression
      p/d expression
      p/o expression
      p/t expression
      p/c expression

    DESCRIPTION
      Evaluates a C expression over the kernel's global variables and types and prints
      its value gdb style, as crash does: "$n = value", or "name = $n = value" when the
      expression is a plain symbol. Structures print one member per line, pointers as
      "(type) 0x... <symbol+offset>", char arrays as strings with \\000 escapes.

      The expression may use symbols, member access (. and ->), array indexes, *, &,
      casts to struct/union/typedef/base types and pointers to them, sizeof, integer
      and character literals (10UL, 'A'), and C's operators: + - * / % << >> & | ^ ~
      ! && || == != < <= > >= ?: and ",", with C's integer promotions, usual arithmetic
      conversions and pointer arithmetic. Pointers are never followed unless the
      expression says so. Quote an expression holding ">" or "|" ("p 'a > b'" is not
      needed inside parentheses: p (a > b)).

        -x  print integers and pointers in hexadecimal (also p/x).
        -d  print them in decimal (also p/d).

      A per-cpu variable alone shows its type and the address of each CPU's instance;
      ":cpuspec" after it prints instances, each as "per_cpu(NAME, CPU) = $n = value":
        :            the CPU of the current context (the CPU that panicked).
        :a[ll]       every CPU.
        :#[-#][,...] a list of CPUs, e.g. "1,3,5", "1-3" or "1,3,5-7,10".

    EXAMPLES
      crash> p jiffies
      jiffies = $1 = 4294894941
      crash> p init_task.comm
      $2 = "swapper/0\\000\\000\\000\\000\\000\\000"
      crash> p &init_task.pid
      $3 = (pid_t *) 0xffffffffb201b3b0 <init_task+2416>
      crash> p *(struct list_head *)0xffffffffb201aae8
      crash> p/x init_task.flags
      crash> p irq_stat
      PER-CPU DATA TYPE:
        irq_cpustat_t irq_stat;
      PER-CPU ADDRESSES:
        [0]: ffff8a155f031140
        [1]: ffff8a155f131140
      crash> p cpu_number:a
      per_cpu(cpu_number, 0) = $4 = 0
      per_cpu(cpu_number, 1) = $5 = 1
    """

    /// What `p` printed: the expression, its number, its type and value.
    public struct Result: CommandResult {
        public var expression: String
        /// The symbol name when the expression was a plain symbol (crash's "name = $n = ...").
        public var leader: String?
        public var number: Int
        public var typeName: String
        public var address: UInt64?
        public var text: String
        public var value: JSONValue
        /// A line crash prints before the value ("WARNING: jiffies is not percpu; cpuspec ignored.").
        public var warning: String?

        public func renderText() -> String {
            (warning.map { $0 + "\n" } ?? "") + valueText()
        }

        func valueText() -> String {
            let first = "$\(number) = " + text
            guard let leader else { return first + "\n" }
            // crash's own touch for plain symbols: a value that starts with "{" on its first line
            // (a function, an array) goes to the next line after " {".
            let lines = first.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            if let brace = lines[0].firstIndex(of: "{"), lines[0][brace...] != "{" {
                let head = lines[0][..<brace]
                var out = "\(leader) = " + head + "\n {" + lines[0][lines[0].index(after: brace)...]
                if lines.count > 1 { out += "\n" + lines[1] }
                return out + "\n"
            }
            return "\(leader) = " + first + "\n"
        }

        public func renderJSON() -> JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("expression", .string(expression)),
                ("history", .string("$\(number)")),
                ("type", .string(typeName)),
            ]
            if let address { pairs.append(("address", .address(address))) }
            pairs.append(("value", value))
            if let warning { pairs.append(("warning", .string(warning))) }
            return .object(pairs)
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try run(arguments, format: .natural, in: session)
    }

    /// Symbols, and after "symbol." or "->" the members along the chain.
    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        if prefix.hasPrefix("-") { return [] }
        if prefix.contains(".") || prefix.contains("->") {
            guard let context = try? ExpressionContext(session: session) else { return [] }
            return MemberCompletion.expression(prefix, context: context)
        }
        // Unary operators and parentheses in front of a symbol stay as typed.
        let operators = prefix.prefix(while: { "&*(".contains($0) })
        return session.symbolCompletions(prefix: String(prefix.dropFirst(operators.count))).map { String(operators) + $0 }
    }

    static func run(_ arguments: [String], format initial: ValuePrinter.Format, in session: Session) throws -> any CommandResult {
        var format = initial
        var words: [String] = []
        var optionsDone = false
        for a in arguments {
            if !optionsDone, a == "-x" || a == "-h" {
                if format == .radixDecimal, initial == .natural { throw CommandError("-d and -x are mutually exclusive") }
                format = .hex
                continue
            }
            if !optionsDone, a == "-d" {
                if format == .hex, initial == .natural { throw CommandError("-d and -x are mutually exclusive") }
                format = .radixDecimal
                continue
            }
            if !optionsDone, a == "-u" { throw CommandError("-u (user virtual addresses) is not supported") }
            if !optionsDone, a == "--" { optionsDone = true; continue }
            optionsDone = true
            words.append(a)
        }
        guard !words.isEmpty else { throw CommandError("usage: p [-x|-d] expression | symbol[:cpuspec]") }
        let context = try ExpressionContext(session: session)
        var warning: String?
        // symbol[:cpuspec]: a per-cpu variable shows its type and per-CPU addresses, or with a
        // CPU specifier each chosen CPU's instance. crash ignores the specifier of other symbols.
        if words.count == 1 {
            let (name, cpus) = CPUSpecification.split(words[0])
            if context.source.isPerCPU(name) {
                return try perCPU(name, cpus: cpus, format: format, context: context, in: session)
            }
            if cpus != nil, context.source.global(named: name) != nil {
                warning = "WARNING: \(name) is not percpu; cpuspec ignored."
                words = [name]
            }
        }
        let text = words.joined(separator: " ")
        let evaluator = context.evaluator()

        let value: TypedValue
        do {
            (_, value) = try evaluator.evaluate(text)
        } catch let e as ExpressionSyntaxError {
            throw CommandError(e.message)
        } catch let e as EvaluationError {
            throw CommandError(e.message)
        }
        var leader: String?
        // crash names the symbol before the value when the first word of the expression is one
        // ("p jiffies * 2" too, but not "p jiffies*2"), except after gdb's "/x"-style forms.
        if initial == .natural, let first = words.first, !first.hasPrefix("$"), context.source.global(named: first) != nil {
            leader = first
        }
        var result = try render(value, expression: text, leader: leader, format: format, context: context,
                                evaluator: evaluator, in: session)
        result.warning = warning
        return result
    }

    /// The numbered result for `value`: reads its bytes and formats them gdb style.
    static func render(_ value: TypedValue, expression: String, leader: String?, format: ValuePrinter.Format,
                       context: ExpressionContext, evaluator: ExpressionEvaluator, in session: Session) throws -> Result {
        let printer = ValuePrinter(source: context.source, memory: evaluator.memory, format: format)
        let bytes: [UInt8]
        if value.type.isFunction {
            // gdb fetches a function's first byte before printing it: "*fp" with a NULL fp fails.
            if let a = value.address {
                do {
                    _ = try evaluator.memory.read(a, count: 1)
                } catch let e as MemoryFault {
                    throw CommandError(faultMessage(e))
                }
            }
            bytes = []
        } else {
            do {
                bytes = try evaluator.bytes(of: value)
            } catch let e as EvaluationError {
                throw CommandError(e.message)
            } catch let e as MemoryFault {
                throw CommandError(perCPUHint(faultMessage(e), expression: expression, source: context.source))
            }
        }
        let rendered = printer.topLevel(value.type, bytes: bytes, address: value.address)
        session.printedValueCount += 1
        session.valueHistory.record(value, number: session.printedValueCount)
        return Result(expression: expression, leader: leader, number: session.printedValueCount,
                      typeName: context.formatter.name(of: value.type), address: value.address,
                      text: rendered, value: printer.json(value.type, bytes: bytes, address: value.address))
    }

    /// A failed read in an expression that names a per-cpu variable: its "address" is an offset
    /// into each CPU's area, so say how to reach an instance.
    static func perCPUHint(_ message: String, expression: String, source: KernelTypeSource) -> String {
        guard let tokens = try? ExpressionLexer.tokens(expression) else { return message }
        for case let .identifier(name) in tokens where source.isPerCPU(name) {
            return message + " (\(name) is a per-cpu variable: its address is an offset; use \(name):CPU)"
        }
        return message
    }

    // MARK: - Per-cpu variables

    /// `p NAME` for a per-cpu variable: its declaration and each CPU's address.
    public struct PerCPUListing: CommandResult {
        public var name: String
        /// "struct rq runqueues;", or nil when the debuginfo has no type for it.
        public var declaration: String?
        public var typeName: String?
        /// The symbol's value: the offset of each CPU's instance in that CPU's area.
        public var offset: UInt64
        /// Each possible CPU's instance, CPU 0 first.
        public var addresses: [UInt64]

        public func renderText() -> String {
            var out = "PER-CPU DATA TYPE:\n  " + (declaration ?? "[undetermined type] \(name);") + "\n"
            out += "PER-CPU ADDRESSES:\n"
            for (cpu, a) in addresses.enumerated() { out += "  [\(cpu)]: \(String(a, radix: 16))\n" }
            return out
        }

        public func renderJSON() -> JSONValue {
            .object([
                ("name", .string(name)),
                ("type", typeName.map { .string($0) } ?? .null),
                ("declaration", declaration.map { .string($0) } ?? .null),
                ("offset", .address(offset)),
                ("cpus", .array(addresses.enumerated().map { cpu, a in
                    .object([("cpu", .int(Int64(cpu))), ("address", .address(a))])
                })),
            ])
        }
    }

    /// `p NAME:CPUSPEC`: one numbered value per chosen CPU, each led by "per_cpu(NAME, CPU)".
    public struct PerCPUValues: CommandResult {
        public var expression: String
        public var values: [(cpu: Int, result: Result)]

        public func renderText() -> String { values.map { $0.result.renderText() }.joined() }

        public func renderJSON() -> JSONValue {
            .object([
                ("expression", .string(expression)),
                ("values", .array(values.map { cpu, r in
                    guard case let .object(pairs) = r.renderJSON() else { return r.renderJSON() }
                    return .object([("cpu", .int(Int64(cpu)))] + pairs.filter { $0.0 != "expression" })
                })),
            ])
        }
    }

    static func perCPU(_ name: String, cpus specifier: String?, format: ValuePrinter.Format,
                       context: ExpressionContext, in session: Session) throws -> any CommandResult {
        guard let global = context.source.global(named: name) else { throw CommandError("No symbol \"\(name)\" in current context.") }
        let areas = try session.perCPU()
        let formatter = context.formatter
        guard let specifier else {
            return PerCPUListing(name: name, declaration: global.type.map { formatter.declaration($0, declarator: name) + ";" },
                                 typeName: global.type.map { formatter.name(of: $0) }, offset: global.address,
                                 addresses: areas.addresses(ofOffset: global.address))
        }
        let evaluator = context.evaluator()
        var values: [(cpu: Int, result: Result)] = []
        for cpu in try session.cpus(specifier, in: areas) {
            guard let address = areas.address(ofOffset: global.address, cpu: cpu) else { continue }
            let result: Result
            if let type = global.type {
                result = try render(TypedValue(type: type, storage: .memory(address)), expression: "per_cpu(\(name), \(cpu))",
                                    leader: "per_cpu(\(name), \(cpu))", format: format, context: context,
                                    evaluator: evaluator, in: session)
            } else {
                // No type: the instance's address, as crash shows it.
                let pointer = evaluator.immediate(address, .pointer(.void))
                result = try render(pointer, expression: "&per_cpu(\(name), \(cpu))", leader: "&per_cpu(\(name), \(cpu))",
                                    format: format, context: context, evaluator: evaluator, in: session)
            }
            values.append((cpu, result))
        }
        return PerCPUValues(expression: "\(name):\(specifier)", values: values)
    }
}

/// `p/x`: `p` with hexadecimal integers and pointers (gdb's /x format).
public enum PrintHexCommand: CrashCommand {
    public static let name = "p/x"
    public static let summary = "print the value of an expression in hexadecimal"
    public static let usage = PrintCommand.usage
    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try PrintCommand.run(arguments, format: .hex, in: session)
    }
    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        PrintCommand.completions(forArgument: index, prefix: prefix, in: session)
    }
}

/// `p/d`: `p` with decimal integers and pointers (gdb's /d format).
public enum PrintDecimalCommand: CrashCommand {
    public static let name = "p/d"
    public static let summary = "print the value of an expression in decimal"
    public static let usage = PrintCommand.usage
    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try PrintCommand.run(arguments, format: .decimal, in: session)
    }
    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        PrintCommand.completions(forArgument: index, prefix: prefix, in: session)
    }
}

/// `p/o`: `p` with octal integers (gdb's /o format).
public enum PrintOctalCommand: CrashCommand {
    public static let name = "p/o"
    public static let summary = "print the value of an expression in octal"
    public static let usage = PrintCommand.usage
    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try PrintCommand.run(arguments, format: .octal, in: session)
    }
    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        PrintCommand.completions(forArgument: index, prefix: prefix, in: session)
    }
}

/// `p/t`: `p` with binary integers (gdb's /t format).
public enum PrintBinaryCommand: CrashCommand {
    public static let name = "p/t"
    public static let summary = "print the value of an expression in binary"
    public static let usage = PrintCommand.usage
    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try PrintCommand.run(arguments, format: .binary, in: session)
    }
    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        PrintCommand.completions(forArgument: index, prefix: prefix, in: session)
    }
}

/// `p/c`: `p` with integers as characters (gdb's /c format).
public enum PrintCharacterCommand: CrashCommand {
    public static let name = "p/c"
    public static let summary = "print the value of an expression as characters"
    public static let usage = PrintCommand.usage
    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try PrintCommand.run(arguments, format: .character, in: session)
    }
    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        PrintCommand.completions(forArgument: index, prefix: prefix, in: session)
    }
}

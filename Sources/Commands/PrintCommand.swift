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
      p/x expression
      p/d expression

    DESCRIPTION
      Evaluates a C expression over the kernel's global variables and types and prints
      its value gdb style, as crash does: "$n = value", or "name = $n = value" when the
      expression is a plain symbol. Structures print one member per line, pointers as
      "(type) 0x... <symbol+offset>", char arrays as strings with \\000 escapes.

      The expression may use symbols, member access (. and ->), array indexes, *, &,
      casts to struct/union/typedef/base types and pointers to them, sizeof, integer
      literals and + - * /. Pointers are never followed unless the expression says so.

        -x  print integers and pointers in hexadecimal (also p/x).
        -d  print them in decimal (also p/d).

    EXAMPLES
      crash> p jiffies
      jiffies = $1 = 4294894941
      crash> p init_task.comm
      $2 = "swapper/0\\000\\000\\000\\000\\000\\000"
      crash> p &init_task.pid
      $3 = (pid_t *) 0xffffffffb201b3b0 <init_task+2416>
      crash> p *(struct list_head *)0xffffffffb201aae8
      crash> p/x init_task.flags
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

        public func renderText() -> String {
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
            return .object(pairs)
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try run(arguments, format: .natural, in: session)
    }

    static func run(_ arguments: [String], format initial: ValuePrinter.Format, in session: Session) throws -> any CommandResult {
        var format = initial
        var words: [String] = []
        var optionsDone = false
        for a in arguments {
            if !optionsDone, a == "-x" || a == "-h" { format = .hex; continue }
            if !optionsDone, a == "-d" { format = .decimal; continue }
            if !optionsDone, a == "-u" { throw CommandError("-u (user virtual addresses) is not supported") }
            if !optionsDone, a == "--" { optionsDone = true; continue }
            optionsDone = true
            words.append(a)
        }
        guard !words.isEmpty else { throw CommandError("usage: p [-x|-d] expression") }
        let text = words.joined(separator: " ")
        let context = try ExpressionContext(session: session)
        if words.count == 1, context.source.isPerCPU(text) {
            throw CommandError("\(text) is a per-cpu variable: per-cpu display is not supported yet")
        }
        let evaluator = context.evaluator()
        let expression: Expression
        let value: TypedValue
        do {
            (expression, value) = try evaluator.evaluate(text)
        } catch let e as ExpressionSyntaxError {
            throw CommandError(e.message)
        } catch let e as EvaluationError {
            throw CommandError(e.message)
        }
        let printer = ValuePrinter(source: context.source, memory: evaluator.memory, format: format)
        let bytes: [UInt8]
        if value.type.isFunction {
            bytes = []
        } else {
            do {
                bytes = try evaluator.bytes(of: value)
            } catch let e as EvaluationError {
                throw CommandError(e.message)
            }
        }
        let rendered = printer.topLevel(value.type, bytes: bytes, address: value.address)
        session.printedValueCount += 1
        var leader: String?
        // crash names a plain symbol before its value, except after gdb's "/x" and "/d" forms.
        if case let .identifier(n) = expression, initial == .natural { leader = n }
        return Result(expression: text, leader: leader, number: session.printedValueCount,
                      typeName: context.formatter.name(of: value.type), address: value.address,
                      text: rendered, value: printer.json(value.type, bytes: bytes, address: value.address))
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
}

/// `p/d`: `p` with decimal integers and pointers (gdb's /d format).
public enum PrintDecimalCommand: CrashCommand {
    public static let name = "p/d"
    public static let summary = "print the value of an expression in decimal"
    public static let usage = PrintCommand.usage
    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try PrintCommand.run(arguments, format: .decimal, in: session)
    }
}

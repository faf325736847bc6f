/// `help` lists the commands in crash's columns; `help CMD` prints that command's usage.
public enum HelpCommand: CrashCommand {
    public static let name = "help"
    public static let summary = "list the commands, or show how to use one"
    public static let usage = """
    NAME
      help - list the commands, or show how to use one

    SYNOPSIS
      help [command ...]

    DESCRIPTION
      Without an argument, lists every command. With command names, prints the usage of
      each: what it does, its options and examples.

    INPUT
      Several commands go on one line separated by ";". Quote an argument with ' or " to
      keep blanks in it. "command > file" writes the output to a file, "command >> file"
      appends to it, and "command | shell-command" pipes it through /bin/sh, for example
      "vmcoreinfo | grep OSRELEASE". Tab completes command names. "set json on" (or
      crashsh --json) prints every result as JSON.
    """

    /// Width of one column in the command list, as crash prints it.
    static let columnWidth = 15
    static let columns = 5

    /// The command list: names sorted and laid out down the columns.
    public struct ListResult: CommandResult {
        public var names: [String]
        public init(names: [String]) { self.names = names }
        public func renderText() -> String {
            let rows = (names.count + HelpCommand.columns - 1) / HelpCommand.columns
            var out = "\n"
            for row in 0..<rows {
                var line = ""
                for column in 0..<HelpCommand.columns {
                    let i = column * rows + row
                    guard i < names.count else { break }
                    let name = names[i]
                    line += name + String(repeating: " ", count: max(1, HelpCommand.columnWidth - name.count))
                }
                while line.hasSuffix(" ") { line.removeLast() }
                out += line + "\n"
            }
            out += "\nFor help on any command above, enter \"help <command>\".\n"
            out += "For the input syntax (; quotes > >> |), enter \"help help\".\n\n"
            return out
        }
        public func renderJSON() -> JSONValue {
            .object([("commands", .array(CommandRegistry.all.sorted { $0.name < $1.name }.map { c in
                .object([("name", .string(c.name)),
                         ("aliases", .array(c.aliases.map { .string($0) })),
                         ("summary", .string(c.summary))])
            }))])
        }
    }

    /// The usage of the named commands.
    public struct UsageResult: CommandResult {
        public var commands: [any CrashCommand.Type]
        public func renderText() -> String {
            commands.map { c in c.usage.hasSuffix("\n") ? c.usage : c.usage + "\n" }.joined(separator: "\n")
        }
        public func renderJSON() -> JSONValue {
            .array(commands.map { c in
                .object([("name", .string(c.name)),
                         ("aliases", .array(c.aliases.map { .string($0) })),
                         ("summary", .string(c.summary)),
                         ("usage", .string(c.usage))])
            })
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        if arguments.isEmpty {
            // Aliases (q, p/x, ...) are found by `help NAME` but not listed, to keep the table short.
            return ListResult(names: CommandRegistry.all.map { $0.name }.sorted())
        }
        var commands: [any CrashCommand.Type] = []
        for name in arguments {
            guard let c = CommandRegistry.lookup(name) else { throw CommandError("no such command: \(name)") }
            commands.append(c)
        }
        return UsageResult(commands: commands)
    }

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        CommandRegistry.all.flatMap { [$0.name] + $0.aliases }
    }
}

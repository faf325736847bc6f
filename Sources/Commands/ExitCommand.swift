/// `exit` (also `q`, `quit`): ends the session. The shell stops when it sees `ExitRequest`.
public enum ExitCommand: CrashCommand {
    public static let name = "exit"
    public static let aliases = ["q", "quit"]
    public static let summary = "end the crashsh session"
    public static let usage = """
    NAME
      exit - end the crashsh session

    SYNOPSIS
      exit
      q
      quit

    DESCRIPTION
      Leaves crashsh. In a -c string, a -i script or commands read from standard input, the
      commands after it are not run. Ctrl-D at the prompt does the same.
    """

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard arguments.isEmpty else { throw CommandError("takes no arguments") }
        return ExitRequest()
    }
}

/// The result of `exit`: nothing to print; tells the shell to stop reading commands.
public struct ExitRequest: CommandResult {
    public init() {}
    public func renderText() -> String { "" }
    public func renderJSON() -> JSONValue { .object([]) }
}

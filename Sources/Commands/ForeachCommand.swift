import DumpModel

/// `foreach`: runs a task command (ps, task, bt) on every task, or on the tasks chosen by PID,
/// task address, name, state or kind, as crash's foreach does.
public enum ForeachCommand: CrashCommand {
    public static let name = "foreach"
    public static let summary = "run ps, task or bt on every task or a chosen set"
    public static let usage = """
    NAME
      foreach - run a command on multiple tasks

    SYNOPSIS
      foreach [pid | taskp | name | state | kernel | user | active | gleader] ... command [options]

    DESCRIPTION
      Chooses tasks (all of them when nothing is named) and runs the command for them:
        pid, taskp     a process id or a task_struct address.
        name           a command name; a word with regex characters is a regular expression.
        state          RU, IN, UN, ST, TR, ZO, DE, PA, WA, ID or NE: the tasks in that state.
        kernel, user   kernel threads, or user tasks.
        active         the tasks running on a CPU.
        gleader        thread-group leaders.
      command is one of: ps, task, bt (with their own options).

    EXAMPLES
      crash> foreach RU ps
      crash> foreach sleep task -R prio
      crash> foreach bt
    """

    static let states: Set<String> = ["RU", "IN", "UN", "ST", "TR", "ZO", "DE", "PA", "WA", "ID", "NE"]
    static let commands: Set<String> = ["ps", "task", "bt"]

    /// What one command produced for the chosen tasks.
    public struct Result: CommandResult {
        var parts: [any CommandResult]
        var command: String
        /// Between two parts' text (crash leaves a blank line between two tasks' traces).
        var separator = ""
        public func renderText() -> String { parts.map { $0.renderText() }.joined(separator: separator) }
        public func renderJSON() -> JSONValue {
            if parts.count == 1, let only = parts.first { return only.renderJSON() }
            return .object([("command", .string(command)), ("results", .array(parts.map { $0.renderJSON() }))])
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard let at = arguments.firstIndex(where: { commands.contains($0) }) else {
            throw CommandError("no command given, or not one foreach runs (ps, task, bt)")
        }
        let selectors = Array(arguments[..<at])
        let command = arguments[at]
        let rest = Array(arguments[(at + 1)...])
        let kernel = try session.crashedKernel()
        let index = try kernel.tasks()

        var chosen = index.tasks
        var named: [TaskSelector] = []
        for word in selectors {
            switch word {
            case _ where states.contains(word):
                chosen = chosen.filter { index.stateBits.code($0.state) == word }
            case "kernel": chosen = chosen.filter(\.isKernelThread)
            case "user": chosen = chosen.filter { !$0.isKernelThread }
            case "active": chosen = chosen.filter { index.isActive($0.address) }
            case "gleader": chosen = chosen.filter { $0.pid == $0.tgid && !$0.isKernelThread }
            default: named.append(TaskSelector(word, index: index))
            }
        }
        if !named.isEmpty { chosen = chosen.filter { t in named.contains { $0.matches(t) } } }

        switch command {
        case "ps":
            return Result(parts: [try PsCommand.run(rest, in: session, among: chosen)], command: command)
        case "task":
            let o = try TaskCommand.parse(rest)
            guard o.words.isEmpty else { throw CommandError("task: the tasks are chosen by foreach, not by task") }
            var blocks: [TaskCommand.Block] = []
            for t in chosen {
                if session.interruptRequested() { throw CommandError.interrupted }
                blocks.append(TaskCommand.block(t, options: o, session: session))
            }
            return Result(parts: [TaskCommand.Result(blocks: blocks)], command: command)
        default:
            guard let bt = CommandRegistry.lookup("bt") else {
                throw CommandError("bt is not available in this build")
            }
            var parts: [any CommandResult] = []
            for t in chosen {
                if session.interruptRequested() { throw CommandError.interrupted }
                parts.append(try bt.run(rest + [hexDigits(t.address)], in: session))
            }
            return Result(parts: parts, command: command, separator: "\n")
        }
    }
}

import DumpModel

/// `task`: a task's `task_struct`, whole or some members, after crash's task header.
public enum TaskCommand: CrashCommand {
    public static let name = "task"
    public static let summary = "display a task_struct (whole, or chosen members)"
    public static let usage = """
    NAME
      task - task_struct contents

    SYNOPSIS
      task [-R member[,member...]] [-x|-d] [pid | taskp] ...

    DESCRIPTION
      Shows the task_struct of each task named (a PID or a task_struct address), or of the
      current context (`set`), after its header line, as gdb prints a structure.
        -R member,...  only these members (a member may be a path: se.vruntime).
        -x, -d         integers in hexadecimal or decimal.

    EXAMPLES
      crash> task -R pid,comm
      PID: 1        TASK: ffff8a15411f8000  CPU: 0    COMMAND: "init"
        pid = 1,
        comm = "init\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000",

    """

    struct Options {
        var members: String?
        var radix: [String] = []
        var words: [String] = []
    }

    /// One task's block.
    struct Block {
        var task: KernelTask
        var result: (any CommandResult)?
        var error: String?
    }

    public struct Result: CommandResult {
        var blocks: [Block]

        public func renderText() -> String {
            var out = ""
            for b in blocks {
                out += taskHeader(b.task) + "\n"
                if let r = b.result { out += r.renderText() }
                if let e = b.error { out += "task: \(e)\n" }
                out += "\n"
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            .object([("tasks", .array(blocks.map { b in
                var extra: [(String, JSONValue)] = []
                if let r = b.result { extra.append(("task_struct", r.renderJSON())) }
                if let e = b.error { extra.append(("error", .string(e))) }
                return taskJSON(b.task, extra: extra)
            }))])
        }
    }

    static func parse(_ arguments: [String]) throws -> Options {
        var o = Options()
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "-R" {
                guard i + 1 < arguments.count else { throw CommandError("-R needs a member list") }
                o.members = (o.members.map { $0 + "," } ?? "") + arguments[i + 1]
                i += 1
            } else if a.hasPrefix("-R") {
                o.members = (o.members.map { $0 + "," } ?? "") + String(a.dropFirst(2))
            } else if a == "-x" || a == "-d" {
                o.radix.append(a)
            } else if a.hasPrefix("-") {
                throw CommandError("invalid option: \(a) (usage: task [-R member[,member...]] [-x|-d] [pid | taskp] ...)")
            } else {
                o.words.append(a)
            }
            i += 1
        }
        return o
    }

    /// The block of one task: its task_struct (or the members chosen) through `struct`.
    static func block(_ task: KernelTask, options o: Options, session: Session) -> Block {
        let spec = "task_struct" + (o.members.map { "." + $0 } ?? "")
        do {
            let r = try StructCommand.run([spec] + o.radix + [hexDigits(task.address)], in: session)
            return Block(task: task, result: r, error: nil)
        } catch {
            return Block(task: task, result: nil, error: Session.failureLine(command: "task", error: error)
                .replacingPrefix("task: ", with: ""))
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        let o = try parse(arguments)
        let kernel = try session.crashedKernel()
        let tasks = try o.words.isEmpty ? [kernel.currentTask()] : o.words.map { try session.task(named: $0) }
        var blocks: [Block] = []
        for t in tasks {
            if session.interruptRequested() { throw CommandError.interrupted }
            blocks.append(block(t, options: o, session: session))
        }
        return Result(blocks: blocks)
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with other: String) -> String {
        hasPrefix(prefix) ? other + dropFirst(prefix.count) : self
    }
}

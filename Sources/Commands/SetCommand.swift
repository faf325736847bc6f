import DumpModel

/// `set`: the current task context (as crash's `set`), and crashsh's session settings.
public enum SetCommand: CrashCommand {
    public static let name = "set"
    public static let summary = "show or set the task context; session settings (json output, scroll)"
    public static let usage = """
    NAME
      set - set a process context or a session setting

    SYNOPSIS
      set [pid | taskp | -c cpu | -p]
      set json on|off
      set scroll [on|off]

    DESCRIPTION
      Without arguments, shows the current context: the task that vtop, rd -u, task and bt use
      by default. At start it is the task that panicked (the task running on panic_cpu).
        pid       make the task with this PID the context.
        taskp     make the task whose task_struct is at this hexadecimal address the context.
        -c cpu    make the task running on this CPU the context.
        -p        back to the panic task.
        json on|off   print every command's result as JSON Lines (crashsh --json sets it at start).
        scroll on|off at the interactive prompt, show output through a pager: $PAGER, else
                      "less -X -F -K" (one screen or less prints directly; Ctrl-C or q in
                      the pager returns to the prompt). On when the output is a terminal; output
                      of -c, -i and piped use is never paged. "set scroll" shows the setting.

    EXAMPLES
      crash> set
          PID: 1
      COMMAND: "init"
         TASK: ffff8a15411f8000  [THREAD_INFO: ffff8a15411f8000]
          CPU: 0
        STATE: TASK_RUNNING (PANIC)
    """

    /// The context block, or the settings.
    public struct Result: CommandResult {
        public var json: Bool
        public var scroll: Bool
        var context: ContextBlock?
        /// Nothing to say (`set -c` of the CPU of the current context).
        var quiet = false
        /// `set scroll`: the text shows that setting.
        var showsScroll = false

        public func renderText() -> String {
            if quiet { return "" }
            if let context { return context.text }
            return showsScroll ? " scroll: \(scroll ? "on" : "off")\n" : "   json: \(json ? "on" : "off")\n"
        }
        public func renderJSON() -> JSONValue {
            var pairs: [(String, JSONValue)] = [("json", .bool(json)), ("scroll", .bool(scroll))]
            if let context { pairs.append(("context", context.json)) }
            return .object(pairs)
        }
    }

    /// crash's context block for a task (shared with the start-up banner).
    struct ContextBlock {
        var task: KernelTask
        var threadInfo: UInt64
        var state: String
        var activeNote: String?

        var text: String {
            "    PID: \(task.pid)\nCOMMAND: \"\(task.comm)\"\n   TASK: \(hexDigits(task.address))  [THREAD_INFO: \(hexDigits(threadInfo))]\n"
                + "    CPU: \(task.cpu)\n  STATE: \(state) " + (activeNote.map { "(\($0))" } ?? "") + "\n"
        }
        var json: JSONValue {
            taskJSON(task, state: state, extra: [("thread_info", .address(threadInfo)),
                                                  ("active", activeNote.map { .string($0) } ?? .null)])
        }
    }

    /// The context block of `task`: its state spelled out, and why it is active (PANIC, SYSRQ,
    /// ACTIVE) when it was running on a CPU.
    static func contextBlock(_ task: KernelTask, kernel: CrashedKernel, index: TaskIndex) -> ContextBlock {
        let o = kernel.memory.object(task.address, "task_struct")
        // With THREAD_INFO_IN_TASK the thread_info is the task_struct's first member.
        let threadInfo = (try? o.address(of: "thread_info")) ?? ((try? o.pointer("stack")) ?? task.address)
        var note: String?
        if index.isActive(task.address) {
            if let panic = kernel.panicTask(), panic.address == task.address {
                note = panicIsSysrqWithoutKexec(kernel) ? "SYSRQ" : "PANIC"
            } else {
                note = "ACTIVE"
            }
        }
        return ContextBlock(task: task, threadInfo: threadInfo, state: index.stateBits.name(task.state), activeNote: note)
    }

    /// crash says SYSRQ for a panic task when the crash came from sysrq-c and no kdump kernel was
    /// loaded (it then finds sysrq_handle_crash on the stack instead of crash_kexec's frame):
    /// `kexec_crash_image` is NULL and the kernel's panic string is sysrq's.
    static func panicIsSysrqWithoutKexec(_ kernel: CrashedKernel) -> Bool {
        guard let image = kernel.layout.symbolAddress("kexec_crash_image"),
              let loaded = try? kernel.memory.load(UInt64.self, image), loaded == 0 else { return false }
        return kernel.layout.symbolAddress("sysrq_handle_crash") != nil && (try? kernel.panicMessage())??.contains("sysrq") == true
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        switch arguments.count {
        case 0:
            if let kernel = try? session.crashedKernel(), let index = try? kernel.tasks(), let t = try? kernel.currentTask() {
                return Result(json: session.jsonOutput, scroll: session.scroll, context: contextBlock(t, kernel: kernel, index: index))
            }
            return Result(json: session.jsonOutput, scroll: session.scroll, context: nil)
        case 2 where arguments[0] == "json":
            switch arguments[1] {
            case "on": session.jsonOutput = true
            case "off": session.jsonOutput = false
            default: throw CommandError("json: expected on or off, not \"\(arguments[1])\"")
            }
            return Result(json: session.jsonOutput, scroll: session.scroll, context: nil)
        case 1 where arguments[0] == "json":
            throw CommandError("json: expected on or off")
        case 1 where arguments[0] == "scroll":
            return Result(json: session.jsonOutput, scroll: session.scroll, showsScroll: true)
        case 2 where arguments[0] == "scroll":
            switch arguments[1] {
            case "on": session.scroll = true
            case "off": session.scroll = false
            default: throw CommandError("scroll: expected on or off, not \"\(arguments[1])\"")
            }
            return Result(json: session.jsonOutput, scroll: session.scroll, showsScroll: true)
        default:
            break
        }
        let kernel = try session.crashedKernel()
        let index = try kernel.tasks()
        let task: KernelTask
        if arguments[0] == "-p", arguments.count == 1 {
            guard let p = kernel.panicTask() else { throw CommandError("no panic task found") }
            task = p
        } else if arguments[0] == "-c", arguments.count == 2 {
            guard let cpu = Int(arguments[1]), cpu >= 0, cpu < index.activeTasks.count,
                  let a = index.activeTasks[cpu], let t = index.task(address: a) else {
                throw CommandError("invalid cpu number: \(arguments[1])")
            }
            // Already the context: crash says nothing.
            if let current = try? kernel.currentTask(), current.address == t.address {
                return Result(json: session.jsonOutput, scroll: session.scroll, context: nil, quiet: true)
            }
            task = t
        } else if arguments.count == 1, !arguments[0].hasPrefix("-") {
            task = try session.task(named: arguments[0])
        } else {
            throw CommandError("invalid arguments: \(arguments.joined(separator: " ")) (usage: set [pid | taskp | -c cpu | -p])")
        }
        kernel.setContext(task)
        return Result(json: session.jsonOutput, scroll: session.scroll, context: contextBlock(task, kernel: kernel, index: index))
    }

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        index == 0 ? ["json", "scroll", "-c", "-p"] : index == 1 ? ["on", "off"] : []
    }
}

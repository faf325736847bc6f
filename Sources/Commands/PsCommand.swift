import DumpModel

/// `ps`: the tasks of the crashed kernel, with crash's columns and options.
public enum PsCommand: CrashCommand {
    public static let name = "ps"
    public static let summary = "display process status information"
    public static let usage = """
    NAME
      ps - display process status information

    SYNOPSIS
      ps [-k|-u|-G] [-t|-l|-p|-c|-a|-S|-A] [pid | task | command] ...

    DESCRIPTION
      Shows every task (thread-group leaders, their threads, and each CPU's idle task) with
      crash's columns: PID, PPID, CPU, TASK, ST (state), %MEM, VSZ, RSS (KB) and COMM; kernel
      threads in brackets; ">" marks the task running on a CPU at the time of the crash.
        pid       a process id.
        task      a task_struct address (hexadecimal).
        command   a command name; a word with regex characters (* ? [ ] ^ $ + ( | \\) is a
                  regular expression matched against the names.
        -k        kernel threads only.
        -u        user tasks only.
        -G        thread-group leaders only.
        -A        the active tasks only (one per CPU).
        -S        a count of the tasks in each state.
        -t        each task's run time, start time, user and system time.
        -l        each task's last-arrival timestamp (sched_info.last_arrival, ns) and state.
        -p        each task's parents, up to PID 0.
        -c        each task's children.
        -a        each task's command-line arguments and environment (from user memory).

    EXAMPLES
      crash> ps
            PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM
      >       1       0   0  ffff8a15411f8000  RU   0.3     2260     1796  init
      crash> ps -S
        RU: 6
        IN: 20
        ID: 37
    """

    enum Mode { case table, summary, times, lastRun, parents, children, arguments }

    struct Options {
        var mode = Mode.table
        var kernelOnly = false, userOnly = false, leadersOnly = false, activeOnly = false
        var words: [String] = []
    }

    /// One row of the table.
    struct Row {
        var task: KernelTask
        var active: Bool
        var state: String
        var memPercent: Double
        var vszKB: UInt64
        var rssKB: UInt64
    }

    public struct Result: PartialResult {
        var mode: Mode
        var rows: [Row]
        /// Lines for -t, -l, -p, -c, -a (already in crash's text), with their JSON.
        var blocks: [(text: String, json: JSONValue)]
        var summary: [(state: String, count: Int)]
        var errors: [String]
        /// Tasks found on the lists but not readable, and walks that ended early (table mode).
        var unreadable: [UnreadableTask] = []
        var walkProblems: [String] = []
        /// -a: the user memory of a task could not be read (crash stops there too).
        public var failureMessage: String?

        public func renderText() -> String {
            var out = ""
            switch mode {
            case .table:
                out += "      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM\n"
                for r in rows {
                    var pct = String(format1(r.memPercent))
                    if pct.count == 3 { pct = " " + pct }
                    let comm = r.task.isKernelThread ? "[\(r.task.comm)]" : r.task.comm
                    out += (r.active ? "> " : "  ") + rjust(String(r.task.pid), 7) + " " + rjust(String(r.task.ppid), 7)
                        + " " + rjust(String(r.task.cpu), 3) + "  " + hexDigits(r.task.address, width: 16)
                        + " " + rjust(r.state, 3) + (r.state.count > 3 ? " " : "  ") + pct + " "
                        + rjust(String(r.vszKB), 8) + " " + rjust(String(r.rssKB), 8) + "  " + comm + "\n"
                }
                // What could not be read still has its row: the task's address and why.
                for e in unreadable {
                    out += "  " + rjust("?", 7) + " " + rjust("?", 7) + " " + rjust("?", 3) + "  " + hexDigits(e.address, width: 16)
                        + "  ??   ?.?        ?        ?  (unreadable: \(e.reason))\n"
                }
                for p in walkProblems { out += "  (task list: \(p))\n" }
            case .summary:
                for s in summary { out += "  \(s.state): \(s.count)\n" }
            default:
                for b in blocks { out += b.text }
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            var pairs: [(String, JSONValue)] = []
            switch mode {
            case .table:
                pairs.append(("tasks", .array(rows.map { r in
                    taskJSON(r.task, state: r.state, extra: [
                        ("active", .bool(r.active)), ("kernel_thread", .bool(r.task.isKernelThread)),
                        ("mem_percent", .double((r.memPercent * 10).rounded() / 10)),
                        ("vsz_kb", .uint(r.vszKB)), ("rss_kb", .uint(r.rssKB)),
                    ])
                } + unreadable.map { .object([("task", .address($0.address)), ("error", .string($0.reason))]) })))
            case .summary:
                pairs.append(("states", .object(summary.map { ($0.state, .int(Int64($0.count))) })))
            default:
                pairs.append(("tasks", .array(blocks.map(\.json))))
            }
            if !errors.isEmpty { pairs.append(("errors", .array(errors.map { .string($0) }))) }
            return .object(pairs)
        }
    }

    static func parse(_ arguments: [String]) throws -> Options {
        var o = Options()
        for word in arguments {
            if word.hasPrefix("-"), word.count > 1, Int(word) == nil {
                for c in word.dropFirst() {
                    switch c {
                    case "k": o.kernelOnly = true
                    case "u": o.userOnly = true
                    case "G": o.leadersOnly = true
                    case "A": o.activeOnly = true
                    case "S": o.mode = .summary
                    case "t": o.mode = .times
                    case "l": o.mode = .lastRun
                    case "p": o.mode = .parents
                    case "c": o.mode = .children
                    case "a": o.mode = .arguments
                    default: throw CommandError("invalid option: -\(c) (usage: ps [-k|-u|-G] [-t|-l|-p|-c|-a|-S|-A] [pid | task | command] ...)")
                    }
                }
            } else {
                o.words.append(word)
            }
        }
        if o.kernelOnly && o.userOnly { throw CommandError("-u and -k are mutually exclusive") }
        if o.mode == .summary && (o.kernelOnly || o.userOnly || o.leadersOnly) {
            throw CommandError("-S option cannot be used with other options")
        }
        return o
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        try run(arguments, in: session, among: nil)
    }

    /// `ps` over the tasks `among` (all tasks when nil): `foreach ... ps` chooses them.
    static func run(_ arguments: [String], in session: Session, among: [KernelTask]?) throws -> Result {
        let o = try parse(arguments)
        let kernel = try session.crashedKernel()
        let index = try kernel.tasks()
        let bits = index.stateBits

        var selected = (among ?? index.tasks).filter { t in
            if o.kernelOnly && !t.isKernelThread { return false }
            if o.userOnly && t.isKernelThread { return false }
            if o.leadersOnly && t.pid != t.tgid { return false }
            if o.activeOnly && !index.isActive(t.address) { return false }
            return true
        }
        if !o.words.isEmpty {
            let selectors = o.words.map { TaskSelector($0, index: index) }
            // crash prints the matches of each selector in turn, in task order within one.
            var picked: [KernelTask] = []
            for t in selected where selectors.contains(where: { $0.matches(t) }) { picked.append(t) }
            selected = picked
        }
        let errors = index.walkProblems

        switch o.mode {
        case .summary:
            var counts: [(String, Int)] = []
            for t in selected {
                let s = bits.code(t.state)
                if let i = counts.firstIndex(where: { $0.0 == s }) { counts[i].1 += 1 } else { counts.append((s, 1)) }
            }
            return Result(mode: .summary, rows: [], blocks: [], summary: counts.map { (state: $0.0, count: $0.1) }, errors: errors)
        case .table:
            let usage = TaskMemoryReader(kernel: kernel)
            let total = kernel.presentPages() ?? 0
            let pageKB = UInt64(KernelAddressSpace.pageSize / 1024)
            var rows: [Row] = []
            for (n, t) in selected.enumerated() {
                if n & 255 == 255, session.interruptRequested() { throw CommandError.interrupted }
                let u = usage.usage(of: t, in: index)
                let rss = u?.residentPages ?? 0
                let pct = total > 0 ? Double(rss) * 100 / Double(total) : 0
                rows.append(Row(task: t, active: index.isActive(t.address), state: bits.code(t.state),
                                memPercent: pct, vszKB: (u?.virtualPages ?? 0) * pageKB, rssKB: rss * pageKB))
            }
            var r = Result(mode: .table, rows: rows, blocks: [], summary: [], errors: errors)
            r.unreadable = index.unreadable
            r.walkProblems = index.walkProblems
            return r
        case .times:
            return Result(mode: .times, rows: [], blocks: times(selected, kernel: kernel), summary: [], errors: errors)
        case .lastRun:
            return Result(mode: .lastRun, rows: [], blocks: lastRun(selected, kernel: kernel, index: index), summary: [], errors: errors)
        case .parents:
            return Result(mode: .parents, rows: [], blocks: selected.map { parents($0, index: index) }, summary: [], errors: errors)
        case .children:
            return Result(mode: .children, rows: [], blocks: selected.map { children($0, index: index) }, summary: [], errors: errors)
        case .arguments:
            var blocks: [(String, JSONValue)] = []
            var argumentFailure: String?
            for t in selected {
                do {
                    blocks.append(try Self.arguments(t, kernel: kernel))
                } catch {
                    // crash stops at the first task whose user memory is not in the dump.
                    argumentFailure = describeUserRead(error)
                    blocks.append((taskHeader(t) + "\n", taskJSON(t, extra: [("error", .string(describeUserRead(error)))])))
                    break
                }
            }
            var r = Result(mode: .arguments, rows: [], blocks: blocks, summary: [], errors: errors)
            r.failureMessage = argumentFailure
            return r
        }
    }

    /// "0.3" for 0.34: printf's %.1f (round half to even is not what C does: it rounds the binary value).
    static func format1(_ v: Double) -> String {
        let tenths = (v * 10).rounded(.toNearestOrEven)
        let whole = Int(tenths) / 10, frac = Int(tenths) % 10
        return "\(whole).\(frac)"
    }

    // MARK: - -t

    static func times(_ tasks: [KernelTask], kernel: CrashedKernel) -> [(String, JSONValue)] {
        let hz = kernel.hz()
        let now = kernel.uptimeJiffies()
        // crash lists them by start time, oldest first.
        let ordered = tasks.enumerated().sorted { a, b in
            let x = a.element.startTime ?? 0, y = b.element.startTime ?? 0
            return x != y ? x < y : a.offset < b.offset
        }.map(\.element)
        return ordered.map { t in
            let start = t.startTime ?? 0
            var run = "(unknown)"
            var runJiffies: UInt64?
            if let hz, let now {
                let startTicks = (start / 1_000_000_000) &* hz
                let j = startTicks > now ? 0 : now - startTicks
                runJiffies = j
                run = clockText(seconds: j / hz)
            }
            let text = taskHeader(t) + "\n" + "    RUN TIME: \(run)\n" + "  START TIME: \(start)\n"
                + "       UTIME: \(t.utime ?? 0)\n" + "       STIME: \(t.stime ?? 0)\n\n"
            let json = taskJSON(t, extra: [
                ("run_time_seconds", runJiffies.flatMap { j in hz.map { .uint(j / $0) } } ?? .null),
                ("start_time_ns", .wide(start)), ("utime_ns", .wide(t.utime ?? 0)), ("stime_ns", .wide(t.stime ?? 0)),
            ])
            return (text, json)
        }
    }

    /// crash's convert_time: "[N days, ]HH:MM:SS".
    static func clockText(seconds total: UInt64) -> String {
        let days = total / 86400, h = (total % 86400) / 3600, m = (total % 3600) / 60, s = total % 60
        func two(_ v: UInt64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return (days > 0 ? "\(days) days, " : "") + "\(two(h)):\(two(m)):\(two(s))"
    }

    // MARK: - -l

    static func lastRun(_ tasks: [KernelTask], kernel: CrashedKernel, index: TaskIndex) -> [(String, JSONValue)] {
        func stamp(_ t: KernelTask) -> UInt64 {
            let o = kernel.memory.object(t.address, "task_struct")
            return (try? o.unsigned("sched_info.last_arrival")) ?? (try? o.unsigned("last_run")) ?? 0
        }
        // The most recent first; every stamp as wide as the most recent of all tasks, as crash does.
        let width = String(index.tasks.map(stamp).max() ?? 0).count
        let ordered = tasks.map { ($0, stamp($0)) }.enumerated().sorted { a, b in
            a.element.1 != b.element.1 ? a.element.1 > b.element.1 : a.offset < b.offset
        }.map(\.element.0)
        return ordered.map { t in
            let s = stamp(t)
            let state = index.stateBits.code(t.state)
            return ("[\(rjust(String(s), width))] [\(state)]  " + taskHeader(t) + "\n",
                    taskJSON(t, state: state, extra: [("last_arrival_ns", .wide(s))]))
        }
    }

    // MARK: - -p, -c

    static func parents(_ t: KernelTask, index: TaskIndex) -> (String, JSONValue) {
        var chain: [KernelTask] = [t]
        var seen: Set<UInt64> = [t.address]
        var cur = t
        while cur.parent != cur.address, let p = index.task(address: cur.parent), seen.insert(p.address).inserted {
            chain.append(p)
            cur = p
        }
        var text = ""
        for (depth, task) in chain.reversed().enumerated() {
            text += String(repeating: " ", count: depth) + taskHeader(task) + "\n"
        }
        text += "\n"
        return (text, taskJSON(t, extra: [("parents", .array(chain.dropFirst().map { taskJSON($0) }))]))
    }

    static func children(_ t: KernelTask, index: TaskIndex) -> (String, JSONValue) {
        let kids = index.tasks.filter { $0.parent == t.address && $0.address != t.address }
        var text = taskHeader(t) + "\n"
        for k in kids { text += "  " + taskHeader(k) + "\n" }
        if kids.isEmpty { text += "  (no children)\n" }
        text += "\n"
        return (text, taskJSON(t, extra: [("children", .array(kids.map { taskJSON($0) }))]))
    }

    // MARK: - -a

    /// The task's argument and environment strings, read from its user memory
    /// (mm->arg_start..arg_end, env_start..env_end).
    static func arguments(_ t: KernelTask, kernel: CrashedKernel) throws -> (String, JSONValue) {
        var text = taskHeader(t) + "\n"
        guard t.mm != 0, let pgd = try kernel.userPageTable(of: t) else {
            text += "ARG: (kernel thread)\nENV: (kernel thread)\n\n"
            return (text, taskJSON(t, extra: [("arguments", .array([])), ("environment", .array([]))]))
        }
        let mm = kernel.memory.object(t.mm, "mm_struct")
        func strings(_ start: String, _ end: String) throws -> [String] {
            let a = try mm.unsigned(start), b = try mm.unsigned(end)
            guard b > a, b - a <= 1 << 20 else { return [] }
            let bytes = try kernel.memory.bytes(a, count: Int(b - a), in: .user, userPGD: pgd)
            return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast(bytes.last == 0 ? 1 : 0)
                .map { String(decoding: $0, as: UTF8.self) }
        }
        let args = try strings("arg_start", "arg_end")
        let env = try strings("env_start", "env_end")
        text += "ARG: " + args.map { $0 + " " }.joined() + "\n"
        text += "ENV: " + env.enumerated().map { ($0.offset == 0 ? "" : "     ") + $0.element + "\n" }.joined()
        text += env.isEmpty ? "\n\n" : "\n"
        return (text, taskJSON(t, extra: [("arguments", .array(args.map { .string($0) })),
                                          ("environment", .array(env.map { .string($0) }))]))
    }

    static func describeUserRead(_ error: Error) -> String {
        if let f = error as? MemoryFault, f.space == .user {
            return "cannot access user stack address: \(hexDigits(f.address))"
        }
        return "\(error)"
    }
}

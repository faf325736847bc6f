/// One task (`struct task_struct`) as the task views show it.
public struct KernelTask: Sendable, Equatable {
    /// Address of the `task_struct`.
    public var address: UInt64
    public var pid: Int32
    /// Thread-group id (the process's PID).
    public var tgid: Int32
    /// PID of `task->parent` (crash's PPID; `real_parent` where the kernel has no `parent`).
    public var ppid: Int32
    /// Address of the parent's `task_struct`.
    public var parent: UInt64
    public var comm: String
    /// `__state` (or `state`) OR'd with `exit_state`: what crash decodes into RU, IN, ID...
    public var state: UInt64
    /// The CPU the task last ran on (or runs on).
    public var cpu: Int
    /// `task->mm`: 0 for kernel threads.
    public var mm: UInt64
    /// `task->flags` (PF_*).
    public var flags: UInt64
    /// `task->prio`, for run queues (120 is nice 0).
    public var prio: Int32
    /// `start_time` in nanoseconds since boot (monotonic), when the kernel has it.
    public var startTime: UInt64?
    /// `utime` and `stime` in nanoseconds.
    public var utime: UInt64?
    public var stime: UInt64?

    /// PF_KTHREAD: the flag the kernel has set on its own threads since 2.6.27.
    public static let kernelThreadFlag: UInt64 = 0x0020_0000
    /// PF_EXITING.
    public static let exitingFlag: UInt64 = 0x0000_0004

    /// A kernel thread (shown in brackets): PF_KTHREAD, or no mm at all for the idle tasks.
    public var isKernelThread: Bool { flags & Self.kernelThreadFlag != 0 || (pid == 0 && mm == 0) }
}

/// A task the index could not read: its address, and why.
public struct UnreadableTask: Sendable, Equatable {
    public var address: UInt64
    public var reason: String
}

/// The meaning of the bits of `task->__state | exit_state` on this kernel, read from the kernel's
/// own `task_state_array` (the strings of /proc/PID/status: "R (running)", "S (sleeping)"...):
/// entry 0 is TASK_RUNNING (0), entry i is bit i-1. Kernels moved these bits (4.14 renumbered
/// them); reading the table decides for each kernel. States the table does not list (TASK_DEAD,
/// TASK_WAKEKILL, TASK_WAKING, TASK_NOLOAD, TASK_NEW) follow the parked bit in the kernels that
/// list "(idle)" (4.14+), as the kernel defines them.
public struct TaskStateBits: Sendable, Equatable {
    public var running: UInt64 = 0
    public var interruptible: UInt64 = 1
    public var uninterruptible: UInt64 = 2
    public var stopped: UInt64 = 4
    public var traced: UInt64 = 8
    public var dead: UInt64 = 16
    public var zombie: UInt64 = 32
    public var parked: UInt64 = 64
    public var wakekill: UInt64 = 0x100
    public var waking: UInt64 = 0x200
    public var noload: UInt64 = 0x400
    public var new: UInt64 = 0x800
    /// Where the values came from: "task_state_array" or "defaults".
    public var source = "defaults"

    public init() {}

    /// Reads `task_state_array` through `memory`; the defaults (Linux 4.14+) when it is not there.
    public init(memory: KernelMemory) {
        guard let array = memory.layout.symbolAddress("task_state_array") else { return }
        // The array's length is not in every layout: read entries while they look like the
        // table's ("X (name)"), at most 32 (the state is a 32-bit word).
        var names: [String] = []
        for i in 0..<32 {
            guard let p = try? memory.load(UInt64.self, array &+ UInt64(i * 8)), p != 0,
                  let s = try? memory.cString(p, maxLength: 64) else { break }
            let u = Array(s.utf8)
            guard u.count >= 5, u[1] == 0x20, u[2] == 0x28, u.last == 0x29 else { break }
            names.append(s)
        }
        guard names.count >= 3 else { return }
        var bits = TaskStateBits()
        var found = Set<String>()
        var deadBits: UInt64 = 0
        for (i, name) in names.enumerated() {
            let bit: UInt64 = i == 0 ? 0 : 1 << UInt64(i - 1)
            func has(_ s: String) -> Bool { name.contains(s) }
            if has("(running)") { bits.running = bit; found.insert("R") }
            else if has("(sleeping)") { bits.interruptible = bit; found.insert("S") }
            else if has("(disk sleep)") { bits.uninterruptible = bit; found.insert("D") }
            else if has("(stopped)") { bits.stopped = bit; found.insert("T") }
            else if has("(tracing stop)") { bits.traced = bit }
            else if has("(zombie)") { bits.zombie = bit; found.insert("Z") }
            else if has("(dead)") { deadBits |= bit }
            else if has("(parked)") { bits.parked = bit; found.insert("P") }
            else if has("(wakekill)") { bits.wakekill = bit }
            else if has("(waking)") { bits.waking = bit }
        }
        guard found.isSuperset(of: ["R", "S", "D", "T", "Z"]) else { return }
        if deadBits != 0 { bits.dead = deadBits }
        if found.contains("P"), names.contains(where: { $0.contains("(idle)") }) {
            let p = bits.parked
            bits.dead |= p << 1
            bits.wakekill = p << 2
            bits.waking = p << 3
            bits.noload = p << 4
            bits.new = p << 5
        }
        bits.source = "task_state_array"
        self = bits
    }

    /// crash's two-letter state: RU, IN, UN, ID, ZO, ST, TR, DE, PA, WA, NE, or "??".
    public func code(_ state: UInt64) -> String {
        var code = "??"
        var set = false
        if state == running { code = "RU" }
        if state & interruptible != 0 { code = "IN"; set = true }
        if state & uninterruptible != 0 { code = state & noload != 0 ? "ID" : "UN"; set = true }
        if state & zombie != 0 { code = "ZO"; set = true }
        if state & stopped != 0 { code = "ST"; set = true }
        if state & traced != 0 { code = "TR"; set = true }
        if state & dead != 0 && !set { code = "DE" }
        if state == parked { code = "PA" }
        if state == waking { code = "WA" }
        if state == new { code = "NE" }
        return code
    }

    /// The state spelled out as crash's `set` and `task` headers do ("TASK_RUNNING",
    /// "TASK_INTERRUPTIBLE", "TASK_UNINTERRUPTIBLE|TASK_NOLOAD"...).
    public func name(_ state: UInt64) -> String {
        if state == running { return "TASK_RUNNING" }
        if state == parked { return "TASK_PARKED" }
        var parts: [String] = []
        if state & interruptible != 0 { parts.append("TASK_INTERRUPTIBLE") }
        if state & uninterruptible != 0 { parts.append("TASK_UNINTERRUPTIBLE") }
        if state & stopped != 0 { parts.append("TASK_STOPPED") }
        if state & traced != 0 { parts.append("TASK_TRACED") }
        let d = state & dead
        if d != 0 { parts.append(d.nonzeroBitCount > 1 ? "EXIT_DEAD|TASK_DEAD" : "EXIT_DEAD") }
        if state & zombie != 0 { parts.append("EXIT_ZOMBIE") }
        if state & waking != 0 { parts.append("TASK_WAKING") }
        if state & wakekill != 0 { parts.append("TASK_WAKEKILL") }
        if state & noload != 0 { parts.append("TASK_NOLOAD") }
        if state & new != 0 { parts.append("TASK_NEW") }
        return parts.joined(separator: "|")
    }
}

/// Every task of the crashed kernel, read once per session: the thread-group leaders on
/// `init_task.tasks`, each leader's threads, and each CPU's idle task (`runqueues.idle`), sorted
/// as crash sorts them (by PID; the idle tasks, all PID 0, by CPU). Lookups by PID and address
/// are then dictionary reads.
public final class TaskIndex {
    public let tasks: [KernelTask]
    /// Tasks found on a list but not readable.
    public let unreadable: [UnreadableTask]
    /// Why a list walk ended early, if one did.
    public let walkProblems: [String]
    /// The task running on each CPU at the time of the crash, by CPU (nil where unreadable).
    public let activeTasks: [UInt64?]
    public let stateBits: TaskStateBits

    private let byAddress: [UInt64: Int]
    private let byPID: [Int32: [Int]]
    private let byTGID: [Int32: [Int]]

    /// Reads the tasks. `perCPU` gives the idle and active tasks (nil: only the task lists).
    /// - Throws: `DumpError.missing` when the layout lacks init_task or task_struct's core members.
    public init(memory: KernelMemory, perCPU: PerCPU?, interrupted: @escaping () -> Bool = { false }) throws {
        let layout = memory.layout
        guard let initTask = layout.symbolAddress("init_task") else {
            throw DumpError.missing(what: "symbol init_task (needs the vmlinux's debuginfo or BTF)")
        }
        let reader = TaskReader(memory: memory)
        try reader.check()
        let lists = KernelLists(memory: memory, interrupted: interrupted)
        var order: [UInt64] = [initTask]
        var seen: Set<UInt64> = [initTask]
        var problems: [String] = []
        func add(_ a: UInt64) { if seen.insert(a).inserted { order.append(a) } }

        let tasksOffset = UInt64(try KernelObject(address: initTask, type: "task_struct", memory: memory).offset("tasks"))
        let leaders = lists.listHead(initTask &+ tasksOffset)
        if leaders.stop != .complete { problems.append("task list: \(leaders.stop)") }
        let threadList = reader.threadList
        for leader in [initTask] + leaders.nodes.map({ $0 &- tasksOffset }) {
            add(leader)
            switch threadList {
            case let .threadGroup(offset):
                let walk = lists.listHead(leader &+ offset, limit: 1 << 16)
                for n in walk.nodes { add(n &- offset) }
                if walk.stop != .complete { problems.append("threads of 0x\(String(leader, radix: 16)): \(walk.stop)") }
            case let .signalHead(signal, head, node):
                guard let s = try? memory.load(UInt64.self, leader &+ signal), s != 0 else { continue }
                let walk = lists.listHead(s &+ head, limit: 1 << 16)
                for n in walk.nodes { add(n &- node) }
                if walk.stop != .complete { problems.append("threads of 0x\(String(leader, radix: 16)): \(walk.stop)") }
            case nil:
                break
            }
            if interrupted() { throw InterruptedByUser() }
        }
        if leaders.stop == .interrupted { throw InterruptedByUser() }
        var active: [UInt64?] = []
        if let perCPU {
            for cpu in 0..<perCPU.cpuCount {
                active.append(try? perCPU.currentTask(cpu: cpu))
                // Each CPU's idle task is on no task list (except CPU 0's, init_task).
                if let rq = try? perCPU.address(of: "runqueues", cpu: cpu),
                   let idleOffset = layout.memberOffset("rq", "idle"),
                   let idle = try? memory.load(UInt64.self, rq &+ UInt64(idleOffset)), idle != 0 {
                    add(idle)
                }
            }
        }
        var tasks: [KernelTask] = []
        var bad: [UnreadableTask] = []
        for a in order {
            do { tasks.append(try reader.read(a)) } catch {
                bad.append(UnreadableTask(address: a, reason: String(describing: error)))
            }
        }
        // crash's order: by PID, the idle tasks (PID 0) by CPU; otherwise the order found.
        let ranked = tasks.enumerated().sorted { x, y in
            if x.element.pid != y.element.pid { return x.element.pid < y.element.pid }
            if x.element.pid == 0, x.element.cpu != y.element.cpu { return x.element.cpu < y.element.cpu }
            return x.offset < y.offset
        }.map(\.element)
        self.tasks = ranked
        unreadable = bad
        walkProblems = problems
        activeTasks = active
        stateBits = TaskStateBits(memory: memory)
        var byAddress: [UInt64: Int] = [:]
        var byPID: [Int32: [Int]] = [:]
        var byTGID: [Int32: [Int]] = [:]
        for (i, t) in ranked.enumerated() {
            byAddress[t.address] = i
            byPID[t.pid, default: []].append(i)
            if t.pid != 0 { byTGID[t.tgid, default: []].append(i) }
        }
        self.byAddress = byAddress
        self.byPID = byPID
        self.byTGID = byTGID
    }

    /// The task whose `task_struct` is at `address`.
    public func task(address: UInt64) -> KernelTask? { byAddress[address].map { tasks[$0] } }

    /// The tasks with PID `pid` (several for PID 0: one idle task per CPU).
    public func tasks(pid: Int32) -> [KernelTask] { (byPID[pid] ?? []).map { tasks[$0] } }

    /// Whether the task is running on some CPU (crash's `>` in ps).
    public func isActive(_ address: UInt64) -> Bool { activeTasks.contains(address) }

    /// The CPU the task at `address` is running on, if it is active.
    public func activeCPU(of address: UInt64) -> Int? { activeTasks.firstIndex(of: address) }

    /// The threads of the task's thread group (the same tgid), the task included, in index order.
    public func threadGroup(tgid: Int32) -> [KernelTask] { (byTGID[tgid] ?? []).map { tasks[$0] } }
}

/// Reads `task_struct`s: which members this kernel has is decided once, from the layout.
struct TaskReader {
    let memory: KernelMemory
    let stateMember: String?
    let cpuMember: String?
    /// Before 4.9 (no THREAD_INFO_IN_TASK) the CPU is in the `thread_info` at the base of the
    /// task's stack: the offsets of `task_struct.stack` and `thread_info.cpu`, and the latter's size.
    let stackThreadInfoCPU: (stack: UInt64, cpu: UInt64, size: Int)?
    let parentMember: String?
    let threadList: ThreadList?

    /// How to reach a leader's threads on this kernel.
    enum ThreadList {
        /// `task_struct.thread_group`: a ring through the threads of one group.
        case threadGroup(offset: UInt64)
        /// `task->signal->thread_head`, each thread on it through `task_struct.thread_node`.
        case signalHead(signalOffset: UInt64, headOffset: UInt64, nodeOffset: UInt64)
    }

    init(memory: KernelMemory) {
        self.memory = memory
        let probe = KernelObject(address: 0, type: "task_struct", memory: memory)
        stateMember = probe.member(anyOf: ["__state", "state"])
        cpuMember = probe.member(anyOf: ["cpu", "thread_info.cpu"])
        parentMember = probe.member(anyOf: ["parent", "real_parent"])
        let l = memory.layout
        if cpuMember == nil, !probe.has("thread_info"),
           let stack = l.memberOffset("task_struct", "stack"), let cpu = l.memberOffset("thread_info", "cpu"),
           let s = UInt64(exactly: stack), let c = UInt64(exactly: cpu) {
            stackThreadInfoCPU = (s, c, l.memberSize("thread_info", "cpu") ?? 4)
        } else {
            stackThreadInfoCPU = nil
        }
        if let tg = l.memberOffset("task_struct", "thread_group"), tg >= 0 {
            threadList = .threadGroup(offset: UInt64(tg))
        } else if let s = l.memberOffset("task_struct", "signal"), let h = l.memberOffset("signal_struct", "thread_head"),
                  let n = l.memberOffset("task_struct", "thread_node"), s >= 0, h >= 0, n >= 0 {
            threadList = .signalHead(signalOffset: UInt64(s), headOffset: UInt64(h), nodeOffset: UInt64(n))
        } else {
            threadList = nil
        }
    }

    /// Throws naming the first core member the layout lacks.
    func check() throws {
        let probe = KernelObject(address: 0, type: "task_struct", memory: memory)
        for m in ["tasks", "pid", "tgid", "comm", "mm", "flags"] { _ = try probe.offset(m) }
        guard stateMember != nil else { throw DumpError.missing(what: "task_struct.__state or .state") }
    }

    func read(_ address: UInt64) throws -> KernelTask {
        let t = KernelObject(address: address, type: "task_struct", memory: memory)
        let pid = Int32(truncatingIfNeeded: try t.signed("pid"))
        let tgid = Int32(truncatingIfNeeded: try t.signed("tgid"))
        var state: UInt64 = 0
        if let stateMember { state = try t.unsigned(stateMember) }
        if t.has("exit_state") { state |= try t.unsigned("exit_state") }
        var cpu = 0
        if let cpuMember {
            cpu = Int(truncatingIfNeeded: try t.unsigned(cpuMember))
        } else if let ti = stackThreadInfoCPU {
            let stack = try memory.load(UInt64.self, address &+ ti.stack)
            cpu = Int(truncatingIfNeeded: try memory.unsigned(stack &+ ti.cpu, size: ti.size))
        }
        var parent: UInt64 = 0
        var ppid: Int32 = 0
        if let parentMember {
            parent = try t.pointer(parentMember)
            if parent != 0, parent != address {
                let p = KernelObject(address: parent, type: "task_struct", memory: memory)
                ppid = Int32(truncatingIfNeeded: (try? p.signed("pid")) ?? 0)
            }
        }
        return KernelTask(
            address: address, pid: pid, tgid: tgid, ppid: ppid, parent: parent,
            comm: try t.charArray("comm"), state: state, cpu: cpu, mm: try t.pointer("mm"),
            flags: try t.unsigned("flags"), prio: Int32(truncatingIfNeeded: (try? t.signed("prio")) ?? 0),
            startTime: try? t.unsigned("start_time"), utime: try? t.unsigned("utime"), stime: try? t.unsigned("stime"))
    }
}

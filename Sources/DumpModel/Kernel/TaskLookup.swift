/// Finds tasks by PID or `task_struct` address, walking the kernel's task list from `init_task`:
/// every thread-group leader on `init_task.tasks`, and each leader's threads (`thread_group`, or on
/// newer kernels `signal->thread_head` / `thread_node`).
///
/// Small on purpose: the full task model (states, CPUs, parents, comm, times) grows from here.
/// The walk is bounded (`maxSteps`) and cycle-safe (a visited set): a corrupt list ends it early,
/// with what was found so far.
public struct TaskLookup {
    /// One task as far as address translation needs it.
    public struct Task: Sendable, Equatable {
        /// Address of the `task_struct`.
        public let address: UInt64
        public let pid: Int32
        /// `task->mm` (0 for kernel threads).
        public let mm: UInt64
    }

    public let space: KernelAddressSpace
    public let maxSteps: Int

    private let initTask: UInt64
    private let tasksOffset: Int
    private let pidOffset: Int
    private let mmOffset: Int
    private let threads: ThreadList?

    /// How to reach a leader's threads on this kernel.
    private enum ThreadList {
        /// `task_struct.thread_group`: a ring through the threads of one group.
        case threadGroup(offset: Int)
        /// `task->signal->thread_head`, with each thread on it through `task_struct.thread_node`.
        case signalHead(signalOffset: Int, headOffset: Int, nodeOffset: Int)
    }

    /// - Throws: `.missing` naming the first fact the layout lacks (these come from the debuginfo:
    ///   VMCOREINFO has neither `init_task` nor task_struct offsets).
    public init(space: KernelAddressSpace, maxSteps: Int = 1 << 20) throws {
        self.space = space
        self.maxSteps = max(1, maxSteps)
        let l = space.layout
        func need<T>(_ v: T?, _ what: String) throws -> T {
            guard let v else { throw DumpError.missing(what: "\(what) (needs the vmlinux's debuginfo)") }
            return v
        }
        // Member offsets are added to addresses as unsigned numbers: a negative one is corrupt.
        func need(_ v: Int?, _ what: String) throws -> Int {
            guard let v else { throw DumpError.missing(what: "\(what) (needs the vmlinux's debuginfo)") }
            guard v >= 0 else { throw DumpError.missing(what: "\(what) (the layout says \(v), a negative offset)") }
            return v
        }
        initTask = try need(l.symbolAddress("init_task"), "symbol init_task")
        tasksOffset = try need(l.memberOffset("task_struct", "tasks"), "task_struct.tasks")
        pidOffset = try need(l.memberOffset("task_struct", "pid"), "task_struct.pid")
        mmOffset = try need(l.memberOffset("task_struct", "mm"), "task_struct.mm")
        if let tg = l.memberOffset("task_struct", "thread_group") {
            threads = .threadGroup(offset: try need(tg, "task_struct.thread_group"))
        } else if let s = l.memberOffset("task_struct", "signal"), let h = l.memberOffset("signal_struct", "thread_head"),
                  let n = l.memberOffset("task_struct", "thread_node") {
            threads = .signalHead(signalOffset: try need(s, "task_struct.signal"),
                                  headOffset: try need(h, "signal_struct.thread_head"),
                                  nodeOffset: try need(n, "task_struct.thread_node"))
        } else {
            threads = nil
        }
    }

    /// Calls `visit` for every task found, leaders first in list order, each followed by its threads;
    /// stops when `visit` returns false. Reads that fail end that list, not the whole walk.
    public func forEachTask(_ visit: (Task) -> Bool) {
        var seen = Set<UInt64>()
        var steps = 0
        func emit(_ address: UInt64) -> Bool {
            guard seen.insert(address).inserted else { return true }
            guard let t = try? task(at: address) else { return true }
            return visit(t)
        }
        /// Follows the `next` pointers of the list whose head is at `head`; `nodeOffset` is where the
        /// list node sits in each task. Returns false to stop everything.
        func walkList(head: UInt64, nodeOffset: Int, _ body: (UInt64) -> Bool) -> Bool {
            var visited = Set<UInt64>([head])
            var node = head
            while steps < maxSteps {
                steps += 1
                guard let next = try? space.load(UInt64.self, virtual: node), next != 0, next != head,
                      visited.insert(next).inserted else { return true }
                node = next
                if !body(next &- UInt64(nodeOffset)) { return false }
            }
            return true
        }
        func withThreads(_ leader: UInt64) -> Bool {
            guard emit(leader) else { return false }
            switch threads {
            case let .threadGroup(off):
                return walkList(head: leader &+ UInt64(off), nodeOffset: off) { emit($0) }
            case let .signalHead(sig, head, node):
                guard let signal = try? space.load(UInt64.self, virtual: leader &+ UInt64(sig)), signal != 0 else { return true }
                return walkList(head: signal &+ UInt64(head), nodeOffset: node) { emit($0) }
            case nil:
                return true
            }
        }
        guard withThreads(initTask) else { return }
        _ = walkList(head: initTask &+ UInt64(tasksOffset), nodeOffset: tasksOffset) { withThreads($0) }
    }

    /// The task with this PID (the first found: PIDs of the idle tasks repeat, as 0).
    public func task(pid: Int32) -> Task? {
        var found: Task?
        forEachTask { t in
            if t.pid == pid { found = t; return false }
            return true
        }
        return found
    }

    /// The task whose `task_struct` is at `address`, if it is on the task lists.
    public func task(address: UInt64) -> Task? {
        var found: Task?
        forEachTask { t in
            if t.address == address { found = t; return false }
            return true
        }
        return found
    }

    /// Reads the task at `address` (whether or not it is on a list).
    public func task(at address: UInt64) throws -> Task {
        let pid = try space.load(Int32.self, virtual: address &+ UInt64(pidOffset))
        let mm = try space.load(UInt64.self, virtual: address &+ UInt64(mmOffset))
        return Task(address: address, pid: pid, mm: mm)
    }

    /// Physical address of the task's top-level page table (`mm->pgd`, translated), or nil for a
    /// kernel thread (no mm).
    public func pageTableRoot(of task: Task) throws -> UInt64? {
        guard task.mm != 0 else { return nil }
        guard let pgdOffset = space.layout.memberOffset("mm_struct", "pgd").flatMap({ UInt64(exactly: $0) }) else {
            throw DumpError.missing(what: "mm_struct.pgd (needs the vmlinux's debuginfo)")
        }
        let pgd = try space.load(UInt64.self, virtual: task.mm &+ pgdOffset)
        return try space.translate(pgd)
    }
}

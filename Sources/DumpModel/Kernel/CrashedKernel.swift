/// The crashed kernel as the kernel views share it: its memory, per-CPU areas, task index and
/// the current task context (`set`). Each part is read on first use and kept for the session,
/// so `ps` after `ps` reads no task twice.
///
/// Not thread-safe: one session reads from one thread.
public final class CrashedKernel {
    public let memory: KernelMemory
    /// Polled by long walks; true stops them (Ctrl-C at the prompt).
    public var interrupted: () -> Bool

    private var perCPUState: Result<PerCPU, Error>?
    private var taskState: Result<TaskIndex, Error>?
    private var contextAddress: UInt64?
    /// The kernel log once read (see `log()`).
    var logState: Result<PrintkLog, Error>?

    public init(space: KernelAddressSpace, interrupted: @escaping () -> Bool = { false }) {
        memory = KernelMemory(space: space)
        self.interrupted = interrupted
    }

    public var space: KernelAddressSpace { memory.space }
    public var layout: any KernelLayout { memory.layout }
    public var lists: KernelLists { KernelLists(memory: memory, interrupted: interrupted) }

    /// The per-CPU areas (`__per_cpu_offset`).
    public func perCPU() throws -> PerCPU {
        if let perCPUState { return try perCPUState.get() }
        let r = Result { try PerCPU(memory: memory) }
        perCPUState = r
        return try r.get()
    }

    /// Every task, read once.
    public func tasks() throws -> TaskIndex {
        if let taskState { return try taskState.get() }
        let r = Result { try TaskIndex(memory: memory, perCPU: try? perCPU(), interrupted: interrupted) }
        // An interrupted build is not kept: the next command reads the tasks again.
        if case .failure(let e) = r, e is InterruptedByUser { throw e }
        taskState = r
        return try r.get()
    }

    /// The CPU that panicked (`panic_cpu`), when the kernel says one.
    public func panicCPU() -> Int? {
        guard let areas = try? perCPU() else { return nil }
        return (try? areas.panicCPU()) ?? nil
    }

    /// The task that panicked: the task running on the panic CPU.
    public func panicTask() -> KernelTask? {
        guard let cpu = panicCPU(), let index = try? tasks(), cpu < index.activeTasks.count,
              let address = index.activeTasks[cpu] else { return nil }
        return index.task(address: address)
    }

    /// The current context: the task `set` chose, else the panic task, else CPU 0's active task.
    public func currentTask() throws -> KernelTask {
        let index = try tasks()
        if let contextAddress, let t = index.task(address: contextAddress) { return t }
        if let t = panicTask() { return t }
        if let first = index.activeTasks.compactMap({ $0 }).first, let t = index.task(address: first) { return t }
        throw DumpError.missing(what: "a current task (no panic CPU and no active task could be read)")
    }

    /// Makes `task` the current context.
    public func setContext(_ task: KernelTask) { contextAddress = task.address }

    /// Physical address of the task's top-level page table (`mm->pgd` translated), nil for a
    /// kernel thread.
    public func userPageTable(of task: KernelTask) throws -> UInt64? {
        guard task.mm != 0 else { return nil }
        let mm = memory.object(task.mm, "mm_struct")
        return try space.translate(try mm.pointer("pgd"))
    }

    /// Pages of RAM the kernel manages: the sum of every online node's `node_present_pages`
    /// (crash's total for %MEM and `sys` MEMORY). Nil when the nodes cannot be read.
    public func presentPages() -> UInt64? {
        if let cached = presentPagesCache { return cached }
        let l = layout
        guard let presentOffset = l.memberOffset("pglist_data", "node_present_pages") else { return nil }
        var nodes: [UInt64] = []
        if let table = l.symbolAddress("node_data") {
            // node_data[MAX_NUMNODES]: pointers, NULL for nodes that do not exist; the kernel
            // uses the first nr_node_ids of them.
            var count = 1
            if let at = l.symbolAddress("nr_node_ids"), let n = try? memory.load(UInt32.self, at), n >= 1 {
                count = Int(min(n, 1 << 10))
            }
            for i in 0..<count {
                guard let p = try? memory.load(UInt64.self, table &+ UInt64(i * 8)) else { break }
                if p != 0 { nodes.append(p) }
            }
        } else if let contig = l.symbolAddress("contig_page_data") {
            nodes = [contig]
        }
        var total: UInt64 = 0
        for n in nodes {
            guard let v = try? memory.load(UInt64.self, n &+ UInt64(presentOffset)) else { return nil }
            total &+= v
        }
        presentPagesCache = nodes.isEmpty ? nil : total
        return presentPagesCache
    }
    private var presentPagesCache: UInt64?
}

// MARK: - Time

extension CrashedKernel {
    /// The kernel's tick rate (CONFIG_HZ), as `KernelClock` reads it: nil when it is not known.
    public func hz() -> UInt64? { (try? KernelClock.ticks(memory: memory))?.hz }

    /// Jiffies since boot: `jiffies_64` minus INITIAL_JIFFIES, which the kernel sets to
    /// (u32)(-300 * HZ) so that the 32-bit counter wraps five minutes after boot.
    public func uptimeJiffies() -> UInt64? {
        guard let ticks = try? KernelClock.ticks(memory: memory) else { return nil }
        return ticks.jiffies &- KernelClock.initialJiffies(hz: ticks.hz)
    }
}

// MARK: - Memory maps

extension CrashedKernel {
    /// The VMAs of `task`'s address space, nil for a task without one (kernel threads).
    public func memoryMap(of task: KernelTask) throws -> VMAList? {
        guard task.mm != 0 else { return nil }
        return try VMAReader(memory: memory, interrupted: interrupted).areas(ofMM: task.mm)
    }
}

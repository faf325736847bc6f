/// A process's memory use as `ps` shows it: resident pages and the size of its address space.
public struct TaskMemoryUsage: Sendable, Equatable {
    /// Resident pages: file, anonymous and shared-memory pages mapped by the process.
    public var residentPages: UInt64
    /// `mm->total_vm`: pages of the whole address space.
    public var virtualPages: UInt64
}

/// Reads `TaskMemoryUsage` the way the kernel counts it (`get_mm_counter`), on whichever layout
/// the kernel has:
/// - `mm_struct.rss_stat.count[]`, `atomic_long_t`s (before 6.2), plus each thread's cached
///   `task_struct.rss_stat.count[]` deltas where the kernel splits the counting (SPLIT_RSS_COUNTING);
/// - `mm_struct.rss_stat[]`, `struct percpu_counter`s (6.2+): the shared count plus every CPU's part.
/// Negative counters (the kernel updates them lazily) count as zero, as the kernel reports them.
public struct TaskMemoryReader {
    public let kernel: CrashedKernel
    private let counters: [Int]
    private enum Layout {
        case atomicArray(offset: Int)
        case percpuCounters(offset: Int, size: Int, countOffset: Int, countersOffset: Int)
        case unknown
    }
    private let layout: Layout
    private let threadCacheOffset: Int?

    public init(kernel: CrashedKernel) {
        self.kernel = kernel
        let l = kernel.layout
        // MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES: enumerators of an anonymous enum.
        var counters: [Int] = []
        for (name, fallback) in [("MM_FILEPAGES", 0), ("MM_ANONPAGES", 1), ("MM_SHMEMPAGES", 3)] {
            let v = l.number(name).map { Int(truncatingIfNeeded: $0) } ?? fallback
            if v >= 0, v < 16 { counters.append(v) }
        }
        self.counters = counters
        if let o = l.memberOffset("mm_struct", "rss_stat.count") {
            layout = .atomicArray(offset: o)
        } else if let o = l.memberOffset("mm_struct", "rss_stat"), let size = l.typeSize("percpu_counter"),
                  let c = l.memberOffset("percpu_counter", "count"), let cs = l.memberOffset("percpu_counter", "counters") {
            layout = .percpuCounters(offset: o, size: size, countOffset: c, countersOffset: cs)
        } else {
            layout = .unknown
        }
        threadCacheOffset = l.memberOffset("task_struct", "rss_stat.count")
    }

    /// The usage of `task`'s process; nil for a task without an mm (kernel threads) or a
    /// zombie, and when the mm cannot be read.
    public func usage(of task: KernelTask, in index: TaskIndex) -> TaskMemoryUsage? {
        guard task.mm != 0, task.state & index.stateBits.zombie == 0 else { return nil }
        let memory = kernel.memory
        let mm = memory.object(task.mm, "mm_struct")
        guard let totalVM = try? mm.unsigned("total_vm") else { return nil }
        var rss: Int64 = 0
        switch layout {
        case let .atomicArray(offset):
            for c in counters {
                if let v = try? memory.load(Int64.self, task.mm &+ UInt64(offset + c * 8)), v > 0 { rss += v }
            }
        case let .percpuCounters(offset, size, countOffset, countersOffset):
            let areas = try? kernel.perCPU()
            for c in counters {
                let fbc = task.mm &+ UInt64(offset + c * size)
                guard var sum = try? memory.load(Int64.self, fbc &+ UInt64(countOffset)) else { continue }
                if let areas, let pcp = try? memory.load(UInt64.self, fbc &+ UInt64(countersOffset)) {
                    for cpu in 0..<areas.cpuCount {
                        if let a = areas.address(ofOffset: pcp, cpu: cpu), let v = try? memory.load(Int32.self, a) {
                            sum &+= Int64(v)
                        }
                    }
                }
                if sum > 0 { rss += sum }
            }
        case .unknown:
            return nil
        }
        if let cache = threadCacheOffset {
            // Each thread's not yet folded-in counts (int per counter).
            for thread in index.threadGroup(tgid: task.tgid) {
                for c in counters {
                    if let v = try? memory.load(Int32.self, thread.address &+ UInt64(cache + c * 4)), v > 0 { rss += Int64(v) }
                }
            }
        }
        return TaskMemoryUsage(residentPages: UInt64(max(0, rss)), virtualPages: totalVM)
    }
}

import Foundation

/// What `sys` shows about the crashed system, read from the kernel's own state: CPU masks,
/// the timekeeper's clock, load average, utsname, memory, taint, and the panic message.
/// Each fact is optional: one that cannot be read leaves its row unknown, the rest still show.
public struct SystemFacts: Sendable {
    /// CPUs present (`__cpu_present_mask`), and how many of them were online (`__cpu_online_mask`).
    public var cpusPresent: Int?
    public var cpusOnline: Int?
    /// Wall-clock seconds at the crash (`tk_core.timekeeper.xtime_sec`).
    public var date: Int64?
    /// Jiffies since boot and the tick rate.
    public var uptimeJiffies: UInt64?
    public var hz: UInt64?
    /// `avenrun[3]`: fixed-point load averages (11 fractional bits).
    public var loadAverage: [UInt64]?
    public var taskCount: Int?
    public var nodename: String?, release: String?, version: String?, machine: String?
    /// `cpu_khz / 1000`.
    public var mhz: UInt64?
    /// Bytes of RAM the kernel managed (present pages).
    public var memoryBytes: UInt64?
    /// `tainted_mask` != 0.
    public var tainted: Bool?
    public var panicMessage: String?

    public init(kernel: CrashedKernel) {
        let l = kernel.layout
        let memory = kernel.memory
        // The masks are `__cpu_*_mask` since 4.5, the bitmaps `cpu_*_bits` before.
        func maskCount(_ names: String...) -> Int? {
            guard let at = names.lazy.compactMap({ l.symbolAddress($0) }).first else { return nil }
            let bits = max(64, min((try? kernel.perCPU().cpuCount) ?? 64, 8192))
            guard let words = try? memory.bytes(at, count: (bits + 63) / 64 * 8) else { return nil }
            return words.reduce(0) { $0 + $1.nonzeroBitCount }
        }
        cpusPresent = maskCount("__cpu_present_mask", "cpu_present_bits")
        cpusOnline = maskCount("__cpu_online_mask", "cpu_online_bits")
        // tk_core is { seqcount; struct timekeeper timekeeper; }: a named struct tk_data on newer
        // kernels, anonymous before; then the timekeeper follows the sequence count, 8-aligned.
        let seqSize = l.typeSize("seqcount_raw_spinlock_t") ?? l.typeSize("seqcount_t")
        if let tk = l.symbolAddress("tk_core") ?? l.symbolAddress("timekeeper_data"),
           let inCore = l.memberOffset("tk_data", "timekeeper") ?? seqSize.map({ ($0 + 7) & ~7 }),
           let sec = l.memberOffset("timekeeper", "xtime_sec") {
            date = try? memory.load(Int64.self, tk &+ UInt64(inCore + sec))
        }
        hz = kernel.hz()
        uptimeJiffies = kernel.uptimeJiffies()
        if let at = l.symbolAddress("avenrun"), let b = try? memory.bytes(at, count: 24) {
            loadAverage = (0..<3).map { i in (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[i * 8 + $1]) << UInt64($1 * 8) } }
        }
        taskCount = (try? kernel.tasks())?.tasks.count
        if let uts = l.symbolAddress("init_uts_ns"), let nameOffset = l.memberOffset("uts_namespace", "name") {
            let name = memory.object(uts &+ UInt64(nameOffset), "new_utsname")
            nodename = try? name.charArray("nodename")
            release = try? name.charArray("release")
            version = try? name.charArray("version")
            machine = try? name.charArray("machine")
        }
        if let at = l.symbolAddress("cpu_khz"), let khz = try? memory.load(UInt32.self, at) { mhz = UInt64(khz) / 1000 }
        memoryBytes = kernel.presentPages().map { $0 &* KernelAddressSpace.pageSize }
        if let at = l.symbolAddress("tainted_mask"), let v = try? memory.load(UInt64.self, at) { tainted = v != 0 }
        panicMessage = (try? kernel.panicMessage()) ?? nil
    }
}

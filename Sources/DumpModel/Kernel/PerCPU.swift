/// The crashed kernel's per-CPU areas, for reading per-CPU variables.
///
/// On x86_64 SMP kernels a per-CPU variable's symbol (in `.data..percpu`, linked at address 0
/// and not moved by KASLR) is an offset; CPU `n`'s instance lives at that offset plus
/// `__per_cpu_offset[n]`. The kernel fills `__per_cpu_offset` for every possible CPU id below
/// `nr_cpu_ids`; slots above keep their boot value (`__per_cpu_load`), which is never a real
/// area. Views of per-CPU state (run queues, the current task of each CPU, IRQ and exception
/// stacks) start here.
///
/// Everything read from the dump is bounded: at most `maxCPUs` ids, whatever `nr_cpu_ids` says.
public struct PerCPU {
    /// The most CPU ids crashsh considers (the kernel's NR_CPUS limit, CONFIG_NR_CPUS_RANGE_END).
    public static let maxCPUs = 8192

    public let memory: KernelMemory
    /// `__per_cpu_offset[cpu]` for each possible CPU id, in order.
    public let offsets: [UInt64]
    /// How the number of CPU ids was found: "nr_cpu_ids" (the kernel's count of possible CPU
    /// ids), or "__per_cpu_load" (no usable nr_cpu_ids: the slots before the first one still at
    /// its boot value). Either way, only the first slot is kept when the array cannot be read whole.
    public let countSource: String

    /// Reads `nr_cpu_ids` and the `__per_cpu_offset` array through `space`'s memory.
    public init(space: KernelAddressSpace, maxCPUs: Int = PerCPU.maxCPUs) throws {
        try self.init(memory: KernelMemory(space: space), maxCPUs: maxCPUs)
    }

    /// Reads `nr_cpu_ids` and the `__per_cpu_offset` array.
    ///
    /// - Throws: `DumpError.missing` when the layout has no `__per_cpu_offset` (a kernel built
    ///   without SMP, or no debuginfo), or the `MemoryFault` of the array's first slot.
    public init(memory: KernelMemory, maxCPUs: Int = PerCPU.maxCPUs) throws {
        self.memory = memory
        let layout = memory.layout
        guard let table = layout.symbolAddress("__per_cpu_offset") else {
            throw DumpError.missing(what: "symbol __per_cpu_offset (a kernel without SMP per-cpu areas, or no debuginfo)")
        }
        let limit = max(1, min(maxCPUs, PerCPU.maxCPUs))
        // nr_cpu_ids is an unsigned int; a value of 0 or above the limit is corrupt, not a count.
        var count: Int?
        if let at = layout.symbolAddress("nr_cpu_ids"), let n = try? memory.load(UInt32.self, at),
           n >= 1, Int(n) <= limit {
            count = Int(n)
        }
        let slots = count ?? limit
        var raw: [UInt8]
        do {
            raw = try memory.bytes(table, count: slots * 8)
        } catch {
            // The array is in the kernel image's data; a partial read keeps what was readable.
            guard slots > 1 else { throw error }
            raw = try memory.bytes(table, count: 8)
        }
        var found: [UInt64] = []
        found.reserveCapacity(raw.count / 8)
        let bootValue = layout.symbolAddress("__per_cpu_load")
        for i in 0..<(raw.count / 8) {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(raw[i * 8 + b]) << UInt64(b * 8) }
            if count == nil, i > 0, let bootValue, v == bootValue { break }
            found.append(v)
        }
        offsets = found
        countSource = count != nil ? "nr_cpu_ids" : "__per_cpu_load"
    }

    /// The number of possible CPU ids (CPUs 0 ..< cpuCount have a per-CPU area).
    public var cpuCount: Int { offsets.count }

    /// CPU `cpu`'s instance of the per-CPU variable at `offset` (its link-time symbol value),
    /// or nil when `cpu` is not a possible CPU id.
    public func address(ofOffset offset: UInt64, cpu: Int) -> UInt64? {
        guard cpu >= 0, cpu < offsets.count else { return nil }
        return offsets[cpu] &+ offset
    }

    /// Every CPU's instance of the per-CPU variable at `offset`, CPU 0 first.
    public func addresses(ofOffset offset: UInt64) -> [UInt64] {
        offsets.map { $0 &+ offset }
    }

    /// CPU `cpu`'s instance of the per-CPU variable `name`, plus the byte offset of `member` in
    /// `type` when given (for variables that are structures: `pcpu_hot.current_task`).
    public func address(of name: String, member: (type: String, path: String)? = nil, cpu: Int) throws -> UInt64 {
        guard let base = memory.layout.symbolAddress(name) else {
            throw DumpError.missing(what: "per-cpu symbol \(name)")
        }
        var offset = base
        if let member {
            guard let m = memory.layout.memberOffset(member.type, member.path) else {
                throw DumpError.missing(what: "\(member.type).\(member.path)")
            }
            offset = base &+ UInt64(m)
        }
        guard let a = address(ofOffset: offset, cpu: cpu) else {
            throw DumpError.missing(what: "CPU \(cpu) (the kernel has \(cpuCount) possible CPU ids)")
        }
        return a
    }

    /// The `task_struct` address of the task running on `cpu` at the time of the crash: the
    /// per-CPU `current_task`, kept in `pcpu_hot` since Linux 6.2.
    public func currentTask(cpu: Int) throws -> UInt64 {
        let slot: UInt64
        if memory.layout.symbolAddress("current_task") != nil {
            slot = try address(of: "current_task", cpu: cpu)
        } else {
            slot = try address(of: "pcpu_hot", member: ("pcpu_hot", "current_task"), cpu: cpu)
        }
        return try memory.load(UInt64.self, slot)
    }

    /// The CPU that panicked (`panic_cpu`), or nil when the kernel did not panic (-1) or says
    /// something that is not a possible CPU id.
    public func panicCPU() throws -> Int? {
        guard let at = memory.layout.symbolAddress("panic_cpu") else {
            throw DumpError.missing(what: "symbol panic_cpu")
        }
        let cpu = try memory.load(Int32.self, at)
        guard cpu >= 0, Int(cpu) < cpuCount else { return nil }
        return Int(cpu)
    }

    /// Each CPU id's local APIC id as the firmware numbered it, for dumps whose CPU states are
    /// kept by APIC id (sadump): the `bios_cpu_apicid` array of old kernels, else the per-CPU
    /// `x86_bios_cpu_apicid` (or `x86_cpu_to_apicid`, which later kernels keep alone), read from
    /// its early map while the kernel had not yet switched to per-CPU areas (as crash does).
    /// nil where a CPU's id cannot be read; empty when the kernel has none of these symbols.
    public func apicIDs() -> [Int?] {
        let layout = memory.layout
        if let array = layout.symbolAddress("bios_cpu_apicid") {
            return (0 ..< cpuCount).map { cpu in (try? memory.load(UInt8.self, array &+ UInt64(cpu))).map(Int.init) }
        }
        for name in ["x86_bios_cpu_apicid", "x86_cpu_to_apicid"] where layout.symbolAddress(name) != nil {
            if let pointer = layout.symbolAddress(name + "_early_ptr"), let map = layout.symbolAddress(name + "_early_map"),
               let early = try? memory.load(UInt64.self, pointer), early != 0 {
                return (0 ..< cpuCount).map { cpu in (try? memory.load(UInt16.self, map &+ 2 &* UInt64(cpu))).map(Int.init) }
            }
            return (0 ..< cpuCount).map { cpu in
                guard let at = try? address(of: name, cpu: cpu) else { return nil }
                return (try? memory.load(UInt16.self, at)).map(Int.init)
            }
        }
        return []
    }
}

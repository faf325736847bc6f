import DumpModel

extension Session {
    /// The kernel's per-CPU areas (`__per_cpu_offset` for each possible CPU id), read through
    /// the session's crashed kernel and kept there. Needs the vmlinux: VMCOREINFO does not
    /// locate them.
    public func perCPU() throws -> PerCPU {
        try crashedKernel().perCPU()
    }

    /// The CPU of the current context, which an empty CPU specifier (`p irq_stat:`) means.
    /// crashsh has no `set -c` yet: the context is crash's default, the CPU that panicked.
    public func currentCPU(_ areas: PerCPU) throws -> Int {
        guard let cpu = try areas.panicCPU() else {
            throw CommandError("no current CPU: the kernel did not panic; name a CPU (symbol:0) or all (symbol:a)")
        }
        return cpu
    }

    /// The CPUs a CPU specifier names (see `CPUSpecification`), against the dump's CPU count.
    public func cpus(_ specifier: String, in areas: PerCPU) throws -> [Int] {
        try CPUSpecification.cpus(specifier, cpuCount: areas.cpuCount, current: { try currentCPU(areas) })
    }
}

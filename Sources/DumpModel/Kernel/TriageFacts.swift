/// A task in uninterruptible sleep (D state, not TASK_IDLE) and how long it has waited.
public struct BlockedTask: Sendable, Equatable {
    public var task: KernelTask
    /// The run queue clock of the task's CPU minus the time the task last ran
    /// (`sched_info.last_arrival`), as crash's `ps -m` measures it; nil when either is unknown.
    public var waitedNanoseconds: UInt64?
}

/// The meaning of each taint letter (the kernel's Documentation/admin-guide/tainted-kernels.rst).
/// The letters themselves come from the crashed kernel's `taint_flags[]`; this only spells them out.
public enum TaintDescription {
    public static let meanings: [Character: String] = [
        "P": "proprietary module was loaded",
        "F": "module was force loaded",
        "S": "kernel running on an out of specification system",
        "R": "module was force unloaded",
        "M": "processor reported a Machine Check Exception",
        "B": "bad page referenced or some unexpected page flags",
        "U": "taint requested by userspace application",
        "D": "kernel died recently, i.e. there was an OOPS or BUG",
        "A": "an ACPI table was overridden by user",
        "W": "kernel issued warning",
        "C": "staging driver was loaded",
        "I": "workaround for bug in platform firmware applied",
        "O": "externally-built (\"out-of-tree\") module was loaded",
        "E": "unsigned module was loaded",
        "L": "soft lockup occurred",
        "K": "kernel has been live patched",
        "X": "auxiliary taint, defined for and used by distros",
        "T": "kernel was built with the struct randomization plugin",
        "N": "an in-kernel test has been run",
    ]

    /// Module taint letters triage flags: proprietary, out-of-tree, unsigned.
    public static let moduleFlags: [(letter: Character, name: String)] = [
        ("P", "proprietary"), ("O", "out-of-tree"), ("E", "unsigned"),
    ]
}

extension CrashedKernel {
    /// `tainted_mask`, when the layout knows the symbol and its word can be read.
    public func taintedMask() -> UInt64? {
        guard let at = layout.symbolAddress("tainted_mask") else { return nil }
        return try? memory.load(UInt64.self, at)
    }

    /// The letters of the taint bits set in `mask`, by the kernel's own `taint_flags[]`.
    public func taintLetters(_ mask: UInt64, modulesOnly: Bool = false) throws -> [Character] {
        let flags = try ModuleListReader(memory: memory).taintFlags()
        return flags.filter { f in
            (!modulesOnly || f.appliesToModules) && f.bit < 64 && mask & (1 << UInt64(f.bit)) != 0
        }.map(\.letter)
    }

    /// The clock of `cpu`'s run queue (`rq.clock`, nanoseconds), nil when it cannot be read.
    public func runQueueClock(cpu: Int) -> UInt64? {
        guard let areas = try? perCPU(), let rq = try? areas.address(of: "runqueues", cpu: cpu) else { return nil }
        return try? memory.object(rq, "rq").unsigned("clock")
    }

    /// When `task` last started running (`sched_info.last_arrival`, else the older `last_run`).
    public func lastArrival(of task: KernelTask) -> UInt64? {
        let o = memory.object(task.address, "task_struct")
        return (try? o.unsigned("sched_info.last_arrival")) ?? (try? o.unsigned("last_run"))
    }

    /// How long `task` has been in its state: its CPU's run queue clock minus when it last
    /// started running (crash's `ps -m`); nil when either cannot be read or the clock is behind.
    public func waitedNanoseconds(of task: KernelTask) -> UInt64? {
        guard let clock = runQueueClock(cpu: task.cpu), let last = lastArrival(of: task), clock >= last else { return nil }
        return clock - last
    }

    /// The tasks in uninterruptible sleep that count in the load (crash's "UN", not "ID"), the
    /// longest waiting first, at most `limit` of them, and how many there were in all.
    public func blockedTasks(limit: Int) throws -> (tasks: [BlockedTask], total: Int) {
        let index = try tasks()
        let bits = index.stateBits
        var found: [BlockedTask] = []
        for t in index.tasks where t.state & bits.uninterruptible != 0 && t.state & bits.noload == 0 {
            if interrupted() { throw InterruptedByUser() }
            found.append(BlockedTask(task: t, waitedNanoseconds: waitedNanoseconds(of: t)))
        }
        let sorted = found.enumerated().sorted { a, b in
            let x = a.element.waitedNanoseconds ?? 0, y = b.element.waitedNanoseconds ?? 0
            return x != y ? x > y : a.offset < b.offset
        }.map(\.element)
        return (Array(sorted.prefix(max(0, limit))), found.count)
    }
}

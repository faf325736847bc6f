/// Which register note belongs to which CPU, and what the registers in it are.
///
/// kdump writes one PRSTATUS note per CPU that saved its state, in CPU order, with the pid of the
/// task that ran there: the panicking CPU saves its own registers (crash_setup_regs), the others
/// the registers of the context the crash NMI interrupted. QEMU writes one note per vCPU, in
/// vCPU order, with the vCPU's own registers (and pid = vCPU number + 1).
public struct CPURegisterNotes: Sendable {
    /// Registers per CPU id, nil where no note belongs to the CPU.
    public let registers: [X86Registers?]
    /// Per CPU id: the note holds the CPU's own state (true) or a context its handler saved.
    public let isOwnState: [Bool]

    /// - Parameters:
    ///   - activePIDs: the pid of each CPU's active task (nil where unknown), in CPU order.
    /// Each CPU's own state at the time of the dump (QEMU's notes, sadump's SMRAM states), by CPU
    /// id; nil where there is none.
    public init(ownStates: [X86Registers?]) {
        registers = ownStates
        isOwnState = ownStates.map { $0 != nil }
    }

    public init(prstatus: [PRStatus], fromQEMU: Bool, activePIDs: [Int32?], panicCPU: Int?) {
        var regs = [X86Registers?](repeating: nil, count: activePIDs.count)
        var own = [Bool](repeating: false, count: activePIDs.count)
        if fromQEMU {
            for (cpu, note) in prstatus.enumerated() where cpu < regs.count {
                regs[cpu] = note.registers
                own[cpu] = true
            }
        } else if prstatus.count == activePIDs.count {
            for (cpu, note) in prstatus.enumerated() {
                regs[cpu] = note.registers
                own[cpu] = cpu == panicCPU
            }
        } else {
            // Fewer notes than CPUs: CPUs that did not save a note (offline) are skipped, a note
            // goes to the next CPU whose active task has the note's pid.
            var next = 0
            for cpu in 0..<activePIDs.count where next < prstatus.count {
                if let pid = activePIDs[cpu], prstatus[next].pid == pid {
                    regs[cpu] = prstatus[next].registers
                    own[cpu] = cpu == panicCPU
                    next += 1
                }
            }
        }
        registers = regs
        isOwnState = own
    }
}

/// Traces of the crashed kernel's tasks: the start from the CPU notes for running tasks and from
/// the saved switch frame for the others, over the stacks of the catalogue.
public struct TaskBacktracer {
    public let kernel: CrashedKernel
    public let unwinder: StackUnwinder
    public let notes: CPURegisterNotes

    public init(kernel: CrashedKernel, unwinder: StackUnwinder, notes: CPURegisterNotes) {
        self.kernel = kernel
        self.unwinder = unwinder
        self.notes = notes
    }

    /// The trace of `task`.
    public func trace(_ task: KernelTask) -> Backtrace {
        let index = try? kernel.tasks()
        let cpu = index?.activeCPU(of: task.address)
        let catalogue = StackCatalogue(memory: kernel.memory, perCPU: try? kernel.perCPU())
        let (stacks, taskStackError) = catalogue.stacks(task: task.address, activeOn: cpu)
        let start: TraceStart
        if let cpu {
            guard cpu < notes.registers.count, let r = notes.registers[cpu] else {
                return Backtrace(task: task.address, activeCPU: cpu, frames: [],
                                 end: .noStart("no register note for CPU \(cpu)"), stacks: stacks,
                                 startRegisters: nil, startMethod: "none")
            }
            start = notes.isOwnState[cpu] ? .registers(r) : .interruptedRegisters(r)
        } else {
            start = .sleeping
        }
        var trace = unwinder.walk(task: task.address, activeCPU: cpu, start: start, stacks: stacks)
        if trace.frames.isEmpty, case .outsideStacks = trace.end, let taskStackError {
            trace.end = .noStart("task stack unreadable: \(taskStackError)")
        }
        return trace
    }
}

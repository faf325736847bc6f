/// One kernel stack: its kind and its bounds. A frame is only believed when its words lie
/// inside the stack the walk is on.
public struct KernelStack: Sendable, Equatable {
    public enum Kind: Sendable, Equatable, Hashable {
        /// A task's own stack (`task->stack`, THREAD_SIZE bytes).
        case task
        /// The CPU's hard-IRQ stack.
        case irq
        /// One of the CPU's exception (IST) stacks in its cpu_entry_area, by the kernel's member
        /// name without `_stack`: "DF", "NMI", "DB", "MCE", "VC", "VC2".
        case exception(String)
        /// The CPU's entry (trampoline) stack, where the entry code starts from user mode.
        case entry
    }

    public var kind: Kind
    public var cpu: Int?
    /// Lowest address of the stack.
    public var base: UInt64
    /// One past its highest address (the initial stack pointer).
    public var top: UInt64

    public init(kind: Kind, cpu: Int?, base: UInt64, top: UInt64) {
        self.kind = kind
        self.cpu = cpu
        self.base = base
        self.top = top
    }

    /// Whether `size` bytes at `address` lie inside the stack.
    public func contains(_ address: UInt64, size: UInt64 = 8) -> Bool {
        guard address >= base, address < top else { return false }
        return top - address >= size
    }

    /// The name crash gives the stack in `--- <NAME> ---` lines.
    public var crashName: String {
        switch kind {
        case .task: return "process stack"
        case .irq: return "IRQ stack"
        case .entry: return "ENTRY stack"
        case let .exception(name):
            let names = ["DF": "DOUBLEFAULT", "NMI": "NMI", "DB": "DEBUG", "MCE": "MCE", "VC": "VC", "VC2": "VC2"]
            return "\(names[name] ?? name) exception stack"
        }
    }

    /// A short name for JSON: "task", "irq", "exception:NMI", "entry".
    public var label: String {
        switch kind {
        case .task: return "task"
        case .irq: return "irq"
        case .entry: return "entry"
        case let .exception(name): return "exception:\(name)"
        }
    }
}

/// The stacks of tasks and CPUs, found through the layout, by which symbols and members the
/// kernel has:
/// - the task stack from `task->stack` and the size of `union thread_union`;
/// - the IRQ stack from the per-CPU `hardirq_stack_ptr` (4.20 to 6.1) or
///   `pcpu_hot.hardirq_stack_ptr` (6.2+), a pointer to the top (page aligned, up to 5.10) or to
///   the top minus one word (where the interrupted stack pointer is saved); before 4.20 the
///   per-CPU `union irq_stack_union` holds the stack itself (its `irq_stack` member), else the
///   per-CPU `irq_stack_ptr` points at the top, or 64 bytes below it before 4.9;
/// - the exception stacks from the per-CPU `cea_exception_stacks` pointer and the members of
///   `struct cea_exception_stacks` (5.2+), else from the per-CPU `orig_ist`: the tops of the IST
///   stacks, laid out one after another;
/// - the entry stack from the top the TSS holds in `sp0`.
public struct StackCatalogue {
    public let memory: KernelMemory
    public let perCPU: PerCPU?

    public init(memory: KernelMemory, perCPU: PerCPU?) {
        self.memory = memory
        self.perCPU = perCPU
    }

    var layout: any KernelLayout { memory.layout }

    /// THREAD_SIZE: the size of `union thread_union`, else 16 KiB (x86_64's since 3.15).
    public var threadSize: UInt64 {
        if let s = layout.typeSize("thread_union"), s >= 4096, s <= 1 << 20 { return UInt64(s) }
        return 16384
    }

    /// The task stack of the task at `taskAddress`.
    public func taskStack(task taskAddress: UInt64) throws -> KernelStack {
        let task = memory.object(taskAddress, "task_struct")
        let base = try task.pointer("stack")
        let size = threadSize
        guard base != 0, base & 0xfff == 0 else {
            throw DumpError.missing(what: "a stack for task \(hex(taskAddress)) (task->stack is \(hex(base)))")
        }
        let (top, overflow) = base.addingReportingOverflow(size)
        guard !overflow else { throw DumpError.missing(what: "a stack for task \(hex(taskAddress))") }
        return KernelStack(kind: .task, cpu: nil, base: base, top: top)
    }

    /// The CPU's hard-IRQ stack, nil when the kernel has none that this layout describes.
    public func irqStack(cpu: Int) -> KernelStack? {
        guard let perCPU else { return nil }
        if layout.symbolAddress("hardirq_stack_ptr") == nil, layout.memberOffset("pcpu_hot", "hardirq_stack_ptr") == nil {
            return olderIRQStack(cpu: cpu, perCPU: perCPU)
        }
        let slot: UInt64?
        if layout.symbolAddress("hardirq_stack_ptr") != nil {
            slot = try? perCPU.address(of: "hardirq_stack_ptr", cpu: cpu)
        } else {
            slot = try? perCPU.address(of: "pcpu_hot", member: ("pcpu_hot", "hardirq_stack_ptr"), cpu: cpu)
        }
        guard let slot, let pointer = try? memory.load(UInt64.self, slot), pointer != 0 else { return nil }
        var size: UInt64 = threadSize
        if let s = layout.typeSize("irq_stack"), s >= 4096, s <= 1 << 20 { size = UInt64(s) }
        // Since 5.11 the pointer is the top minus one word (the word it points to holds the stack
        // pointer of the code the interrupt came from); before, the page-aligned top itself.
        let top = pointer & 0xfff == 0 ? pointer : pointer &+ 8
        guard top > size else { return nil }
        return KernelStack(kind: .irq, cpu: cpu, base: top - size, top: top)
    }

    /// The IRQ stack of kernels before 4.20: the per-CPU `irq_stack_union.irq_stack` array, or
    /// failing that the per-CPU `irq_stack_ptr`.
    func olderIRQStack(cpu: Int, perCPU: PerCPU) -> KernelStack? {
        var size: UInt64 = 16384
        if let s = layout.memberSize("irq_stack_union", "irq_stack"), s >= 4096, s <= 1 << 20 { size = UInt64(s) }
        if layout.symbolAddress("irq_stack_union") != nil {
            let member = UInt64(layout.memberOffset("irq_stack_union", "irq_stack") ?? 0)
            guard let union = try? perCPU.address(of: "irq_stack_union", cpu: cpu) else { return nil }
            let (base, overflow) = union.addingReportingOverflow(member)
            guard !overflow, base <= UInt64.max - size else { return nil }
            return KernelStack(kind: .irq, cpu: cpu, base: base, top: base + size)
        }
        guard layout.symbolAddress("irq_stack_ptr") != nil, let slot = try? perCPU.address(of: "irq_stack_ptr", cpu: cpu),
              let pointer = try? memory.load(UInt64.self, slot), pointer != 0 else { return nil }
        // Before 4.9 the pointer stops 64 bytes short of the top.
        let top = pointer & 0xfff == 0 ? pointer : pointer &+ 64
        guard top > size, top & 0xfff == 0 else { return nil }
        return KernelStack(kind: .irq, cpu: cpu, base: top - size, top: top)
    }

    /// The CPU's exception stacks (those whose size the layout gives and that are not empty).
    public func exceptionStacks(cpu: Int) -> [KernelStack] {
        guard let perCPU else { return [] }
        guard layout.symbolAddress("cea_exception_stacks") != nil else {
            return originalISTStacks(cpu: cpu, perCPU: perCPU)
        }
        guard let slot = try? perCPU.address(of: "cea_exception_stacks", cpu: cpu),
              let area = try? memory.load(UInt64.self, slot), area != 0 else { return [] }
        var out: [KernelStack] = []
        for name in ["DF", "NMI", "DB", "MCE", "VC", "VC2"] {
            let member = "\(name)_stack"
            guard let off = layout.memberOffset("cea_exception_stacks", member),
                  let size = layout.memberSize("cea_exception_stacks", member), size > 0 else { continue }
            let base = area &+ UInt64(off)
            out.append(KernelStack(kind: .exception(name), cpu: cpu, base: base, top: base &+ UInt64(size)))
        }
        return out
    }

    /// The IST stacks of kernels before 5.2, by IST number (1: double fault, 2: NMI, 3: debug,
    /// 4: machine check: fixed numbers, macros no type describes). `orig_ist.ist[n - 1]` is the
    /// top of stack n; the stacks lie one after another, so each one's size is the distance
    /// from the previous top (the double-fault stack has the NMI stack's size).
    func originalISTStacks(cpu: Int, perCPU: PerCPU) -> [KernelStack] {
        guard layout.symbolAddress("orig_ist") != nil,
              let at = try? perCPU.address(of: "orig_ist", member: ("orig_ist", "ist"), cpu: cpu) else { return [] }
        let names = ["DF", "NMI", "DB", "MCE"]
        var tops: [UInt64] = []
        for i in 0..<names.count {
            guard let top = try? memory.load(UInt64.self, at &+ UInt64(8 * i)), top != 0 else { break }
            tops.append(top)
        }
        guard tops.count >= 2 else { return [] }
        func plausible(_ size: UInt64) -> Bool { size >= 4096 && size <= 1 << 16 && size & 0xfff == 0 }
        var out: [KernelStack] = []
        for (i, top) in tops.enumerated() {
            let size = i == 0 ? tops[1] &- tops[0] : top &- tops[i - 1]
            // A top below the previous one gives a wrapped, implausible size.
            guard plausible(size), top > size else { break }
            out.append(KernelStack(kind: .exception(names[i]), cpu: cpu, base: top - size, top: top))
        }
        return out
    }

    /// The CPU's entry stack: its top is `cpu_tss_rw.x86_tss.sp0`.
    public func entryStack(cpu: Int) -> KernelStack? {
        guard let perCPU, layout.memberOffset("tss_struct", "x86_tss.sp0") != nil,
              let slot = try? perCPU.address(of: "cpu_tss_rw", member: ("tss_struct", "x86_tss.sp0"), cpu: cpu),
              let top = try? memory.load(UInt64.self, slot), top != 0 else { return nil }
        var size: UInt64 = 512
        if let s = layout.typeSize("entry_stack"), s > 0, s <= 65536 { size = UInt64(s) }
        guard top > size else { return nil }
        return KernelStack(kind: .entry, cpu: cpu, base: top - size, top: top)
    }

    /// Every stack a trace of `task` may cross: its own, and when it runs on `cpu`, that CPU's
    /// IRQ, exception and entry stacks.
    public func stacks(task taskAddress: UInt64, activeOn cpu: Int?) -> (stacks: [KernelStack], taskStackError: Error?) {
        var out: [KernelStack] = []
        var taskError: Error?
        do { out.append(try taskStack(task: taskAddress)) } catch { taskError = error }
        if let cpu {
            if let s = irqStack(cpu: cpu) { out.append(s) }
            out += exceptionStacks(cpu: cpu)
            if let s = entryStack(cpu: cpu) { out.append(s) }
        }
        return (out, taskError)
    }
}


import Testing
@testable import DumpModel

/// The unwinder on hand-made stacks of kernels without ORC tables: a task switched out by the
/// `switch_to` macro of kernels before 4.9 (no `struct inactive_task_frame`), a running task
/// whose frame-pointer chain crosses from the IRQ stack through the interrupt's `pt_regs` onto
/// its own stack, corrupt chains, and the IRQ and exception stacks of kernels before 4.20.
@Suite struct OldKernelStackTests {
    static func phys(_ v: UInt64) -> UInt64 { StackUnwinderTests.phys(v) }
    static let task: UInt64 = 0xffff_ffff_8300_0000
    static let stack: UInt64 = 0xffff_ffff_8310_0000
    static let top = stack + 0x4000
    static let irqStack: UInt64 = 0xffff_ffff_8320_0000
    static let irqTop = irqStack + 0x4000
    /// pt_regs of 21 words, `ip` at word 16, as on x86_64.
    static let ptRegsSize: UInt64 = 168

    // Code: the scheduler (with DWARF CFI, built with frame pointers: CFA = rbp + 16, the
    // caller's rbp at CFA - 16), then functions no rule describes.
    static let schedule: UInt64 = 0xffff_ffff_8100_1000
    static let resume = schedule + 0x80                   // after `call __switch_to`
    static let a: UInt64 = 0xffff_ffff_8100_2000, b: UInt64 = 0xffff_ffff_8100_3000
    static let retFromFork: UInt64 = 0xffff_ffff_8160_0000
    static let handler: UInt64 = 0xffff_ffff_8100_4000   // with CFI, like `schedule`
    static let doIRQ: UInt64 = 0xffff_ffff_8100_5000
    static let commonInterrupt: UInt64 = 0xffff_ffff_8160_1000
    static let interrupted: UInt64 = 0xffff_ffff_8100_6000, caller: UInt64 = 0xffff_ffff_8100_7000
    static let syscallEntry: UInt64 = 0xffff_ffff_8160_2000

    /// A 4.8-like layout: no `inactive_task_frame`.
    static func layout() -> DictionaryLayout {
        DictionaryLayout(sizes: ["thread_union": 16384, "pt_regs": 168],
                         offsets: ["task_struct.stack": 0x10, "task_struct.thread.sp": 0x20, "pt_regs.ip": 128])
    }

    static func dump() -> SyntheticDump {
        let (dump, _) = syntheticKernel()
        dump.write64(phys(task) + 0x10, stack)
        for base in [stack, irqStack] {
            for p in stride(from: base, to: base + 0x4000, by: 0x1000) { dump.write64(phys(p), 0) }
        }
        return dump
    }

    static func unwinder(_ dump: SyntheticDump, switchFrame: SwitchMacroFrame? = SwitchMacroFrame(resumePC: resume, savedWords: 1))
        throws -> StackUnwinder {
        let memory = KernelMemory(space: try space(dump, layout: layout()))
        var u = StackUnwinder(memory: memory, tables: [])
        u.switchMacroFrame = switchFrame
        u.fallbackRule = { pc in
            guard (schedule..<(schedule + 0x100)).contains(pc) || (handler..<(handler + 0x100)).contains(pc) else { return nil }
            return UnwindRow(kind: .call, cfaRegister: .bp, cfaOffset: 16, bpRegister: .cfa, bpOffset: -16, source: .dwarfCFI)
        }
        return u
    }

    static func writeRegs(_ dump: SyntheticDump, at address: UInt64, _ r: X86Registers) {
        for (i, w) in r.words.prefix(21).enumerated() { dump.write64(phys(address) + UInt64(8 * i), w) }
    }

    // MARK: A task switched out before 4.9

    /// thread.sp holds the scheduler's rbp (bp0); frames link bp0 -> bp1 -> bp2, and bp2's
    /// return address (into ret_from_fork, no rule) sits just below the kernel thread's zeroed
    /// `pt_regs` at the top of the stack.
    static let threadSP = top - 0x200
    static let bp0 = top - 0x180, bp1 = top - 0x100, bp2 = top - ptRegsSize - 16

    static func sleepingDump() -> SyntheticDump {
        let d = dump()
        d.write64(phys(task) + 0x20, threadSP)
        d.write64(phys(threadSP), bp0)                       // pushed by switch_to: rbp
        d.write64(phys(bp0), bp1); d.write64(phys(bp0 + 8), a + 0x20)
        d.write64(phys(bp1), bp2); d.write64(phys(bp1 + 8), b + 0x30)
        d.write64(phys(bp2), 0); d.write64(phys(bp2 + 8), retFromFork + 0x10)
        return d
    }

    @Test func aTaskSwitchedOutBefore49ResumesAfterTheCallOfSwitchTo() throws {
        let u = try Self.unwinder(Self.sleepingDump())
        let stack = KernelStack(kind: .task, cpu: nil, base: Self.stack, top: Self.top)
        #expect(try StackCatalogue(memory: u.memory, perCPU: nil).taskStack(task: Self.task) == stack)
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [stack])
        #expect(trace.startMethod == "switch-frame")
        #expect(trace.frames.map(\.pc) == [Self.resume, Self.a + 0x20, Self.b + 0x30, Self.retFromFork + 0x10])
        #expect(trace.frames.map(\.slot) == [Self.threadSP, Self.bp0 + 8, Self.bp1 + 8, Self.bp2 + 8])
        #expect(trace.frames.map(\.sp) == [Self.threadSP + 8, Self.bp0 + 16, Self.bp1 + 16, Self.bp2 + 16])
        #expect(trace.frames.map(\.origin) == [.switchFrame, .unwound, .unwound, .unwound])
        #expect(trace.frames.map(\.rule) == [.dwarfCFI, .framePointer, .framePointer, .exceptionFrame])
        #expect(trace.end == .endOfStack)
        // Before 4.1 the macro pushed the flags too: the stack pointer is past two words.
        let flags = try Self.unwinder(Self.sleepingDump(), switchFrame: SwitchMacroFrame(resumePC: Self.resume, savedWords: 2))
        let old = flags.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [stack])
        #expect(old.frames.first?.sp == Self.threadSP + 16 && old.frames.map(\.pc) == trace.frames.map(\.pc))
        // Without the type and without the place it resumes, one clear line.
        let none = try Self.unwinder(Self.sleepingDump(), switchFrame: nil)
        let noStart = none.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [stack])
        #expect(noStart.frames.isEmpty)
        guard case let .noStart(why) = noStart.end else {
            Issue.record("expected no start, got \(noStart.end)")
            return
        }
        #expect(why.contains("no struct inactive_task_frame"))
    }

    @Test func withoutCFITheStackScanHandsTheFramePointerChainOn() throws {
        // No rule for the scheduler either: a's return address follows `call schedule`, found by
        // the stack scan at bp0 + 8, where the frame pointer leads too; the chain goes on.
        let d = Self.sleepingDump()
        let ret = Self.a + 0x20
        d.write(Self.phys(ret - 5), [0xe8] + withUnsafeBytes(of: UInt32(truncatingIfNeeded: Self.schedule &- ret).littleEndian, Array.init))
        var u = try Self.unwinder(d)
        u.fallbackRule = { _ in nil }
        u.functionStart = { pc in (Self.schedule..<(Self.schedule + 0x100)).contains(pc) ? Self.schedule : nil }
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [Self.stacks[0]])
        #expect(trace.frames.map(\.pc) == [Self.resume, Self.a + 0x20, Self.b + 0x30, Self.retFromFork + 0x10])
        #expect(trace.frames.map(\.slot) == [Self.threadSP, Self.bp0 + 8, Self.bp1 + 8, Self.bp2 + 8])
        #expect(trace.frames.map(\.rule) == [.stackScan, .framePointer, .framePointer, .exceptionFrame])
        #expect(trace.end == .endOfStack)
    }

    @Test func findsWhereTheSwitchToMacroResumes() {
        let switchTo: UInt64 = 0xffff_ffff_8100_9000
        // push %rbp; mov %rsi,%rbp; mov %rsp,0x1000(%rdi); mov 0x1000(%rsi),%rsp; call __switch_to
        func code(pushf: Bool, at start: UInt64) -> [UInt8] {
            var c: [UInt8] = [0x55, 0x48, 0x89, 0xe5, 0x90]
            if pushf { c.append(0x9c) }
            c += [0x55, 0x48, 0x89, 0xf5, 0x48, 0x89, 0xa7, 0x00, 0x10, 0x00, 0x00, 0x48, 0x8b, 0xa6, 0x00, 0x10, 0x00, 0x00]
            let end = start + UInt64(c.count + 5)
            c += [0xe8] + withUnsafeBytes(of: UInt32(truncatingIfNeeded: switchTo &- end).littleEndian, Array.init)
            return c + [0x65, 0x48, 0x8b, 0x34, 0x25]
        }
        let s = Self.schedule
        let new = SwitchMacroFrame.find(threadReturn: nil, switchTo: switchTo, functions: [(s, code(pushf: false, at: s))])
        #expect(new == SwitchMacroFrame(resumePC: s + 28, savedWords: 1))
        let old = SwitchMacroFrame.find(threadReturn: nil, switchTo: switchTo, functions: [(s, code(pushf: true, at: s))])
        #expect(old == SwitchMacroFrame(resumePC: s + 29, savedWords: 2))
        // The label of old kernels wins; nothing found, nothing made up.
        let label = SwitchMacroFrame.find(threadReturn: s + 29, switchTo: switchTo, functions: [(s, code(pushf: true, at: s))])
        #expect(label == SwitchMacroFrame(resumePC: s + 29, savedWords: 2))
        #expect(SwitchMacroFrame.find(threadReturn: nil, switchTo: switchTo + 1, functions: [(s, code(pushf: false, at: s))]) == nil)
    }

    // MARK: A running task interrupted in the kernel

    /// The CPU runs `handler` on the IRQ stack (rbp = hBP). handler -> doIRQ (no rule: frame
    /// pointer) -> commonInterrupt, entry code whose return slot is just below the pointer to
    /// the interrupted `pt_regs` it pushed at the IRQ stack's top; those registers (on the task
    /// stack) interrupted `interrupted`, called by `caller`, called from the system call entry
    /// with the user's `pt_regs` at the top of the task stack.
    static let hBP = irqTop - 0x80, dBP = irqTop - 24
    static let regsAt = top - 0x400
    static let iBP = regsAt + ptRegsSize + 0x40, jBP = top - ptRegsSize - 16

    static func interruptedDump() -> SyntheticDump {
        let d = dump()
        d.write64(phys(hBP), dBP); d.write64(phys(hBP + 8), doIRQ + 0x40)
        // doIRQ saved the interrupted rbp (the entry code leaves it alone) below its return
        // address into the entry code; above that, the pointer to the registers it pushed.
        d.write64(phys(dBP), iBP); d.write64(phys(dBP + 8), commonInterrupt + 0x30)
        d.write64(phys(irqTop - 8), regsAt)
        var r = X86Registers()
        r.rip = interrupted + 0x18; r.cs = 0x10; r.rflags = 0x246; r.rsp = regsAt + ptRegsSize; r.ss = 0x18; r.rbp = iBP
        writeRegs(d, at: regsAt, r)
        d.write64(phys(iBP), jBP); d.write64(phys(iBP + 8), caller + 0x50)
        d.write64(phys(jBP), 0); d.write64(phys(jBP + 8), syscallEntry + 0x20)
        var user = X86Registers()
        user.rip = 0x47_b7a0; user.cs = 0x33; user.rflags = 0x202; user.rsp = 0x7ffc_e5c9_fe78; user.ss = 0x2b
        writeRegs(d, at: top - ptRegsSize, user)
        return d
    }

    static var stacks: [KernelStack] {
        [KernelStack(kind: .task, cpu: nil, base: stack, top: top), KernelStack(kind: .irq, cpu: 0, base: irqStack, top: irqTop)]
    }

    @Test func framePointersCrossTheInterruptsRegistersOntoTheTaskStack() throws {
        let u = try Self.unwinder(Self.interruptedDump())
        var r = X86Registers()
        r.rip = Self.handler + 0x10; r.rsp = Self.hBP - 0x20; r.rbp = Self.hBP; r.cs = 0x10; r.ss = 0x18
        let trace = u.walk(task: Self.task, activeCPU: 0, start: .registers(r), stacks: Self.stacks)
        #expect(trace.frames.map(\.pc) == [Self.handler + 0x10, Self.doIRQ + 0x40, Self.commonInterrupt + 0x30,
                                           Self.interrupted + 0x18, Self.caller + 0x50, Self.syscallEntry + 0x20])
        #expect(trace.frames.map(\.slot) == [Self.hBP - 0x20, Self.hBP + 8, Self.irqTop - 16,
                                             Self.regsAt + Self.ptRegsSize, Self.iBP + 8, Self.jBP + 8])
        #expect(trace.frames.map(\.origin) == [.registers, .unwound, .unwound, .exceptionRegisters, .unwound, .unwound])
        #expect(trace.frames.map(\.rule) == [.dwarfCFI, .framePointer, .exceptionFrame, .framePointer, .framePointer,
                                             .exceptionFrame])
        #expect(trace.frames.map { $0.stack?.kind } == [.irq, .irq, .irq, .task, .task, .task])
        #expect(trace.frames[2].leftStack?.kind == .irq)
        #expect(trace.frames[2].exception?.address == Self.regsAt)
        #expect(trace.frames[2].exception?.isUserMode == false)
        #expect(trace.frames[5].exception?.address == Self.top - Self.ptRegsSize)
        #expect(trace.frames[5].exception?.registers.rip == 0x47_b7a0)
        #expect(trace.end == .userMode)
    }

    @Test func anExceptionsRegistersJustAboveTheReturnAddressAreCrossed() throws {
        // A fault in `interrupted`: its entry code (no rule) saved pt_regs on the task stack and
        // called the handler right below them, so the handler's CFA is the registers' address.
        let d = Self.interruptedDump()
        let hBP = Self.regsAt - 16
        d.write64(Self.phys(hBP), Self.iBP); d.write64(Self.phys(hBP + 8), Self.commonInterrupt + 0x30)
        let u = try Self.unwinder(d)
        var r = X86Registers()
        r.rip = Self.handler + 0x10; r.rsp = hBP - 0x20; r.rbp = hBP; r.cs = 0x10; r.ss = 0x18
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .registers(r), stacks: [Self.stacks[0]])
        #expect(trace.frames.map(\.pc) == [Self.handler + 0x10, Self.commonInterrupt + 0x30, Self.interrupted + 0x18,
                                           Self.caller + 0x50, Self.syscallEntry + 0x20])
        #expect(trace.frames.map(\.slot) == [hBP - 0x20, hBP + 8, Self.regsAt + Self.ptRegsSize, Self.iBP + 8, Self.jBP + 8])
        #expect(trace.frames.map(\.rule) == [.dwarfCFI, .exceptionFrame, .framePointer, .framePointer, .exceptionFrame])
        #expect(trace.frames[1].exception?.address == Self.regsAt)
        #expect(trace.end == .userMode)
    }

    // MARK: Corrupt chains

    @Test func aChainThatPointsBackDownIsALoop() throws {
        let d = Self.sleepingDump()
        d.write64(Self.phys(Self.bp1), Self.bp0)                    // b's saved rbp points back at a's frame
        let u = try Self.unwinder(d)
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [Self.stacks[0]])
        #expect(trace.frames.map(\.pc) == [Self.resume, Self.a + 0x20, Self.b + 0x30])
        #expect(trace.end == .loop(sp: Self.bp0 + 16))
        #expect(trace.frames.last?.rule == .framePointer)
    }

    @Test func aReturnAddressThatIsNoKernelAddressIsACorruptStack() throws {
        let d = Self.sleepingDump()
        d.write64(Self.phys(Self.bp1 + 8), 0x1234)                  // b's return address overwritten
        let u = try Self.unwinder(d)
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [Self.stacks[0]])
        #expect(trace.frames.map(\.pc) == [Self.resume, Self.a + 0x20])
        #expect(trace.end == .badReturnAddress(pc: 0x1234, slot: Self.bp1 + 8))
        // A frame pointer that leaves the stack: no rule.
        let out = Self.sleepingDump()
        out.write64(Self.phys(Self.bp0), 0xffff_ffff_8400_0000)
        let outside = try Self.unwinder(out).walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [Self.stacks[0]])
        #expect(outside.frames.map(\.pc) == [Self.resume, Self.a + 0x20])
        #expect(outside.end == .noRule(pc: Self.a + 0x20))
    }

    // MARK: Stacks of kernels before 4.20

    static let perCPUOffsets: UInt64 = 0xffff_ffff_8330_0000
    static let perCPUArea: UInt64 = 0xffff_ffff_8340_0000

    /// One CPU whose per-CPU area is at `perCPUArea`, with the per-CPU symbols of `symbols`
    /// (offsets into the area).
    static func perCPU(_ d: SyntheticDump, symbols: [String: UInt64], offsets: [String: Int] = [:],
                       memberSizes: [String: Int] = [:]) throws -> PerCPU {
        d.write64(phys(perCPUOffsets), perCPUArea)
        d.write(phys(perCPUOffsets + 8), [1, 0, 0, 0])
        var layout = layout()
        layout.symbols = symbols.merging(["__per_cpu_offset": perCPUOffsets, "nr_cpu_ids": perCPUOffsets + 8]) { a, _ in a }
        layout.offsets.merge(offsets) { a, _ in a }
        layout.memberSizes = memberSizes
        return try PerCPU(memory: KernelMemory(space: try space(d, layout: layout)))
    }

    @Test func findsTheIRQStackByTheNamesOfEachEra() throws {
        // Before 4.20: the union's irq_stack member is the stack.
        let d = Self.dump()
        let union = try Self.perCPU(d, symbols: ["irq_stack_union": 0x4000], offsets: ["irq_stack_union.irq_stack": 0],
                                    memberSizes: ["irq_stack_union.irq_stack": 0x4000])
        #expect(StackCatalogue(memory: union.memory, perCPU: union).irqStack(cpu: 0)
                == KernelStack(kind: .irq, cpu: 0, base: Self.perCPUArea + 0x4000, top: Self.perCPUArea + 0x8000))
        // Only irq_stack_ptr, 64 bytes below the top (before 4.9).
        d.write64(Self.phys(Self.perCPUArea + 0x100), Self.irqTop - 64)
        let pointer = try Self.perCPU(d, symbols: ["irq_stack_ptr": 0x100])
        #expect(StackCatalogue(memory: pointer.memory, perCPU: pointer).irqStack(cpu: 0)
                == KernelStack(kind: .irq, cpu: 0, base: Self.irqStack, top: Self.irqTop))
        // 4.20 to 5.10: hardirq_stack_ptr is the top itself; 5.11+: the top minus one word.
        d.write64(Self.phys(Self.perCPUArea + 0x200), Self.irqTop)
        let hard = try Self.perCPU(d, symbols: ["hardirq_stack_ptr": 0x200])
        #expect(StackCatalogue(memory: hard.memory, perCPU: hard).irqStack(cpu: 0)?.top == Self.irqTop)
        d.write64(Self.phys(Self.perCPUArea + 0x200), Self.irqTop - 8)
        #expect(StackCatalogue(memory: hard.memory, perCPU: hard).irqStack(cpu: 0)?.top == Self.irqTop)
    }

    @Test func findsTheISTStacksFromOrigIST() throws {
        // Tops of the double-fault, NMI, debug (twice the size) and machine-check stacks.
        let d = Self.dump()
        let base = Self.irqStack
        for (i, top) in [base + 0x1000, base + 0x2000, base + 0x4000, base + 0x5000].enumerated() {
            d.write64(Self.phys(Self.perCPUArea + 0x300 + UInt64(8 * i)), top)
        }
        let p = try Self.perCPU(d, symbols: ["orig_ist": 0x300], offsets: ["orig_ist.ist": 0])
        let stacks = StackCatalogue(memory: p.memory, perCPU: p).exceptionStacks(cpu: 0)
        #expect(stacks == [
            KernelStack(kind: .exception("DF"), cpu: 0, base: base, top: base + 0x1000),
            KernelStack(kind: .exception("NMI"), cpu: 0, base: base + 0x1000, top: base + 0x2000),
            KernelStack(kind: .exception("DB"), cpu: 0, base: base + 0x2000, top: base + 0x4000),
            KernelStack(kind: .exception("MCE"), cpu: 0, base: base + 0x4000, top: base + 0x5000),
        ])
        #expect(stacks.map(\.crashName) == ["DOUBLEFAULT exception stack", "NMI exception stack", "DEBUG exception stack",
                                            "MCE exception stack"])
    }
}

import Testing
@testable import DumpModel

/// The ORC reader on hand-made entries of each layout, and the unwinder on a hand-made sleeping
/// task: frames in order, the end of the stack, and one clear reason when a stack page is
/// excluded or the frames loop.
@Suite struct StackUnwinderTests {
    /// One six-byte ORC entry.
    static func entry(sp: Int16, bp: Int16 = 0, word: UInt16) -> [UInt8] {
        withUnsafeBytes(of: sp.littleEndian, Array.init) + withUnsafeBytes(of: bp.littleEndian, Array.init)
            + withUnsafeBytes(of: word.littleEndian, Array.init)
    }

    static func decode(_ bytes: [UInt8], _ format: ORCFormat) -> UnwindRow {
        ORCTable.decode(bytes[0..<6], format: format)
    }

    @Test func decodesTheLinux414Layout() {
        // sp_reg 5 (SP) and type CALL (0): CFA = sp + 8.
        let call = Self.decode(Self.entry(sp: 8, word: 0x0005), .v4_14)
        #expect(call == UnwindRow(kind: .call, cfaRegister: .sp, cfaOffset: 8, source: .orc))
        // bp_reg 1 (PREV_SP): the caller's bp is at CFA - 16.
        let saved = Self.decode(Self.entry(sp: 16, bp: -16, word: 0x0015), .v4_14)
        #expect(saved.bpRegister == .cfa && saved.bpOffset == -16 && saved.kind == .call)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0105), .v4_14).kind == .regs)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0205), .v4_14).kind == .regsPartial)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0105), .v4_14).signal)
        // No CFA register: the end bit (10) tells the end of the stack from no information.
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0400), .v4_14).kind == .endOfStack)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0000), .v4_14).kind == .undefined)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0009), .v4_14).cfaRegister == .spIndirect)
    }

    @Test func decodesTheLinux63Layout() {
        // Bit 10 is the signal bit, bit 11 the end bit.
        let signalCall = Self.decode(Self.entry(sp: 8, word: 0x0405), .v6_3)
        #expect(signalCall.kind == .call && signalCall.signal)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0800), .v6_3).kind == .endOfStack)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0400), .v6_3).kind == .undefined)
        #expect(!Self.decode(Self.entry(sp: 8, word: 0x0005), .v6_3).signal)
    }

    @Test func decodesTheLinux64Layout() {
        // type:3: UNDEFINED 0, END_OF_STACK 1, CALL 2, REGS 3, REGS_PARTIAL 4; signal is bit 11.
        #expect(Self.decode(Self.entry(sp: 8, word: 0x0205), .v6_4) == UnwindRow(kind: .call, cfaRegister: .sp, cfaOffset: 8, source: .orc))
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0100), .v6_4).kind == .endOfStack)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0000), .v6_4).kind == .undefined)
        #expect(Self.decode(Self.entry(sp: 0, word: 0x0305), .v6_4).kind == .regs)
        #expect(Self.decode(Self.entry(sp: 160, word: 0x0405), .v6_4).kind == .regsPartial)
        #expect(Self.decode(Self.entry(sp: 8, word: 0x0a05), .v6_4).signal)
        // The same word read with the old layout would be a partial register frame.
        #expect(Self.decode(Self.entry(sp: 8, word: 0x0205), .v4_14).kind == .regsPartial)
    }

    @Test func decidesTheLayoutFromTheEntries() {
        func table(_ words: [UInt16]) -> [UInt8] { words.flatMap { Self.entry(sp: 8, word: $0) } }
        let old = table(Array(repeating: 0x0005, count: 50) + [0x0105, 0x0400, 0x0000])
        #expect(ORCTable.plausibleFormat(entries: old) == .v4_14)
        let new = table(Array(repeating: 0x0205, count: 50) + [0x0305, 0x0100, 0x0000, 0x0a05])
        #expect(ORCTable.plausibleFormat(entries: new) == .v6_4)
        // Signal bits on register frames (bit 10 with a CFA rule) and an end bit 11: 6.3.
        let mid = table(Array(repeating: 0x0005, count: 50) + [0x0505, 0x0800])
        #expect(ORCTable.plausibleFormat(entries: mid) == .v6_3)
    }

    /// A table at `base`: entries for (start, entry), ip offsets relative to each slot.
    static func table(at ipTable: UInt64, _ rows: [(UInt64, [UInt8])], header: Bool = false) throws -> ORCTable {
        var ips: [UInt8] = []
        for (i, r) in rows.enumerated() {
            let rel = Int32(truncatingIfNeeded: Int64(bitPattern: r.0 &- (ipTable + UInt64(i * 4))))
            ips += withUnsafeBytes(of: rel.littleEndian, Array.init)
        }
        return try ORCTable(ipTable: ips, ipTableAddress: ipTable, entries: rows.flatMap { $0.1 }, hasHeader: header)
    }

    @Test func findsTheRowAtAnAddressInAnUnsortedTable() throws {
        let f: UInt64 = 0xffff_ffff_8100_0000
        let t = try Self.table(at: 0xffff_ffff_8200_0000, [
            (f + 0x100, Self.entry(sp: 8, word: 0x0005)),
            (f, Self.entry(sp: 16, word: 0x0005)),
            (f + 0x200, Self.entry(sp: 0, word: 0x0000)),
        ])
        #expect(t.addresses == [f, f + 0x100, f + 0x200])
        #expect(t.row(at: f + 0x50)?.cfaOffset == 16)
        #expect(t.row(at: f + 0x100)?.cfaOffset == 8)
        #expect(t.row(at: f + 0x1ff)?.cfaOffset == 8)
        #expect(t.row(at: f - 1) == nil)
        #expect(t.formatSource == "plausibility")
        let withHeader = try Self.table(at: 0xffff_ffff_8200_0000, [(f, Self.entry(sp: 8, word: 0x0205))], header: true)
        #expect(withHeader.format == .v6_4 && withHeader.formatSource == "orc_header")
        #expect(throws: ORCTableError.self) {
            try ORCTable(ipTable: [0, 0, 0, 0], ipTableAddress: f, entries: [], hasHeader: false)
        }
        #expect(lastIndex(in: [1, 3, 3, 7], atOrBelow: 3) == 2)
        #expect(lastIndex(in: [1, 3, 3, 7], atOrBelow: 0) == nil)
        #expect(lastIndex(in: [], atOrBelow: 5) == nil)
    }

    // MARK: A hand-made sleeping task

    static func phys(_ v: UInt64) -> UInt64 { v - 0xffff_ffff_8000_0000 + 0x0100_0000 }
    static let task: UInt64 = 0xffff_ffff_8300_0000
    static let stack: UInt64 = 0xffff_ffff_8310_0000
    /// Functions A (CFA = sp + 24), B (CFA = sp + 8), C (end of stack), L (CFA = sp: loops).
    static let a: UInt64 = 0xffff_ffff_8100_1000, b: UInt64 = 0xffff_ffff_8100_2000
    static let c: UInt64 = 0xffff_ffff_8100_3000, l: UInt64 = 0xffff_ffff_8100_4000

    static func layout() -> DictionaryLayout {
        DictionaryLayout(sizes: ["thread_union": 16384],
                         offsets: ["task_struct.stack": 0x10, "task_struct.thread.sp": 0x20,
                                   "inactive_task_frame.bp": 0x28, "inactive_task_frame.ret_addr": 0x30])
    }

    static func unwinder(_ dump: SyntheticDump) throws -> (StackUnwinder, KernelMemory) {
        let memory = KernelMemory(space: try space(dump, layout: layout()))
        let t = try table(at: 0xffff_ffff_8200_0000, [
            (a, entry(sp: 24, word: 0x0005)), (b, entry(sp: 8, word: 0x0005)),
            (c, entry(sp: 0, word: 0x0400)), (l, entry(sp: 0, word: 0x0005)),
            (l + 0x1000, entry(sp: 0, word: 0x0000)), (l + 0x2000, entry(sp: 8, word: 0x0005)),
        ])
        return (StackUnwinder(memory: memory, tables: [t]), memory)
    }

    /// The task sleeps in A (resumed at a + 0x10) called by B called by C; the switch frame is at
    /// the stack's top - 0x100.
    static func sleepingTask(returnIntoB: UInt64 = b + 0x20) -> SyntheticDump {
        let (dump, _) = syntheticKernel()
        dump.write64(phys(task) + 0x10, stack)
        let frame = stack + 0x4000 - 0x100
        dump.write64(phys(task) + 0x20, frame)
        dump.write64(phys(frame) + 0x28, 0)                 // bp
        dump.write64(phys(frame) + 0x30, a + 0x10)          // ret_addr: in A
        // A's frame: CFA = sp + 24, sp = frame + 0x38; return address at CFA - 8.
        let aCFA = frame + 0x38 + 24
        dump.write64(phys(aCFA - 8), returnIntoB)
        // B's frame: CFA = sp + 8: its return address is the next word.
        dump.write64(phys(aCFA), c + 0x30)
        // Every page of the stack exists.
        for p in stride(from: stack, to: stack + 0x4000, by: 0x1000) where dump.pages[phys(p) >> 12] == nil {
            dump.write64(phys(p), 0)
        }
        return dump
    }

    @Test func walksASleepingTaskToTheEndOfItsStack() throws {
        let dump = Self.sleepingTask()
        let (u, memory) = try Self.unwinder(dump)
        let stack = try StackCatalogue(memory: memory, perCPU: nil).taskStack(task: Self.task)
        #expect(stack.base == Self.stack && stack.top == Self.stack + 0x4000)
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [stack])
        #expect(trace.frames.map(\.pc) == [Self.a + 0x10, Self.b + 0x20, Self.c + 0x30])
        let frame = Self.stack + 0x4000 - 0x100
        #expect(trace.frames.map(\.slot) == [frame + 0x30, frame + 0x38 + 16, frame + 0x38 + 24])
        #expect(trace.frames.first?.origin == .taskFrame)
        #expect(trace.end == .endOfStack)
        #expect(trace.end.isNormal)
    }

    @Test func anExcludedStackPageEndsTheTraceWithOneReason() throws {
        let dump = Self.sleepingTask()
        // The page holding A's return address is left out of the dump.
        let frame = Self.stack + 0x4000 - 0x100
        dump.excluded.insert(Self.phys(frame + 0x38 + 16) >> 12)
        let (u, memory) = try Self.unwinder(dump)
        let stack = try StackCatalogue(memory: memory, perCPU: nil).taskStack(task: Self.task)
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [stack])
        guard case let .unreadable(fault) = trace.end, case .excludedPage = fault.reason else {
            Issue.record("expected an excluded page, got \(trace.end)")
            return
        }
        #expect(!trace.end.isNormal)
        #expect(trace.end.description.contains("excluded"))
        #expect(trace.frames.count <= 1)
    }

    @Test func aFrameThatDoesNotMoveUpIsALoop() throws {
        // A returns into L, whose rule (CFA = sp) would read the same slot again and again.
        let dump = Self.sleepingTask(returnIntoB: Self.l + 0x10)
        let (u, memory) = try Self.unwinder(dump)
        let stack = try StackCatalogue(memory: memory, perCPU: nil).taskStack(task: Self.task)
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [stack])
        guard case .loop = trace.end else {
            Issue.record("expected a loop, got \(trace.end)")
            return
        }
        #expect(trace.frames.count == 2)
    }

    @Test func aReturnAddressWithoutARuleEndsTheTrace() throws {
        // A returns to an address no table covers and the frame pointer is 0: no rule.
        let dump = Self.sleepingTask(returnIntoB: 0xffff_ffff_8180_0000)
        let (u, memory) = try Self.unwinder(dump)
        let stack = try StackCatalogue(memory: memory, perCPU: nil).taskStack(task: Self.task)
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [stack])
        #expect(trace.end == .noRule(pc: 0xffff_ffff_8180_0000))
        #expect(trace.frames.count == 2)
    }

    // MARK: Code without rules: the caller found by its call instruction

    /// N lies under the undefined row at l + 0x1000, before the next object's rows, like code
    /// objtool skipped. The task sleeps in N; above its stack pointer: a word that is no address, a
    /// return address into C after a call of another function, then B's return address after
    /// `call N` (or the bytes `callBytes` there), then B's caller C (end of stack).
    static let n: UInt64 = l + 0x1100

    static func taskInCodeWithoutRules(resumeAt: UInt64 = n + 0x10, callee: UInt64 = n, callBytes: [UInt8]? = nil) -> SyntheticDump {
        let dump = sleepingTask()
        let frame = stack + 0x4000 - 0x100
        dump.write64(phys(frame) + 0x30, resumeAt)
        let ret = b + 0x20
        let rel = UInt32(truncatingIfNeeded: callee &- ret)
        dump.write(phys(ret - 5), callBytes ?? ([0xe8] + withUnsafeBytes(of: rel.littleEndian, Array.init)))
        // A decoy: c + 0x40 follows `call c` (rel32 -0x40), not a call of N.
        dump.write(phys(c + 0x3b), [0xe8] + withUnsafeBytes(of: UInt32(bitPattern: -0x40).littleEndian, Array.init))
        let sp = frame + 0x38
        dump.write64(phys(sp), 0x1234)
        dump.write64(phys(sp + 8), c + 0x40)
        dump.write64(phys(sp + 16), ret)
        dump.write64(phys(sp + 24), c + 0x30)   // B: CFA = sp + 8
        return dump
    }

    /// Code no table covers at all (JIT code).
    static let uncovered: UInt64 = 0xffff_ffff_8180_0000

    static func trace(_ dump: SyntheticDump, knowsN: Bool = true) throws -> Backtrace {
        var (u, memory) = try unwinder(dump)
        if knowsN {
            u.functionStart = { pc in [n, uncovered].first { pc >= $0 && pc < $0 + 0x100 } }
        }
        let stack = try StackCatalogue(memory: memory, perCPU: nil).taskStack(task: task)
        return u.walk(task: task, activeCPU: nil, start: .sleeping, stacks: [stack])
    }

    @Test func theCallerOfCodeWithoutRulesIsTheReturnAddressAfterACallOfIt() throws {
        let trace = try Self.trace(Self.taskInCodeWithoutRules())
        let sp = Self.stack + 0x4000 - 0x100 + 0x38
        #expect(trace.frames.map(\.pc) == [Self.n + 0x10, Self.b + 0x20, Self.c + 0x30])
        #expect(trace.frames.map(\.slot) == [sp - 8, sp + 16, sp + 24])
        #expect(trace.frames.map(\.origin) == [.taskFrame, .stackScan, .unwound])
        #expect(trace.frames.map(\.rule) == [.stackScan, .orc, .orc])
        #expect(trace.end == .endOfStack)
    }

    /// kdump's panic CPU: registers saved in B (named `savedIn`) at S; B's last call, of A, left
    /// its return address at S - 8 and A's frame below: A's return address at S - 32 (A's CFA is
    /// sp + 24), and a decoy into A at S - 16 whose rule does not lead back to S - 8.
    static func laterCallTrace(savedIn name: String) throws -> Backtrace {
        let dump = sleepingTask()
        let s = stack + 0x4000 - 0x80
        let ret = b + 0x20
        dump.write(phys(ret - 5), [0xe8] + withUnsafeBytes(of: UInt32(truncatingIfNeeded: a &- ret).littleEndian, Array.init))
        dump.write64(phys(s - 32), a + 0x10)
        dump.write64(phys(s - 16), a + 0x50)
        dump.write64(phys(s - 8), ret)
        dump.write64(phys(s), c + 0x30)          // B: CFA = sp + 8
        var (u, memory) = try unwinder(dump)
        u.functionStart = { pc in [a, b, c].first { pc >= $0 && pc < $0 + 0x100 } }
        u.functionName = { pc in pc >= b && pc < b + 0x100 ? name : nil }
        let stack = try StackCatalogue(memory: memory, perCPU: nil).taskStack(task: task)
        var r = X86Registers()
        r.rip = b + 0x40
        r.rsp = s
        r.cs = 0x10
        return u.walk(task: task, activeCPU: 0, start: .registers(r), stacks: [stack])
    }

    @Test func kdumpsPanicTraceStartsAtTheCallMadeAfterItsRegistersWereSaved() throws {
        let s = Self.stack + 0x4000 - 0x80
        let trace = try Self.laterCallTrace(savedIn: "__crash_kexec")
        #expect(trace.startMethod == "later-call")
        #expect(trace.frames.map(\.pc) == [Self.a + 0x10, Self.b + 0x20, Self.c + 0x30])
        #expect(trace.frames.map(\.slot) == [s - 32, s - 8, s])
        #expect(trace.frames.map(\.origin) == [.stackScan, .unwound, .unwound])
        #expect(trace.end == .endOfStack)
        // Registers saved anywhere else are live (or an oops's): the word below them is old.
        let live = try Self.laterCallTrace(savedIn: "delay_tsc")
        #expect(live.startMethod == "registers")
        #expect(live.frames.map(\.pc) == [Self.b + 0x40, Self.c + 0x30])
    }

    @Test func anIndirectCallIsTheCallerOnlyWhereNoTableCoversTheCode() throws {
        // `call *%rax` (ff d0) before B's return address, after three bytes of B's code.
        let callRAX: [UInt8] = [0x90, 0x90, 0x90, 0xff, 0xd0]
        let u = Self.uncovered
        let indirect = try Self.trace(Self.taskInCodeWithoutRules(resumeAt: u + 0x10, callee: u, callBytes: callRAX))
        #expect(indirect.frames.map(\.pc) == [u + 0x10, Self.b + 0x20, Self.c + 0x30])
        #expect(indirect.frames.map(\.origin) == [.taskFrame, .stackScan, .unwound])
        // Without the function's start, no direct call can be checked: the same indirect call.
        let unknown = try Self.trace(Self.taskInCodeWithoutRules(resumeAt: u + 0x10, callee: u, callBytes: callRAX), knowsN: false)
        #expect(unknown.frames.map(\.pc) == [u + 0x10, Self.b + 0x20, Self.c + 0x30])
        // Under an undefined ORC row (where the kernel gives up) only a direct call is believed.
        let undefined = try Self.trace(Self.taskInCodeWithoutRules(callBytes: callRAX))
        #expect(undefined.frames.map(\.pc) == [Self.n + 0x10])
        #expect(undefined.end == .noRule(pc: Self.n + 0x10))
        // Neither a call of the function nor an indirect call: no rule, as before.
        let none = try Self.trace(Self.taskInCodeWithoutRules(resumeAt: u + 0x10, callee: u, callBytes: [0x90, 0x90, 0x90, 0x90, 0x90]))
        #expect(none.frames.map(\.pc) == [u + 0x10])
        #expect(none.end == .noRule(pc: u + 0x10))
        #expect(StackUnwinder.endsWithIndirectCall([0, 0, 0, 0, 0x41, 0xff, 0xd3]))            // call *%r11
        #expect(StackUnwinder.endsWithIndirectCall([0, 0xff, 0x15, 1, 2, 3, 4]))                // call *rel(%rip)
        #expect(StackUnwinder.endsWithIndirectCall([0, 0, 0, 0, 0xff, 0x50, 0x08]))            // call *8(%rax)
        #expect(!StackUnwinder.endsWithIndirectCall([0, 0, 0, 0, 0, 0xff, 0xe0]))             // jmp *%rax
    }

    @Test func theEndOfTheStackIsNeverScannedPast() throws {
        // The same words above a task resumed in C, whose row is the end of the stack.
        let trace = try Self.trace(Self.taskInCodeWithoutRules(resumeAt: Self.c + 0x10))
        #expect(trace.frames.map(\.pc) == [Self.c + 0x10])
        #expect(trace.end == .endOfStack)
    }

    @Test func aStackPointerOutsideTheStacksIsReported() throws {
        let dump = Self.sleepingTask()
        dump.write64(Self.phys(Self.task) + 0x20, 0xffff_ffff_8320_0000)   // thread.sp elsewhere
        dump.write64(Self.phys(0xffff_ffff_8320_0000) + 0x30, Self.a)
        let (u, memory) = try Self.unwinder(dump)
        let stack = try StackCatalogue(memory: memory, perCPU: nil).taskStack(task: Self.task)
        let trace = u.walk(task: Self.task, activeCPU: nil, start: .sleeping, stacks: [stack])
        guard case .outsideStacks = trace.end else {
            Issue.record("expected outside the stacks, got \(trace.end)")
            return
        }
    }

    @Test func notesGoToTheCPUsByOrderAndPID() {
        var n0 = PRStatus(index: 0), n1 = PRStatus(index: 1)
        n0.pid = 1; n0.registers.rip = 0x10
        n1.pid = 7; n1.registers.rip = 0x20
        // kdump: CPU 1 offline (no note); CPU 2's task has pid 7.
        let kdump = CPURegisterNotes(prstatus: [n0, n1], fromQEMU: false, activePIDs: [1, 0, 7], panicCPU: 0)
        #expect(kdump.registers.map { $0?.rip } == [0x10, nil, 0x20])
        #expect(kdump.isOwnState == [true, false, false])
        // QEMU: one note per vCPU, each the vCPU's own state.
        let qemu = CPURegisterNotes(prstatus: [n0, n1], fromQEMU: true, activePIDs: [5, 6], panicCPU: 1)
        #expect(qemu.registers.map { $0?.rip } == [0x10, 0x20])
        #expect(qemu.isOwnState == [true, true])
    }

    // MARK: Module ORC tables

    /// A module's `struct module` with `arch` (mod_arch_specific) at 0x40: num_orcs (u32) at 0,
    /// orc_unwind_ip at 8, orc_unwind at 16.
    static let moduleLayout = DictionaryLayout(
        sizes: ["orc_entry": 6],
        offsets: ["module.arch": 0x40, "mod_arch_specific.num_orcs": 0, "mod_arch_specific.orc_unwind_ip": 8,
                  "mod_arch_specific.orc_unwind": 16],
        memberSizes: ["mod_arch_specific.num_orcs": 4])
    static let module: UInt64 = 0xffff_ffff_8320_0000
    static let moduleIPs: UInt64 = 0xffff_ffff_8321_0000
    static let moduleEntries: UInt64 = 0xffff_ffff_8322_0000
    static let moduleText: UInt64 = 0xffff_ffff_c010_0000

    /// Writes a module whose ip table (each s32 relative to its own slot) names `rows`.
    static func moduleDump(_ rows: [(UInt64, [UInt8])], count: UInt32? = nil) -> SyntheticDump {
        let (dump, _) = syntheticKernel()
        dump.write(phys(module) + 0x40, withUnsafeBytes(of: (count ?? UInt32(rows.count)).littleEndian, Array.init))
        dump.write64(phys(module) + 0x48, moduleIPs)
        dump.write64(phys(module) + 0x50, moduleEntries)
        for (i, r) in rows.enumerated() {
            let slot = moduleIPs + UInt64(i * 4)
            dump.write(phys(slot), withUnsafeBytes(of: UInt32(truncatingIfNeeded: r.0 &- slot).littleEndian, Array.init))
            dump.write(phys(moduleEntries) + UInt64(i * 6), r.1)
        }
        return dump
    }

    @Test func readsAModulesORCTableFromItsMemory() throws {
        let f = Self.moduleText
        let dump = Self.moduleDump([(f, Self.entry(sp: 8, word: 0x0005)), (f + 0x40, Self.entry(sp: 24, word: 0x0005)),
                                    (f + 0x80, Self.entry(sp: 0, word: 0x0000))])
        let memory = KernelMemory(space: try space(dump, layout: Self.moduleLayout))
        let table = try #require(try ModuleORCTables.table(module: Self.module, memory: memory, format: .v4_14))
        #expect(table.addresses == [f, f + 0x40, f + 0x80])
        #expect(table.row(at: f + 0x3f)?.cfaOffset == 8)
        #expect(table.row(at: f + 0x41)?.cfaOffset == 24)
        #expect(table.row(at: f + 0x80)?.kind == .undefined)
        // Entries outside the module's code (freed init text) are dropped.
        let kept = try #require(table.keeping([f..<(f + 0x41)]))
        #expect(kept.addresses == [f, f + 0x40] && kept.row(at: f + 0x41)?.cfaOffset == 24 && !kept.covers(f + 0x80))
        #expect(table.keeping([0..<1]) == nil)
        // The unwinder asks the module tables only for pcs its own tables do not cover, and
        // reads them once.
        var loads = 0
        var u = StackUnwinder(memory: memory, tables: [try Self.table(at: 0xffff_ffff_8200_0000, [
            (Self.a, Self.entry(sp: 16, word: 0x0005)), (Self.a + 0x100, Self.entry(sp: 0, word: 0x0000)),
        ])])
        let lazy = LazyORCTables { loads += 1; return [table] }
        u.moduleTables = lazy
        #expect(u.row(at: Self.a + 8)?.cfaOffset == 16)
        #expect(loads == 0)
        #expect(u.row(at: f + 0x50)?.cfaOffset == 24)
        #expect(u.row(at: f + 0x10)?.cfaOffset == 8)
        #expect(loads == 1)
        #expect(u.row(at: f - 1) == nil)
    }

    @Test func aModuleWithoutTablesOrWithACorruptCountIsRefused() throws {
        let memory = KernelMemory(space: try space(Self.moduleDump([]), layout: Self.moduleLayout))
        #expect(try ModuleORCTables.table(module: Self.module, memory: memory, format: .v4_14) == nil)
        let huge = KernelMemory(space: try space(Self.moduleDump([], count: 0x7fff_ffff), layout: Self.moduleLayout))
        #expect(throws: ModuleORCTables.Failure.badCount(0x7fff_ffff)) {
            try ModuleORCTables.table(module: Self.module, memory: huge, format: .v4_14)
        }
        // Two entries claimed, one page of ip table written: the entries past it are unreadable.
        let short = KernelMemory(space: try space(Self.moduleDump([(Self.moduleText, Self.entry(sp: 8, word: 5))], count: 2000),
                                                  layout: Self.moduleLayout))
        #expect(throws: ModuleORCTables.Failure.self) {
            try ModuleORCTables.table(module: Self.module, memory: short, format: .v4_14)
        }
        let noORC = KernelMemory(space: try space(Self.moduleDump([]), layout: DictionaryLayout()))
        #expect(throws: ModuleORCTables.Failure.noORCMembers) {
            try ModuleORCTables.table(module: Self.module, memory: noORC, format: .v4_14)
        }
    }
}

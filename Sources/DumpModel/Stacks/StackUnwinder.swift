/// The registers the entry code saved (`struct pt_regs`) where an interrupt, exception or system
/// call entered the kernel.
public struct ExceptionFrame: Sendable, Equatable {
    /// Address of the saved `pt_regs`.
    public var address: UInt64
    public var registers: X86Registers
    /// The interrupted code ran in user mode (the saved CS has a non-zero privilege level).
    public var isUserMode: Bool
    /// Only the hardware's interrupt frame (ip, cs, flags, sp, ss) is valid.
    public var isPartial: Bool
}

/// One frame of a trace.
public struct StackFrame: Sendable, Equatable {
    /// How the frame's pc and stack pointer were found.
    public enum Origin: String, Sendable, Equatable {
        /// The CPU's registers (a PRSTATUS or QEMU note).
        case registers
        /// A sleeping task's `thread.sp` and `struct inactive_task_frame`.
        case taskFrame = "inactive-task-frame"
        /// A sleeping task of a kernel before 4.9: `thread.sp` and the words the `switch_to`
        /// macro pushed there, the pc where such a task resumes in the scheduler.
        case switchFrame = "switch-frame"
        /// A return address found by an unwind rule (ORC, CFI or frame pointer: see `rule`).
        case unwound
        /// The registers saved at an exception frame.
        case exceptionRegisters = "exception-registers"
        /// A return address found by scanning the stack: checked by unwinding from it to the
        /// registers the interrupted context saved (the start of a stopped CPU's trace), or, for
        /// the caller of code no rule describes, by the call instruction that precedes it.
        case stackScan = "stack-scan"
    }

    /// The code address: a return address (`isReturnAddress`) or the interrupted instruction.
    public var pc: UInt64
    /// Where crash prints the frame (`#N [slot]`): the stack word that held `pc` for a return
    /// address, the stack pointer for a frame that starts from registers.
    public var slot: UInt64
    /// The stack pointer while this frame ran (just above `slot` for a return address).
    public var sp: UInt64
    /// `pc` is a return address: the call it returns from is at pc - 1.
    public var isReturnAddress: Bool
    public var origin: Origin
    /// The rule that found this frame's caller (nil for the last frame).
    public var rule: UnwindRow.Source?
    /// The stack the frame is on.
    public var stack: KernelStack?
    /// Registers the entry code saved at the end of this frame (the frame is an entry point).
    public var exception: ExceptionFrame?
    /// Set when the walk leaves this frame's stack for its caller's: the stack left behind.
    public var leftStack: KernelStack?

    /// The address to look symbols and rules up at.
    public var lookupPC: UInt64 { isReturnAddress ? pc &- 1 : pc }
}

/// Why a trace ended. Every trace ends with one of these, printed as one line unless it is the
/// normal end (user mode or the end of the stack).
public enum TraceEnd: Sendable, Equatable {
    case userMode
    case endOfStack
    /// A stack word could not be read (excluded page, not in the dump, not mapped).
    case unreadable(MemoryFault)
    /// No unwind rule covers the code address, and no frame pointer leads on.
    case noRule(pc: UInt64)
    /// The stack pointer left every stack the task or its CPU has.
    case outsideStacks(sp: UInt64)
    /// The word where the caller's return address should be holds no kernel address (a
    /// corrupt or overwritten stack).
    case badReturnAddress(pc: UInt64, slot: UInt64)
    /// The stack pointer did not move up, or came back to a stack already left.
    case loop(sp: UInt64)
    case frameLimit(Int)
    /// The trace could not start: no registers for an active task, no stack...
    case noStart(String)
    case interrupted

    public var isNormal: Bool { self == .userMode || self == .endOfStack }

    public var description: String {
        switch self {
        case .userMode: return "user mode reached"
        case .endOfStack: return "end of stack"
        case let .unreadable(f): return "stack unreadable: \(f)"
        case let .noRule(pc): return "no unwind rule for pc \(hex(pc))"
        case let .outsideStacks(sp): return "stack pointer \(hex(sp)) is outside the task's and CPU's stacks"
        case let .badReturnAddress(pc, slot):
            return "return address \(hex(pc)) at \(hex(slot)) is not a kernel address: the stack is corrupt"
        case let .loop(sp): return "stack pointer \(hex(sp)) does not move up the stack: stopped (loop)"
        case let .frameLimit(n): return "stopped after \(n) frames (frame limit)"
        case let .noStart(why): return why
        case .interrupted: return "interrupted"
        }
    }
}

/// Where a walk starts.
public enum TraceStart: Sendable, Equatable {
    /// The CPU's own registers when the dump was taken (the panicking CPU's crash_setup_regs, or
    /// QEMU's view of a vCPU).
    case registers(X86Registers)
    /// Registers an NMI (or other) handler saved for the context it interrupted (kdump's notes
    /// for the CPUs it stopped): the handler's own frames are found from where those registers
    /// sit on the CPU's stacks.
    case interruptedRegisters(X86Registers)
    /// A task that is not running: `thread.sp` and its `inactive_task_frame` (or, before 4.9,
    /// the words the `switch_to` macro pushed, see `SwitchMacroFrame`).
    case sleeping
}

/// Where a task that the `switch_to` macro of kernels before 4.9 switched out resumes, and what
/// the macro left at its `thread.sp`: it pushed rbp (before 4.1 flags, then rbp), saved rsp in
/// `thread.sp`, switched stacks and called `__switch_to`, which returns to the instruction after
/// that call in the scheduler (the `thread_return` label of old kernels).
public struct SwitchMacroFrame: Sendable, Equatable {
    /// The instruction after `call __switch_to` in the scheduler.
    public var resumePC: UInt64
    /// How many words the macro pushed before saving the stack pointer: the saved rbp is the
    /// first, at `thread.sp`; the task's stack pointer when it resumes is past them all.
    public var savedWords: Int

    public init(resumePC: UInt64, savedWords: Int) {
        self.resumePC = resumePC
        self.savedWords = savedWords
    }

    /// Finds the macro in the scheduler's code: the `call rel32` whose target is `switchTo`
    /// (`__switch_to`) in one of `functions` (schedule, __schedule: code and run-time start), and
    /// before it `push %rbp; mov %rsi,%rbp`, preceded by `pushf` when the flags were saved too.
    /// `threadReturn` (the label, where the kernel has it) is the resume pc when given.
    public static func find(threadReturn: UInt64?, switchTo: UInt64?, functions: [(start: UInt64, code: [UInt8])]) -> SwitchMacroFrame? {
        for f in functions {
            guard let switchTo, f.code.count >= 5 else { continue }
            for i in 0...(f.code.count - 5) where f.code[i] == 0xe8 {
                let end = f.start &+ UInt64(i + 5)
                guard StackUnwinder.callTarget(endingAt: end, code: Array(f.code[max(0, i - 2)..<(i + 5)]).leftPadded(to: 7)) == switchTo
                else { continue }
                var words = 1
                let saveContext: [UInt8] = [0x55, 0x48, 0x89, 0xf5]   // push %rbp; mov %rsi,%rbp
                let from = max(0, i - 32)
                if let at = (from..<i).last(where: { j in j + 4 <= i && Array(f.code[j..<(j + 4)]) == saveContext }),
                   at > 0, f.code[at - 1] == 0x9c {
                    words = 2                                          // pushf before it
                }
                return SwitchMacroFrame(resumePC: threadReturn ?? end, savedWords: words)
            }
        }
        return threadReturn.map { SwitchMacroFrame(resumePC: $0, savedWords: 1) }
    }
}

extension Array where Element == UInt8 {
    /// The array with zeros in front up to `count` bytes.
    func leftPadded(to count: Int) -> [UInt8] { self.count >= count ? self : [UInt8](repeating: 0, count: count - self.count) + self }
}

/// Why a sleeping task's trace cannot start.
struct SleepingStartFailure: Error, CustomStringConvertible {
    var description: String
}

/// A task's trace: its frames in order (innermost first) and why the walk stopped.
public struct Backtrace: Sendable {
    public var task: UInt64
    /// The CPU the task was running on, nil for a task that was not running.
    public var activeCPU: Int?
    public var frames: [StackFrame]
    public var end: TraceEnd
    public var stacks: [KernelStack]
    /// The registers the trace started from, when it started from a CPU's registers.
    public var startRegisters: X86Registers?
    /// How the start was found: "registers", "interrupted-registers", "inactive-task-frame"...
    public var startMethod: String
}

/// Walks kernel stacks with the kernel's ORC rules, frame pointers as the last resort, crossing
/// between stacks through the registers the entry code saves and checking every word it reads
/// against the bounds of the stack it is on.
public struct StackUnwinder {
    public let memory: KernelMemory
    /// The kernel image's ORC table, then those of modules.
    public let tables: [ORCTable]
    public var frameLimit = 200
    /// Names of functions a stopped CPU sits in (the kdump NMI callback...): preferred when the
    /// start of a walk must be found by scanning.
    public var stopFunctions: Set<String> = ["crash_nmi_callback", "stop_this_cpu", "native_safe_halt", "native_halt"]
    /// The function containing an address, for `stopFunctions`.
    public var functionName: (UInt64) -> String? = { _ in nil }
    public var interrupted: () -> Bool = { false }
    /// Rules for code the ORC tables do not describe (DWARF CFI from the vmlinux), by run-time pc.
    public var fallbackRule: (UInt64) -> UnwindRow? = { _ in nil }
    /// The start of the function containing an address (from the symbol table): where no rule
    /// describes the code, the caller is the return address of a call to that start.
    public var functionStart: (UInt64) -> UInt64? = { _ in nil }
    /// How many words above the stack pointer the search for such a return address reads: more
    /// than any kernel function's frame (the kernel warns above 2 KiB of locals).
    public var callerScanWords = 512

    public init(memory: KernelMemory, tables: [ORCTable]) {
        self.memory = memory
        self.tables = tables
    }

    /// The loaded modules' ORC tables, read when a pc outside `tables` needs a rule.
    public var moduleTables: LazyORCTables?
    /// For kernels before 4.9 (no `struct inactive_task_frame`): where sleeping tasks resume.
    public var switchMacroFrame: SwitchMacroFrame?

    /// The unwind rule at `pc`: the first table that covers it, the modules' after the kernel's.
    public func row(at pc: UInt64) -> UnwindRow? {
        for t in tables where t.covers(pc) {
            if let r = t.row(at: pc) { return r }
        }
        guard let moduleTables, pc >= KernelAddressSpace.startKernelMap else { return nil }
        for t in moduleTables.tables where t.covers(pc) {
            if let r = t.row(at: pc) { return r }
        }
        return nil
    }

    /// The rule at `pc` the walk uses: the ORC row, else the fallback's (DWARF CFI) where no
    /// row or an undefined one covers it.
    func callRule(at pc: UInt64) -> UnwindRow? {
        let orc = row(at: pc)
        if let orc, orc.kind != .undefined { return orc }
        return fallbackRule(pc) ?? orc
    }

    // MARK: pt_regs

    var ptRegsSize: UInt64 {
        if let s = memory.layout.typeSize("pt_regs"), s >= 168, s <= 512 { return UInt64(s) }
        return 168
    }
    /// Offset of `ip` in pt_regs: the hardware frame starts there.
    var ptRegsIPOffset: UInt64 { UInt64(memory.layout.memberOffset("pt_regs", "ip") ?? 128) }

    /// Reads the `pt_regs` at `address`. Its first 21 words are in the order of the PRSTATUS
    /// registers (the ELF core ABI is pt_regs), checked against the layout where it knows them.
    func readPtRegs(_ address: UInt64) throws(MemoryFault) -> X86Registers {
        let bytes = try memory.bytes(address, count: 168)
        var words = [UInt64](repeating: 0, count: 27)
        for i in 0..<21 {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(bytes[i * 8 + b]) << UInt64(8 * b) }
            words[i] = v
        }
        var r = X86Registers(words: words) ?? X86Registers()
        r.cs &= 0xffff
        r.ss &= 0xffff
        return r
    }

    // MARK: Walking

    func stack(containing address: UInt64, size: UInt64, in stacks: [KernelStack]) -> KernelStack? {
        stacks.first { $0.contains(address, size: size) }
    }

    /// The state between two frames.
    struct State {
        var pc: UInt64
        var sp: UInt64
        var bp: UInt64
        var regs: X86Registers?
        var isReturnAddress: Bool
        var slot: UInt64
        var origin: StackFrame.Origin
        /// This frame was found by following a frame pointer: its `bp` is the next link of a
        /// frame-pointer chain (not any register value a rule passed along).
        var chainedByFramePointer = false
    }

    /// The trace of a task from `start`, over `stacks`.
    public func walk(task: UInt64, activeCPU: Int?, start: TraceStart, stacks: [KernelStack]) -> Backtrace {
        var trace = Backtrace(task: task, activeCPU: activeCPU, frames: [], end: .endOfStack, stacks: stacks,
                              startRegisters: nil, startMethod: "")
        let first: State
        switch start {
        case let .registers(r):
            trace.startRegisters = r
            trace.startMethod = "registers"
            if r.cs & 3 != 0 {
                // The CPU was in user mode: nothing of the kernel is on its stacks.
                trace.frames = []
                trace.end = .userMode
                return trace
            }
            if let later = laterCall(after: r, stacks: stacks) {
                first = later
                trace.startMethod = "later-call"
            } else {
                first = State(pc: r.rip, sp: r.rsp, bp: r.rbp, regs: r, isReturnAddress: false, slot: r.rsp, origin: .registers)
            }
        case let .interruptedRegisters(r):
            trace.startRegisters = r
            trace.startMethod = "interrupted-registers"
            if let found = findHandlerStart(saved: r, stacks: stacks) {
                first = found
                trace.startMethod = "stack-scan"
            } else if r.cs & 3 != 0 {
                trace.end = .noStart("no kernel frames found above the saved user-mode registers")
                return trace
            } else {
                first = State(pc: r.rip, sp: r.rsp, bp: r.rbp, regs: r, isReturnAddress: false, slot: r.rsp, origin: .registers)
            }
        case .sleeping:
            trace.startMethod = hasInactiveTaskFrame ? StackFrame.Origin.taskFrame.rawValue : StackFrame.Origin.switchFrame.rawValue
            do {
                first = try sleepingStart(task: task)
            } catch let f as MemoryFault {
                trace.end = .unreadable(f)
                return trace
            } catch let f as SleepingStartFailure {
                trace.end = .noStart(f.description)
                return trace
            } catch {
                trace.end = .noStart("no saved stack pointer: \(error)")
                return trace
            }
        }
        let (frames, end) = walk(from: first, stacks: stacks)
        trace.frames = frames
        trace.end = end
        return trace
    }

    /// Whether the kernel switches tasks through `__switch_to_asm` and its `inactive_task_frame`
    /// (4.9+), decided by the type; without it, by the older `switch_to` macro.
    var hasInactiveTaskFrame: Bool { memory.layout.memberOffset("inactive_task_frame", "ret_addr") != nil }

    /// `thread.sp` points at the `inactive_task_frame` __switch_to_asm pushed: its `ret_addr` is
    /// where the task resumes (in __schedule), and its `bp` the frame pointer. Before 4.9 it
    /// points at the rbp the `switch_to` macro pushed, and the task resumes after its call of
    /// `__switch_to` (`switchMacroFrame`).
    func sleepingStart(task: UInt64) throws -> State {
        let t = memory.object(task, "task_struct")
        let sp = try t.pointer("thread.sp")
        guard hasInactiveTaskFrame else {
            guard let old = switchMacroFrame else {
                throw SleepingStartFailure(description: "no struct inactive_task_frame, and no thread_return or call of"
                                           + " __switch_to found in the scheduler: where the task resumes is unknown")
            }
            let bp = try memory.load(UInt64.self, sp)
            let (resumeSP, overflow) = sp.addingReportingOverflow(UInt64(8 * max(1, old.savedWords)))
            guard !overflow else { throw SleepingStartFailure(description: "thread.sp \(hex(sp)) is no stack address") }
            return State(pc: old.resumePC, sp: resumeSP, bp: bp, regs: nil, isReturnAddress: true, slot: sp, origin: .switchFrame)
        }
        let frame = memory.object(sp, "inactive_task_frame")
        let retSlot = try frame.address(of: "ret_addr")
        let ret = try memory.load(UInt64.self, retSlot)
        let bp = (try? frame.pointer("bp")) ?? 0
        return State(pc: ret, sp: retSlot &+ 8, bp: bp, regs: nil, isReturnAddress: true, slot: retSlot, origin: .taskFrame)
    }

    func walk(from start: State, stacks: [KernelStack]) -> ([StackFrame], TraceEnd) {
        var frames: [StackFrame] = []
        var state = start
        guard var current = stack(containing: state.slot, size: 8, in: stacks) else {
            frames.append(StackFrame(pc: state.pc, slot: state.slot, sp: state.sp, isReturnAddress: state.isReturnAddress,
                                     origin: state.origin, rule: nil, stack: nil, exception: nil, leftStack: nil))
            return (frames, .outsideStacks(sp: state.sp))
        }
        var left: Set<UInt64> = []
        while true {
            if interrupted() { return (frames, .interrupted) }
            var frame = StackFrame(pc: state.pc, slot: state.slot, sp: state.sp, isReturnAddress: state.isReturnAddress,
                                   origin: state.origin, rule: nil, stack: current, exception: nil, leftStack: nil)
            if frames.count >= frameLimit { return (frames, .frameLimit(frameLimit)) }
            let step: StepResult
            do {
                step = try self.step(state, on: current, stacks: stacks)
            } catch {
                frames.append(frame)
                return (frames, .unreadable(error))
            }
            switch step {
            case let .end(reason, exception, rule):
                frame.exception = exception
                frame.rule = rule
                frames.append(frame)
                return (frames, reason)
            case let .next(next, exception, rule):
                frame.exception = exception
                frame.rule = rule
                if next.isReturnAddress, next.pc < memory.space.kernelHalfStart {
                    frames.append(frame)
                    return (frames, .badReturnAddress(pc: next.pc, slot: next.slot))
                }
                guard let nextStack = stack(containing: next.slot, size: 8, in: stacks) else {
                    frames.append(frame)
                    return (frames, .outsideStacks(sp: next.sp))
                }
                if nextStack == current {
                    // Unwinding moves up the stack; anything else is a loop or garbage.
                    guard next.sp > state.sp || (next.sp == state.sp && exception != nil && next.pc != state.pc) else {
                        frames.append(frame)
                        return (frames, .loop(sp: next.sp))
                    }
                } else {
                    left.insert(current.base)
                    guard !left.contains(nextStack.base) else {
                        frames.append(frame)
                        return (frames, .loop(sp: next.sp))
                    }
                    frame.leftStack = current
                    current = nextStack
                }
                frames.append(frame)
                state = next
            }
        }
    }

    enum StepResult {
        case next(State, ExceptionFrame?, UnwindRow.Source)
        case end(TraceEnd, ExceptionFrame?, UnwindRow.Source?)
    }

    func load(_ address: UInt64, on stack: KernelStack, stacks: [KernelStack]) throws(MemoryFault) -> UInt64? {
        guard stack.contains(address) || self.stack(containing: address, size: 8, in: stacks) != nil else { return nil }
        return try memory.load(UInt64.self, address)
    }

    /// One step from the frame in `state` to its caller.
    func step(_ state: State, on current: KernelStack, stacks: [KernelStack]) throws(MemoryFault) -> StepResult {
        let lookup = state.isReturnAddress ? state.pc &- 1 : state.pc
        let orc = row(at: lookup)
        guard let row = callRule(at: lookup), row.kind != .undefined else {
            // Code without rules (objtool skips kexec_core.o: its code falls under the previous
            // object's undefined terminator row; no CFI without DWARF): a return address after a
            // direct call of this very function is exact; the frame pointer is the kernel's own
            // guess where no table covers the code (JIT code); a return address after an
            // indirect call, the last resort there only, since an undefined row is where the
            // kernel's unwinder gives up. An end-of-stack row never gets here.
            let scan = scanForCaller(state, on: current)
            if var direct = scan.direct {
                // Where the frame pointer leads to the same slot, the chain goes on from there:
                // the caller's rbp is the one saved below its return address.
                if direct.slot == state.bp &+ 8, current.contains(state.bp, size: 16),
                   let saved = try? memory.load(UInt64.self, state.bp) {
                    direct.bp = saved
                    direct.chainedByFramePointer = true
                }
                return .next(direct, nil, .stackScan)
            }
            if orc == nil, let entry = try entryFrameStep(state, on: current, stacks: stacks) { return entry }
            let byFramePointer = try framePointerStep(state, on: current, stacks: stacks)
            if case .end = byFramePointer, orc == nil, let indirect = scan.indirect {
                return .next(indirect, nil, .stackScan)
            }
            return byFramePointer
        }
        if row.kind == .endOfStack { return .end(.endOfStack, nil, row.source) }
        // The CFA.
        var cfa: UInt64
        switch row.cfaRegister {
        case .sp: cfa = state.sp &+ UInt64(bitPattern: Int64(row.cfaOffset))
        case .bp: cfa = state.bp &+ UInt64(bitPattern: Int64(row.cfaOffset))
        case .spIndirect:
            guard let v = try load(state.sp, on: current, stacks: stacks) else { return .end(.outsideStacks(sp: state.sp), nil, .orc) }
            cfa = v &+ UInt64(bitPattern: Int64(row.cfaOffset))
        case .bpIndirect:
            let at = state.bp &+ UInt64(bitPattern: Int64(row.cfaOffset))
            guard let v = try load(at, on: current, stacks: stacks) else { return .end(.outsideStacks(sp: at), nil, .orc) }
            cfa = v
        case .di, .dx, .r10, .r13:
            guard let r = state.regs else { return .end(.noRule(pc: state.pc), nil, .orc) }
            let base: UInt64
            switch row.cfaRegister {
            case .di: base = r.rdi
            case .dx: base = r.rdx
            case .r10: base = r.r10
            default: base = r.r13
            }
            cfa = base &+ UInt64(bitPattern: Int64(row.cfaOffset))
        case .undefined, .cfa:
            return .end(.noRule(pc: state.pc), nil, .orc)
        }
        // The caller's frame pointer.
        var bp = state.bp
        switch row.bpRegister {
        case .cfa:
            let at = cfa &+ UInt64(bitPattern: Int64(row.bpOffset))
            if let v = try load(at, on: current, stacks: stacks) { bp = v }
        case .bp:
            let at = state.bp &+ UInt64(bitPattern: Int64(row.bpOffset))
            if let v = try load(at, on: current, stacks: stacks) { bp = v }
        default:
            if let r = state.regs { bp = r.rbp }
        }
        switch row.kind {
        case .call:
            let slot = cfa &- 8
            guard let ret = try load(slot, on: current, stacks: stacks) else { return .end(.outsideStacks(sp: cfa), nil, .orc) }
            let next = State(pc: ret, sp: cfa, bp: bp, regs: nil, isReturnAddress: !row.signal, slot: slot, origin: .unwound)
            return .next(next, nil, row.source)
        case .regs, .regsPartial:
            let partial = row.kind == .regsPartial
            let base = partial ? cfa &- ptRegsIPOffset : cfa
            guard stack(containing: partial ? cfa : base, size: partial ? 40 : ptRegsSize, in: stacks) != nil else {
                return .end(.outsideStacks(sp: base), nil, .orc)
            }
            var regs = try readPtRegs(base)
            if !partial { bp = regs.rbp } else { regs.rbp = bp }
            let exception = ExceptionFrame(address: base, registers: regs, isUserMode: regs.cs & 3 != 0, isPartial: partial)
            if exception.isUserMode { return .end(.userMode, exception, .orc) }
            let next = State(pc: regs.rip, sp: regs.rsp, bp: bp, regs: partial ? nil : regs, isReturnAddress: false,
                             slot: regs.rsp, origin: .exceptionRegisters)
            return .next(next, exception, .orc)
        case .undefined, .endOfStack:
            return .end(.endOfStack, nil, .orc)
        }
    }

    /// The last resort where no table covers the code: the frame pointer chain (`bp` points at
    /// the saved caller's bp, the return address above it), believed only inside the stack.
    func framePointerStep(_ state: State, on current: KernelStack, stacks: [KernelStack]) throws(MemoryFault) -> StepResult {
        let bp = state.bp
        guard current.contains(bp, size: 16) else { return .end(.noRule(pc: state.pc), nil, nil) }
        guard bp >= state.sp else {
            // A saved rbp of a frame-pointer chain that points back down the stack: the chain
            // loops (or the word was overwritten). Any other rbp below the stack pointer is no
            // frame pointer at all (a kernel built without them).
            guard state.chainedByFramePointer else { return .end(.noRule(pc: state.pc), nil, nil) }
            return .end(.loop(sp: bp &+ 16), nil, .framePointer)
        }
        let savedBP = try memory.load(UInt64.self, bp)
        let ret = try memory.load(UInt64.self, bp &+ 8)
        let next = State(pc: ret, sp: bp &+ 16, bp: savedBP, regs: nil, isReturnAddress: true, slot: bp &+ 8, origin: .unwound,
                         chainedByFramePointer: true)
        return .next(next, nil, .framePointer)
    }

    // MARK: Entry code without rules

    /// A caller in entry code that no table describes (asm entry code has had no CFI since 4.2,
    /// and kernels before 4.14 have no ORC): the entry code calls its C handler with the
    /// `pt_regs` it saved just above the return address (exceptions, system calls), or with a
    /// pointer to them pushed there after switching to the IRQ stack (interrupts). A whole
    /// `pt_regs` ending at the top of the task stack is where every task's stack begins: user
    /// registers there are user mode, anything else (a kernel thread's zeroed registers) the
    /// end of the stack. Only registers that look saved by an entry (`isPlausibleEntryState`)
    /// are believed; nil when none are there.
    func entryFrameStep(_ state: State, on current: KernelStack, stacks: [KernelStack]) throws(MemoryFault) -> StepResult? {
        // Only where the stack pointer is the caller's CFA: just above its return address.
        guard state.isReturnAddress, state.origin != .switchFrame, state.slot &+ 8 == state.sp else { return nil }
        let cfa = state.sp
        let size = ptRegsSize
        if current.kind == .task, current.contains(cfa, size: size), cfa &+ size == current.top {
            let regs = try readPtRegs(cfa)
            if isPlausibleEntryState(regs, stacks: stacks), regs.cs & 3 != 0 {
                let exception = ExceptionFrame(address: cfa, registers: regs, isUserMode: true, isPartial: false)
                return .end(.userMode, exception, .exceptionFrame)
            }
            return .end(.endOfStack, nil, .exceptionFrame)
        }
        // A candidate that cannot be read is no candidate: the frame pointer may still lead on.
        var candidates = [cfa]
        if let pointer = (try? load(cfa, on: current, stacks: stacks)) ?? nil, pointer != cfa { candidates.append(pointer) }
        for at in candidates {
            guard stack(containing: at, size: size, in: stacks) != nil, let regs = try? readPtRegs(at),
                  isPlausibleEntryState(regs, stacks: stacks) else { continue }
            let exception = ExceptionFrame(address: at, registers: regs, isUserMode: regs.cs & 3 != 0, isPartial: false)
            if exception.isUserMode { return .end(.userMode, exception, .exceptionFrame) }
            let next = State(pc: regs.rip, sp: regs.rsp, bp: regs.rbp, regs: regs, isReturnAddress: false, slot: regs.rsp,
                             origin: .exceptionRegisters)
            return .next(next, exception, .exceptionFrame)
        }
        return nil
    }

    /// Whether saved registers look like an entry saved them: flags with their reserved bits
    /// right, and kernel segments (CS 0x10, SS 0 or 0x18) with the ip in the kernel's half and
    /// the stack pointer on one of `stacks`, or user segments (CS 0x33 or 0x23, SS 0x2b) with
    /// user addresses.
    func isPlausibleEntryState(_ r: X86Registers, stacks: [KernelStack]) -> Bool {
        guard r.rflags & Self.flagsReadAsZero == 0, r.rflags & 2 != 0 else { return false }
        let space = memory.space
        switch (r.cs & 0xffff, r.ss & 0xffff) {
        case (0x10, 0), (0x10, 0x18):
            return r.rip >= space.kernelHalfStart && stacks.contains { $0.contains(r.rsp, size: 0) || $0.top == r.rsp }
        case (0x33, 0x2b), (0x23, 0x2b):
            return r.rip < space.userAddressLimit && r.rsp < space.userAddressLimit
        default:
            return false
        }
    }

    // MARK: Finding the caller of code without rules

    /// The innermost stack word above `state.sp` (within `current`, at most `callerScanWords`)
    /// that is a return address after a call of the function containing `state`'s pc: `direct`
    /// for `call rel32` whose target is that function's start, `indirect` for a call through a
    /// register, memory or a retpoline thunk into code an ORC `call` row describes (nothing
    /// says what it called). Words that cannot be read end the search.
    func scanForCaller(_ state: State, on current: KernelStack) -> (direct: State?, indirect: State?) {
        let lookup = state.isReturnAddress ? state.pc &- 1 : state.pc
        let target = functionStart(lookup)
        var slot = state.sp
        let (rounded, overflow) = slot.addingReportingOverflow(7)
        guard !overflow else { return (nil, nil) }
        slot = rounded & ~7
        var indirect: State?
        var scanned = 0
        while scanned < callerScanWords, current.contains(slot, size: 8) {
            defer { slot &+= 8; scanned += 1 }
            guard let word = try? memory.load(UInt64.self, slot) else { break }
            guard word >= memory.space.kernelHalfStart, word >= 8,
                  let code = try? memory.bytes(word &- 7, count: 7) else { continue }
            let caller = State(pc: word, sp: slot &+ 8, bp: state.bp, regs: nil, isReturnAddress: true, slot: slot,
                               origin: .stackScan)
            let callee = Self.callTarget(endingAt: word, code: Array(code))
            if let target, let callee, callee == target { return (caller, indirect) }
            guard indirect == nil, row(at: word &- 1)?.kind == .call else { continue }
            if let callee {
                if let name = functionName(callee), name.hasPrefix("__x86_indirect_") { indirect = caller }
            } else if Self.endsWithIndirectCall(code) {
                indirect = caller
            }
        }
        return (nil, indirect)
    }

    /// The target of a `call rel32` (e8) whose last byte is just before `returnAddress`, given
    /// the 7 bytes before it.
    static func callTarget(endingAt returnAddress: UInt64, code: [UInt8]) -> UInt64? {
        guard code.count == 7, code[2] == 0xe8 else { return nil }
        var rel: UInt32 = 0
        for i in 0..<4 { rel |= UInt32(code[3 + i]) << UInt32(8 * i) }
        return returnAddress &+ UInt64(bitPattern: Int64(Int32(bitPattern: rel)))
    }

    /// Whether the 7 bytes before a return address end with `call r/m64` (ff /2): through a
    /// register (2 bytes, 3 with a REX prefix), memory with an 8-bit displacement (3, 4 with a
    /// SIB byte) or a 32-bit one or rip-relative (6, 7 with a SIB byte).
    static func endsWithIndirectCall(_ code: [UInt8]) -> Bool {
        guard code.count == 7 else { return false }
        func modrm(at i: Int) -> (mod: UInt8, reg: UInt8, rm: UInt8)? {
            guard i >= 1, code[i - 1] == 0xff else { return nil }
            let m = code[i]
            return (m >> 6, (m >> 3) & 7, m & 7)
        }
        // (position of the ModRM byte, instruction bytes after it): mod 3: none; mod 1: disp8
        // (+ SIB when rm is 4); mod 2 or rip-relative: disp32 (+ SIB when rm is 4).
        for i in 1..<7 {
            guard let m = modrm(at: i), m.reg == 2 else { continue }
            let after = 6 - i
            let sib = m.rm == 4 ? 1 : 0
            switch m.mod {
            case 3: if after == 0 { return true }
            case 1: if after == 1 + sib { return true }
            case 2: if after == 4 + sib { return true }
            default:
                if m.rm == 5, after == 4 { return true }
                if m.rm != 5, m.rm != 4, after == 0 { return true }
            }
        }
        return false
    }

    // MARK: Finding a stopped handler's frames

    /// For registers a handler saved for the context it interrupted (kdump's NMI callback on the
    /// CPUs it stops): finds those registers as a `pt_regs` on the CPU's stacks, then the
    /// handler's deepest frame below them, checked by unwinding from it back to exactly that
    /// `pt_regs`. Among the checked candidates, one in a function where a stopped CPU sits is
    /// preferred; otherwise the deepest. Nil when the registers are not found.
    func findHandlerStart(saved r: X86Registers, stacks: [KernelStack]) -> State? {
        let size = ptRegsSize
        for stack in stacks {
            guard stack.top - stack.base <= 1 << 16, let words = try? readWords(stack) else { continue }
            func word(_ a: UInt64) -> UInt64? {
                guard a >= stack.base, a + 8 <= stack.top else { return nil }
                return words[Int((a - stack.base) / 8)]
            }
            // The saved registers, searched from the top of the stack down (they are near it).
            var at = stack.top &- size
            var found: UInt64?
            var steps = 0
            while at >= stack.base, steps < 4096 {
                if word(at + ptRegsIPOffset) == r.rip, word(at + ptRegsIPOffset + 24) == r.rsp,
                   word(at + ptRegsIPOffset + 16) == r.rflags, (word(at + ptRegsIPOffset + 8) ?? 0) & 0xffff == r.cs & 0xffff {
                    found = at
                    break
                }
                at &-= 8
                steps += 1
            }
            guard let regsAt = found else { continue }
            // Slots are scanned from the saved registers down: later candidates are deeper.
            var deepest: State?
            var deepestPreferred: State?
            var slot = regsAt &- 8
            var scanned = 0
            while slot >= stack.base, scanned < 2048 {
                defer { slot &-= 8; scanned += 1 }
                guard let v = word(slot), let row = callRule(at: v &- 1), row.kind == .call else { continue }
                let candidate = State(pc: v, sp: slot &+ 8, bp: 0, regs: nil, isReturnAddress: true, slot: slot, origin: .stackScan)
                guard reaches(candidate, regsAt: regsAt, stack: stack, stacks: stacks) else { continue }
                deepest = candidate
                if let name = functionName(v &- 1), stopFunctions.contains(name) { deepestPreferred = candidate }
            }
            let best = deepestPreferred ?? deepest
            if let best { return best }
        }
        return nil
    }

    /// Whether unwinding from `state` reaches the exception frame at `regsAt` without leaving `stack`.
    func reaches(_ start: State, regsAt: UInt64, stack: KernelStack, stacks: [KernelStack]) -> Bool {
        var state = start
        for _ in 0..<32 {
            guard let step = try? self.step(state, on: stack, stacks: [stack]) else { return false }
            switch step {
            case let .end(_, exception, _):
                return exception?.address == regsAt
            case let .next(next, exception, _):
                if let exception { return exception.address == regsAt }
                guard next.sp > state.sp, stack.contains(next.slot) else { return false }
                state = next
            }
        }
        return false
    }

    func readWords(_ stack: KernelStack) throws(MemoryFault) -> [UInt64] {
        let count = Int((stack.top - stack.base) / 8)
        let bytes = try memory.bytes(stack.base, count: count * 8)
        var words = [UInt64](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count { words[i] = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        }
        return words
    }

    /// The words of `count` * 8 bytes at `address` (for `bt -f` and `bt -r`), reading as far as
    /// memory allows.
    public func words(at address: UInt64, count: Int) -> (words: [UInt64], fault: MemoryFault?) {
        var out: [UInt64] = []
        var at = address
        for _ in 0..<max(0, min(count, 1 << 16)) {
            do { out.append(try memory.load(UInt64.self, at)) } catch { return (out, error) }
            at &+= 8
        }
        return (out, nil)
    }
}

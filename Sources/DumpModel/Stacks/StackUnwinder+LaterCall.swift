extension StackUnwinder {
    /// Where kdump saves the panicking CPU's registers (crash_setup_regs is inlined there):
    /// `__crash_kexec` from 4.x, `crash_kexec` before.
    static let savingFunctions: Set<String> = ["__crash_kexec", "crash_kexec"]

    /// The frames of a call the CPU made after its registers were saved, still intact below
    /// them: kdump saves the panicking CPU's registers in crash_setup_regs, inlined into
    /// __crash_kexec, which then calls machine_kexec, which jumps to the capture kernel and never
    /// returns. crash starts that trace at machine_kexec; this finds the same frames, proven
    /// rather than guessed:
    /// - the registers are kdump's own: the saved rip is in a function `savingFunctions` names
    ///   (elsewhere the registers are live, or an oops's, and the word below the stack pointer
    ///   is left from a call that returned);
    /// - the word just below the saved stack pointer is a return address after a `call rel32`
    ///   in that same function (the frame's last call: it never returned), and
    /// - a word below it is a return address into the called function whose unwind rule leads
    ///   back to exactly that slot.
    /// Returns the callee's frame (the trace's new start) or nil when any proof fails.
    func laterCall(after r: X86Registers, stacks: [KernelStack]) -> State? {
        let (slot, underflow) = r.rsp.subtractingReportingOverflow(8)
        guard !underflow, let name = functionName(r.rip), Self.savingFunctions.contains(name),
              let stack = stack(containing: slot, size: 8, in: stacks),
              let ret = try? memory.load(UInt64.self, slot),
              let function = functionStart(r.rip), functionStart(ret &- 1) == function,
              let code = try? memory.bytes(ret &- 7, count: 7),
              let callee = Self.callTarget(endingAt: ret, code: code) else { return nil }
        var at = slot
        var scanned = 0
        while scanned < callerScanWords, at >= 8 {
            at &-= 8
            scanned += 1
            guard stack.contains(at, size: 8), let v = try? memory.load(UInt64.self, at) else { break }
            guard v > callee, functionStart(v &- 1) == callee else { continue }
            let candidate = State(pc: v, sp: at &+ 8, bp: r.rbp, regs: nil, isReturnAddress: true, slot: at,
                                  origin: .stackScan)
            guard case let .next(next, nil, _)? = try? step(candidate, on: stack, stacks: stacks),
                  next.slot == slot, next.pc == ret else { continue }
            return candidate
        }
        return nil
    }
}

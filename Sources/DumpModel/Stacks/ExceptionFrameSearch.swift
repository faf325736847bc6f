/// A register set found by searching a stack (`bt -e`): the `pt_regs` the entry code (or
/// crash_setup_regs' copy) left somewhere on it, whether or not the walk passes there.
public struct FoundExceptionFrame: Sendable, Equatable {
    public var frame: ExceptionFrame
    /// The saved CS and SS as stored (the register block shows them unmasked, as crash does).
    public var rawCS: UInt64
    public var rawSS: UInt64
}

extension StackUnwinder {
    /// Bits of RFLAGS that read as zero on x86_64: a saved flags word with any of them set (or
    /// without the always-one bit 1) is no saved flags word.
    static let flagsReadAsZero: UInt64 = 0xffff_ffff_ffc0_8028

    /// Every place on `stack` from `from` up where a whole `pt_regs` looks like registers an
    /// entry saved, by crash's plausibility rules: flags with their reserved bits right, and
    /// - kernel segments (CS 0x10): the ip in kernel text with a kernel stack pointer (SS 0x18),
    ///   or with the stack pointer just above the registers (any SS: an interrupt frame on the
    ///   same stack), or the ip in module text with that stack pointer;
    /// - user segments (CS 0x33 or 0x23, SS 0x2b): ip and stack pointer user addresses.
    /// `isKernelText`/`isModuleText` answer for run-time addresses.
    public func searchExceptionFrames(on stack: KernelStack, from: UInt64, isKernelText: (UInt64) -> Bool,
                                      isModuleText: (UInt64) -> Bool) -> [FoundExceptionFrame] {
        let size = ptRegsSize
        let ipAt = ptRegsIPOffset
        guard stack.top > stack.base, stack.top - stack.base <= 1 << 20, stack.top - stack.base >= size else { return [] }
        let start = max(stack.base, min(from, stack.top)) & ~7
        guard let words = try? memory.bytes(start, count: Int(stack.top - start)) else { return [] }
        func word(_ address: UInt64) -> UInt64? {
            guard address >= start, address &+ 8 <= stack.top else { return nil }
            let i = Int(address - start)
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(words[i + b]) << UInt64(8 * b) }
            return v
        }
        let space = memory.space
        func isKernel(_ v: UInt64) -> Bool { v >= space.kernelHalfStart }
        func isUser(_ v: UInt64) -> Bool { v < space.userAddressLimit }
        var found: [FoundExceptionFrame] = []
        var at = start
        while at &+ size <= stack.top {
            defer { at &+= 8 }
            guard let ip = word(at + ipAt), let cs = word(at + ipAt + 8), let flags = word(at + ipAt + 16),
                  let sp = word(at + ipAt + 24), let ss = word(at + ipAt + 32) else { break }
            guard flags & Self.flagsReadAsZero == 0, flags & 2 != 0 else { continue }
            var plausible = false
            if cs == 0x10 {
                let justAbove = sp == at &+ size || sp == at &+ size &+ 8
                if isKernelText(ip) && isKernel(sp) && (ss == 0x18 || justAbove) { plausible = true }
                if isModuleText(ip) && sp == at &+ size { plausible = true }
            } else if (cs == 0x33 || cs == 0x23) && ss == 0x2b {
                plausible = isUser(ip) && isUser(sp)
            }
            guard plausible, let regs = try? readPtRegs(at) else { continue }
            found.append(FoundExceptionFrame(frame: ExceptionFrame(address: at, registers: regs, isUserMode: cs & 3 != 0,
                                                                   isPartial: false),
                                             rawCS: cs, rawSS: ss))
        }
        return found
    }
}

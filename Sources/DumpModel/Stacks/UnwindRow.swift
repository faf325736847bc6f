/// How to step from one frame to its caller at one code address: the shape both the kernel's
/// ORC tables and DWARF call-frame information reduce to on x86_64. The canonical frame address
/// (CFA: the stack pointer just after the caller's `call` returned) is a register plus an offset,
/// the caller's frame pointer is saved somewhere relative to it or left alone, and the kind says
/// what sits at the CFA: a return address (`call`), the registers the entry code saved
/// (`regs`, `regsPartial`), or nothing (`undefined`, `endOfStack`).
public struct UnwindRow: Sendable, Equatable {
    /// What the frame at this address is.
    public enum Kind: String, Sendable, Equatable {
        /// An ordinary function frame: the return address is the word below the CFA.
        case call
        /// The entry code saved a whole `struct pt_regs` at the CFA.
        case regs
        /// Only the hardware's interrupt frame (ip, cs, flags, sp, ss) is at the CFA: the
        /// CFA is `&regs->ip`, the rest of `pt_regs` is below it and not valid.
        case regsPartial = "regs-partial"
        /// Nothing is known here (code the table has no information for).
        case undefined
        /// The outermost frame: the walk ends here (the start of a kernel thread, the entry code).
        case endOfStack = "end-of-stack"
    }

    /// Registers a rule can be based on. ORC names a few more than DWARF's x86_64 CFI uses.
    public enum Register: String, Sendable, Equatable {
        case undefined
        /// The CFA (ORC's PREV_SP): for the saved frame pointer's slot.
        case cfa
        case sp, bp, di, dx, r10, r13
        /// The CFA is the word at sp + offset (a stack switch that saved the old pointer).
        case spIndirect = "sp-indirect"
        /// The CFA is the word at bp + offset.
        case bpIndirect = "bp-indirect"
    }

    /// Which table the row came from: frames say what produced them.
    public enum Source: String, Sendable, Equatable {
        case orc
        case dwarfCFI = "dwarf-cfi"
        case framePointer = "frame-pointer"
        /// No rule: the caller's return address was found on the stack after a call of this
        /// function (see `StackUnwinder.scanForCaller`).
        case stackScan = "stack-scan"
        /// No rule: the caller is entry code, its saved registers found just above the return
        /// address or through the pointer there (see `StackUnwinder.entryFrameStep`).
        case exceptionFrame = "exception-frame"
    }

    public var kind: Kind
    /// The CFA's base register and the offset added to it.
    public var cfaRegister: Register
    public var cfaOffset: Int32
    /// Where the caller's frame pointer was saved: `.undefined` (not saved: unchanged, or taken
    /// from saved registers), `.cfa` (at CFA + offset), `.bp` (at bp + offset).
    public var bpRegister: Register
    public var bpOffset: Int32
    /// The frame was entered by an interrupt or exception: the caller's pc is not a return
    /// address, and is looked up as it is (not at pc - 1).
    public var signal: Bool
    public var source: Source

    public init(kind: Kind, cfaRegister: Register, cfaOffset: Int32, bpRegister: Register = .undefined,
                bpOffset: Int32 = 0, signal: Bool = false, source: Source) {
        self.kind = kind
        self.cfaRegister = cfaRegister
        self.cfaOffset = cfaOffset
        self.bpRegister = bpRegister
        self.bpOffset = bpOffset
        self.signal = signal
        self.source = source
    }
}

/// The index of the last element of the ascending array `keys` that is at or below `key`, or nil
/// when every element is above it: the one lookup both the ORC table and the symbol tables need.
@inlinable
public func lastIndex(in keys: [UInt64], atOrBelow key: UInt64) -> Int? {
    var lo = 0, hi = keys.count   // first index with keys[i] > key
    while lo < hi {
        let mid = lo + (hi - lo) / 2
        if keys[mid] <= key { lo = mid + 1 } else { hi = mid }
    }
    return lo > 0 ? lo - 1 : nil
}

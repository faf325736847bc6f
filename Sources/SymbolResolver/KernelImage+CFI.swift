import CDwarf
#if canImport(Glibc)
import Glibc
#endif

/// A DWARF call-frame rule at one code address, reduced to what an x86_64 kernel unwinder uses:
/// the CFA as a register plus an offset, and where the caller's rbp was saved.
public struct CFIRule: Sendable, Equatable {
    /// DWARF register number of the CFA's base (7 = rsp, 6 = rbp).
    public var cfaRegister: Int
    public var cfaOffset: Int64
    /// The caller's rbp is saved at CFA + this offset (nil: not saved here).
    public var bpSavedAt: Int64?
    /// The frame's caller was interrupted (a signal frame): its pc is exact.
    public var signal: Bool
}

extension KernelImage {
    /// The `.debug_frame` rule for code at the link-time `address`, from libdw; nil when the
    /// file has no CFI for it or the rule is not one of the simple shapes (register + offset).
    public func cfiRule(atLinkAddress address: UInt64) -> CFIRule? {
        guard let d = dwarfIndex(), let cfi = dwarf_getcfi(d.dwarf) else { return nil }
        var framePointer: OpaquePointer?
        guard dwarf_cfi_addrframe(cfi, Dwarf_Addr(address), &framePointer) == 0, let frame = framePointer else { return nil }
        defer { free(UnsafeMutableRawPointer(frame)) }
        var start: Dwarf_Addr = 0, end: Dwarf_Addr = 0
        var signal = false
        _ = dwarf_frame_info(frame, &start, &end, &signal)
        var ops: UnsafeMutablePointer<Dwarf_Op>?
        var nops = 0
        guard dwarf_frame_cfa(frame, &ops, &nops) == 0, nops == 1, let cfaOps = ops else { return nil }
        let atom = Int(cfaOps[0].atom)
        let register: Int
        let offset: Int64
        if atom >= Int(DW_OP_breg0), atom <= Int(DW_OP_breg31) {
            // DW_OP_bregN offset
            register = atom - Int(DW_OP_breg0)
            offset = Int64(bitPattern: cfaOps[0].number)
        } else if atom == Int(DW_OP_bregx) {
            // DW_OP_bregx register offset: how libdw states a def_cfa rule.
            register = Int(clamping: cfaOps[0].number)
            offset = Int64(bitPattern: cfaOps[0].number2)
        } else {
            return nil
        }
        var rule = CFIRule(cfaRegister: register, cfaOffset: offset, bpSavedAt: nil, signal: signal)
        // libdw writes simple rules into this caller-owned space (at least 3 operations).
        let mem = UnsafeMutablePointer<Dwarf_Op>.allocate(capacity: 3)
        mem.initialize(repeating: Dwarf_Op(), count: 3)
        defer { mem.deallocate() }
        var regOps: UnsafeMutablePointer<Dwarf_Op>?
        var regN = 0
        let got = dwarf_frame_register(frame, 6, mem, &regOps, &regN)
        if got == 0, regN >= 1, let r = regOps, r[0].atom == UInt8(DW_OP_call_frame_cfa) {
            // offset(N): DW_OP_call_frame_cfa, then N as plus_uconst, or consts/lit + plus.
            if regN == 1 {
                rule.bpSavedAt = 0
            } else if regN == 2, r[1].atom == UInt8(DW_OP_plus_uconst) {
                rule.bpSavedAt = Int64(bitPattern: r[1].number)
            } else if regN == 3, r[2].atom == UInt8(DW_OP_plus) {
                let a = Int(r[1].atom)
                if a >= Int(DW_OP_lit0), a <= Int(DW_OP_lit31) {
                    rule.bpSavedAt = Int64(a - Int(DW_OP_lit0))
                } else {
                    rule.bpSavedAt = Int64(bitPattern: r[1].number)
                }
            }
        }
        return rule
    }
}

extension KernelImage {
    /// The functions inlined at the link-time `address`, innermost first (the code at the address
    /// belongs to the first; the last is inlined into the containing real function), from the
    /// DWARF scopes of its unit. Empty when nothing is inlined there or there is no DWARF.
    public func inlinedFunctions(atLinkAddress address: UInt64, limit: Int = 32) -> [String] {
        dwarfIndex()?.inlinedFunctions(at: address, limit: limit) ?? []
    }
}

extension DwarfIndex {
    /// The functions inlined at `address` (an address of this file's DWARF), innermost first.
    func inlinedFunctions(at address: UInt64, limit: Int = 32) -> [String] {
        guard let unit = unit(containing: address), var cu = unitDIE(at: unit)?.die else { return [] }
        var scopes: UnsafeMutablePointer<Dwarf_Die>?
        let n = dwarf_getscopes(&cu, Dwarf_Addr(address), &scopes)
        guard n > 0, let list = scopes else { return [] }
        defer { free(list) }
        var names: [String] = []
        for i in 0..<Int(min(n, Int32(limit))) {
            var die = list[i]
            guard dwarf_tag(&die) == DW_TAG_inlined_subroutine else {
                if dwarf_tag(&die) == DW_TAG_subprogram { break }
                continue
            }
            var attr = Dwarf_Attribute()
            if dwarf_attr_integrate(&die, UInt32(DW_AT_name), &attr) != nil, let s = dwarf_formstring(&attr) {
                names.append(String(cString: s))
            } else {
                names.append("??")
            }
        }
        return names
    }
}

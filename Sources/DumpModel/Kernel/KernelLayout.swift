/// The facts about the crashed kernel's build that DumpModel needs to read kernel data:
/// where symbols are at run time, how big structures are, where their members sit, and the
/// values of constants and enums.
///
/// DumpModel does not read the vmlinux itself. The Commands layer answers these questions from
/// the debuginfo (BTF/DWARF, ELF symbols relocated by the KASLR offset) and layers that over
/// `VMCoreInfoLayout`, which answers from the dump's own VMCOREINFO note. Kernel views (address
/// translation, tasks, printk log, modules, per-CPU data) ask through this protocol only, so they
/// work with whatever the user has: full debuginfo, or VMCOREINFO alone.
///
/// Every answer is optional: nil means "this layout does not know", never "zero".
public protocol KernelLayout {
    /// Run-time (relocated) address of the kernel variable or function `name`.
    func symbolAddress(_ name: String) -> UInt64?
    /// `sizeof` of a struct, union, typedef or base type, by its bare name ("page", "task_struct").
    func typeSize(_ type: String) -> Int?
    /// Byte offset of `member` inside `type`; `member` may be a dotted path ("se.vruntime").
    func memberOffset(_ type: String, _ member: String) -> Int?
    /// Size in bytes of `member` inside `type` (a dotted path like in `memberOffset`).
    func memberSize(_ type: String, _ member: String) -> Int?
    /// The value of a named constant: an enumerator (`PG_slab`) or a VMCOREINFO NUMBER.
    func number(_ name: String) -> Int64?
    /// The enumerators of `enum enumType` ("pageflags") in declaration order.
    func enumerators(_ enumType: String) -> [(name: String, value: Int64)]?
    /// Element count of an array variable or member ("mem_section", "zone.free_area").
    func length(_ name: String) -> Int?
}

extension KernelLayout {
    public func memberSize(_ type: String, _ member: String) -> Int? { nil }
    public func number(_ name: String) -> Int64? { nil }
    public func enumerators(_ enumType: String) -> [(name: String, value: Int64)]? { nil }
    public func length(_ name: String) -> Int? { nil }

    /// `memberOffset` for a "type.member.path" written as one string.
    public func memberOffset(_ path: String) -> Int? {
        guard let dot = path.firstIndex(of: ".") else { return nil }
        return memberOffset(String(path[..<dot]), String(path[path.index(after: dot)...]))
    }
}

/// Kernel layout facts from the VMCOREINFO note: SYMBOL(), SIZE(), OFFSET(), NUMBER(), LENGTH().
///
/// The kernel writes these for the tools that must work without debuginfo (makedumpfile, `log`
/// without a vmlinux). They are already relocated by the KASLR offset.
///
/// One quirk is hidden here: with SPARSEMEM_EXTREME, `SYMBOL(mem_section)` is the *value* of the
/// `mem_section` pointer (the root array), not the variable's address, so this layout does not
/// answer `symbolAddress("mem_section")` (a layout over debuginfo would answer with the variable's
/// address, and layering the two must not mix meanings). Use `memSectionRoots` for that value.
public struct VMCoreInfoLayout: KernelLayout, Sendable {
    public let info: VMCoreInfo

    public init(_ info: VMCoreInfo) { self.info = info }

    public func symbolAddress(_ name: String) -> UInt64? {
        if name == "mem_section" { return nil }
        return info.symbol(name)
    }
    public func typeSize(_ type: String) -> Int? { info.size(type) }
    public func memberOffset(_ type: String, _ member: String) -> Int? { info.offset("\(type).\(member)") }
    public func number(_ name: String) -> Int64? { info.number(name) }
    public func length(_ name: String) -> Int? { info.length(name) }

    /// Address of the root array of `struct mem_section *` (SPARSEMEM_EXTREME), from SYMBOL(mem_section).
    public var memSectionRoots: UInt64? { info.symbol("mem_section") }
}

/// Several layouts asked in order; the first that knows answers. The Commands layer puts the
/// debuginfo-backed layout first and VMCOREINFO second.
public struct LayeredKernelLayout: KernelLayout {
    public let layers: [any KernelLayout]

    public init(_ layers: [any KernelLayout]) { self.layers = layers }

    public func symbolAddress(_ name: String) -> UInt64? { first { $0.symbolAddress(name) } }
    public func typeSize(_ type: String) -> Int? { first { $0.typeSize(type) } }
    public func memberOffset(_ type: String, _ member: String) -> Int? { first { $0.memberOffset(type, member) } }
    public func memberSize(_ type: String, _ member: String) -> Int? { first { $0.memberSize(type, member) } }
    public func number(_ name: String) -> Int64? { first { $0.number(name) } }
    public func enumerators(_ enumType: String) -> [(name: String, value: Int64)]? {
        first { $0.enumerators(enumType) }
    }
    public func length(_ name: String) -> Int? { first { $0.length(name) } }

    private func first<T>(_ ask: (any KernelLayout) -> T?) -> T? {
        for layer in layers { if let v = ask(layer) { return v } }
        return nil
    }
}

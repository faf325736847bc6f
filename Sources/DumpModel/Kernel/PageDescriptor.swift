/// The facts `vtop` shows about the `struct page` of one page frame.
public struct PageDescriptor: Sendable, Equatable {
    /// Virtual address of the `struct page` (in the virtual memmap).
    public let address: UInt64
    public let pfn: UInt64
    /// `page.flags` (the page flags in the low bits, section/node/zone numbers in the high bits).
    public let flags: UInt64
    /// `page._refcount`.
    public let refcount: Int32
    /// `page.mapping`, when the layout knows its offset.
    public let mapping: UInt64?
    /// `page.index`, when the layout knows its offset (VMCOREINFO does not export it).
    public let index: UInt64?
    /// Names of the set page flags (without the `PG_` prefix), in the kernel's `enum pageflags`
    /// order, when the layout knows that enum; nil otherwise.
    public let flagNames: [String]?
}

extension KernelMemory {
    /// The page flags of the kernel's `enum pageflags` up to `__NR_PAGEFLAGS`, as (name without `PG_`, bit),
    /// or nil when the layout does not know the enum (VMCOREINFO alone names only a few flags).
    public func pageFlagBits() -> [(name: String, bit: Int)]? {
        guard let all = layout.enumerators("pageflags") else { return nil }
        var out: [(String, Int)] = []
        for (name, value) in all {
            if name == "__NR_PAGEFLAGS" { break }
            guard value >= 0, value < 64 else { continue }
            let bare = name.hasPrefix("PG_") ? String(name.dropFirst(3)) : name
            out.append((bare, Int(value)))
        }
        return out
    }

    /// Reads the `struct page` of page frame `pfn`. Needs vmemmap_base and SIZE(page),
    /// OFFSET(page.flags) and OFFSET(page._refcount) from the layout.
    /// - Throws: `DumpError.missing` naming what the layout lacks, or the read's `MemoryFault`.
    public func pageDescriptor(pfn: UInt64) throws -> PageDescriptor {
        guard let addr = space.pageStructAddress(pfn: pfn) else {
            throw DumpError.missing(what: "vmemmap_base or SIZE(page): cannot locate struct page of pfn \(hex(pfn))")
        }
        // Offsets are the layout's word (debuginfo or VMCOREINFO): a negative one is corrupt.
        func offset(_ member: String) -> UInt64? {
            layout.memberOffset("page", member).flatMap { UInt64(exactly: $0) }
        }
        guard let flagsOff = offset("flags"), let countOff = offset("_refcount") else {
            throw DumpError.missing(what: "OFFSET(page.flags) or OFFSET(page._refcount)")
        }
        let flags = try load(UInt64.self, addr &+ flagsOff)
        let count = try load(Int32.self, addr &+ countOff)
        let mapping = try offset("mapping").map { try load(UInt64.self, addr &+ $0) }
        let index = try offset("index").map { try load(UInt64.self, addr &+ $0) }
        let names = pageFlagBits().map { bits in bits.filter { flags & (1 << UInt64($0.bit)) != 0 }.map(\.name) }
        return PageDescriptor(address: addr, pfn: pfn, flags: flags, refcount: count, mapping: mapping,
                              index: index, flagNames: names)
    }
}

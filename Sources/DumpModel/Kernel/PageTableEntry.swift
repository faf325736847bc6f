/// The x86_64 paging levels, from the top. With 4-level paging the P4D level is folded away.
public enum PagingLevel: String, Sendable, CaseIterable {
    case pgd = "PGD", p4d = "P4D", pud = "PUD", pmd = "PMD", pte = "PTE"

    /// Bit position of the lowest virtual-address bit this level's index uses.
    func shift(fiveLevel: Bool) -> UInt64 {
        switch self {
        case .pgd: return fiveLevel ? 48 : 39
        case .p4d: return 39
        case .pud: return 30
        case .pmd: return 21
        case .pte: return 12
        }
    }
}

/// The bits of one x86_64 page-table entry (any level), with the names crash prints.
public struct PageTableEntry: Sendable, Equatable {
    public let raw: UInt64

    public init(_ raw: UInt64) { self.raw = raw }

    public static let present: UInt64 = 1 << 0
    public static let rw: UInt64 = 1 << 1
    public static let user: UInt64 = 1 << 2
    public static let pwt: UInt64 = 1 << 3
    public static let pcd: UInt64 = 1 << 4
    public static let accessed: UInt64 = 1 << 5
    public static let dirty: UInt64 = 1 << 6
    /// Page size: a 1 GiB page in a PUD entry, a 2 MiB page in a PMD entry.
    public static let pse: UInt64 = 1 << 7
    public static let global: UInt64 = 1 << 8
    /// Linux marks PROT_NONE user pages with bit 8 while clearing PRESENT; the page is still there.
    public static let protNone: UInt64 = 1 << 8
    public static let nx: UInt64 = 1 << 63
    /// Bits 12-51: the physical frame of the next table or of a 4 KiB page.
    public static let frameMask: UInt64 = 0x000f_ffff_ffff_f000

    public var isPresent: Bool { raw & Self.present != 0 }
    public var isLargePage: Bool { raw & Self.pse != 0 }
    /// Physical address of the next-level table or the 4 KiB frame.
    public var frame: UInt64 { raw & Self.frameMask }

    /// The set flags by name, in the order crash's `vtop` prints them ("PRESENT", "RW", ... "NX").
    /// PSE is named only in present entries and PROTNONE only in non-present ones, as crash does.
    public var flagNames: [String] {
        var names: [String] = []
        let p = isPresent
        if raw & Self.present != 0 { names.append("PRESENT") }
        if raw & Self.rw != 0 { names.append("RW") }
        if raw & Self.user != 0 { names.append("USER") }
        if raw & Self.pwt != 0 { names.append("PWT") }
        if raw & Self.pcd != 0 { names.append("PCD") }
        if raw & Self.accessed != 0 { names.append("ACCESSED") }
        if raw & Self.dirty != 0 { names.append("DIRTY") }
        if raw & Self.pse != 0 && p { names.append("PSE") }
        if raw & Self.protNone != 0 && !p { names.append("PROTNONE") }
        if raw & Self.global != 0 { names.append("GLOBAL") }
        if raw & Self.nx != 0 { names.append("NX") }
        return names
    }
}

/// One page-table entry read during a walk: which level, where it is (physical), what it holds.
public struct PageWalkStep: Sendable, Equatable {
    public let level: PagingLevel
    /// Physical address of the table this entry is in.
    public let tableAddress: UInt64
    /// Physical address of the entry itself.
    public let entryAddress: UInt64
    /// The entry as read, with the memory-encryption bit (sme_mask) cleared.
    public let entry: PageTableEntry
}

/// A page-table walk for one virtual address, level by level, as `vtop` shows it.
public struct PageWalk: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The address maps to `physical`, inside a page of `pageSize` bytes starting at `pageBase`.
        case mapped(physical: UInt64, pageBase: UInt64, pageSize: UInt64)
        /// The entry at `level` is not present (the last step holds it).
        case notPresent(level: PagingLevel)
        /// The table that holds `level`'s entry could not be read from the dump.
        case unreadable(level: PagingLevel, error: DumpError)
    }

    public let virtualAddress: UInt64
    /// Physical address of the top-level table the walk started from.
    public let rootPhysical: UInt64
    /// Kernel virtual address of that table, when known (crash's "PGD DIRECTORY").
    public let rootVirtual: UInt64?
    /// Whether the walk walked the user half through a task's page table.
    public let isUserWalk: Bool
    public let fiveLevel: Bool
    /// The entries read, top level first; the last one decided the outcome.
    public let steps: [PageWalkStep]
    public let outcome: Outcome

    /// The entry that maps the page (PTE, or the PMD/PUD of a large page), when mapped.
    public var leafEntry: PageTableEntry? {
        if case .mapped = outcome { return steps.last?.entry }
        return nil
    }

    /// The physical address, when mapped.
    public var physicalAddress: UInt64? {
        if case let .mapped(p, _, _) = outcome { return p }
        return nil
    }
}

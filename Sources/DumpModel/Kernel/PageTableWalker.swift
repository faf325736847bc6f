/// One x86_64 page-table walk from a given top-level table: what `KernelAddressSpace` does for
/// every translation, and what finding the kernel without VMCOREINFO does from a CPU's CR3
/// before any address space exists.
public struct PageTableWalker {
    public let memory: PhysicalMemory
    public let fiveLevel: Bool
    /// The AMD memory-encryption bit, cleared from every entry before use.
    public let smeMask: UInt64

    public init(memory: PhysicalMemory, fiveLevel: Bool, smeMask: UInt64 = 0) {
        self.memory = memory
        self.fiveLevel = fiveLevel
        self.smeMask = smeMask
    }

    /// Walks `vaddr` from the table at physical `root`, recording every entry read.
    /// `user`: the walk is of a task's table (PROT_NONE leaf entries still map their page).
    public func walk(_ vaddr: UInt64, root: UInt64, rootVirtual: UInt64? = nil, user: Bool = false) -> PageWalk {
        let levels: [PagingLevel] = fiveLevel ? [.pgd, .p4d, .pud, .pmd, .pte] : [.pgd, .pud, .pmd, .pte]
        var steps: [PageWalkStep] = []
        var table = root
        func done(_ outcome: PageWalk.Outcome) -> PageWalk {
            PageWalk(virtualAddress: vaddr, rootPhysical: root, rootVirtual: rootVirtual, isUserWalk: user,
                     fiveLevel: fiveLevel, steps: steps, outcome: outcome)
        }
        for level in levels {
            let index = (vaddr >> level.shift(fiveLevel: fiveLevel)) & 0x1ff
            // `table` is masked to 52 bits, so this cannot overflow.
            let entryAddress = table | (index << 3)
            let raw: UInt64
            do {
                raw = try memory.load(UInt64.self, physical: entryAddress)
            } catch let e as DumpError {
                return done(.unreadable(level: level, error: e))
            } catch {
                return done(.unreadable(level: level, error: .missing(what: "\(error)")))
            }
            let entry = PageTableEntry(raw & ~smeMask)
            steps.append(PageWalkStep(level: level, tableAddress: table, entryAddress: entryAddress, entry: entry))
            // User PMDs and PTEs of PROT_NONE mappings clear PRESENT but still map their page.
            let leafLevel = level == .pmd || level == .pte
            let present = entry.isPresent || (user && leafLevel && entry.raw & PageTableEntry.protNone != 0)
            guard present else { return done(.notPresent(level: level)) }
            switch level {
            case .pud where entry.isLargePage:
                let base = entry.raw & 0x000f_ffff_c000_0000
                return done(.mapped(physical: base | (vaddr & 0x3fff_ffff), pageBase: base, pageSize: 1 << 30))
            case .pmd where entry.isLargePage:
                let base = entry.raw & 0x000f_ffff_ffe0_0000
                return done(.mapped(physical: base | (vaddr & 0x1f_ffff), pageBase: base, pageSize: 1 << 21))
            case .pte:
                let base = entry.frame
                return done(.mapped(physical: base | (vaddr & 0xfff), pageBase: base, pageSize: 1 << 12))
            default:
                table = entry.frame
            }
        }
        // Not reached: the PTE level always returns.
        return done(.notPresent(level: .pte))
    }
}

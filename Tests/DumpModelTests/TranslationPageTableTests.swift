import Testing
@testable import DumpModel

/// An in-memory dump: sparse 4 KiB pages, some marked excluded, for page tables built by hand.
final class SyntheticDump: DumpFile {
    let path = "<synthetic>"
    let format = DumpFormat.elfCore
    let pageSize = 4096
    var pages: [UInt64: [UInt8]] = [:]
    var excluded: Set<UInt64> = []
    var vmcoreinfo: VMCoreInfo?
    let notes: [DumpNote] = []
    let prstatus: [PRStatus] = []

    init(vmcoreinfo: String? = nil) { self.vmcoreinfo = vmcoreinfo.map(VMCoreInfo.init(raw:)) }

    func readPage(pfn: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        if excluded.contains(pfn) { throw DumpError.excludedPage(paddr: pfn << 12) }
        guard let p = pages[pfn] else { throw DumpError.notInDump(paddr: pfn << 12) }
        p.withUnsafeBytes { buffer.copyMemory(from: $0) }
    }
    func pageState(pfn: UInt64) -> PageState {
        excluded.contains(pfn) ? .excluded : pages[pfn] != nil ? .present : .notInDump
    }
    func presentPages() -> AnySequence<UInt64> { AnySequence(pages.keys.sorted()) }
    func summary() -> DumpSummary { DumpSummary(path: path, format: format, pageSize: pageSize) }

    func write64(_ paddr: UInt64, _ value: UInt64) {
        let pfn = paddr >> 12
        var page = pages[pfn] ?? [UInt8](repeating: 0, count: 4096)
        let off = Int(paddr & 0xfff)
        for i in 0..<8 { page[off + i] = UInt8((value >> (8 * UInt64(i))) & 0xff) }
        pages[pfn] = page
    }
    func write(_ paddr: UInt64, _ bytes: [UInt8]) {
        for (i, b) in bytes.enumerated() {
            let a = paddr + UInt64(i)
            var page = pages[a >> 12] ?? [UInt8](repeating: 0, count: 4096)
            page[Int(a & 0xfff)] = b
            pages[a >> 12] = page
        }
    }
    func read64(_ paddr: UInt64) -> UInt64 {
        guard let page = pages[paddr >> 12] else { return 0 }
        let off = Int(paddr & 0xfff)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(page[off + i]) << (8 * UInt64(i)) }
        return v
    }
}

/// Builds x86_64 page tables in a `SyntheticDump`, allocating table pages from `nextTable` upwards.
struct PageTableBuilder {
    let dump: SyntheticDump
    let fiveLevel: Bool
    let root: UInt64
    var nextTable: UInt64
    static let tableFlags: UInt64 = 0x67  // PRESENT|RW|USER|ACCESSED|DIRTY, as the kernel writes them

    init(dump: SyntheticDump, fiveLevel: Bool, root: UInt64, firstFreeTable: UInt64) {
        self.dump = dump; self.fiveLevel = fiveLevel; self.root = root; nextTable = firstFreeTable
        if dump.pages[root >> 12] == nil { dump.pages[root >> 12] = [UInt8](repeating: 0, count: 4096) }
    }

    private func index(_ vaddr: UInt64, _ shift: UInt64) -> UInt64 { (vaddr >> shift) & 0x1ff }

    /// The table at the next level below the entry at `entryAddr`, made if absent.
    private mutating func child(of entryAddr: UInt64) -> UInt64 {
        let e = dump.read64(entryAddr)
        if e & 1 != 0 { return e & PageTableEntry.frameMask }
        let t = nextTable
        nextTable += 4096
        dump.pages[t >> 12] = [UInt8](repeating: 0, count: 4096)
        dump.write64(entryAddr, t | Self.tableFlags)
        return t
    }

    /// Physical address of the entry that maps `vaddr` at the level of `pageSize` (4K: PTE, 2M: PMD, 1G: PUD),
    /// creating the tables above it.
    mutating func leafEntryAddress(_ vaddr: UInt64, pageSize: UInt64) -> UInt64 {
        var table = root
        var shifts: [UInt64] = fiveLevel ? [48, 39] : [39]
        shifts += [30, 21, 12]
        let leafShift: UInt64 = pageSize == 1 << 30 ? 30 : pageSize == 1 << 21 ? 21 : 12
        for s in shifts {
            let entry = table + index(vaddr, s) * 8
            if s == leafShift { return entry }
            table = child(of: entry)
        }
        fatalError("unreachable")
    }

    mutating func map(_ vaddr: UInt64, to paddr: UInt64, pageSize: UInt64 = 4096, flags: UInt64 = 0x8000_0000_0000_0063) {
        let e = leafEntryAddress(vaddr, pageSize: pageSize)
        let pse: UInt64 = pageSize > 4096 ? PageTableEntry.pse : 0
        dump.write64(e, paddr | flags | pse)
    }
}

/// A kernel whose image is at 0xffffffff81000000 (phys_base 0x1000000), page table at phys 0x2010000.
func syntheticKernel(fiveLevel: Bool = false, physBase: String = "16777216", extraInfo: String = "") -> (SyntheticDump, PageTableBuilder) {
    let pgdVirtual: UInt64 = 0xffff_ffff_8101_0000
    let info = """
    OSRELEASE=6.1.0-synthetic
    PAGESIZE=4096
    SYMBOL(init_top_pgt)=\(String(pgdVirtual, radix: 16))
    NUMBER(phys_base)=\(physBase)
    NUMBER(pgtable_l5_enabled)=\(fiveLevel ? 1 : 0)
    KERNELOFFSET=1000000
    NUMBER(KERNEL_IMAGE_SIZE)=1073741824
    \(extraInfo)
    """
    let dump = SyntheticDump(vmcoreinfo: info)
    let root: UInt64 = 0x0101_0000 + 0x0100_0000
    let builder = PageTableBuilder(dump: dump, fiveLevel: fiveLevel, root: root, firstFreeTable: 0x0400_0000)
    return (dump, builder)
}

func space(_ dump: SyntheticDump, layout: (any KernelLayout)? = nil) throws -> KernelAddressSpace {
    try KernelAddressSpace(memory: PhysicalMemory(dump: dump),
                           vmcoreinfo: dump.vmcoreinfoText.map(VMCoreInfo.init(raw:)), layout: layout)
}

/// A layout answering from dictionaries, standing in for debuginfo.
struct DictionaryLayout: KernelLayout {
    var symbols: [String: UInt64] = [:]
    var sizes: [String: Int] = [:]
    var offsets: [String: Int] = [:]
    var enums: [String: [(name: String, value: Int64)]] = [:]
    var memberSizes: [String: Int] = [:]
    /// Array lengths by "type.member" or variable name.
    var lengths: [String: Int] = [:]
    func symbolAddress(_ name: String) -> UInt64? { symbols[name] }
    func length(_ name: String) -> Int? { lengths[name] }
    func memberSize(_ type: String, _ member: String) -> Int? { memberSizes["\(type).\(member)"] }
    func typeSize(_ type: String) -> Int? { sizes[type] }
    func memberOffset(_ type: String, _ member: String) -> Int? { offsets["\(type).\(member)"] }
    func enumerators(_ enumType: String) -> [(name: String, value: Int64)]? { enums[enumType] }
}

func expectTranslationFailure(_ level: String, _ body: () throws -> UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let p = try body()
        Issue.record("expected a \(level) failure, got \(String(p, radix: 16))", sourceLocation: sourceLocation)
    } catch let DumpError.translationFailed(_, l, _) {
        #expect(l == level, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected translationFailed at \(level), got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct TranslationPageTableTests {
    @Test func fourLevelPageSizes() throws {
        var (dump, b) = syntheticKernel()
        let v4k: UInt64 = 0xffff_c900_0000_3000
        let v2m: UInt64 = 0xffff_c900_4020_0000
        let v1g: UInt64 = 0xffff_c901_c000_0000
        b.map(v4k, to: 0x0555_5000)
        b.map(v2m, to: 0x0660_0000, pageSize: 1 << 21)
        b.map(v1g, to: 0x4000_0000, pageSize: 1 << 30)
        let s = try space(dump)
        #expect(!s.fiveLevel)
        #expect(try s.translate(v4k + 0x123) == 0x0555_5123)
        #expect(try s.translate(v2m + 0x1_2345) == 0x0661_2345)
        #expect(try s.translate(v1g + 0x2345_6789) == 0x6345_6789)

        let w = s.walk(v2m + 8)
        #expect(w.steps.map(\.level) == [.pgd, .pud, .pmd])
        #expect(w.outcome == .mapped(physical: 0x0660_0008, pageBase: 0x0660_0000, pageSize: 1 << 21))
        #expect(w.steps[0].entryAddress == b.root + ((v2m >> 39) & 0x1ff) * 8)
        #expect(w.leafEntry?.flagNames == ["PRESENT", "RW", "ACCESSED", "DIRTY", "PSE", "NX"])
        #expect(s.walk(v1g).steps.map(\.level) == [.pgd, .pud])
        #expect(s.walk(v4k).steps.map(\.level) == [.pgd, .pud, .pmd, .pte])
        _ = dump
    }

    @Test func fiveLevelWalk() throws {
        var (_, b) = syntheticKernel(fiveLevel: true)
        let v: UInt64 = 0xff20_0000_0010_1000
        b.map(v, to: 0x0777_7000)
        b.map(0xff20_0000_4000_0000, to: 0x8000_0000, pageSize: 1 << 30)
        let s = try space(b.dump)
        #expect(s.fiveLevel)
        #expect(s.userAddressLimit == 1 << 56)
        #expect(try s.translate(v + 0xabc) == 0x0777_7abc)
        #expect(try s.translate(0xff20_0000_4000_0010) == 0x8000_0010)
        let w = s.walk(v)
        #expect(w.steps.map(\.level) == [.pgd, .p4d, .pud, .pmd, .pte])
        // The PGD index uses bits 48-56 with 5-level paging.
        #expect(w.steps[0].entryAddress == b.root + ((v >> 48) & 0x1ff) * 8)
        expectTranslationFailure("P4D") { try s.translate(0xff20_8000_0000_0000) }
        expectTranslationFailure("PGD") { try s.translate(0xff30_0000_0000_0000) }
    }

    @Test func notPresentAtEachLevel() throws {
        var (dump, b) = syntheticKernel()
        let base: UInt64 = 0xffff_c900_0000_0000
        b.map(base, to: 0x0500_0000)
        let s = try space(dump)
        expectTranslationFailure("PGD") { try s.translate(0xffff_d000_0000_0000) }
        expectTranslationFailure("PUD") { try s.translate(base + (1 << 30)) }
        expectTranslationFailure("PMD") { try s.translate(base + (1 << 21)) }
        expectTranslationFailure("PTE") { try s.translate(base + (1 << 12)) }
        let w = s.walk(base + (1 << 12))
        #expect(w.outcome == .notPresent(level: .pte))
        #expect(w.steps.count == 4 && w.steps[3].entry.raw == 0)
    }

    @Test func excludedAndMissingPageTablePages() throws {
        var (dump, b) = syntheticKernel()
        let v: UInt64 = 0xffff_c900_0020_0000
        b.map(v, to: 0x0500_0000)
        let pmdEntry = b.leafEntryAddress(v, pageSize: 1 << 21)
        let s0 = try space(dump)
        #expect(try s0.translate(v) == 0x0500_0000)
        // The PMD table's page excluded from the dump: the read says so, with the entry's address.
        dump.excluded.insert(pmdEntry >> 12)
        let s = try space(dump)
        #expect(throws: DumpError.excludedPage(paddr: pmdEntry & ~0xfff)) { try s.translate(v) }
        #expect(s.walk(v).outcome == .unreadable(level: .pmd, error: .excludedPage(paddr: pmdEntry & ~0xfff)))
        // An entry pointing to a table outside the dump's memory names the level that could not be read.
        dump.excluded.removeAll()
        dump.write64(pmdEntry, 0x7_ffff_f000 | 0x63)
        let s2 = try space(dump)
        expectTranslationFailure("PTE") { try s2.translate(v) }
        // The data page itself excluded: translation works, the read reports the excluded page.
        dump.write64(pmdEntry, 0x0500_0000 | 0xe3)
        dump.excluded.insert(0x0500_0000 >> 12)
        let s3 = try space(dump)
        #expect(try s3.translate(v + 16) == 0x0500_0010)
        #expect(throws: DumpError.excludedPage(paddr: 0x0500_0000)) { try s3.load(UInt64.self, virtual: v + 16) }
    }

    @Test func entryFlagsAndSmeMaskAndLargePagePATBit() throws {
        var (dump, b) = syntheticKernel(extraInfo: "NUMBER(sme_mask)=\(1 << 47)")
        let v: UInt64 = 0xffff_c900_0060_0000
        b.map(v, to: 0x0640_0000 | (1 << 47), pageSize: 1 << 21, flags: 0x63 | (1 << 12))
        let s = try space(dump)
        // The encryption bit is not part of the address; bit 12 of a 2 MiB entry is PAT, not an address bit.
        #expect(try s.translate(v + 5) == 0x0640_0005)
        let names = PageTableEntry(0x8000_0000_0000_01e3).flagNames
        #expect(names == ["PRESENT", "RW", "ACCESSED", "DIRTY", "PSE", "GLOBAL", "NX"])
        #expect(PageTableEntry(0x1_0000_0025 | PageTableEntry.user).flagNames == ["PRESENT", "USER", "ACCESSED"])
        #expect(PageTableEntry(0x1_0000_0100).flagNames == ["PROTNONE", "GLOBAL"])
        #expect(PageTableEntry(0x1_0000_0180).flagNames == ["PROTNONE", "GLOBAL"])
    }

    @Test func kernelImageAndDirectMap() throws {
        var (dump, b) = syntheticKernel()
        // page_offset_base and vmalloc_base from the kernel's variables (debuginfo layout).
        let pobVar: UInt64 = 0xffff_ffff_8200_0000, vmallocVar = pobVar + 8, vmemmapVar = pobVar + 16
        dump.write64(pobVar - 0xffff_ffff_8000_0000 + 0x0100_0000, 0xffff_8880_0000_0000)
        dump.write64(vmallocVar - 0xffff_ffff_8000_0000 + 0x0100_0000, 0xffff_c900_0000_0000)
        dump.write64(vmemmapVar - 0xffff_ffff_8000_0000 + 0x0100_0000, 0xffff_ea00_0000_0000)
        dump.write64(0x0500_0008, 0x1122_3344_5566_7788)
        b.map(0xffff_c900_0000_0000, to: 0x0500_0000)
        let layout = DictionaryLayout(symbols: ["page_offset_base": pobVar, "vmalloc_base": vmallocVar,
                                                "vmemmap_base": vmemmapVar], sizes: ["page": 64])
        let s = try space(dump, layout: layout)
        #expect(s.pageOffsetBase == 0xffff_8880_0000_0000)
        #expect(s.vmallocBase == 0xffff_c900_0000_0000)
        #expect(s.baseSources["page_offset_base"] == "variable page_offset_base")
        // Text mapping: vaddr - __START_KERNEL_map + phys_base.
        #expect(try s.translate(0xffff_ffff_8123_4567) == 0x0223_4567)
        // Direct map, arithmetically (no page table for it exists here).
        #expect(try s.translate(0xffff_8880_0500_0008) == 0x0500_0008)
        #expect(try s.load(UInt64.self, virtual: 0xffff_8880_0500_0008) == 0x1122_3344_5566_7788)
        #expect(try s.load(UInt64.self, virtual: 0xffff_c900_0000_0008) == 0x1122_3344_5566_7788)
        #expect(try s.directMapAddress(physical: 0x1234_5000) == 0xffff_8880_1234_5000)
        #expect(s.pageStructAddress(pfn: 0x10) == 0xffff_ea00_0000_0400)
        // phys_base is signed in VMCOREINFO (the fixture kernel's is negative).
        let (neg, _) = syntheticKernel(physBase: "-568328192")
        let sn = try space(neg)
        #expect(sn.physBase == UInt64(bitPattern: -568_328_192))
        #expect(try sn.translate(0xffff_ffff_b201_aa40) == 0x1021_aa40)
    }

    @Test func readsCrossPageBoundaries() throws {
        var (dump, b) = syntheticKernel()
        let v: UInt64 = 0xffff_c900_0001_0000
        b.map(v, to: 0x0a00_0000)
        b.map(v + 4096, to: 0x0b00_7000)   // the next virtual page is elsewhere physically
        dump.write(0x0a00_0ffc, [1, 2, 3, 4])
        dump.write(0x0b00_7000, [5, 6, 7, 8])
        let s = try space(dump)
        #expect(try s.bytes(virtual: v + 0xffc, count: 8) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try s.load(UInt64.self, virtual: v + 0xffc) == 0x0807_0605_0403_0201)
        // A read that runs into an unmapped page fails at that page.
        expectTranslationFailure("PTE") { try s.bytes(virtual: v + 0x1ffc, count: 8).count == 8 ? 0 : 1 }
        // And one that wraps past the top of the address space is refused.
        expectTranslationFailure("PGD") { UInt64(try s.bytes(virtual: 0xffff_ffff_ffff_fffc, count: 8).count) }
    }

    @Test func userAddressesThroughATaskPageTable() throws {
        var (dump, kb) = syntheticKernel()
        kb.map(0xffff_c900_0000_0000, to: 0x0300_0000)
        var ub = PageTableBuilder(dump: dump, fiveLevel: false, root: 0x0900_0000, firstFreeTable: 0x0910_0000)
        ub.map(0x40_0000, to: 0x0367_0000, flags: 0x8000_0000_0000_0025)
        ub.map(0x7fff_0000_0000, to: 0x0368_0000, flags: 0x8000_0000_0000_0124 & ~1)  // PROT_NONE user page
        let s = try space(dump)
        #expect(try s.translate(0x40_0010, userPGD: 0x0900_0000) == 0x0367_0010)
        #expect(try s.translate(0x7fff_0000_0008, userPGD: 0x0900_0000) == 0x0368_0008)
        expectTranslationFailure("PGD") { try s.translate(0x40_0010) }
        expectTranslationFailure("PGD") { try s.translate(0x0000_9000_0000_0000, userPGD: 0x0900_0000) }
        let w = s.walk(0x40_0010, userPGD: 0x0900_0000)
        #expect(w.isUserWalk && w.rootVirtual == nil && w.steps.first?.entryAddress == 0x0900_0000)
        #expect(w.leafEntry?.flagNames == ["PRESENT", "USER", "ACCESSED", "NX"])
        // A kernel address with a user table still goes through the kernel's table.
        #expect(s.walk(0xffff_c900_0000_0000, userPGD: 0x0900_0000).rootVirtual == s.kernelPGD)
    }

    @Test func basesFromVMCOREINFOAlone() throws {
        // mem_section root array in the direct map at 0xffff9a0000000000 + 0x0c000000; one root with
        // one valid section whose section_mem_map encodes vmemmap_base | flags.
        let pob: UInt64 = 0xffff_9a00_0000_0000
        let rootsPhys: UInt64 = 0x0c00_0000, sectionsPhys: UInt64 = 0x0c00_1000
        let vmemmap: UInt64 = 0xffff_e5c0_0000_0000
        var (dump, b) = syntheticKernel(extraInfo: """
        SYMBOL(mem_section)=\(String(pob + rootsPhys, radix: 16))
        LENGTH(mem_section)=2048
        SIZE(mem_section)=16
        OFFSET(mem_section.section_mem_map)=0
        SIZE(page)=64
        """)
        // Only the kernel's page tables map these two direct-map pages (a 2 MiB direct-map page).
        b.map(pob + 0x0c00_0000, to: 0x0c00_0000, pageSize: 1 << 21)
        dump.write64(rootsPhys + 8 * 3, pob + sectionsPhys)
        dump.write64(sectionsPhys + 16 * 5, 0)
        dump.write64(sectionsPhys + 16 * 6, vmemmap | 0x1f)
        let s = try space(dump)
        #expect(s.pageOffsetBase == pob)
        #expect(s.vmemmapBase == vmemmap)
        #expect(s.vmallocBase == nil)
        #expect(try s.directMapAddress(physical: 0x1000) == pob + 0x1000)
        #expect(s.pageStructAddress(pfn: 2) == vmemmap + 128)
        // VMCOREINFO's SYMBOL(mem_section) is the pointer's value, so the layout does not call it an address.
        #expect(s.layout.symbolAddress("mem_section") == nil)
    }

    @Test func missingFactsAreErrors() throws {
        let dump = SyntheticDump(vmcoreinfo: "OSRELEASE=x\nNUMBER(phys_base)=0\n")
        #expect(throws: DumpError.self) { try space(dump) }
        let noBase = SyntheticDump(vmcoreinfo: "SYMBOL(init_top_pgt)=ffffffff82000000\n")
        #expect(throws: DumpError.self) { try space(noBase) }
        // phys_base from the dump header when VMCOREINFO lacks it.
        let s = try KernelAddressSpace(memory: PhysicalMemory(dump: noBase),
                                       vmcoreinfo: VMCoreInfo(raw: noBase.vmcoreinfoText!), physBase: 0x200000)
        #expect(s.kernelPGDPhysical == 0x0220_0000)
        #expect(throws: DumpError.self) { try s.directMapAddress(physical: 0) }
    }

    @Test func kernelOffsetFromStext() {
        let info = VMCoreInfo(raw: "SYMBOL(_stext)=ffffffffb0600000\n")
        #expect(KernelAddressSpace.kernelOffset(vmcoreinfo: info, linkedStext: 0xffff_ffff_8100_0000) == 0x2f60_0000)
        #expect(KernelAddressSpace.kernelOffset(vmcoreinfo: VMCoreInfo(raw: "KERNELOFFSET=2f600000\n"), linkedStext: nil) == 0x2f60_0000)
        #expect(KernelAddressSpace.kernelOffset(vmcoreinfo: info, linkedStext: nil) == nil)
    }

    @Test func layeredLayoutAsksInOrder() {
        let first = DictionaryLayout(symbols: ["a": 1], offsets: ["t.m": 8])
        let info = VMCoreInfoLayout(VMCoreInfo(raw: "SYMBOL(a)=2\nSYMBOL(b)=3\nOFFSET(t.m)=16\nOFFSET(t.n)=24\nNUMBER(PG_slab)=9\n"))
        let l = LayeredKernelLayout([first, info])
        #expect(l.symbolAddress("a") == 1)
        #expect(l.symbolAddress("b") == 3)
        #expect(l.memberOffset("t", "m") == 8)
        #expect(l.memberOffset("t.n") == 24)
        #expect(l.number("PG_slab") == 9)
        #expect(l.symbolAddress("c") == nil)
    }
}

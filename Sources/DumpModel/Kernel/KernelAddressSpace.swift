/// The crashed x86_64 kernel's virtual address space: translation of kernel (and, through a task's
/// page table, user) virtual addresses to physical ones, and reads at virtual addresses.
///
/// Where the facts come from:
/// - phys_base: VMCOREINFO `NUMBER(phys_base)` (a signed number, 4.10 and later), else the value the
///   caller passes (the kdump sub-header's `phys_base`, an ELF core's kernel-text segment, or what
///   `KernelImageLocator` found from the CPU state).
/// - The kernel page table: the run-time address of `init_top_pgt` (VMCOREINFO or the layout), else
///   `init_level4_pgt` (its name before 4.13), else `swapper_pg_dir`; it lies in the kernel image, so
///   its physical address follows from phys_base.
/// - 4- or 5-level paging: `NUMBER(pgtable_l5_enabled)`.
/// - `page_offset_base`, `vmalloc_base`, `vmemmap_base` (randomised by KASLR): read from the kernel
///   variables of those names when the layout knows their addresses; otherwise derived from
///   VMCOREINFO alone (see `deriveBases`); otherwise the fixed defaults of a kernel without memory
///   randomisation, but only when the dump says the kernel image was not relocated (KERNELOFFSET=0).
///
/// Translation: the kernel text mapping (`__START_KERNEL_map`) and the direct map are linear and
/// translated arithmetically like the kernel's own `__pa()`; the direct map only where its end is
/// known (below `vmalloc_base`). Everything else walks the page tables.
///
/// Not thread-safe (it shares `PhysicalMemory`'s cache): one session reads from one thread.
public final class KernelAddressSpace {
    public let memory: PhysicalMemory
    /// The layout asked for kernel facts: the caller's first, VMCOREINFO's behind it.
    public let layout: any KernelLayout
    public let vmcoreinfo: VMCoreInfo?

    /// `__START_KERNEL_map`: where the kernel image is mapped (before the KASLR slide).
    public static let startKernelMap: UInt64 = 0xffff_ffff_8000_0000
    /// x86_64 paging always works in 4 KiB pages (large pages are multiples).
    public static let pageSize: UInt64 = 4096
    /// Names of the kernel's top-level page table, newest first: `init_top_pgt` since 4.13,
    /// `init_level4_pgt` before; `swapper_pg_dir` is the generic alias VMCOREINFO also writes.
    public static let pageTableNames = ["init_top_pgt", "init_level4_pgt", "swapper_pg_dir"]

    /// Physical address the kernel image was loaded at, minus its link-time physical address.
    public let physBase: UInt64
    /// KASLR slide of the kernel image, when the dump says it (KERNELOFFSET).
    public let kernelOffset: UInt64?
    public let fiveLevel: Bool
    /// The AMD memory-encryption bit, cleared from every page-table entry before use.
    public let smeMask: UInt64
    /// Size of the kernel image mapping at `__START_KERNEL_map` (modules follow it).
    public let kernelImageSize: UInt64
    /// Kernel virtual address of the kernel's top-level page table (`init_top_pgt`).
    public let kernelPGD: UInt64
    /// Physical address of that table.
    public let kernelPGDPhysical: UInt64

    /// Start of the direct map of all physical memory, if known.
    public private(set) var pageOffsetBase: UInt64?
    /// Start of the vmalloc area, if known.
    public private(set) var vmallocBase: UInt64?
    /// Start of the `struct page` array (virtual memmap), if known.
    public private(set) var vmemmapBase: UInt64?
    /// How each base was found ("page_offset_base" -> "variable page_offset_base" ...), for `help`-style output.
    public private(set) var baseSources: [String: String] = [:]

    /// Recent translations, (root, virtual page) -> physical page; bounded, cleared when full.
    private var tlb: [TLBKey: UInt64] = [:]
    private static let tlbCapacity = 4096

    private struct TLBKey: Hashable {
        var root: UInt64
        var page: UInt64
    }

    /// Builds the address space of the dump's kernel.
    /// - Parameters:
    ///   - layout: kernel facts from the debuginfo, if any; VMCOREINFO answers behind it.
    ///   - physBase: phys_base from elsewhere (dump header, CPU state), used when VMCOREINFO lacks it.
    ///   - kernelOffset: the KASLR slide from elsewhere (CPU state), used when VMCOREINFO lacks it.
    ///   - fiveLevel: 5-level paging from elsewhere (the CPU's CR4.LA57), used when VMCOREINFO does not say.
    /// - Throws: `.missing` when phys_base or the kernel page table cannot be found.
    public init(memory: PhysicalMemory, vmcoreinfo: VMCoreInfo?, layout: (any KernelLayout)? = nil,
                physBase headerPhysBase: UInt64? = nil, kernelOffset givenOffset: UInt64? = nil,
                fiveLevel givenFiveLevel: Bool? = nil) throws {
        self.memory = memory
        self.vmcoreinfo = vmcoreinfo
        var layers: [any KernelLayout] = []
        if let layout { layers.append(layout) }
        if let vmcoreinfo { layers.append(VMCoreInfoLayout(vmcoreinfo)) }
        let combined = LayeredKernelLayout(layers)
        self.layout = combined

        if let n = vmcoreinfo?.number("phys_base") {
            physBase = UInt64(bitPattern: n)
        } else if let headerPhysBase {
            physBase = headerPhysBase
        } else {
            throw DumpError.missing(what: "phys_base (no VMCOREINFO NUMBER(phys_base), none in the dump header, none from the CPU state)")
        }
        kernelOffset = vmcoreinfo?.kernelOffset ?? givenOffset
        // VMCOREINFO's NUMBER()s first: the kernel wrote them, and they cost a dictionary read.
        func number(_ name: String) -> Int64? { vmcoreinfo?.number(name) ?? combined.number(name) }
        fiveLevel = number("pgtable_l5_enabled").map { $0 != 0 } ?? givenFiveLevel ?? false
        smeMask = UInt64(bitPattern: number("sme_mask") ?? 0)
        if let size = number("KERNEL_IMAGE_SIZE"), size > 0, size <= 1 << 31 {
            kernelImageSize = UInt64(size)
        } else if let kernelOffset, kernelOffset != 0 {
            // A relocated kernel that does not say its size (before 4.14): KASLR kernels map 1 GiB.
            kernelImageSize = 1 << 30
        } else {
            // The smaller of the two sizes x86_64 uses (512 MiB without KASLR): never claims module space.
            kernelImageSize = 512 << 20
        }
        guard let pgd = Self.pageTableNames.lazy.compactMap({ combined.symbolAddress($0) }).first else {
            throw DumpError.missing(what: "the kernel page table: no SYMBOL(init_top_pgt), init_level4_pgt or swapper_pg_dir")
        }
        kernelPGD = pgd
        let start = Self.startKernelMap
        guard pgd >= start, pgd &- start < kernelImageSize else {
            throw DumpError.translationFailed(vaddr: pgd, level: "PGD",
                                              reason: "the kernel page table is outside the kernel image mapping")
        }
        kernelPGDPhysical = (pgd &- start &+ physBase) & PageTableEntry.frameMask
        deriveBases()
    }

    /// The KASLR slide of the kernel image: VMCOREINFO's KERNELOFFSET, else the run-time `_stext`
    /// (VMCOREINFO SYMBOL(_stext)) minus `linkedStext`, the vmlinux's own `_stext`. Nil if neither is there,
    /// or if that difference is not a whole number of pages: KASLR moves the image by 2 MiB steps, so
    /// anything else means SYMBOL(_stext) is not about this vmlinux.
    public static func kernelOffset(vmcoreinfo: VMCoreInfo?, linkedStext: UInt64?) -> UInt64? {
        if let off = vmcoreinfo?.kernelOffset { return off }
        if let run = vmcoreinfo?.symbol("_stext"), let linked = linkedStext {
            let slide = run &- linked
            return slide & 0xfff == 0 ? slide : nil
        }
        return nil
    }

    // MARK: - Regions

    /// First address past the user half (`TASK_SIZE_MAX` rounded up): 2^47, or 2^56 with 5-level paging.
    public var userAddressLimit: UInt64 { fiveLevel ? 1 << 56 : 1 << 47 }
    /// First address of the canonical kernel half.
    public var kernelHalfStart: UInt64 { fiveLevel ? 0xff00_0000_0000_0000 : 0xffff_8000_0000_0000 }

    /// Whether `vaddr` is in the kernel image mapping (kernel text and data).
    public func isKernelImageAddress(_ vaddr: UInt64) -> Bool {
        vaddr >= Self.startKernelMap && vaddr &- Self.startKernelMap < kernelImageSize
    }

    /// End of the part of the direct map that can be translated arithmetically: known only when the
    /// region after it (vmalloc) is known; otherwise the page tables decide.
    private var directMapEnd: UInt64? {
        guard let pob = pageOffsetBase, let vb = vmallocBase, vb > pob else { return nil }
        let maxPhys: UInt64 = 1 << UInt64(max(32, min(52, layout.number("MAX_PHYSMEM_BITS") ?? (fiveLevel ? 52 : 46))))
        let (end, overflow) = pob.addingReportingOverflow(maxPhys)
        return overflow ? vb : min(end, vb)
    }

    // MARK: - Translation

    /// The physical address of kernel virtual address `vaddr`, or of user address `vaddr` through the
    /// top-level page table at physical address `userPGD` (a task's `mm->pgd`, translated).
    /// - Throws: `.translationFailed` naming the level and the reason; `.excludedPage` when a page-table
    ///   page was left out of the dump.
    public func translate(_ vaddr: UInt64, userPGD: UInt64? = nil) throws -> UInt64 {
        if vaddr >= kernelHalfStart {
            if isKernelImageAddress(vaddr) {
                return vaddr &- Self.startKernelMap &+ physBase
            }
            if let pob = pageOffsetBase, let end = directMapEnd, vaddr >= pob, vaddr < end {
                return vaddr &- pob
            }
            return try translateByWalk(vaddr, root: kernelPGDPhysical, user: false)
        }
        guard vaddr < userAddressLimit else {
            throw DumpError.translationFailed(vaddr: vaddr, level: "PGD", reason: "non-canonical address")
        }
        guard let userPGD else {
            throw DumpError.translationFailed(vaddr: vaddr, level: "PGD",
                                              reason: "user address, and no task page table given")
        }
        return try translateByWalk(vaddr, root: userPGD & PageTableEntry.frameMask, user: true)
    }

    private func translateByWalk(_ vaddr: UInt64, root: UInt64, user: Bool) throws -> UInt64 {
        let key = TLBKey(root: root, page: vaddr >> 12)
        if let page = tlb[key] { return page | (vaddr & 0xfff) }
        let w = walk(vaddr, root: root, rootVirtual: nil, user: user)
        switch w.outcome {
        case let .mapped(physical, _, _):
            if tlb.count >= Self.tlbCapacity { tlb.removeAll(keepingCapacity: true) }
            tlb[key] = physical & ~0xfff
            return physical
        case let .notPresent(level):
            let e = w.steps.last?.entry.raw ?? 0
            throw DumpError.translationFailed(vaddr: vaddr, level: level.rawValue,
                                              reason: "entry not present (\(hex(e)))")
        case let .unreadable(level, error):
            if case .excludedPage = error { throw error }
            throw DumpError.translationFailed(vaddr: vaddr, level: level.rawValue,
                                              reason: "cannot read the page table: \(error)")
        }
    }

    /// Walks the kernel page table (for a kernel address) or the user table at physical `userPGD`,
    /// recording every entry read, as `vtop` shows it. Never throws: failures are the outcome.
    public func walk(_ vaddr: UInt64, userPGD: UInt64? = nil) -> PageWalk {
        if vaddr < userAddressLimit, let userPGD {
            return walk(vaddr, root: userPGD & PageTableEntry.frameMask, rootVirtual: nil, user: true)
        }
        return walk(vaddr, root: kernelPGDPhysical, rootVirtual: kernelPGD, user: false)
    }

    private func walk(_ vaddr: UInt64, root: UInt64, rootVirtual: UInt64?, user: Bool) -> PageWalk {
        PageTableWalker(memory: memory, fiveLevel: fiveLevel, smeMask: smeMask)
            .walk(vaddr, root: root, rootVirtual: rootVirtual, user: user)
    }

    // MARK: - Reads

    /// Copies `buffer.count` bytes at virtual address `vaddr` (kernel, or user through `userPGD`),
    /// page by page, so a read may cross into a differently mapped page.
    public func read(virtual vaddr: UInt64, into buffer: UnsafeMutableRawBufferPointer, userPGD: UInt64? = nil) throws {
        guard let dst = buffer.baseAddress, buffer.count > 0 else { return }
        let (_, wraps) = vaddr.addingReportingOverflow(UInt64(buffer.count - 1))
        if wraps {
            throw DumpError.translationFailed(vaddr: vaddr, level: "PGD",
                                              reason: "a read of \(buffer.count) bytes runs past the top of the address space")
        }
        var done = 0
        var addr = vaddr
        while done < buffer.count {
            let inPage = Int(addr & (Self.pageSize - 1))
            let n = min(Int(Self.pageSize) - inPage, buffer.count - done)
            let paddr = try translate(addr, userPGD: userPGD)
            try memory.read(physical: paddr, into: UnsafeMutableRawBufferPointer(start: dst + done, count: n))
            done += n
            addr &+= UInt64(n)
        }
    }

    /// One little-endian integer at a virtual address.
    public func load<T: FixedWidthInteger>(_: T.Type = T.self, virtual vaddr: UInt64, userPGD: UInt64? = nil) throws -> T {
        var v: T = 0
        try withUnsafeMutableBytes(of: &v) { try read(virtual: vaddr, into: $0, userPGD: userPGD) }
        return T(littleEndian: v)
    }

    /// `count` bytes at a virtual address.
    public func bytes(virtual vaddr: UInt64, count: Int, userPGD: UInt64? = nil) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(0, count))
        try out.withUnsafeMutableBytes { try read(virtual: vaddr, into: $0, userPGD: userPGD) }
        return out
    }

    // MARK: - Physical to virtual, struct page

    /// The direct-map virtual address of physical address `paddr` (`page_offset_base + paddr`, crash's `ptov`).
    public func directMapAddress(physical paddr: UInt64) throws -> UInt64 {
        guard let pob = pageOffsetBase else {
            throw DumpError.missing(what: "page_offset_base (no symbol, and VMCOREINFO has no SYMBOL(mem_section) to derive it)")
        }
        let (v, overflow) = pob.addingReportingOverflow(paddr)
        guard !overflow else {
            throw DumpError.translationFailed(vaddr: paddr, level: "PGD", reason: "physical address beyond the direct map")
        }
        return v
    }

    /// Address of the `struct page` of page frame `pfn` in the virtual memmap, if `vmemmap_base` and
    /// SIZE(page) are known.
    public func pageStructAddress(pfn: UInt64) -> UInt64? {
        guard let base = vmemmapBase, let size = layout.typeSize("page"), size > 0 else { return nil }
        let (off, o1) = pfn.multipliedReportingOverflow(by: UInt64(size))
        let (addr, o2) = base.addingReportingOverflow(off)
        return o1 || o2 ? nil : addr
    }

    // MARK: - Randomised region bases

    /// Finds page_offset_base, vmemmap_base and vmalloc_base.
    ///
    /// 1. The kernel variables of those names, when the layout has their addresses (debuginfo).
    /// 2. VMCOREINFO alone: SYMBOL(mem_section) is the address of the mem_section root array, which the
    ///    kernel allocated in the direct map; walking the page tables for it gives its physical
    ///    address, and page_offset_base is the difference (checked to be 1 GiB aligned, as KASLR aligns
    ///    the region). Any valid section's `section_mem_map` encodes `mem_map - first pfn`, which with
    ///    a virtual memmap is vmemmap_base itself (plus flag bits below the page offset).
    /// 3. A kernel that was not relocated (KERNELOFFSET=0, or none: before KASLR) uses the fixed
    ///    layout of mm.rst. The direct map moved in 4.20 (0xffff880000000000 before, 0xffff888000000000
    ///    since; 5-level 0xff10... and 0xff11...): the candidate the page tables map to physical 0 is taken.
    /// vmalloc_base has no VMCOREINFO derivation; it stays nil then (the direct map is walked).
    private func deriveBases() {
        for name in ["page_offset_base", "vmalloc_base", "vmemmap_base"] {
            if let addr = layout.symbolAddress(name), isKernelImageAddress(addr),
               let v = try? memory.load(UInt64.self, physical: addr &- Self.startKernelMap &+ physBase), v != 0 {
                set(name, v, source: "variable \(name)")
            }
        }
        if pageOffsetBase == nil || vmemmapBase == nil, let roots = vmcoreinfo?.symbol("mem_section") {
            if pageOffsetBase == nil,
               let p = try? translateByWalk(roots, root: kernelPGDPhysical, user: false) {
                let pob = roots &- p
                if pob & ((1 << 30) - 1) == 0 && pob >= kernelHalfStart {
                    set("page_offset_base", pob, source: "SYMBOL(mem_section) through the page tables")
                }
            }
            if vmemmapBase == nil, let v = vmemmapFromSections(roots: roots) {
                set("vmemmap_base", v, source: "mem_section[].section_mem_map")
            }
        }
        if (kernelOffset ?? 0) == 0, pageOffsetBase == nil {
            let candidates: [UInt64] = fiveLevel ? [0xff11_0000_0000_0000, 0xff10_0000_0000_0000]
                : [0xffff_8880_0000_0000, 0xffff_8800_0000_0000]
            if let found = candidates.first(where: { (try? translateByWalk($0, root: kernelPGDPhysical, user: false)) == 0 }) {
                set("page_offset_base", found, source: "fixed layout (maps physical 0)")
            }
        }
        if (kernelOffset ?? 0) == 0 {
            let defaults: [(String, UInt64)] = fiveLevel
                ? [("page_offset_base", 0xff11_0000_0000_0000), ("vmalloc_base", 0xffa0_0000_0000_0000),
                   ("vmemmap_base", 0xffd4_0000_0000_0000)]
                : [("page_offset_base", 0xffff_8880_0000_0000), ("vmalloc_base", 0xffff_c900_0000_0000),
                   ("vmemmap_base", 0xffff_ea00_0000_0000)]
            // Without KERNELOFFSET the kernel may predate 4.20's direct map: only the page tables decide that one.
            for (name, v) in defaults where baseSources[name] == nil && (kernelOffset != nil || name != "page_offset_base") {
                set(name, v, source: "default of a kernel without KASLR")
            }
        }
    }

    private func set(_ name: String, _ value: UInt64, source: String) {
        switch name {
        case "page_offset_base": pageOffsetBase = value
        case "vmalloc_base": vmallocBase = value
        case "vmemmap_base": vmemmapBase = value
        default: return
        }
        baseSources[name] = source
    }

    /// vmemmap_base from the first valid memory section (bounded scan of the SPARSEMEM_EXTREME roots).
    private func vmemmapFromSections(roots: UInt64) -> UInt64? {
        guard let sectionSize = layout.typeSize("mem_section"), sectionSize > 0, sectionSize <= 4096,
              let mapOffset = layout.memberOffset("mem_section", "section_mem_map"),
              mapOffset >= 0, mapOffset <= sectionSize - 8 else { return nil }
        let rootCount = max(0, min(layout.length("mem_section") ?? 0, 1 << 16))
        let perRoot = Int(Self.pageSize) / sectionSize
        // SECTION_MARKED_PRESENT and SECTION_HAS_MEM_MAP.
        let wanted: UInt64 = 0x3
        for r in 0..<rootCount {
            guard let root = try? load(UInt64.self, virtual: roots &+ UInt64(r * 8)), root != 0 else { continue }
            for s in 0..<perRoot {
                guard let map = try? load(UInt64.self, virtual: root &+ UInt64(s * sectionSize + mapOffset)) else { break }
                if map & wanted == wanted {
                    let base = map & ~(Self.pageSize - 1)
                    return base >= kernelHalfStart ? base : nil
                }
            }
        }
        return nil
    }
}

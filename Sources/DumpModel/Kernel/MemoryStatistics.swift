/// The system-wide memory figures crash's `kmem -i` shows, read from the crashed kernel's own
/// counters the way crash 8.0.6 reads them (its `dump_kmeminfo`):
///
/// - TOTAL MEM: `_totalram_pages` (an `atomic_long_t` since Linux 5.0), else the older plain
///   `totalram_pages`.
/// - FREE: the sum over every online node's zones of `zone.vm_stat[NR_FREE_PAGES]` (older
///   kernels: `zone.free_pages`).
/// - SHARED: a walk of every present memory section's `struct page` array counting pages that are
///   not `PG_reserved` and whose `_refcount` is above 1 (crash's definition, not the kernel's).
/// - BUFFERS: the page-cache pages of block devices, as the kernel's `nr_blockdev_pages()` counts
///   them: the inodes of the block-device pseudo filesystem (`blockdev_superblock->s_inodes`),
///   or the older `all_bdevs` list.
/// - CACHED: `NR_FILE_PAGES` minus the swap cache (`NR_SWAPCACHE`, or the swapper address
///   spaces of older kernels) minus BUFFERS.
/// - SLAB: `NR_SLAB_RECLAIMABLE(_B)` + `NR_SLAB_UNRECLAIMABLE(_B)` (or the single `NR_SLAB`).
/// - Huge pages: every `hstates[]` entry's `nr_huge_pages` and `free_huge_pages` in base pages.
/// - Swap: every used `swap_info[]` device's `pages` and `inuse_pages`.
/// - Commit: `sysctl_overcommit_kbytes`, else `sysctl_overcommit_ratio` percent of the RAM
///   outside huge pages, plus swap; committed is `vm_committed_as.count`.
///
/// The vm_stat counters are the global arrays `vm_zone_stat[]` / `vm_node_stat[]` (Linux 4.8+;
/// one `vm_stat[]` before), indexed by the enumerators of `enum zone_stat_item` /
/// `enum node_stat_item` looked up by name, since their values change between kernels.
///
/// Each figure is read on its own: one that cannot be read carries its error, the others stand.
public struct MemoryStatistics: Sendable {
    public typealias Pages = Result<UInt64, KernelReadError>

    /// What the walk of the `struct page` arrays counted.
    public struct PageCensus: Sendable, Equatable {
        /// Pages not `PG_reserved` with `_refcount` above 1.
        public var shared: UInt64 = 0
        /// Pages with `PG_reserved`.
        public var reserved: UInt64 = 0
        /// Every `struct page` of a present section.
        public var examined: UInt64 = 0
        /// `struct page`s whose memory could not be read (counted as neither; crash reads them as zeros).
        public var unreadable: UInt64 = 0
    }

    public struct HugePages: Sendable, Equatable {
        /// Huge pages of every size, counted in base pages.
        public var total: UInt64
        public var free: UInt64
    }

    public struct Swap: Sendable, Equatable {
        /// Pages of all swap devices in use.
        public var total: UInt64
        public var used: UInt64
        public var free: UInt64 { total &- used }
    }

    public struct Commit: Sendable, Equatable {
        /// CommitLimit in pages (overcommit kbytes, or ratio of RAM outside huge pages, plus swap).
        public var limit: UInt64
        /// Committed_AS in pages (never negative: a per-CPU counter's sum can dip below 0).
        public var committed: Int64
    }

    /// Bytes in a page.
    public let pageSize: UInt64
    public let totalRAM: Pages
    public let free: Pages
    public let census: Result<PageCensus, KernelReadError>
    public let buffers: Pages
    /// The page cache without swap cache and buffers; 0 when that difference is negative
    /// (`cachedWentNegative` then holds it).
    public let cached: Pages
    public let cachedWentNegative: Int64?
    public let slab: Pages
    public let hugePages: Result<HugePages, KernelReadError>
    /// nil: the kernel has no `swap_info` (crash then prints no swap rows).
    public let swap: Result<Swap, KernelReadError>?
    /// nil: the kernel has no `sysctl_overcommit_memory` (no commit rows).
    public let commit: Result<Commit, KernelReadError>?

    /// TOTAL MEM minus FREE.
    public var used: Pages {
        totalRAM.flatMap { total in free.map { total &- $0 } }
    }

    /// SHARED, from the page census.
    public var shared: Pages { census.map(\.shared) }

    /// Reads every figure through `space`'s memory.
    public static func read(from space: KernelAddressSpace,
                            interrupted: () -> Bool = { false }) throws(InterruptedByUser) -> MemoryStatistics {
        try read(from: KernelMemory(space: space), interrupted: interrupted)
    }

    /// Reads every figure. Only the page census is long (one `struct page` per page of RAM); it
    /// asks `interrupted` between blocks and throws `InterruptedByUser`.
    public static func read(from memory: KernelMemory,
                            interrupted: () -> Bool = { false }) throws(InterruptedByUser) -> MemoryStatistics {
        let reader = Reader(memory: memory)
        let stats = Result.reading({ try VMStatCounters(memory: memory) })
        let total = Result.reading({ try reader.totalRAM() })
        let free = Result.reading({ try reader.freePages() })
        let census: Result<PageCensus, KernelReadError>
        do {
            census = .success(try reader.pageCensus(interrupted: interrupted))
        } catch let e as InterruptedByUser {
            throw e
        } catch {
            census = .failure(KernelReadError(error))
        }
        let buffers = Result.reading({ try reader.blockDevicePages() })
        var negative: Int64?
        let cached = Result.reading({ () throws -> UInt64 in
            let vm = try stats.get()
            guard let file = try vm.counter("NR_FILE_PAGES") else {
                throw DumpError.missing(what: "enumerator NR_FILE_PAGES")
            }
            let swapCache = try reader.swapCachePages(vm)
            let b = try buffers.get()
            let pages = file &- swapCache &- Int64(bitPattern: b)
            if pages < 0 { negative = pages; return 0 }
            return UInt64(pages)
        })
        let slab = Result.reading({ try reader.slabPages(try stats.get()) })
        let huge = Result.reading({ try reader.hugePages() })
        let swap: Result<Swap, KernelReadError>? = memory.layout.symbolAddress("swap_info") == nil ? nil
            : Result.reading({ try reader.swapTotals() })
        let commit: Result<Commit, KernelReadError>? = memory.layout.symbolAddress("sysctl_overcommit_memory") == nil ? nil
            : Result.reading({
                try reader.commit(totalRAM: total, huge: huge, swapTotal: (try swap?.get())?.total ?? 0)
            })
        return MemoryStatistics(pageSize: KernelAddressSpace.pageSize, totalRAM: total, free: free, census: census,
                                buffers: buffers, cached: cached, cachedWentNegative: negative, slab: slab,
                                hugePages: huge, swap: swap, commit: commit)
    }

    public init(pageSize: UInt64, totalRAM: Pages, free: Pages, census: Result<PageCensus, KernelReadError>,
                buffers: Pages, cached: Pages, cachedWentNegative: Int64?, slab: Pages,
                hugePages: Result<HugePages, KernelReadError>, swap: Result<Swap, KernelReadError>?,
                commit: Result<Commit, KernelReadError>?) {
        self.pageSize = pageSize
        self.totalRAM = totalRAM
        self.free = free
        self.census = census
        self.buffers = buffers
        self.cached = cached
        self.cachedWentNegative = cachedWentNegative
        self.slab = slab
        self.hugePages = hugePages
        self.swap = swap
        self.commit = commit
    }
}

/// The kernel's global vm_stat counters, looked up by enumerator name.
struct VMStatCounters {
    /// One array of counters and the enum that indexes it.
    struct Table {
        var address: UInt64
        var enumerators: [String: Int64]
        /// Entries in the array (the enum's NR_VM_*_STAT_ITEMS, or the array's length).
        var count: Int64
    }

    let memory: KernelMemory
    /// Searched in order, as crash lists zone items before node items.
    let tables: [Table]
    /// `sizeof(atomic_long_t)`.
    let elementSize: Int

    init(memory: KernelMemory) throws(DumpError) {
        self.memory = memory
        let layout = memory.layout
        guard let size = layout.typeSize("atomic_long_t"), size == 4 || size == 8 else {
            throw DumpError.missing(what: "SIZE(atomic_long_t)")
        }
        elementSize = size
        func table(_ symbol: String, _ enumType: String, _ countName: String) -> Table? {
            guard let at = layout.symbolAddress(symbol), let values = layout.enumerators(enumType) else { return nil }
            var named: [String: Int64] = [:]
            for (name, value) in values where named[name] == nil { named[name] = value }
            var count = named[countName] ?? Int64(layout.length(symbol) ?? 0)
            if let length = layout.length(symbol) { count = min(count, Int64(length)) }
            return Table(address: at, enumerators: named, count: count)
        }
        var found: [Table] = []
        if layout.symbolAddress("vm_zone_stat") != nil {
            if let t = table("vm_zone_stat", "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS") { found.append(t) }
            if let t = table("vm_node_stat", "node_stat_item", "NR_VM_NODE_STAT_ITEMS") { found.append(t) }
        } else if let t = table("vm_stat", "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS") {
            found.append(t)
        }
        guard !found.isEmpty else {
            throw DumpError.missing(what: "vm_zone_stat/vm_node_stat or vm_stat with enum zone_stat_item")
        }
        tables = found
    }

    /// The counter named `item` (an enumerator of zone_stat_item or node_stat_item), or nil
    /// when this kernel has no such enumerator.
    func counter(_ item: String) throws -> Int64? {
        for t in tables {
            guard let index = t.enumerators[item] else { continue }
            guard index >= 0, index < t.count else {
                throw DumpError.missing(what: "\(item) = \(index) is outside the counter array of \(t.count)")
            }
            let at = t.address &+ UInt64(index) &* UInt64(elementSize)
            return try memory.signed(at, size: elementSize)
        }
        return nil
    }

    /// The index of `item` in the zone counters (for `zone.vm_stat[]`).
    func zoneIndex(_ item: String) -> Int64? { tables.first?.enumerators[item] }
}

/// The individual reads behind `MemoryStatistics`.
private struct Reader {
    let memory: KernelMemory
    var layout: any KernelLayout { memory.layout }

    /// Most entries any kernel list walked here may have: a corrupt list ends there.
    static let listLimit = 1 << 22

    func totalRAM() throws -> UInt64 {
        if layout.symbolAddress("_totalram_pages") != nil {
            return UInt64(bitPattern: try memory.counter(try memory.symbol("_totalram_pages"), type: "atomic_long_t"))
        }
        guard let plain = layout.symbolAddress("totalram_pages") else {
            throw DumpError.missing(what: "symbol _totalram_pages or totalram_pages")
        }
        return try memory.load(UInt64.self, plain)
    }

    // MARK: Nodes and zones

    /// The `pglist_data` of every online memory node.
    func onlineNodes() throws -> [UInt64] {
        if let table = layout.symbolAddress("node_data") {
            let capacity = layout.length("node_data") ?? 1 << 10
            var count = capacity
            if let at = layout.symbolAddress("nr_node_ids") {
                let n = try memory.signed(at, size: 4)
                count = Int(max(1, min(Int64(capacity), n)))
            }
            let online = onlineNodeMask(count: count)
            var nodes: [UInt64] = []
            for n in 0..<count {
                if let online, !online(n) { continue }
                let pgdat = try memory.load(UInt64.self, table &+ UInt64(n * 8))
                if pgdat != 0 { nodes.append(pgdat) }
            }
            guard !nodes.isEmpty else { throw DumpError.missing(what: "an online node in node_data[]") }
            return nodes
        }
        return [try memory.symbol("contig_page_data")]
    }

    /// Whether node `n` is online, from `node_states[N_ONLINE]`; nil when that is not known.
    private func onlineNodeMask(count: Int) -> ((Int) -> Bool)? {
        guard let states = layout.symbolAddress("node_states"),
              let online = layout.enumerators("node_states")?.first(where: { $0.name == "N_ONLINE" })?.value,
              let maskSize = layout.typeSize("nodemask_t"), maskSize > 0, online >= 0, online < 64 else { return nil }
        let words = min(maskSize / 8, (count + 63) / 64)
        guard words > 0, let raw = try? memory.bytes(states &+ UInt64(Int(online) * maskSize), count: words * 8) else {
            return nil
        }
        return { n in
            let word = n / 64
            guard word < words else { return false }
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(raw[word * 8 + b]) << UInt64(b * 8) }
            return v & (1 << UInt64(n % 64)) != 0
        }
    }

    /// Free pages of all zones of all online nodes.
    func freePages() throws -> UInt64 {
        let zoneSize = try memory.size(of: "zone")
        let zonesOffset = try memory.offset("pglist_data", "node_zones")
        let zoneCount: Int
        if let n = layout.length("pglist_data.node_zones") {
            zoneCount = n
        } else if let bytes = layout.memberSize("pglist_data", "node_zones") {
            zoneCount = bytes / zoneSize
        } else {
            throw DumpError.missing(what: "the length of pglist_data.node_zones")
        }
        guard zoneCount > 0, zoneCount <= 64 else { throw DumpError.missing(what: "a sane count of zones (\(zoneCount))") }
        // Per zone: `free_pages` (before Linux 2.6.21) or the zone's vm_stat[NR_FREE_PAGES].
        let freeOffset: UInt64
        let width: Int
        if let old = layout.memberOffset("zone", "free_pages"), let o = UInt64(exactly: old) {
            freeOffset = o
            width = layout.memberSize("zone", "free_pages") ?? 8
        } else {
            let statOffset = try memory.offset("zone", "vm_stat")
            guard let index = layout.enumerators("zone_stat_item")?.first(where: { $0.name == "NR_FREE_PAGES" })?.value,
                  index >= 0 else {
                throw DumpError.missing(what: "enumerator NR_FREE_PAGES")
            }
            guard let size = layout.typeSize("atomic_long_t"), size == 4 || size == 8 else {
                throw DumpError.missing(what: "SIZE(atomic_long_t)")
            }
            freeOffset = statOffset &+ UInt64(index) &* UInt64(size)
            width = size
        }
        var sum: UInt64 = 0
        for pgdat in try onlineNodes() {
            for z in 0..<zoneCount {
                let zone = pgdat &+ zonesOffset &+ UInt64(z * zoneSize)
                sum &+= UInt64(bitPattern: try memory.signed(zone &+ freeOffset, size: width))
            }
        }
        return sum
    }

    // MARK: The struct page census

    func pageCensus(interrupted: () -> Bool) throws -> MemoryStatistics.PageCensus {
        let pageSize = KernelAddressSpace.pageSize
        let roots: UInt64
        if let value = memory.space.vmcoreinfo?.symbol("mem_section") {
            roots = value
        } else if let variable = layout.symbolAddress("mem_section") {
            // No VMCOREINFO: the vmlinux's variable is the roots array itself when its type says
            // an array (before 4.15), else a pointer to them.
            roots = layout.length("mem_section") != nil ? variable : try memory.load(UInt64.self, variable)
        } else {
            throw DumpError.missing(what: "VMCOREINFO SYMBOL(mem_section) (the memory section table)")
        }
        // x86_64 defines SECTION_SIZE_BITS as 27 in every kernel (asm/sparsemem.h); VMCOREINFO says it since 2.6.
        let sectionBits = layout.number("SECTION_SIZE_BITS") ?? 27
        guard sectionBits >= 12, sectionBits < 48 else {
            throw DumpError.missing(what: "NUMBER(SECTION_SIZE_BITS)")
        }
        let sectionSize = try memory.size(of: "mem_section")
        let mapOffset = try memory.offset("mem_section", "section_mem_map")
        let pageStructSize = try memory.size(of: "page")
        let flagsOffset = try memory.offset("page", "flags")
        let countOffset: UInt64
        if let o = layout.memberOffset("page", "_refcount") ?? layout.memberOffset("page", "_count"),
           let u = UInt64(exactly: o) {
            countOffset = u
        } else {
            throw DumpError.missing(what: "page._refcount")
        }
        guard Int(flagsOffset) + 8 <= pageStructSize, Int(countOffset) + 4 <= pageStructSize,
              Int(mapOffset) + 8 <= sectionSize, sectionSize <= Int(pageSize) else {
            throw DumpError.missing(what: "a struct page / mem_section layout that fits its size")
        }
        let reservedBit: Int64
        if let n = layout.number("PG_reserved") {
            reservedBit = n
        } else if let n = layout.enumerators("pageflags")?.first(where: { $0.name == "PG_reserved" })?.value {
            reservedBit = n
        } else {
            throw DumpError.missing(what: "enumerator PG_reserved")
        }
        guard reservedBit >= 0, reservedBit < 64 else { throw DumpError.missing(what: "a sane PG_reserved (\(reservedBit))") }
        let reservedMask: UInt64 = 1 << UInt64(reservedBit)
        let flagsWidth = layout.memberSize("page", "flags") ?? 8

        let pagesPerSection = UInt64(1) << UInt64(sectionBits - 12)
        let sectionsPerRoot = Int(pageSize) / sectionSize
        // NR_SECTION_ROOTS: VMCOREINFO's LENGTH, else the sections MAX_PHYSMEM_BITS allows over those per root.
        let maxPhysBits = layout.number("MAX_PHYSMEM_BITS") ?? (memory.space.fiveLevel ? 52 : 46)
        let derivedRoots = maxPhysBits > sectionBits && maxPhysBits - sectionBits < 40
            ? (1 << Int(maxPhysBits - sectionBits)) / max(1, sectionsPerRoot) : 0
        guard let rootCount = layout.length("mem_section") ?? (derivedRoots > 0 ? derivedRoots : nil),
              rootCount > 0, rootCount <= 1 << 20 else {
            throw DumpError.missing(what: "LENGTH(mem_section)")
        }
        // SECTION_MARKED_PRESENT: the section has memory (crash's valid_section()).
        let markedPresent: UInt64 = 1
        var census = MemoryStatistics.PageCensus()
        // One block of struct pages at a time: big enough to read fast, small enough to stop soon.
        let pagesPerBlock = 4096
        for r in 0..<rootCount {
            guard let root = try? memory.load(UInt64.self, roots &+ UInt64(r * 8)), root != 0 else { continue }
            guard let table = try? memory.bytes(root, count: sectionsPerRoot * sectionSize) else { continue }
            for s in 0..<sectionsPerRoot {
                let at = s * sectionSize + Int(mapOffset)
                var coded: UInt64 = 0
                for b in 0..<8 { coded |= UInt64(table[at + b]) << UInt64(b * 8) }
                guard coded & markedPresent != 0 else { continue }
                let sectionNumber = UInt64(r * sectionsPerRoot + s)
                // section_mem_map holds mem_map minus the section's first pfn times
                // sizeof(struct page), with flag bits below: mem_map is page aligned and a
                // section's first pfn a multiple of 2^(SECTION_SIZE_BITS-12), so the flags sit in
                // bits the pointer never uses.
                let firstPFN = sectionNumber &* pagesPerSection
                let memMap = (coded & ~(pageSize - 1)) &+ firstPFN &* UInt64(pageStructSize)
                var done: UInt64 = 0
                while done < pagesPerSection {
                    if interrupted() { throw InterruptedByUser() }
                    let n = Int(min(UInt64(pagesPerBlock), pagesPerSection - done))
                    let start = memMap &+ done &* UInt64(pageStructSize)
                    let (bytes, readable) = readBlock(at: start, count: n * pageStructSize)
                    for i in 0..<n {
                        let base = i * pageStructSize
                        census.examined += 1
                        guard readable(base, pageStructSize) else { census.unreadable += 1; continue }
                        var flags: UInt64 = 0
                        for b in 0..<min(8, flagsWidth) { flags |= UInt64(bytes[base + Int(flagsOffset) + b]) << UInt64(b * 8) }
                        var raw: UInt32 = 0
                        for b in 0..<4 { raw |= UInt32(bytes[base + Int(countOffset) + b]) << UInt32(b * 8) }
                        if flags & reservedMask != 0 {
                            census.reserved += 1
                        } else if Int32(bitPattern: raw) > 1 {
                            census.shared += 1
                        }
                    }
                    done += UInt64(n)
                }
            }
        }
        return census
    }

    /// `count` bytes at `vaddr`, read whole when possible, else page by page; the closure says
    /// whether bytes `offset ..< offset+length` were read (unreadable pages stay zero).
    private func readBlock(at vaddr: UInt64, count: Int) -> ([UInt8], (Int, Int) -> Bool) {
        if let all = try? memory.bytes(vaddr, count: count) { return (all, { _, _ in true }) }
        let pageSize = Int(KernelAddressSpace.pageSize)
        var out = [UInt8](repeating: 0, count: count)
        var missing: [Range<Int>] = []
        var offset = 0
        while offset < count {
            let addr = vaddr &+ UInt64(offset)
            let n = min(pageSize - Int(addr & UInt64(pageSize - 1)), count - offset)
            if let chunk = try? memory.bytes(addr, count: n) {
                out.replaceSubrange(offset..<offset + n, with: chunk)
            } else {
                missing.append(offset..<offset + n)
            }
            offset += n
        }
        return (out, { start, length in !missing.contains { $0.overlaps(start..<start + length) } })
    }

    // MARK: Buffers, cache, slab

    /// `nr_blockdev_pages()`: the page-cache pages of every block device's inode.
    func blockDevicePages() throws -> UInt64 {
        guard layout.symbolAddress("nr_blockdev_pages") != nil else { return 0 }
        let mappingOffset = try memory.offset("inode", "i_mapping")
        let nrpagesOffset = try memory.offset("address_space", "nrpages")
        func pages(ofInode inode: UInt64) throws -> UInt64 {
            let mapping = try memory.load(UInt64.self, inode &+ mappingOffset)
            return try memory.load(UInt64.self, mapping &+ nrpagesOffset)
        }
        var total: UInt64 = 0
        if let head = layout.symbolAddress("all_bdevs") {
            // Before Linux 5.9: every block_device on all_bdevs, through bd_inode.
            let listOffset = try memory.offset("block_device", "bd_list")
            let inodeOffset = try memory.offset("block_device", "bd_inode")
            for node in try listNodes(head: head) {
                let inode = try memory.load(UInt64.self, node &- listOffset &+ inodeOffset)
                total &+= try pages(ofInode: inode)
            }
        } else {
            let superblock = try memory.load(UInt64.self, try memory.symbol("blockdev_superblock"))
            let head = superblock &+ (try memory.offset("super_block", "s_inodes"))
            let listOffset = try memory.offset("inode", "i_sb_list")
            for node in try listNodes(head: head) {
                total &+= try pages(ofInode: node &- listOffset)
            }
        }
        return total
    }

    /// The `list_head`s on the circular list at `head` (not counting the head): a list that
    /// does not close is an error naming why.
    private func listNodes(head: UInt64) throws -> [UInt64] {
        let walk = KernelLists(memory: memory).listHead(head, limit: Self.listLimit)
        switch walk.stop {
        case .complete: return walk.nodes
        case let .brokenLink(_, fault): throw fault
        default: throw DumpError.missing(what: "the end of the list at \(hex(head)) (\(walk.stop))")
        }
    }

    /// The swap cache: `NR_SWAPCACHE` (Linux 5.12+), else the swapper address spaces' pages.
    func swapCachePages(_ vm: VMStatCounters) throws -> Int64 {
        if let n = try vm.counter("NR_SWAPCACHE") { return n }
        let nrpagesOffset = try memory.offset("address_space", "nrpages")
        if let counts = layout.symbolAddress("nr_swapper_spaces"), let count = layout.length("nr_swapper_spaces"),
           count > 0, count <= 1 << 10 {
            // Linux 4.9+: swapper_spaces[type] points to nr_swapper_spaces[type] address spaces.
            let spaces = try memory.symbol("swapper_spaces")
            let size = try memory.size(of: "address_space")
            var sum: Int64 = 0
            for i in 0..<count {
                let banks = try Int64(bitPattern: try memory.unsigned(counts &+ UInt64(i * 4), size: 4))
                guard banks > 0 else { continue }
                let array = try memory.load(UInt64.self, spaces &+ UInt64(i * 8))
                guard array != 0 else { continue }
                for j in 0..<min(banks, 1 << 20) {
                    sum &+= Int64(bitPattern: try memory.load(UInt64.self, array &+ UInt64(j) &* UInt64(size) &+ nrpagesOffset))
                }
            }
            return sum
        }
        if let spaces = layout.symbolAddress("swapper_spaces"), let count = layout.length("swapper_spaces"),
           count > 0, count <= 1 << 10 {
            let size = try memory.size(of: "address_space")
            var sum: Int64 = 0
            for i in 0..<count {
                sum &+= Int64(bitPattern: try memory.load(UInt64.self, spaces &+ UInt64(i * size) &+ nrpagesOffset))
            }
            return sum
        }
        if let single = layout.symbolAddress("swapper_space") {
            return Int64(bitPattern: try memory.load(UInt64.self, single &+ nrpagesOffset))
        }
        return 0
    }

    func slabPages(_ vm: VMStatCounters) throws -> UInt64 {
        if let n = try vm.counter("NR_SLAB") { return UInt64(bitPattern: n) }
        // Split counters (2.6.19+); in bytes per memory cgroup since 5.9 (the _B names), but
        // the global node counters stay in pages.
        for (reclaimable, unreclaimable) in [("NR_SLAB_RECLAIMABLE", "NR_SLAB_UNRECLAIMABLE"),
                                             ("NR_SLAB_RECLAIMABLE_B", "NR_SLAB_UNRECLAIMABLE_B")] {
            if let r = try vm.counter(reclaimable) {
                return UInt64(bitPattern: r &+ (try vm.counter(unreclaimable) ?? 0))
            }
        }
        throw DumpError.missing(what: "a slab counter (NR_SLAB, NR_SLAB_RECLAIMABLE or NR_SLAB_RECLAIMABLE_B)")
    }

    // MARK: Huge pages, swap, commit

    func hugePages() throws -> MemoryStatistics.HugePages {
        if let hstates = layout.symbolAddress("hstates") {
            let size = try memory.size(of: "hstate")
            let orderOffset = try memory.offset("hstate", "order")
            let totalOffset = try memory.offset("hstate", "nr_huge_pages")
            let freeOffset = try memory.offset("hstate", "free_huge_pages")
            // Without the array's type (BTF describes no global variables), the count of slots in
            // use, `hugetlb_max_hstate`, bounds the walk the way the kernel's for_each_hstate does.
            var inUse: Int?
            if let at = layout.symbolAddress("hugetlb_max_hstate"), let n = try? memory.load(Int32.self, at) { inUse = Int(n) }
            guard let count = layout.length("hstates") ?? inUse, count >= 0, count <= 64 else {
                throw DumpError.missing(what: "the length of hstates[]")
            }
            var total: UInt64 = 0, free: UInt64 = 0
            for i in 0..<count {
                let h = hstates &+ UInt64(i * size)
                let order = try Int64(bitPattern: try memory.unsigned(h &+ orderOffset, size: 4))
                // Unused slots have order 0; no huge page size is one base page.
                guard order > 0 else { continue }
                guard order < 64 else { throw DumpError.missing(what: "a sane hstates[\(i)].order (\(order))") }
                total &+= try memory.load(UInt64.self, h &+ totalOffset) &<< UInt64(order)
                free &+= try memory.load(UInt64.self, h &+ freeOffset) &<< UInt64(order)
            }
            return .init(total: total, free: free)
        }
        if let nr = layout.symbolAddress("nr_huge_pages") {
            // Before hstates (2.6.27) x86_64 had one huge page size: a 2 MiB PMD page.
            let perHuge = UInt64(1 << 21) / KernelAddressSpace.pageSize
            let total = try memory.load(UInt64.self, nr)
            let free = try memory.load(UInt64.self, try memory.symbol("free_huge_pages"))
            return .init(total: total &* perHuge, free: free &* perHuge)
        }
        return .init(total: 0, free: 0)
    }

    func swapTotals() throws -> MemoryStatistics.Swap {
        let table = try memory.symbol("swap_info")
        let files = try Int64(bitPattern: try memory.unsigned(try memory.symbol("nr_swapfiles"), size: 4))
        let limit = Int64(layout.length("swap_info") ?? 64)
        let flagsOffset = try memory.offset("swap_info_struct", "flags")
        let flagsWidth = layout.memberSize("swap_info_struct", "flags") ?? 8
        let pagesOffset = try memory.offset("swap_info_struct", "pages")
        let inuseOffset = layout.memberOffset("swap_info_struct", "inuse_pages").flatMap { UInt64(exactly: $0) }
        let inuseWidth = layout.memberSize("swap_info_struct", "inuse_pages") ?? 4
        // SWP_USED: the kernel's first swap flag bit, "is slot in swap_info[] used?".
        let swpUsed: Int64 = 1
        var total: UInt64 = 0, used: UInt64 = 0
        // swap_info[] holds pointers since Linux 2.6.33 (an array of structs before).
        for i in 0..<min(files, limit) {
            guard let si = try? memory.load(UInt64.self, table &+ UInt64(i) * 8), si != 0 else { continue }
            let flags = try Int64(bitPattern: try memory.unsigned(si &+ flagsOffset, size: flagsWidth))
            guard flags & swpUsed != 0 else { continue }
            total &+= UInt64(bitPattern: try memory.signed(si &+ pagesOffset, size: 4))
            if let inuseOffset {
                used &+= UInt64(bitPattern: try Int64(bitPattern: try memory.unsigned(si &+ inuseOffset, size: inuseWidth)))
            }
        }
        return .init(total: total, used: used)
    }

    /// The RAM and huge-page figures are needed only for a ratio (no overcommit kbytes).
    func commit(totalRAM: MemoryStatistics.Pages, huge: Result<MemoryStatistics.HugePages, KernelReadError>,
                swapTotal: UInt64) throws -> MemoryStatistics.Commit {
        var kbytes: UInt64 = 0
        if let at = layout.symbolAddress("sysctl_overcommit_kbytes") { kbytes = try memory.load(UInt64.self, at) }
        var allowed: UInt64
        if kbytes != 0 {
            allowed = kbytes >> UInt64(KernelAddressSpace.pageSize.trailingZeroBitCount - 10)
        } else {
            let ratio = try memory.signed(try memory.symbol("sysctl_overcommit_ratio"), size: 4)
            allowed = (try totalRAM.get() &- huge.get().total) &* UInt64(bitPattern: ratio) / 100
        }
        var committed: Int64
        if let counter = layout.symbolAddress("vm_committed_as") {
            let offset = try memory.offset("percpu_counter", "count")
            let width = layout.memberSize("percpu_counter", "count") ?? 8
            committed = try memory.signed(counter &+ offset, size: width)
        } else {
            committed = try memory.counter(try memory.symbol("vm_committed_space"), type: "atomic_t")
        }
        committed = max(0, committed)
        allowed &+= swapTotal
        return .init(limit: allowed, committed: committed)
    }
}

import Testing
@testable import DumpModel

/// MemoryStatistics, VmallocAreas and DMIInfo over kernel objects written by hand into a
/// synthetic dump (in the kernel image mapping, so no page tables are needed): every figure from
/// known counters, a looping list, unreadable strings and struct pages.
@Suite struct MemoryStatisticsTests {
    /// Where the objects live: an address in the image mapping of `syntheticKernel()`.
    static let base: UInt64 = 0xffff_ffff_8200_0000

    /// A layout answering every kind of question from dictionaries.
    struct Layout: KernelLayout {
        var symbols: [String: UInt64] = [:]
        var sizes: [String: Int] = [:]
        var offsets: [String: Int] = [:]
        var memberSizes: [String: Int] = [:]
        var numbers: [String: Int64] = [:]
        var enums: [String: [(name: String, value: Int64)]] = [:]
        var lengths: [String: Int] = [:]
        func symbolAddress(_ name: String) -> UInt64? { symbols[name] }
        func typeSize(_ type: String) -> Int? { sizes[type] }
        func memberOffset(_ type: String, _ member: String) -> Int? { offsets["\(type).\(member)"] }
        func memberSize(_ type: String, _ member: String) -> Int? { memberSizes["\(type).\(member)"] }
        func number(_ name: String) -> Int64? { numbers[name] }
        func enumerators(_ enumType: String) -> [(name: String, value: Int64)]? { enums[enumType] }
        func length(_ name: String) -> Int? { lengths[name] }
    }

    /// Writes kernel virtual addresses of the image mapping (physical = virtual - 0xffffffff80000000 + phys_base).
    struct Writer {
        let dump: SyntheticDump
        func physical(_ v: UInt64) -> UInt64 { v - 0xffff_ffff_8000_0000 + 0x0100_0000 }
        func word(_ v: UInt64, _ value: UInt64) { dump.write64(physical(v), value) }
        func word(_ v: UInt64, _ value: Int64) { dump.write64(physical(v), UInt64(bitPattern: value)) }
        func int32(_ v: UInt64, _ value: Int32) {
            let u = UInt32(bitPattern: value)
            dump.write(physical(v), (0..<4).map { UInt8((u >> (8 * UInt32($0))) & 0xff) })
        }
        func string(_ v: UInt64, _ s: String) { dump.write(physical(v), Array(s.utf8) + [0]) }
    }

    /// A kernel with every counter kmem -i reads, at known values.
    static func kernel(census: Bool) -> (SyntheticDump, Layout) {
        let k = base
        let (dump, _) = syntheticKernel(extraInfo: census ? "SYMBOL(mem_section)=\(String(k + 0x9000, radix: 16))" : "")
        let w = Writer(dump: dump)
        var l = Layout()
        l.sizes = ["atomic_long_t": 8, "zone": 0x100, "hstate": 0x80, "address_space": 0x100,
                   "mem_section": 16, "page": 64]
        l.offsets = ["atomic_long_t.counter": 0, "pglist_data.node_zones": 0x40, "zone.vm_stat": 0x20,
                     "super_block.s_inodes": 0x50, "inode.i_sb_list": 0x30, "inode.i_mapping": 0x10,
                     "address_space.nrpages": 0x58, "hstate.order": 0, "hstate.nr_huge_pages": 0x10,
                     "hstate.free_huge_pages": 0x18, "swap_info_struct.flags": 0, "swap_info_struct.pages": 0x20,
                     "swap_info_struct.inuse_pages": 0x24, "percpu_counter.count": 8,
                     "mem_section.section_mem_map": 0, "page.flags": 0, "page._refcount": 52]
        l.memberSizes = ["pglist_data.node_zones": 0x300, "swap_info_struct.flags": 8,
                         "swap_info_struct.inuse_pages": 4, "percpu_counter.count": 8, "page.flags": 8]
        l.enums = ["zone_stat_item": [("NR_FREE_PAGES", 0), ("NR_ZONE_LRU_BASE", 1), ("NR_VM_ZONE_STAT_ITEMS", 2)],
                   "node_stat_item": [("NR_SLAB_RECLAIMABLE_B", 0), ("NR_SLAB_UNRECLAIMABLE_B", 1),
                                      ("NR_FILE_PAGES", 2), ("NR_SWAPCACHE", 3), ("NR_VM_NODE_STAT_ITEMS", 4)],
                   "pageflags": [("PG_locked", 0), ("PG_reserved", 10), ("__NR_PAGEFLAGS", 11)]]
        l.lengths = ["hstates": 2, "swap_info": 4, "mem_section": 1]
        l.numbers = ["SECTION_SIZE_BITS": 18]
        l.symbols = ["_totalram_pages": k, "vm_zone_stat": k + 0x100, "vm_node_stat": k + 0x200,
                     "contig_page_data": k + 0x1000, "nr_blockdev_pages": k + 0x300,
                     "blockdev_superblock": k + 0x308, "hstates": k + 0x4000, "swap_info": k + 0x5000,
                     "nr_swapfiles": k + 0x5100, "sysctl_overcommit_memory": k + 0x6000,
                     "sysctl_overcommit_kbytes": k + 0x6008, "sysctl_overcommit_ratio": k + 0x6010,
                     "vm_committed_as": k + 0x6100]
        w.word(k, UInt64(100_000))
        // vm_node_stat: slab 30 + 20, file pages 400, swap cache 10.
        for (i, v) in [30, 20, 400, 10].enumerated() { w.word(k + 0x200 + UInt64(i * 8), UInt64(v)) }
        // Three zones with 5, 100 and 0 free pages.
        for (z, free) in [5, 100, 0].enumerated() { w.word(k + 0x1000 + 0x40 + UInt64(z * 0x100) + 0x20, UInt64(free)) }
        // Two block-device inodes with 7 and 5 cached pages.
        let sb = k + 0x2000, head = sb + 0x50, a = k + 0x3000, b = k + 0x3400
        w.word(k + 0x308, sb)
        w.word(head, a + 0x30); w.word(a + 0x30, b + 0x30); w.word(b + 0x30, head)
        w.word(a + 0x10, k + 0x3800); w.word(k + 0x3800 + 0x58, UInt64(7))
        w.word(b + 0x10, k + 0x3900); w.word(k + 0x3900 + 0x58, UInt64(5))
        // hstates[0]: order 9, 3 huge pages, 1 free; hstates[1] unused.
        w.int32(k + 0x4000, 9); w.word(k + 0x4010, UInt64(3)); w.word(k + 0x4018, UInt64(1))
        // One used swap device of 2048 pages, 100 in use; swap_info[1] empty.
        w.int32(k + 0x5100, 2)
        w.word(k + 0x5000, k + 0x5200)
        w.word(k + 0x5200, UInt64(3)); w.int32(k + 0x5220, 2048); w.int32(k + 0x5224, 100)
        w.int32(k + 0x6010, 50)
        // A per-CPU counter whose global part went below zero.
        w.word(k + 0x6108, Int64(-5))
        if census {
            // mem_section roots -> one root table; section 0's struct pages are in the dump,
            // section 1's are not, section 2 is not present.
            w.word(k + 0x9000, k + 0xa000)
            w.word(k + 0xa000, (k + 0xb000) | 1)
            w.word(k + 0xa010, (k + 0x20_0000 - 64 * 64) | 1)
            let pages = k + 0xb000
            for i in 0..<64 { w.int32(pages + UInt64(i * 64) + 52, 1) }
            w.word(pages, UInt64(1 << 10)); w.word(pages + 64, UInt64(1 << 10))
            w.int32(pages + 64 + 52, 5)
            w.int32(pages + 2 * 64 + 52, 2); w.int32(pages + 3 * 64 + 52, 3); w.int32(pages + 4 * 64 + 52, 5)
        }
        return (dump, l)
    }

    @Test func everyFigureFromTheCounters() throws {
        let (dump, layout) = Self.kernel(census: true)
        let stats = try MemoryStatistics.read(from: space(dump, layout: layout))
        #expect(try stats.totalRAM.get() == 100_000)
        #expect(try stats.free.get() == 105)
        #expect(try stats.used.get() == 99_895)
        #expect(try stats.census.get() == MemoryStatistics.PageCensus(shared: 3, reserved: 2, examined: 128, unreadable: 64))
        #expect(try stats.buffers.get() == 12)
        #expect(try stats.cached.get() == 400 - 10 - 12)
        #expect(try stats.slab.get() == 50)
        #expect(try stats.hugePages.get() == .init(total: 3 << 9, free: 1 << 9))
        #expect(try stats.swap?.get() == .init(total: 2048, used: 100))
        #expect(try stats.commit?.get() == .init(limit: (100_000 - 1536) * 50 / 100 + 2048, committed: 0))
    }

    @Test func withoutTheSectionTableOnlyTheCensusFails() throws {
        let (dump, layout) = Self.kernel(census: false)
        let stats = try MemoryStatistics.read(from: space(dump, layout: layout))
        #expect(throws: KernelReadError.self) { try stats.census.get() }
        #expect(try stats.free.get() == 105)
        #expect(try stats.cached.get() == 378)
    }

    @Test func unreadableCountersFailTheirFiguresOnly() throws {
        let (dump, original) = Self.kernel(census: false)
        var layout = original
        // vm_node_stat points at memory the dump does not hold; the block-device list loops.
        layout.symbols["vm_node_stat"] = 0xffff_ffff_8f00_0000
        let w = Writer(dump: dump)
        w.word(Self.base + 0x3400 + 0x30, Self.base + 0x3000 + 0x30)
        let stats = try MemoryStatistics.read(from: space(dump, layout: layout))
        #expect(throws: KernelReadError.self) { try stats.slab.get() }
        #expect(throws: KernelReadError.self) { try stats.cached.get() }
        #expect(throws: KernelReadError.self) { try stats.buffers.get() }
        #expect(try stats.totalRAM.get() == 100_000)
        #expect(try stats.swap?.get().total == 2048)
        // No swap_info: no swap figures at all, and the commit limit is RAM alone.
        layout.symbols["swap_info"] = nil
        let noSwap = try MemoryStatistics.read(from: space(dump, layout: layout))
        #expect(noSwap.swap == nil)
        #expect(try noSwap.commit?.get().limit == (100_000 - 1536) * 50 / 100)
    }

    @Test func aLoopingVmapAreaListIsAnError() throws {
        let (dump, _) = syntheticKernel()
        let w = Writer(dump: dump)
        let head = Self.base + 0x7000, a = Self.base + 0x7100, b = Self.base + 0x7200
        var layout = Layout()
        layout.symbols = ["vmap_area_list": head]
        layout.offsets = ["vmap_area.list": 0x28, "vmap_area.va_start": 0, "vmap_area.va_end": 8, "vmap_area.vm": 0x10]
        w.word(head, a + 0x28); w.word(a + 0x28, b + 0x28); w.word(b + 0x28, a + 0x28)
        let s = try space(dump, layout: layout)
        #expect(throws: DumpError.self) { try VmallocAreas.read(from: s) }
        // Closed through the head, the list reads; b has no vm_struct and is left out.
        w.word(b + 0x28, head)
        w.word(a, UInt64(0xffff_c900_0000_0000)); w.word(a + 8, UInt64(0xffff_c900_0000_3000)); w.word(a + 0x10, Self.base + 0x7800)
        // A fresh address space: the first one cached the pages it read.
        let areas = try VmallocAreas.read(from: space(dump, layout: layout))
        #expect(areas == [.init(vmapArea: a, vmStruct: Self.base + 0x7800, start: 0xffff_c900_0000_0000, end: 0xffff_c900_0000_3000)])
        #expect(areas.first?.size == 0x3000)
        #expect(throws: InterruptedByUser.self) { try VmallocAreas.read(from: s, interrupted: { true }) }
    }

    @Test func dmiFieldsByEnumerator() throws {
        let (dump, _) = syntheticKernel()
        let w = Writer(dump: dump)
        let table = Self.base + 0x8000
        var layout = Layout()
        layout.symbols = ["dmi_ident": table]
        layout.enums = ["dmi_field": [("DMI_NONE", 0), ("DMI_BIOS_VENDOR", 1), ("DMI_EC_FIRMWARE_RELEASE", 2),
                                      ("DMI_SYS_VENDOR", 3), ("DMI_STRING_MAX", 4), ("DMI_OEM_STRING", 5)]]
        w.word(table + 8, table + 0x100); w.string(table + 0x100, "SeaBIOS")
        w.word(table + 24, UInt64(0xffff_ffff_8f00_0000))
        let info = try DMIInfo.read(from: space(dump, layout: layout))
        #expect(info.enumeratorNames == ["DMI_NONE", "DMI_BIOS_VENDOR", "DMI_EC_FIRMWARE_RELEASE", "DMI_SYS_VENDOR"])
        #expect(info.fields.map(\.name) == ["DMI_BIOS_VENDOR", "DMI_SYS_VENDOR"])
        #expect(try info.fields[0].value.get() == "SeaBIOS")
        #expect(throws: MemoryFault.self) { try info.fields[1].value.get() }
        // Without the enum, slots are numbered (the length from DMI_STRING_MAX is then unknown).
        layout.enums = [:]
        layout.lengths = ["dmi_ident": 4]
        let numbered = try DMIInfo.read(from: space(dump, layout: layout))
        #expect(numbered.fields.map(\.index) == [1, 3])
        #expect(numbered.fields.allSatisfy { $0.name == nil })
    }
}

import Testing
@testable import DumpModel

/// Inputs found in review that made DumpModel trap, hang or allocate without bound: each test
/// holds the smallest hand-made input that did it.
@Suite struct ReviewRegressionTests {
    // MARK: VMCOREINFO numbers a kernel never writes negative

    /// SIZE(), OFFSET() and LENGTH() are sizeof/offsetof/ARRAY_SIZE in the kernel: a negative one is
    /// corrupt and must read as unknown, not reach `UInt64(_:)` or a `0..<n` range in a consumer.
    @Test func negativeVMCoreInfoSizesAreUnknown() {
        let info = VMCoreInfo(raw: "SIZE(page)=-64\nOFFSET(page.flags)=-8\nLENGTH(mem_section)=-1\nNUMBER(phys_base)=-5\n")
        #expect(info.size("page") == nil)
        #expect(info.offset("page.flags") == nil)
        #expect(info.length("mem_section") == nil)
        // NUMBER() is signed on purpose (phys_base can be negative).
        #expect(info.number("phys_base") == -5)
    }

    /// LENGTH(mem_section)=-1 made the vmemmap_base derivation build the range 0..<-1 (a trap) while
    /// the address space opened.
    @Test func negativeMemSectionLengthOpensTheAddressSpace() throws {
        let (dump, _) = syntheticKernel(extraInfo: """
            SYMBOL(mem_section)=ffff888003000000
            LENGTH(mem_section)=-1
            SIZE(mem_section)=16
            OFFSET(mem_section.section_mem_map)=0
            """)
        let s = try space(dump)
        #expect(s.vmemmapBase == nil)
    }

    /// OFFSET(mem_section.section_mem_map) near Int.max overflowed `mapOffset + 8`.
    @Test func hugeSectionMemMapOffsetOpensTheAddressSpace() throws {
        let (dump, _) = syntheticKernel(extraInfo: """
            SYMBOL(mem_section)=ffff888003000000
            LENGTH(mem_section)=4
            SIZE(mem_section)=16
            OFFSET(mem_section.section_mem_map)=9223372036854775807
            """)
        let s = try space(dump)
        #expect(s.vmemmapBase == nil)
    }

    /// A layout (any `KernelLayout`) answering a negative member offset made `UInt64(offset)` trap in
    /// the struct page reader.
    @Test func negativePageOffsetsAreRefused() throws {
        let (dump, _) = syntheticKernel()
        // vmemmap_base is read from the kernel variable at 0xffffffff82000000 (physical 0x3000000).
        dump.write64(0x0300_0000, 0xffff_ea00_0000_0000)
        let layout = DictionaryLayout(symbols: ["vmemmap_base": 0xffff_ffff_8200_0000], sizes: ["page": 64],
                                      offsets: ["page.flags": -8, "page._refcount": 52])
        let s = try space(dump, layout: layout)
        #expect(s.vmemmapBase == 0xffff_ea00_0000_0000)
        #expect(throws: DumpError.self) { try KernelMemory(space: s).pageDescriptor(pfn: 1) }
    }

    /// The same for the task list offsets.
    @Test func negativeTaskOffsetsAreRefused() throws {
        let (dump, _) = syntheticKernel()
        var layout = TaskIndexTests.layout()
        layout.offsets["task_struct.tasks"] = -16
        #expect(throws: DumpError.self) { try TaskIndex(memory: KernelMemory(space: space(dump, layout: layout)), perCPU: nil) }
    }

    // MARK: sizes that only a flattened file's records claim

    /// A flattened file's logical size is the end of its furthest record. One tiny record at 8 TiB
    /// made a kdump header with 2^31 bitmap blocks pass the "bitmaps inside the file" check, and the
    /// first page read then sized its rank index by max_mapnr_64 (hundreds of GiB).
    @Test func flattenedBitmapsLargerThanTheFileAreRefused() throws {
        var k = TestWriter.Kdump()
        k.pages = [1: .raw]
        var logical = k.build().bytes
        let bmBlocks: UInt32 = 0x8000_0000
        TestWriter.put(bmBlocks, at: 436, in: &logical)
        // max_mapnr_64 in the version-6 sub-header: as many pfns as those bitmaps describe.
        let bmLen = UInt64(bmBlocks) * 4096
        TestWriter.put(bmLen / 2 * 8, at: 4096 + 96, in: &logical)
        var flat = TestWriter.flatten(logical, chunk: 4096)
        flat.removeLast(16)   // end marker
        // One byte just past where those bitmaps would end, so the logical file "holds" them.
        let far = 3 * 4096 + bmLen
        flat += TestWriter.be(Int64(far)) + TestWriter.be(Int64(1)) + [0]
        flat += TestWriter.be(Int64(-1)) + TestWriter.be(Int64(-1))
        do {
            let d = try DumpOpener.open(reader: ByteBuffer(flat, name: "huge-bitmap.flat"))
            Issue.record("opened a flattened kdump whose bitmaps are 2^43 bytes in a \(flat.count)-byte file")
            _ = d.pageState(pfn: 1)
        } catch let e as DumpError {
            guard case .badHeader = e else { Issue.record("unexpected \(e)"); return }
        }
    }

    // MARK: note blocks

    /// Every PT_NOTE header may point at the same note block; each copy was parsed and kept, so a
    /// few thousand program headers turned one block into gigabytes of notes. The note bytes of all
    /// PT_NOTE segments together are bounded like one block.
    @Test func repeatedNoteSegmentsAreBounded() throws {
        let desc = [UInt8](repeating: 0x5a, count: 1 << 20)
        let note = TestWriter.note(name: "LINUX", type: 0x700, desc: desc)
        var core = TestWriter.elfCore(notes: note, loads: [])
        // Repeat the PT_NOTE header 100 times (100 MiB of notes from a 1 MiB block).
        let phoff = 64, count = 100
        let phdr = Array(core[phoff ..< phoff + 56])
        var out = Array(core[0 ..< 64])
        TestWriter.put(UInt16(count), at: 56, in: &out)
        let dataStart = 64 + 56 * count
        var h = phdr
        TestWriter.put(UInt64(dataStart), at: 8, in: &h)
        for _ in 0..<count { out += h }
        out += note
        core = out
        #expect(throws: DumpError.self) { try ElfCoreFile(reader: ByteBuffer(core, name: "notes.elf")) }
    }
}

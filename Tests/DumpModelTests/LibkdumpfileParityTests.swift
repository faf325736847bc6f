import Foundation
import Testing
@testable import DumpModel

/// What running libkdumpfile's own test dumps through crashsh (scripts/libkdumpfile-check.sh)
/// found, each case rebuilt here from hand-made bytes so no download is needed.
@Suite struct LibkdumpfileParityTests {
    /// libkdumpfile's diskdump-empty-x86_64: a version 6 file with no pages, no bitmap blocks and
    /// sub_hdr_size 0, whose sub-header is in block 1 all the same. libkdumpfile opens it and
    /// takes phys_base and max_mapnr_64 from there; crashsh refused it ("sub_hdr_size too small").
    @Test func emptyKdumpWithItsSubHeaderOutsideSubHeaderBlocksOpens() throws {
        var k = TestWriter.Kdump()
        k.maxMapnr = 0
        k.noBitmapBlocks = true
        k.subHeaderBlocks = 0
        let d = try DumpOpener.open(reader: ByteBuffer(k.build().bytes, name: "empty.kdump"))
        let kdump = try #require(d as? KdumpCompressedFile)
        #expect(kdump.header.subHeaderBlocks == 0)
        #expect(kdump.maxMapnr == 0)
        #expect(kdump.headerPhysBase == 0x1000000)
        #expect(kdump.subHeader.dumpLevel == 31)
        #expect(Array(d.presentPages()).isEmpty)
        #expect(d.pageState(pfn: 0) == .notInDump)
        #expect(d.vmcoreinfo?.raw.hasPrefix("OSRELEASE=6.1.0-test") == true)
        #expect(d.prstatus.map(\.pid) == [1, 42])
        #expect(d.summary().pagesPresent == 0)
    }

    /// With bitmaps, block 1 is the 1st bitmap's: a sub_hdr_size too small for the header
    /// version is still refused (the sub-header would be read out of bitmap bits).
    @Test func kdumpWithBitmapsAndNoSubHeaderBlocksIsRefused() throws {
        var k = TestWriter.Kdump()
        k.maxMapnr = 64
        k.pages = [1: .raw]
        k.subHeaderBlocks = 0
        #expect(throws: DumpError.badHeader(path: "nosub.kdump", field: "sub_hdr_size", value: "0",
                                            reason: "too small for a version 6 kdump_sub_header")) {
            _ = try DumpOpener.open(reader: ByteBuffer(k.build().bytes, name: "nosub.kdump"))
        }
    }

    /// libkdumpfile's elf-prstatus-x86_64: a PRSTATUS note of 328 bytes, ending with the last
    /// register (no pr_fpvalid). libkdumpfile reads its registers; crashsh wanted all 336 bytes
    /// and showed no CPU. A note too short for the registers still gives none.
    @Test func prstatusEndingAtTheRegistersIsRead() throws {
        let full = TestWriter.prstatus(pid: 7, seed: 3)
        let short = Array(full[0 ..< 328])
        let notes = TestWriter.note(name: "CORE", type: 1, desc: short)
            + TestWriter.note(name: "CORE", type: 1, desc: Array(full[0 ..< 320]))
        let elf = TestWriter.elfCore(notes: notes, loads: [.init(paddr: 0x1000, data: TestWriter.stampedPage(pfn: 1), memsz: 0x1000)])
        let d = try DumpOpener.open(reader: ByteBuffer(elf, name: "prstatus.elf"))
        #expect(d.prstatus.count == 1)
        let p = try #require(d.prstatus.first)
        let reference = try #require(ElfNotes.parsePRStatus(full, index: 0))
        #expect(p.pid == 7)
        #expect(p.registers == reference.registers)
        #expect(p.registers.rip == 3 &* 0x1_0000 &+ 16)
        #expect(p.fpvalid == 0)
        #expect(reference.fpvalid == 1)
    }

    /// libkdumpfile's diskdump-excluded reads an excluded page with zero_excluded set and gets
    /// zeros (crash: --zero_excluded). Pages the dump says nothing of still fail, and without the
    /// setting the excluded page fails as before.
    @Test func zeroExcludedReadsExcludedPagesAsZeros() throws {
        var k = TestWriter.Kdump()
        k.maxMapnr = 64
        k.pages = [1: .zlib, 3: .raw]
        k.excluded = [2]
        let d = try DumpOpener.open(reader: ByteBuffer(k.build().bytes, name: "excluded.kdump"))
        let strict = PhysicalMemory(dump: d)
        #expect(throws: DumpError.excludedPage(paddr: 0x2000)) { _ = try strict.bytes(physical: 0x2000, count: 16) }

        let zeroing = PhysicalMemory(dump: d)
        zeroing.zeroExcluded = true
        #expect(try zeroing.bytes(physical: 0x2000, count: 4096) == [UInt8](repeating: 0, count: 4096))
        // A read across pages: the end of pfn 1, all of excluded pfn 2, the start of pfn 3.
        let across = try zeroing.bytes(physical: 0x1ff8, count: 4096 + 16)
        #expect(Array(across[0 ..< 8]) == Array(TestWriter.stampedPage(pfn: 1)[4088 ..< 4096]))
        #expect(Array(across[8 ..< 4104]) == [UInt8](repeating: 0, count: 4096))
        #expect(Array(across[4104...]) == Array(TestWriter.stampedPage(pfn: 3)[0 ..< 8]))
        #expect(throws: DumpError.notInDump(paddr: 0x4000)) { _ = try zeroing.bytes(physical: 0x4000, count: 1) }

        // An ELF segment's tail past p_filesz is excluded, so it reads as zeros too (libkdumpfile
        // -z reads a segment's whole p_memsz); outside every segment is still not in the dump.
        let elf = try DumpOpener.open(reader: ByteBuffer(FormatUnitTests.elfSample(), name: "tail.elf"))
        let elfZeroing = PhysicalMemory(dump: elf)
        elfZeroing.zeroExcluded = true
        #expect(try elfZeroing.bytes(physical: 0x3000, count: 4096) == [UInt8](repeating: 0, count: 4096))
        #expect(throws: DumpError.notInDump(paddr: 0x5000)) { _ = try elfZeroing.bytes(physical: 0x5000, count: 1) }
    }
}

import Foundation
import Testing
@testable import DumpModel

/// Parser edge cases on small hand-made files (TestWriter), no fixtures needed.
@Suite struct FormatUnitTests {
    static func page(_ d: any DumpFile, _ pfn: UInt64) throws -> [UInt8] {
        var b = [UInt8](repeating: 0x5a, count: d.pageSize)
        try b.withUnsafeMutableBytes { try d.readPage(pfn: pfn, into: $0) }
        return b
    }

    static func elfSample() -> [UInt8] {
        let notes = TestWriter.note(name: "CORE", type: 1, desc: TestWriter.prstatus(pid: 7, seed: 3))
            + TestWriter.note(name: "VMCOREINFO", type: 0, desc: Array("OSRELEASE=x\nPAGESIZE=4096\n".utf8))
            + TestWriter.note(name: "QEMU", type: 0, desc: [UInt8](repeating: 1, count: 440))
        return TestWriter.elfCore(notes: notes, loads: [
            // pfn 1-2 with data, pfn 3-4 in the tail [p_filesz, p_memsz): excluded.
            .init(paddr: 0x1000, data: TestWriter.stampedPage(pfn: 1) + TestWriter.stampedPage(pfn: 2), memsz: 0x4000),
            // pfn 16, and the first half of pfn 17.
            .init(paddr: 0x10000, data: TestWriter.stampedPage(pfn: 16) + Array(TestWriter.stampedPage(pfn: 17)[0..<2048]), memsz: 0x1800),
        ])
    }

    @Test func elfCorePagesNotesAndExcludedTail() throws {
        let d = try DumpOpener.open(reader: ByteBuffer(Self.elfSample(), name: "mem.elf"))
        let elf = try #require(d as? ElfCoreFile)
        #expect(d.format == .elfCore)
        #expect(try Self.page(d, 1) == TestWriter.stampedPage(pfn: 1))
        #expect(try Self.page(d, 2) == TestWriter.stampedPage(pfn: 2))
        // [p_filesz, p_memsz) is what makedumpfile -E filtered out, not zeros (this test expected
        // zeros before; see ElfCoreFile's doc for why that was wrong).
        #expect(throws: DumpError.excludedPage(paddr: 0x3000)) { try Self.page(d, 3) }
        #expect(throws: DumpError.excludedPage(paddr: 0x4000)) { try Self.page(d, 4) }
        #expect(try Self.page(d, 16) == TestWriter.stampedPage(pfn: 16))
        #expect(try Self.page(d, 17) == Array(TestWriter.stampedPage(pfn: 17)[0..<2048]) + [UInt8](repeating: 0, count: 2048))
        #expect(throws: DumpError.notInDump(paddr: 0)) { try Self.page(d, 0) }
        #expect(throws: DumpError.notInDump(paddr: 0x5000)) { try Self.page(d, 5) }
        #expect(throws: DumpError.notInDump(paddr: 0x12000)) { try Self.page(d, 18) }
        #expect(Array(d.presentPages()) == [1, 2, 16, 17])
        #expect(d.pageState(pfn: 2) == .present && d.pageState(pfn: 4) == .excluded && d.pageState(pfn: 5) == .notInDump)
        #expect(d.prstatus.count == 1)
        #expect(d.prstatus[0].pid == 7 && d.prstatus[0].signo == 11 && d.prstatus[0].cursig == 6 && d.prstatus[0].fpvalid == 1)
        #expect(d.prstatus[0].registers.r15 == 0x30000 && d.prstatus[0].registers.rip == 0x30000 + 16)
        #expect(d.prstatus[0].times[0].sec == 5 && d.prstatus[0].times[0].usec == 250)
        #expect(d.vmcoreinfoText == "OSRELEASE=x\nPAGESIZE=4096\n")
        #expect(d.notes.map(\.name) == ["CORE", "VMCOREINFO", "QEMU"])
        #expect(elf.qemuCPUStates.count == 1)
        #expect(d.summary().pagesPresent == 4)
        #expect(d.summary().pagesExcluded == 2)
    }

    /// Pages that segments share, partly cover or cover only with a tail. A page that holds file
    /// bytes and then the start of a tail (p_filesz < p_memsz inside one page) reads its file
    /// bytes, the tail part as zeros (as crash and libkdumpfile's elf-partial case do); a page
    /// wholly in a tail is excluded.
    @Test func elfTailPagesAreExcluded() throws {
        let half = Array(TestWriter.stampedPage(pfn: 2)[0..<2048])
        let bytes = TestWriter.elfCore(notes: [], loads: [
            // pfn 1 data, pfn 2 half data and half tail, pfn 3 tail.
            .init(paddr: 0x1000, data: TestWriter.stampedPage(pfn: 1) + half, memsz: 0x3000),
            // No file data at all (as makedumpfile -E writes a range that starts with >= 256 excluded pages).
            .init(paddr: 0x8000, data: [], memsz: 0x2000),
            // pfn 9 again, with data: it beats the tail above.
            .init(paddr: 0x9000, data: TestWriter.stampedPage(pfn: 9), memsz: 0x1000),
            // Half of pfn 16, the rest of the page outside every segment.
            .init(paddr: 0x10000, data: Array(TestWriter.stampedPage(pfn: 16)[0..<2048]), memsz: 0x800),
            // Half of pfn 32 in a tail, the other half outside every segment.
            .init(paddr: 0x20800, data: [], memsz: 0x800),
        ])
        let d = try ElfCoreFile(reader: ByteBuffer(bytes, name: "tails.elf"))
        #expect(Array(d.presentPages()) == [1, 2, 9, 16])
        #expect(d.pageState(pfn: 2) == .present)
        #expect(try Self.page(d, 2) == half + [UInt8](repeating: 0, count: 2048))
        for pfn: UInt64 in [3, 8, 32] {
            #expect(d.pageState(pfn: pfn) == .excluded, "pfn \(pfn)")
            #expect(throws: DumpError.excludedPage(paddr: pfn * 0x1000)) { try Self.page(d, pfn) }
        }
        for pfn: UInt64 in [0, 4, 7, 10, 17, 31, 33] {
            #expect(d.pageState(pfn: pfn) == .notInDump, "pfn \(pfn)")
            #expect(throws: DumpError.notInDump(paddr: pfn * 0x1000)) { try Self.page(d, pfn) }
        }
        #expect(try Self.page(d, 1) == TestWriter.stampedPage(pfn: 1))
        #expect(try Self.page(d, 9) == TestWriter.stampedPage(pfn: 9))
        #expect(try Self.page(d, 16) == Array(TestWriter.stampedPage(pfn: 16)[0..<2048]) + [UInt8](repeating: 0, count: 2048))
        let s = d.summary()
        #expect(s.pagesPresent == 4)
        #expect(s.pagesExcluded == 3)
        // Through the page cache, an excluded page is an error, never bytes.
        let memory = PhysicalMemory(dump: d, cachePages: 2)
        #expect(throws: DumpError.excludedPage(paddr: 0x3000)) { _ = try memory.bytes(physical: 0x2ff0, count: 32) }
        #expect(try memory.bytes(physical: 0x2000, count: 16) == Array(half[0..<16]))
        #expect(try memory.bytes(physical: 0x1000, count: 16) == Array(TestWriter.stampedPage(pfn: 1)[0..<16]))
    }

    @Test func elfOverlappingSegmentsPreferFileData() throws {
        // The same range twice (as makedumpfile -E writes kernel text), and a tail (excluded
        // pages) overlapped by a later segment with data.
        let a = TestWriter.stampedPage(pfn: 1), b = TestWriter.stampedPage(pfn: 2)
        let bytes = TestWriter.elfCore(notes: [], loads: [
            .init(paddr: 0x1000, data: a, memsz: 0x3000),
            .init(paddr: 0x1000, data: [UInt8](repeating: 0xcc, count: 4096), memsz: 0x1000),
            .init(paddr: 0x2000, data: b, memsz: 0x1000),
        ])
        let d = try ElfCoreFile(reader: ByteBuffer(bytes, name: "overlap.elf"))
        #expect(try Self.page(d, 1) == a)          // the earlier segment wins
        #expect(try Self.page(d, 2) == b)          // data beats the first segment's tail
        #expect(throws: DumpError.excludedPage(paddr: 0x3000)) { try Self.page(d, 3) }
        #expect(Array(d.presentPages()) == [1, 2])
    }

    @Test func elfBadInputs() throws {
        let good = Self.elfSample()
        var exec = good; exec[16] = 2
        #expect(throws: DumpError.unknownFormat(path: "x", detail: "ELF file of type 2, not a core file (ET_CORE)")) {
            // ET_EXEC with a section header count but no readable .init.text section is no
            // kernel image (a program): not a core either, so an unknown format.
            var withSections = exec; withSections[60] = 1
            _ = try DumpOpener.open(reader: ByteBuffer(withSections, name: "x"))
        }
        #expect(throws: DumpError.self) { _ = try DumpOpener.open(reader: ByteBuffer(exec, name: "x")) }
        var elf32 = good; elf32[4] = 1
        #expect(throws: DumpError.unsupported(path: "x", what: "32-bit ELF core for x86_64 (e_machine 62, EM_X86_64); crashsh reads x86_64 dumps")) {
            _ = try DumpOpener.open(reader: ByteBuffer(elf32, name: "x"))
        }
        var bigEndian = good; bigEndian[5] = 2
        #expect(throws: DumpError.unsupported(path: "x", what: "big-endian ELF core for e_machine 15872; crashsh reads x86_64 dumps")) {
            _ = try DumpOpener.open(reader: ByteBuffer(bigEndian, name: "x"))
        }
        var phent = good; phent[54] = 32
        #expect(throws: DumpError.badHeader(path: "x", field: "e_phentsize", value: "32", reason: "an ELF64 program header is 56 bytes")) {
            _ = try DumpOpener.open(reader: ByteBuffer(phent, name: "x"))
        }
        // Cut inside the program header table.
        #expect(throws: DumpError.truncated(path: "x", what: "program header table (3 entries)", offset: 64, length: 168, fileSize: 100)) {
            _ = try DumpOpener.open(reader: ByteBuffer(Array(good[0..<100]), name: "x"))
        }
        // Cut inside the page data: opens, the cut page is a truncation error, earlier pages read.
        let cut = try DumpOpener.open(reader: ByteBuffer(Array(good[0 ..< good.count - 4096]), name: "x"))
        #expect(try Self.page(cut, 1) == TestWriter.stampedPage(pfn: 1))
        #expect(throws: DumpError.self) { try Self.page(cut, 16) }
        // A huge e_phnum cannot make us allocate: it is checked against the file size first.
        var many = good; many[56] = 0xfe; many[57] = 0xff
        #expect(throws: DumpError.self) { _ = try DumpOpener.open(reader: ByteBuffer(many, name: "x")) }
    }

    /// e_phnum == PN_XNUM (0xffff): the real count is in section header 0's sh_info.
    @Test func elfExtendedProgramHeaderCount() throws {
        var bytes = Self.elfSample()
        let shoff = bytes.count
        bytes += [UInt8](repeating: 0, count: 64)
        TestWriter.put(UInt32(3), at: shoff + 44, in: &bytes)
        TestWriter.put(UInt64(shoff), at: 40, in: &bytes)
        TestWriter.put(UInt16(0xffff), at: 56, in: &bytes)
        let d = try ElfCoreFile(reader: ByteBuffer(bytes, name: "xnum.elf"))
        #expect(d.programHeaders.count == 3)
        #expect(try Self.page(d, 16) == TestWriter.stampedPage(pfn: 16))
        // A count in sh_info that the file cannot hold is a truncation, not an allocation.
        TestWriter.put(UInt32(0xffff_fff0), at: shoff + 44, in: &bytes)
        #expect(throws: DumpError.self) { _ = try ElfCoreFile(reader: ByteBuffer(bytes, name: "xnum.elf")) }
    }

    @Test func noteWalkStopsAtTruncatedNote() throws {
        var notes = TestWriter.note(name: "CORE", type: 1, desc: TestWriter.prstatus(pid: 1, seed: 1))
        notes += TestWriter.le(UInt32(5)) + TestWriter.le(UInt32(0xffff_fff0)) + TestWriter.le(UInt32(1)) + Array("CORE\0\0\0\0".utf8)
        var parsed: [DumpNote] = []
        try ElfNotes.parse(ByteBuffer(notes), offset: 0, size: UInt64(notes.count), into: &parsed)
        #expect(parsed.count == 1)
        #expect(ElfNotes.prstatus(in: parsed).first?.pid == 1)
    }

    @Test(arguments: [TestWriter.Compression.raw, .zlib, .lzo, .snappy, .zstd])
    func kdumpPagesAndStates(_ c: TestWriter.Compression) throws {
        var k = TestWriter.Kdump()
        k.maxMapnr = 5000
        // Spread over many 512-bit blocks of the rank index, including the last partial word.
        for pfn in stride(from: UInt64(3), to: 5000, by: 37) { k.pages[pfn] = c }
        k.pages[4999] = c
        k.excluded = [4, 5, 1000]
        let (bytes, _) = k.build()
        let d = try DumpOpener.open(reader: ByteBuffer(bytes, name: "mem.kdump"))
        let kd = try #require(d as? KdumpCompressedFile)
        #expect(d.format == .kdumpCompressed)
        #expect(Array(d.presentPages()) == k.pages.keys.sorted())
        for pfn in k.pages.keys.sorted() { #expect(try Self.page(d, pfn) == TestWriter.stampedPage(pfn: pfn)) }
        #expect(throws: DumpError.excludedPage(paddr: 4 * 4096)) { try Self.page(d, 4) }
        #expect(throws: DumpError.excludedPage(paddr: 1000 * 4096)) { try Self.page(d, 1000) }
        #expect(throws: DumpError.notInDump(paddr: 6 * 4096)) { try Self.page(d, 6) }
        #expect(throws: DumpError.notInDump(paddr: 5000 * 4096)) { try Self.page(d, 5000) }
        #expect(throws: DumpError.notInDump(paddr: UInt64.max &* 4096)) { try Self.page(d, UInt64.max) }
        let s = d.summary()
        #expect(s.pagesPresent == UInt64(k.pages.count))
        #expect(s.pagesExcluded == 3)
        #expect(s.dumpLevel == 31 && s.nrCPUs == 2 && s.crashTime == 0x6000_0000)
        #expect(s.utsname?["nodename"] == "testhost")
        #expect(d.prstatus.map(\.pid) == [1, 42])
        #expect(d.vmcoreinfoText == k.vmcoreinfo)
        #expect(kd.maxMapnr == 5000)
    }

    @Test(arguments: Array(Int32(1)...6))
    func kdumpHeaderVersions(_ v: Int32) throws {
        var k = TestWriter.Kdump()
        k.headerVersion = v
        k.pages = [1: .zlib, 2: .raw]
        let d = try DumpOpener.open(reader: ByteBuffer(k.build().bytes, name: "v\(v).kdump"))
        #expect(try Self.page(d, 1) == TestWriter.stampedPage(pfn: 1))
        #expect(try Self.page(d, 2) == TestWriter.stampedPage(pfn: 2))
        // VMCOREINFO from version 3, notes from version 4.
        #expect((d.vmcoreinfoText != nil) == (v >= 3))
        #expect(d.prstatus.count == (v >= 4 ? 2 : 0))
        #expect(d.summary().dumpLevel == 31)
    }

    @Test func kdumpBadHeaders() throws {
        var k = TestWriter.Kdump()
        k.pages = [1: .zlib, 2: .raw, 3: .zlib]
        let (good, dataOffset) = k.build()
        func open(_ b: [UInt8]) throws -> any DumpFile { try DumpOpener.open(reader: ByteBuffer(b, name: "k")) }
        func with(_ v: some FixedWidthInteger, at o: Int) -> [UInt8] { var b = good; TestWriter.put(v, at: o, in: &b); return b }
        for bs: Int32 in [0, 3000, 1 << 17, -4096] {
            #expect(throws: DumpError.badHeader(path: "k", field: "block_size", value: String(bs),
                                                reason: "must be a power of two from 512 to 65536")) { _ = try open(with(bs, at: 428)) }
        }
        // Bitmap larger than the file.
        #expect(throws: DumpError.self) { _ = try open(with(UInt32(1 << 30), at: 436)) }
        // max_mapnr_64 beyond what the bitmap holds.
        #expect(throws: DumpError.self) { _ = try open(with(UInt64(1) << 40, at: 4096 + 96)) }
        // Notes / VMCOREINFO past the end.
        #expect(throws: DumpError.self) { _ = try open(with(UInt64(1) << 40, at: 4096 + 48)) }
        #expect(throws: DumpError.self) { _ = try open(with(UInt64(1) << 40, at: 4096 + 40)) }
        // Cut at the header, inside the bitmaps.
        #expect(throws: DumpError.self) { _ = try open(Array(good[0..<300])) }
        #expect(throws: DumpError.self) { _ = try open(Array(good[0..<(4096 * 3 + 10)])) }
        // page_desc pointing past the end; size larger than a page; size 0; corrupt compressed bytes;
        // an uncompressed page that is not a page long.
        let desc1 = dataOffset, desc2 = dataOffset + 24
        let past = try open(with(UInt64(1) << 50, at: desc1))
        #expect(throws: DumpError.self) { try Self.page(past, 1) }
        #expect(try Self.page(past, 2) == TestWriter.stampedPage(pfn: 2))
        let big = try open(with(UInt32(8192), at: desc1 + 8))
        #expect(throws: DumpError.corruptPage(path: "k", pfn: 1, offset: try #require(
            (try open(good) as? KdumpCompressedFile)?.pageDescriptor(pfn: 1).offset), reason: "stored size 8192 larger than a page")) {
            try Self.page(big, 1)
        }
        #expect(throws: DumpError.self) { try Self.page(open(with(UInt32(0), at: desc1 + 8)), 1) }
        #expect(throws: DumpError.self) { try Self.page(open(with(UInt32(100), at: desc2 + 8)), 2) }
        let firstData = dataOffset + 24 * 3        // page 1's zlib stream follows the 3 page_descs
        var garbage = good
        for i in firstData + 8 ..< firstData + 40 { garbage[i] ^= 0x55 }
        #expect(throws: DumpError.self) { try Self.page(open(garbage), 1) }
        // Cut inside the page data: the header and earlier pages still work.
        let cut = try open(Array(good[0 ..< good.count - 100]))
        #expect(try Self.page(cut, 1) == TestWriter.stampedPage(pfn: 1))
        #expect(throws: DumpError.self) { try Self.page(cut, 3) }
    }

    @Test(arguments: [(4096, false, false), (1000, true, false), (333, false, true), (1 << 20, true, true)])
    func flattenedReassembles(_ chunk: Int, _ reversed: Bool, _ stale: Bool) throws {
        var k = TestWriter.Kdump()
        for pfn in stride(from: UInt64(0), to: 2048, by: 3) { k.pages[pfn] = .zlib }
        k.excluded = [1]
        let logical = k.build().bytes
        let flat = TestWriter.flatten(logical, chunk: chunk, reversed: reversed, staleRecords: stale)
        let d = try DumpOpener.open(reader: ByteBuffer(flat, name: "mem.flat"))
        #expect(d.format == .flattened)
        for pfn in k.pages.keys.sorted() where pfn % 7 == 0 { #expect(try Self.page(d, pfn) == TestWriter.stampedPage(pfn: pfn)) }
        #expect(throws: DumpError.excludedPage(paddr: 4096)) { try Self.page(d, 1) }
        let reader = try FlattenedFile(base: ByteBuffer(flat, name: "mem.flat"))
        #expect(reader.size == UInt64(logical.count))
        #expect(try reader.bytes(at: 0, count: logical.count) == logical)
    }

    @Test func flattenedElfCore() throws {
        let elf = Self.elfSample()
        let d = try DumpOpener.open(reader: ByteBuffer(TestWriter.flatten(elf, chunk: 700), name: "elf.flat"))
        #expect(d is ElfCoreFile)
        #expect(try Self.page(d, 16) == TestWriter.stampedPage(pfn: 16))
        #expect(d.prstatus.first?.pid == 7)
    }

    @Test func flattenedBadRecords() throws {
        var k = TestWriter.Kdump()
        k.pages = [1: .zlib]
        let flat = TestWriter.flatten(k.build().bytes, chunk: 4096)
        func open(_ b: [UInt8]) throws -> any DumpFile { try DumpOpener.open(reader: ByteBuffer(b, name: "f")) }
        // No end marker.
        #expect(throws: DumpError.self) { _ = try open(Array(flat[0 ..< flat.count - 16])) }
        // A record longer than the file.
        var long = flat; long.replaceSubrange(4096 + 8 ..< 4096 + 16, with: TestWriter.be(Int64(1) << 40))
        #expect(throws: DumpError.self) { _ = try open(long) }
        // A negative offset.
        var negative = flat; negative.replaceSubrange(4096 ..< 4104, with: TestWriter.be(Int64(-5)))
        #expect(throws: DumpError.self) { _ = try open(negative) }
        // Wrong type.
        var type = flat; type.replaceSubrange(16 ..< 24, with: TestWriter.be(Int64(2)))
        #expect(throws: DumpError.self) { _ = try open(type) }
        // Holding neither format.
        #expect(throws: DumpError.self) { _ = try open(TestWriter.flatten([UInt8](repeating: 7, count: 9000), chunk: 4096)) }
    }

    @Test func openerRejectsWhatIsNotADump() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crashsh-formats-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(throws: DumpError.emptyFile(path: empty)) { _ = try DumpOpener.open(path: empty) }
        #expect(throws: DumpError.isDirectory(path: dir.path)) { _ = try DumpOpener.open(path: dir.path) }
        let missing = dir.appendingPathComponent("missing").path
        #expect(throws: DumpError.cannotOpen(path: missing, errno: ENOENT)) { _ = try DumpOpener.open(path: missing) }
        let text = dir.appendingPathComponent("text").path
        FileManager.default.createFile(atPath: text, contents: Data("hello, not a dump\n".utf8))
        #expect(throws: DumpError.unknownFormat(path: text, detail: "no ELF, KDUMP or makedumpfile signature")) {
            _ = try DumpOpener.open(path: text)
        }
        #expect(try DumpOpener.classify(path: text) == .unknown("no ELF, KDUMP or makedumpfile signature"))
        if getuid() != 0 {
            let locked = dir.appendingPathComponent("locked").path
            FileManager.default.createFile(atPath: locked, contents: Data("x".utf8), attributes: [.posixPermissions: 0])
            #expect(throws: DumpError.cannotOpen(path: locked, errno: EACCES)) { _ = try DumpOpener.open(path: locked) }
        }
        #expect(throws: DumpError.emptyFile(path: "buf")) { _ = try DumpOpener.open(reader: ByteBuffer([], name: "buf")) }
    }

    @Test func intervalMapMatchesBruteForce() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let n = Int.random(in: 0...12, using: &rng)
            let pieces = (0..<n).map { i -> (start: UInt64, end: UInt64, rank: Int) in
                let s = UInt64.random(in: 0..<100, using: &rng)
                return (s, s + UInt64.random(in: 0..<30, using: &rng), Int.random(in: -5...5, using: &rng) * 100 + i)
            }
            let map = IntervalMap(pieces: pieces)
            for x in UInt64(0)..<140 {
                let want = pieces.indices.filter { pieces[$0].start <= x && x < pieces[$0].end }.min { pieces[$0].rank < pieces[$1].rank }
                let got = map.index(containing: x).map { map.owners[$0] }
                #expect(got == want, "x=\(x) pieces=\(pieces)")
            }
        }
    }
}

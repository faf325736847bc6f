import Foundation
import Testing
import TestSupport
@testable import DumpModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hand-made dumps for the format edges: flattened files indexed once and kept in a cache, read
/// without a mapping, rewritten seekable; makedumpfile --split sets; formats refused by name; an
/// empty kdump file; the compression told by the pages. Cases mirror libkdumpfile's tests
/// (diskdump-split, diskdump-empty-*, elf-empty-<arch>, lkcd-empty, sadump-basic, elf-partial).
@Suite struct DumpFormatEdgeTests {
    /// A fresh temporary directory, removed by `cleanup`.
    final class Scratch {
        let path: String
        init() throws {
            var template = Array((NSTemporaryDirectory() + "/crashsh-format-XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else { throw DumpError.cannotOpen(path: "mkdtemp", errno: errno) }
            path = String(cString: made)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            let file = path + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            return file
        }
    }

    static func page(_ d: any DumpFile, _ pfn: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: d.pageSize)
        try out.withUnsafeMutableBytes { try d.readPage(pfn: pfn, into: $0) }
        return out
    }

    static func sampleKdump() -> TestWriter.Kdump {
        var k = TestWriter.Kdump()
        k.maxMapnr = 700
        for pfn: UInt64 in [1, 2, 3, 100, 200, 300, 511, 512, 513, 600, 699] { k.pages[pfn] = .zlib }
        k.excluded = [4, 5, 400]
        return k
    }

    // MARK: flattened files

    /// The index of a flattened file is kept on disk after the first open and used by the next;
    /// both read the same bytes. A damaged or stale index is ignored and rebuilt.
    @Test func flattenedIndexIsCachedAndChecked() throws {
        let scratch = try Scratch()
        let logical = Self.sampleKdump().build().bytes
        let flatPath = try scratch.write("dump.flat", TestWriter.flatten(logical, chunk: 3000, reversed: true, staleRecords: true))
        let cache = FlatIndexCache(directory: scratch.path + "/cache/flat-index")

        let first = try FlattenedFile(base: MappedFile(path: flatPath), cache: cache)
        #expect(!first.indexFromCache)
        #expect(first.size == UInt64(logical.count))
        let indexFiles = try FileManager.default.contentsOfDirectory(atPath: cache.directory)
        #expect(indexFiles.count == 1 && indexFiles[0].hasSuffix(".index"))

        let second = try FlattenedFile(base: MappedFile(path: flatPath), cache: cache)
        #expect(second.indexFromCache)
        #expect(try second.bytes(at: 0, count: logical.count) == logical)
        #expect(second.recordCount == first.recordCount)
        let dump = try DumpOpener.open(path: flatPath, flatIndexCache: cache)
        #expect(dump.format == .flattened)
        #expect(try Self.page(dump, 512) == TestWriter.stampedPage(pfn: 512))

        // Damage one byte of the kept index: it is not used, and the pass writes a good one.
        let indexPath = cache.directory + "/" + indexFiles[0]
        var kept = try [UInt8](Data(contentsOf: URL(fileURLWithPath: indexPath)))
        kept[kept.count / 2] ^= 0x40
        try Data(kept).write(to: URL(fileURLWithPath: indexPath))
        let afterDamage = try FlattenedFile(base: MappedFile(path: flatPath), cache: cache)
        #expect(!afterDamage.indexFromCache)
        #expect(try afterDamage.bytes(at: 0, count: logical.count) == logical)
        #expect(try FlattenedFile(base: MappedFile(path: flatPath), cache: cache).indexFromCache)

        // A truncated index, and one for a file that has changed since (another mtime), are not used.
        try Data(kept.prefix(40)).write(to: URL(fileURLWithPath: indexPath))
        #expect(try !FlattenedFile(base: MappedFile(path: flatPath), cache: cache).indexFromCache)
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, flatPath, &times, 0) == 0)
        let afterTouch = try FlattenedFile(base: MappedFile(path: flatPath), cache: cache)
        #expect(!afterTouch.indexFromCache)
        #expect(try afterTouch.bytes(at: 0, count: logical.count) == logical)
    }

    /// An index whose ranges do not fit the file (a forged or mixed-up one) is refused even when
    /// its identity and checksum are right.
    @Test func inconsistentIndexIsRefused() {
        let identity = FileIdentity(device: 1, inode: 2, size: 10_000, modifiedSeconds: 3, modifiedNanoseconds: 4)
        let good = FlatIndex(headerType: 1, headerVersion: 1, recordCount: 2, logicalSize: 200,
                             starts: [0, 100], ends: [100, 200], fileOffsets: [4112, 4228])
        #expect(FlatIndexCache.decode(FlatIndexCache.encode(good, identity: identity), identity: identity, fileSize: 10_000) == good)
        for bad in [
            FlatIndex(headerType: 1, headerVersion: 1, recordCount: 2, logicalSize: 200,
                      starts: [0, 50], ends: [100, 200], fileOffsets: [4112, 4228]),        // overlapping
            FlatIndex(headerType: 1, headerVersion: 1, recordCount: 2, logicalSize: 200,
                      starts: [0, 100], ends: [100, 200], fileOffsets: [4112, 9950]),       // past the file
            FlatIndex(headerType: 1, headerVersion: 1, recordCount: 2, logicalSize: 300,
                      starts: [0, 100], ends: [100, 200], fileOffsets: [4112, 4228]),       // wrong size
        ] {
            #expect(FlatIndexCache.decode(FlatIndexCache.encode(bad, identity: identity), identity: identity, fileSize: 10_000) == nil)
        }
        var other = identity
        other.size += 1
        #expect(FlatIndexCache.decode(FlatIndexCache.encode(good, identity: identity), identity: other, fileSize: 10_000) == nil)
    }

    /// A kept index damaged in seeded ways (bytes changed, cut short, grown) is never trusted
    /// unless it still says exactly what the file holds: decoding ends cleanly with nil or with
    /// ranges that fit the file.
    @Test func damagedIndexBytesEndCleanly() throws {
        let scratch = try Scratch()
        let logical = Self.sampleKdump().build().bytes
        let flatPath = try scratch.write("dump.flat", TestWriter.flatten(logical, chunk: 700, staleRecords: true))
        let file = try MappedFile(path: flatPath)
        let built = try FlatIndex(scanning: file)
        let encoded = FlatIndexCache.encode(built, identity: file.identity)
        #expect(FlatIndexCache.decode(encoded, identity: file.identity, fileSize: file.size) == built)
        var rng = SplitMix64(state: 12)
        var refused = 0
        for _ in 0 ..< 2000 {
            var bytes = encoded
            switch Int.random(in: 0 ..< 3, using: &rng) {
            case 0:
                for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) {
                    bytes[Int.random(in: 0 ..< bytes.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng)
                }
            case 1: bytes.removeLast(Int.random(in: 1 ..< bytes.count, using: &rng))
            default: bytes += [UInt8](repeating: 0, count: 8 * Int.random(in: 1 ... 4, using: &rng))
            }
            if let index = FlatIndexCache.decode(bytes, identity: file.identity, fileSize: file.size) {
                #expect(index == built || index.isConsistent(fileSize: file.size))
            } else {
                refused += 1
            }
        }
        #expect(refused > 1900)
    }

    /// --rewrite-flattened's work: the logical file, byte for byte, holes left as holes; an
    /// existing output is not overwritten.
    @Test func flattenedFileRewritesSeekable() throws {
        let scratch = try Scratch()
        let logical = Self.sampleKdump().build().bytes
        let flatPath = try scratch.write("dump.flat", TestWriter.flatten(logical, chunk: 5000, staleRecords: true))
        let flat = try FlattenedFile(base: MappedFile(path: flatPath))
        let out = scratch.path + "/dump.kdump"
        try flat.writeSeekable(to: out)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == logical)
        #expect(throws: DumpError.cannotWrite(path: out, errno: EEXIST)) { try flat.writeSeekable(to: out) }
        let reopened = try DumpOpener.open(path: out)
        #expect(reopened.format == .kdumpCompressed)
        #expect(try Self.page(reopened, 699) == TestWriter.stampedPage(pfn: 699))

        // A logical file with a hole: records far apart.
        var far = TestWriter.flatten([], chunk: 1)
        far.removeLast(16)
        far += TestWriter.be(Int64(0)) + TestWriter.be(Int64(4)) + [1, 2, 3, 4]
        far += TestWriter.be(Int64(1 << 20)) + TestWriter.be(Int64(2)) + [5, 6]
        far += TestWriter.be(Int64(-1)) + TestWriter.be(Int64(-1))
        let holePath = try scratch.write("hole.flat", far)
        let holeOut = scratch.path + "/hole.out"
        try FlattenedFile(base: MappedFile(path: holePath)).writeSeekable(to: holeOut)
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: holeOut)))
        #expect(written.count == (1 << 20) + 2)
        #expect(Array(written[0..<4]) == [1, 2, 3, 4] && Array(written[(1 << 20)...]) == [5, 6])
        #expect(written[4 ..< (1 << 20)].allSatisfy { $0 == 0 })
    }

    /// Without a mapping (what happens under `ulimit -v`), every format reads the same pages
    /// through pread.
    @Test func unmappedFileReadsTheSamePages() throws {
        let scratch = try Scratch()
        let kdump = Self.sampleKdump().build().bytes
        let files = [
            try scratch.write("a.kdump", kdump),
            try scratch.write("a.flat", TestWriter.flatten(kdump, chunk: 4096)),
            try scratch.write("a.elf", TestWriter.elfCore(notes: [], loads: [
                .init(paddr: 0x1000, data: TestWriter.stampedPage(pfn: 1) + TestWriter.stampedPage(pfn: 2), memsz: 0x2000)])),
        ]
        for path in files {
            let unmapped = try MappedFile(path: path, mapping: false)
            #expect(!unmapped.isMapped && unmapped.directPointer(at: 0, count: 8) == nil)
            let a = try DumpOpener.open(reader: unmapped, path: path)
            let b = try DumpOpener.open(path: path)
            let pages = Array(b.presentPages())
            #expect(Array(a.presentPages()) == pages, "\(path)")
            #expect(!pages.isEmpty)
            for pfn in pages { #expect(try Self.page(a, pfn) == Self.page(b, pfn), "\(path) pfn \(pfn)") }
        }
    }

    // MARK: makedumpfile --split

    static func splitParts(_ ranges: [Range<UInt64>], version: Int32 = 6) -> [[UInt8]] {
        ranges.map { r in
            var k = sampleKdump()
            k.headerVersion = version
            k.split = r
            return k.build().bytes
        }
    }

    /// The parts of a split dump, given in any order, read as the whole dump does; each page
    /// comes from the part whose range holds it.
    @Test(arguments: [Int32(6), Int32(5)])
    func splitDumpReadsEveryPart(version: Int32) throws {
        let scratch = try Scratch()
        let parts = Self.splitParts([0 ..< 200, 200 ..< 512, 512 ..< 700], version: version)
        let paths = try parts.enumerated().map { try scratch.write("part\($0.offset + 1)", $0.element) }
        let whole = try DumpOpener.open(reader: ByteBuffer(Self.sampleKdump().build().bytes))
        let split = try DumpOpener.open(paths: [paths[2], paths[0], paths[1]])
        #expect(Array(split.presentPages()) == Array(whole.presentPages()))
        for pfn in whole.presentPages() { #expect(try Self.page(split, pfn) == TestWriter.stampedPage(pfn: pfn), "pfn \(pfn)") }
        for pfn: UInt64 in [4, 400] {
            #expect(split.pageState(pfn: pfn) == .excluded)
            #expect(throws: DumpError.excludedPage(paddr: pfn * 4096)) { try Self.page(split, pfn) }
        }
        #expect(split.pageState(pfn: 0) == .notInDump)
        #expect(split.summary().pagesPresent == whole.summary().pagesPresent)
        #expect(split.vmcoreinfo?.osRelease == "6.1.0-test")
    }

    /// One part alone is refused, not read as if it held the other parts' pages; a set with a
    /// part missing or given twice, or parts of different dumps, is refused too.
    @Test func splitPartsAloneOrIncompleteAreRefused() throws {
        let scratch = try Scratch()
        let parts = Self.splitParts([0 ..< 200, 200 ..< 512, 512 ..< 700])
        let paths = try parts.enumerated().map { try scratch.write("part\($0.offset + 1)", $0.element) }
        #expect(throws: DumpError.splitPart(path: paths[0], startPFN: 0, endPFN: 200, maxMapnr: 700)) {
            try DumpOpener.open(path: paths[0])
        }
        #expect(DumpError.splitPart(path: "p", startPFN: 0, endPFN: 200, maxMapnr: 700).description
                == "p: part 1 of a split dump (makedumpfile --split; pfns 0x0-0xc7 of 0x2bc): give all parts")
        #expect(DumpError.splitPart(path: "p", startPFN: 512, endPFN: 700, maxMapnr: 700).description.contains("the last part"))
        #expect(throws: DumpError.splitPart(path: paths[1], startPFN: 200, endPFN: 512, maxMapnr: 700)) {
            try DumpOpener.open(path: paths[1])
        }
        #expect(throws: DumpError.missing(what: "the part of the split dump with pfns 200-511 (0xc8-0x1ff): give all parts")) {
            try DumpOpener.open(paths: [paths[0], paths[2]])
        }
        #expect(throws: DumpError.self) { try DumpOpener.open(paths: [paths[0], paths[1], paths[1], paths[2]]) }
        let whole = try scratch.write("whole", Self.sampleKdump().build().bytes)
        #expect(throws: DumpError.self) { try DumpOpener.open(paths: [paths[0], whole]) }
        var other = Self.sampleKdump()
        other.split = 200 ..< 700
        other.prstatusPIDs = [9]
        let foreign = try scratch.write("foreign", other.build().bytes)
        #expect(throws: DumpError.self) { try DumpOpener.open(paths: [paths[0], foreign]) }
        // A page_desc asked for outside the part's range is not another page's.
        let part = try KdumpCompressedFile(reader: ByteBuffer(parts[1]))
        #expect(part.splitRange == 200 ..< 512)
        #expect(throws: DumpError.notInDump(paddr: 100 * 4096)) { try Self.page(part, 100) }
        #expect(try Self.page(part, 300) == TestWriter.stampedPage(pfn: 300))
    }

    // MARK: ELF pages partly in the file

    /// libkdumpfile's elf-partial: one page made of a segment's file bytes, its p_memsz tail, a
    /// gap, a segment with no file bytes and another with file bytes. The file bytes read as
    /// stored; everything else in the page reads as zeros, as libkdumpfile's partial.expect says.
    @Test func elfPageOfFileBytesAndTails() throws {
        let bytes = TestWriter.elfCore(notes: [], loads: [
            .init(paddr: 0x200, data: [UInt8](repeating: 0x55, count: 0x200), memsz: 0x400),
            .init(paddr: 0x800, data: [], memsz: 0x400),
            .init(paddr: 0xc00, data: [UInt8](repeating: 0xaa, count: 0x200), memsz: 0x200),
        ])
        let d = try DumpOpener.open(reader: ByteBuffer(bytes, name: "partial.elf"))
        var expected = [UInt8](repeating: 0, count: 4096)
        expected.replaceSubrange(0x200 ..< 0x400, with: [UInt8](repeating: 0x55, count: 0x200))
        expected.replaceSubrange(0xc00 ..< 0xe00, with: [UInt8](repeating: 0xaa, count: 0x200))
        #expect(d.pageState(pfn: 0) == .present)
        #expect(try Self.page(d, 0) == expected)
        #expect(d.summary().pagesExcluded == 0)
    }

    /// libkdumpfile's elf-fractional: a page given twice, the first time only in part; the
    /// rest of it comes from the second segment.
    @Test func elfPageGivenTwiceFirstInPart() throws {
        let magic: [UInt8] = Array("NoMagic!".utf8)
        let bytes = TestWriter.elfCore(notes: [], loads: [
            .init(paddr: 0x1000, data: [UInt8](repeating: 0, count: 0x600), memsz: 0x600),
            .init(paddr: 0x1000, data: [UInt8](repeating: 0, count: 4088) + magic, memsz: 0x1000),
        ])
        let d = try DumpOpener.open(reader: ByteBuffer(bytes, name: "fractional.elf"))
        #expect(Array(try Self.page(d, 1)[4088...]) == magic)
    }

    // MARK: formats and machines not read

    @Test func otherFormatsAreRefusedByName() throws {
        func refusal(_ bytes: [UInt8]) -> String {
            do {
                _ = try DumpOpener.open(reader: ByteBuffer(bytes, name: "f"))
                return "opened"
            } catch {
                return "\(error)"
            }
        }
        // sadump is read (SadumpFormatTests); a bare signature fails the partition header's check sequence.
        let sadump = Array("sadump".utf8) + [UInt8](repeating: 0, count: 8190)
        let broken = "f: bad header: sadump_part_header.magicnum[1] = 0x0: breaks the check sequence (expected 0x4d)"
        #expect(refusal(sadump) == broken)
        #expect(refusal([UInt8](repeating: 0, count: 4096) + sadump) == broken)
        let lkcd = TestWriter.le(UInt64(0xa819_0173_618f_23ed)) + [UInt8](repeating: 0, count: 4088)
        #expect(refusal(lkcd) == "f: unsupported: LKCD (Linux Kernel Crash Dump) format")
        #expect(refusal(TestWriter.be(UInt64(0xa819_0173_618f_23ed)) + [UInt8](repeating: 0, count: 4088))
                == "f: unsupported: LKCD (Linux Kernel Crash Dump) format")
        #expect(refusal(TestWriter.foreignKdumpHeader(machine: "i686", bits32: true, bigEndian: false))
                == "f: unsupported: 32-bit kdump-compressed file (machine i686); crashsh reads x86_64 dumps")
        #expect(refusal(TestWriter.foreignKdumpHeader(machine: "s390x", bits32: false, bigEndian: true))
                == "f: unsupported: big-endian 64-bit kdump-compressed file (machine s390x); crashsh reads x86_64 dumps")
        #expect(refusal(TestWriter.foreignKdumpHeader(machine: "ppc", bits32: true, bigEndian: true))
                == "f: unsupported: big-endian 32-bit kdump-compressed file (machine ppc); crashsh reads x86_64 dumps")
        var aarch64 = TestWriter.Kdump()
        aarch64.machine = "aarch64"
        #expect(refusal(aarch64.build().bytes) == "f: unsupported: kdump-compressed file for aarch64; crashsh reads x86_64 dumps")
        #expect(refusal(TestWriter.elfCore(notes: [], loads: [], machine: 183))
                == "f: unsupported: ELF core for aarch64 (e_machine 183, EM_AARCH64); crashsh reads x86_64 dumps")
        #expect(refusal(TestWriter.elfCore(notes: [], loads: [], machine: 258))
                == "f: unsupported: ELF core for loongarch (e_machine 258, EM_LOONGARCH); crashsh reads x86_64 dumps")
        #expect(refusal(TestWriter.elf32Core(machine: 3))
                == "f: unsupported: 32-bit ELF core for i386 (e_machine 3, EM_386); crashsh reads x86_64 dumps")
        var s390x = TestWriter.elfCore(notes: [], loads: [], machine: 0)
        s390x[5] = 2
        s390x.replaceSubrange(18..<20, with: TestWriter.be(UInt16(22)))
        #expect(refusal(s390x) == "f: unsupported: big-endian ELF core for s390 (e_machine 22, EM_S390); crashsh reads x86_64 dumps")
        // classify names them too (a file among several on the command line).
        #expect(DumpOpener.classify(reader: ByteBuffer(sadump)) == .dump(.sadump))
    }

    /// A kdump file of no pages opens (libkdumpfile's diskdump-empty), with or without bitmap blocks.
    @Test(arguments: [false, true])
    func emptyKdumpOpens(noBitmapBlocks: Bool) throws {
        var k = TestWriter.Kdump()
        k.maxMapnr = noBitmapBlocks ? 0 : 256
        k.noBitmapBlocks = noBitmapBlocks
        let d = try DumpOpener.open(reader: ByteBuffer(k.build().bytes, name: "empty"))
        #expect(Array(d.presentPages()).isEmpty)
        #expect(d.summary().pagesPresent == 0 && d.summary().pagesExcluded == 0)
        #expect(throws: DumpError.notInDump(paddr: 0)) { try Self.page(d, 0) }
        #expect(d.vmcoreinfo?.osRelease == "6.1.0-test")
        #expect(d.prstatus.count == 2)
    }

    // MARK: compression

    /// dumpinfo's compression: the header's status when it names one, else the pages' flags
    /// (QEMU leaves status 0), else "none".
    @Test func compressionComesFromPagesWhenStatusIsSilent() throws {
        for (kind, name) in [(TestWriter.Compression.lzo, "lzo"), (.zstd, "zstd"), (.snappy, "snappy"), (.raw, "none")] {
            var k = TestWriter.Kdump()
            k.status = 0
            k.pages = [3: .raw, 7: kind, 9: kind]
            let d = try #require(try DumpOpener.open(reader: ByteBuffer(k.build().bytes)) as? KdumpCompressedFile)
            #expect(d.summary().compression == name)
        }
        var k = TestWriter.Kdump()
        k.status = 1
        k.pages = [3: .lzo]
        #expect(try DumpOpener.open(reader: ByteBuffer(k.build().bytes)).summary().compression == "zlib")
    }
}

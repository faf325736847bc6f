import DumpModel
import Foundation
import Testing
import TestSupport

/// The built crashsh on files that are not good dumps: every run must end with exit code 0 or 1
/// (never a signal, never a hang), and a failure must be one line on stderr that names the file
/// (or, for a failed read, the address) and says what is wrong.
///
/// The damaged files are copies of dump.kdump changed where its own header says each structure
/// is (bitmaps, page_desc table, page data), in a temporary directory.
@Suite(.serialized) struct BadInputTests {
    /// dump.kdump's layout, read through DumpModel from the original file.
    struct Layout {
        var bytes: Data
        var pageSize: Int
        var bitmapOffset: Int
        var bitmapLength: Int
        var dataOffset: Int
        var present: [UInt64]
        var descriptors: [KdumpCompressedFile.PageDescriptor]

        /// A present page stored compressed whose bytes no other page shares (makedumpfile points
        /// every zero page at one copy), after `after` in the file.
        func compressedPage(after: Int = 0) -> (pfn: UInt64, descriptor: KdumpCompressedFile.PageDescriptor)? {
            var uses: [UInt64: Int] = [:]
            for d in descriptors { uses[d.offset, default: 0] += 1 }
            for (pfn, d) in zip(present, descriptors)
            where Int(d.offset) > after && Int(d.size) < pageSize && d.size > 64 && uses[d.offset] == 1 {
                return (pfn, d)
            }
            return nil
        }
    }

    static func layout() throws -> Layout {
        let path = Harness.fixture("dump.kdump")
        let kdump = try KdumpCompressedFile(reader: try MappedFile(path: path), path: path)
        let present = Array(kdump.presentPages())
        return Layout(bytes: try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped),
                      pageSize: kdump.pageSize, bitmapOffset: Int(kdump.bitmapOffset),
                      bitmapLength: Int(kdump.bitmapLength), dataOffset: Int(kdump.dataOffset),
                      present: present, descriptors: try present.map { try kdump.pageDescriptor(pfn: $0) })
    }

    /// Checks the rules every run must follow; returns the run for more specific checks.
    @discardableResult
    static func expectClean(_ run: Harness.Run, file: String, _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) -> Harness.Run {
        #expect(!run.killedBySignal, "\(what): killed by a signal: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.exitCode == 0 || run.exitCode == 1, "\(what): exit \(run.exitCode): \(run.stderr)",
                sourceLocation: sourceLocation)
        if run.exitCode == 1 {
            #expect(run.stderrLines.count == 1, "\(what): \(run.stderr)", sourceLocation: sourceLocation)
            // Failing to open names the file; a failed read names the file or the address.
            let line = run.stderrLines.first.map(String.init) ?? ""
            let namesIt = line.contains(file) || (line.hasPrefix("rd: ") && line.contains("address"))
            #expect(namesIt, "\(what): \(line)", sourceLocation: sourceLocation)
        } else {
            #expect(run.stderr == "", "\(what): \(run.stderr)", sourceLocation: sourceLocation)
        }
        return run
    }

    /// Writes `bytes` to `name` in `dir` and returns the path.
    static func write(_ bytes: Data, _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try bytes.write(to: url)
        return url.path
    }

    static func hexAddress(_ pfn: UInt64, pageSize: Int) -> String {
        "0x" + String(pfn * UInt64(pageSize), radix: 16)
    }

    @Test(Harness.needsSample) func unusableFilesAreOneLine() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let l = try Self.layout()
        var wrongSignature = l.bytes.prefix(64 * 1024)
        wrongSignature[wrongSignature.startIndex + 4] = UInt8(ascii: "Q")     // "KDUMQ   "
        let cases: [(path: String, says: String)] = [
            (try Self.write(Data(), "empty.kdump", in: dir), "empty file"),
            (dir.appendingPathComponent("missing.kdump").path, "no such file"),
            (dir.path, "directory"),
            (try Self.write(Data(wrongSignature), "wrong-signature.kdump", in: dir), "not a kernel crash dump"),
            (try Self.write(l.bytes.prefix(300), "cut-in-header.kdump", in: dir), "truncated"),
            (try Self.write(l.bytes.prefix(l.bitmapOffset + l.bitmapLength / 2), "cut-in-bitmaps.kdump", in: dir),
             "truncated: bitmaps"),
        ]
        for c in cases {
            for command in ["dumpinfo", "vmcoreinfo"] {
                let run = Self.expectClean(try Harness.run(["-c", command, c.path]), file: c.path, c.path)
                #expect(run.exitCode == 1, "\(c.path)")
                #expect(run.stdout == "", "\(c.path)")
                #expect(run.stderr.hasPrefix("crashsh: \(c.path): "), "\(c.path): \(run.stderr)")
                #expect(run.stderr.contains(c.says), "\(c.path): \(run.stderr)")
            }
        }
    }

    /// A cut inside the page data: the dump opens and its header commands work; reading a page
    /// whose bytes are past the cut is a clear error naming the file, and the session goes on.
    @Test(Harness.needsSample) func cutInsidePageData() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let l = try Self.layout()
        let tableEnd = l.dataOffset + 24 * l.present.count
        let cut = tableEnd + (l.bytes.count - tableEnd) / 2
        let path = try Self.write(l.bytes.prefix(cut), "cut-in-data.kdump", in: dir)
        let lost = try #require(l.compressedPage(after: cut))
        var keptPFN: UInt64?
        for (pfn, d) in zip(l.present, l.descriptors) where d.size > 64 {
            let end: Int = Int(d.offset) + Int(d.size)
            if end <= cut { keptPFN = pfn; break }
        }
        let kept = try #require(keptPFN)

        let info = Self.expectClean(try Harness.run(["-c", "dumpinfo", path]), file: path, "dumpinfo")
        #expect(info.exitCode == 0)
        #expect(info.stdout.contains("pages_present: \(l.present.count)"))
        let good = Self.expectClean(try Harness.run(["-c", "rd -p \(Self.hexAddress(kept, pageSize: l.pageSize)) 2", path]),
                                    file: path, "rd of a page before the cut")
        #expect(good.exitCode == 0)

        let address = Self.hexAddress(lost.pfn, pageSize: l.pageSize)
        let bad = Self.expectClean(try Harness.run([path], stdin: "rd -p \(address) 2\nvmcoreinfo | grep OSRELEASE\n"),
                                   file: path, "rd of a page past the cut")
        #expect(bad.exitCode == 1)
        #expect(bad.stderr.contains("truncated"), "\(bad.stderr)")
        #expect(bad.stderr.contains(path))
        // The command after the failing one still ran.
        #expect(bad.stdout == "OSRELEASE=6.1.0-56-cloud-amd64\n")
    }

    /// Flipped bytes in one page's compressed data: that page is a "corrupt page" error naming
    /// the file; other pages and the other commands still work in the same session.
    @Test(Harness.needsSample) func corruptCompressedPage() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let l = try Self.layout()
        let victim = try #require(l.compressedPage(after: l.dataOffset))
        var bytes = l.bytes
        let start = Int(victim.descriptor.offset)
        // zlib's header and the first deflate block: any change there fails to decompress to a page.
        for i in 0..<16 { bytes[start + 2 + i] ^= 0x5a }
        let path = try Self.write(bytes, "corrupt-page.kdump", in: dir)
        let address = Self.hexAddress(victim.pfn, pageSize: l.pageSize)
        let other = try #require(zip(l.present, l.descriptors).first { $0.1.offset != victim.descriptor.offset })

        let run = Self.expectClean(
            try Harness.run([path], stdin: "rd -p \(address) 2\nvmcoreinfo | grep OSRELEASE\nrd -p \(Self.hexAddress(other.0, pageSize: l.pageSize)) 2\n"),
            file: path, "corrupt page")
        #expect(run.exitCode == 1)
        #expect(run.stderr.contains("corrupt page"), "\(run.stderr)")
        #expect(run.stderr.contains(path))
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.first == "OSRELEASE=6.1.0-56-cloud-amd64")
        #expect(lines.count == 2, "the read after the failure: \(run.stdout)")

        // The same page in the original file reads fine (the corruption is what fails).
        let original = Self.expectClean(try Harness.run(["-c", "rd -p \(address) 2", Harness.fixture("dump.kdump")]),
                                        file: "dump.kdump", "original page")
        #expect(original.exitCode == 0)
    }

    /// Header fields no real dump has: each a clear one-line error, and the page_desc ones only
    /// when that page is read.
    @Test(Harness.needsSample) func absurdHeaderFields() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let l = try Self.layout()
        func patched(_ name: String, _ changes: [(Int, UInt64, Int)]) throws -> String {
            var b = l.bytes
            for (at, value, width) in changes {
                for k in 0..<width { b[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
            }
            return try Self.write(b, name, in: dir)
        }
        // disk_dump_header: block_size at 428, bitmap_blocks at 436 (int32, little-endian).
        let fileBlocks = UInt64(l.bytes.count / l.pageSize)
        let openFailures: [(path: String, says: String)] = [
            (try patched("block-size-0.kdump", [(428, 0, 4)]), "block_size"),
            (try patched("block-size-odd.kdump", [(428, 4097, 4)]), "block_size"),
            (try patched("bitmap-past-end.kdump", [(436, fileBlocks + 16, 4)]), "truncated: bitmaps"),
            (try patched("bitmap-blocks-max.kdump", [(436, 0xffff_ffff, 4)]), "bitmap"),
            // No bitmap blocks is an empty dump only when max_mapnr is 0.
            (try patched("no-bitmap.kdump", [(436, 0, 4)]), "more pages than the bitmaps (0 bytes each) describe"),
            // max_mapnr_64 (sub-header + 96) larger than the bitmaps can describe.
            (try patched("max-mapnr.kdump", [(l.pageSize + 96, UInt64(l.bitmapLength) * 8, 8)]), "max_mapnr"),
        ]
        for c in openFailures {
            let run = Self.expectClean(try Harness.run(["-c", "dumpinfo", c.path]), file: c.path, c.path)
            #expect(run.exitCode == 1, "\(c.path)")
            #expect(run.stderr.hasPrefix("crashsh: \(c.path): "), "\(c.path): \(run.stderr)")
            #expect(run.stderr.contains(c.says), "\(c.path): \(run.stderr)")
        }

        // page_desc entries (24 bytes each from the data offset: offset u64, size u32, flags u32)
        // of the first compressed pages: offset past the end, offset near UInt64.max, size 0,
        // size above a page, no compression flag with a short size.
        let compressed = Array(l.descriptors.indices.filter { l.descriptors[$0].size < UInt32(l.pageSize) }.prefix(5))
        try #require(compressed.count == 5)
        let entry = { (i: Int) in l.dataOffset + 24 * compressed[i] }
        let descCases: [(k: Int, change: (Int, UInt64, Int), says: String)] = [
            (compressed[0], (entry(0), UInt64(l.bytes.count) + 4096, 8), "truncated"),
            (compressed[1], (entry(1), UInt64.max - 8, 8), "truncated"),
            (compressed[2], (entry(2) + 8, 0, 4), "stored size 0"),
            (compressed[3], (entry(3) + 8, UInt64(l.pageSize) + 1, 4), "larger than a page"),
            (compressed[4], (entry(4) + 12, 0, 4), "uncompressed page"),
        ]
        for c in descCases {
            let path = try patched("page-desc-\(c.k).kdump", [c.change])
            let address = Self.hexAddress(l.present[c.k], pageSize: l.pageSize)
            let info = Self.expectClean(try Harness.run(["-c", "dumpinfo", path]), file: path, "dumpinfo \(path)")
            #expect(info.exitCode == 0)
            let run = Self.expectClean(try Harness.run([path], stdin: "rd -p \(address) 2\nvmcoreinfo | grep PAGESIZE\n"),
                                       file: path, "page_desc \(c.k)")
            #expect(run.exitCode == 1)
            #expect(run.stderr.contains(c.says), "page_desc \(c.k): \(run.stderr)")
            #expect(run.stderr.contains(path), "page_desc \(c.k): \(run.stderr)")
            #expect(run.stdout == "PAGESIZE=4096\n")
        }
    }

    /// Seeded random changes to the first 64 KiB of dump.kdump (headers, notes, VMCOREINFO,
    /// bitmaps, the first page descriptors), each run through the binary.
    @Test(Harness.needsSample) func randomMutationsOfTheFirst64KiB() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let l = try Self.layout()
        let path = try Self.write(l.bytes, "mutated.kdump", in: dir)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let head = [UInt8](l.bytes.prefix(64 * 1024))
        // The first present pages: their descriptors are in the first 64 KiB.
        let addresses = l.present.prefix(8).map { Self.hexAddress($0, pageSize: l.pageSize) }
        var rng = SeededGenerator(state: 0xC0FFEE)
        var exits: [Int32: Int] = [:]
        // Where the changes go, mostly on what the runs read: disk_dump_header, kdump_sub_header
        // with the notes and VMCOREINFO after it, the bitmap words of the first present pages,
        // the page_desc entries of the pages `rd` reads; and anywhere in the 64 KiB.
        let firstBitmapByte = Int(l.present[0] / 8)
        let bitmap2 = l.bitmapOffset + l.bitmapLength / 2
        for i in 0..<200 {
            let k = i / 2 % addresses.count
            let regions: [Range<Int>] = [
                0 ..< 464,                               // disk_dump_header
                408 ..< 464,                             // its numeric fields (status .. nr_cpus)
                l.pageSize ..< l.pageSize + 104,         // kdump_sub_header
                l.pageSize ..< min(head.count, l.bitmapOffset),  // with the notes and VMCOREINFO
                l.bitmapOffset + firstBitmapByte ..< l.bitmapOffset + firstBitmapByte + 64,
                bitmap2 + firstBitmapByte ..< bitmap2 + firstBitmapByte + 64,
                l.dataOffset + 24 * k ..< l.dataOffset + 24 * (k + 1),   // the page_desc rd reads
                0 ..< head.count,
            ]
            var bytes = head
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let region = regions[Int.random(in: 0..<regions.count, using: &rng)]
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[Int.random(in: region, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1: // an aligned 32-bit field to an extreme
                    let at = Int.random(in: region, using: &rng) & ~3
                    let v: UInt32 = [0, 1, 0xffff_ffff, 0x8000_0000, 0x7fff_ffff, 0x1000][Int.random(in: 0..<6, using: &rng)]
                    for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
                default: // a run of 0x00 or 0xff
                    let at = Int.random(in: region, using: &rng)
                    let fill: UInt8 = Bool.random(using: &rng) ? 0 : 0xff
                    for k in at..<min(region.upperBound, at + Int.random(in: 1...16, using: &rng)) { bytes[k] = fill }
                }
            }
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: bytes)
            try handle.synchronize()
            let command = i % 2 == 0 ? "dumpinfo" : "rd -p \(addresses[k]) 4"
            let run = Self.expectClean(try Harness.run(["-c", command, path], timeout: 30), file: path,
                                       "mutation \(i) (\(command))")
            exits[run.exitCode, default: 0] += 1
        }
        // Both outcomes occur: the mutations reach the checks, and not every change is fatal.
        #expect(exits[0, default: 0] > 0 && exits[1, default: 0] > 0, "\(exits)")
        print("bad input: 200 mutations of the first 64 KiB, exit codes \(exits.sorted { $0.key < $1.key })")
    }

    /// SplitMix64 (TestSupport): the same sequence on every machine for a seed.
    typealias SeededGenerator = SplitMix64
}

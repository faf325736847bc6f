import DumpModel
import Foundation
import Testing
import TestSupport

/// The built crashsh on dump files given in the less common ways: a flattened dump (its index
/// kept in the cache and used by the next run), `--rewrite-flattened`, and the parts of a
/// makedumpfile --split dump made from dump.kdump.
@Suite struct DumpFilesCLITests {
    static var vmlinux: String { Harness.fixture(Harness.vmlinuxName) }

    /// --rewrite-flattened turns dump.flat into dump.kdump, byte for byte (both are the same
    /// makedumpfile run, -F or not); an existing output is refused.
    @Test(Harness.needsFixtureSet) func rewriteFlattenedGivesTheSeekableFile() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("dump.kdump").path
        let run = try Harness.run(["--rewrite-flattened", Harness.fixture("dump.flat"), out])
        #expect(run.exitCode == 0 && run.stderr.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Harness.fixture("dump.kdump"))))
        let again = try Harness.run(["--rewrite-flattened", Harness.fixture("dump.flat"), out])
        #expect(again.exitCode == 1)
        #expect(again.stderr == "crashsh: \(out): cannot write: file exists (EEXIST)\n")
        let one = try Harness.run(["--rewrite-flattened", Harness.fixture("dump.flat")])
        #expect(one.exitCode != 0 && one.stderr.contains("--rewrite-flattened takes two files"))
    }

    /// --zero_excluded (crash's option; libkdumpfile's zero_excluded): a page makedumpfile
    /// filtered out reads as zeros instead of ending `rd`; without it, the read fails as before.
    /// Needs only the dump (no kernel: `rd -p` reads physical memory).
    @Test(.enabled(if: SharedFixtures.sampleDump != nil, Comment(rawValue: SharedFixtures.sampleMissing)))
    func zeroExcludedReadsFilteredPagesAsZeros() throws {
        let path = try #require(SharedFixtures.sampleDump)
        let dump = try DumpOpener.open(path: path)
        var excluded: UInt64?
        for pfn in 0 ..< UInt64(1 << 20) where dump.pageState(pfn: pfn) == .excluded { excluded = pfn; break }
        let address = "0x" + String(try #require(excluded) * UInt64(dump.pageSize), radix: 16)
        let strict = try Harness.run(["-c", "rd -p -8 \(address) 16", path])
        #expect(strict.exitCode == 1)
        #expect(strict.stdout.isEmpty && strict.stderr.contains("page excluded"))
        let zeroing = try Harness.run(["--zero_excluded", "-c", "rd -p -8 \(address) 16", path])
        #expect(zeroing.exitCode == 0 && zeroing.stderr.isEmpty)
        #expect(zeroing.stdout.hasSuffix(":  " + Array(repeating: "00", count: 16).joined(separator: " ") + "   ................\n"))
    }

    /// The first run on a flattened dump keeps its index in $XDG_CACHE_HOME/crashsh/flat-index;
    /// the next run reads the same output with it.
    @Test(Harness.needsFixtureSet) func flattenedIndexIsKeptBetweenRuns() throws {
        let cache = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let env = ["XDG_CACHE_HOME": cache.path]
        let first = try Harness.run(["-c", "vmcoreinfo; rd -p 0x1000000 4", Harness.fixture("dump.flat")], environment: env)
        let kept = try FileManager.default.contentsOfDirectory(atPath: cache.path + "/crashsh/flat-index")
        #expect(kept.count == 1)
        let second = try Harness.run(["-c", "vmcoreinfo; rd -p 0x1000000 4", Harness.fixture("dump.flat")], environment: env)
        #expect(first.exitCode == 0 && second.exitCode == 0)
        #expect(second.stdout == first.stdout && !first.stdout.isEmpty)
    }

    /// Three parts cut from dump.kdump as makedumpfile --split writes them: every part keeps
    /// the headers and both bitmaps, its sub-header names its pfn range, and its page_desc table
    /// starts with the range's first present page.
    static func splitParts(in dir: URL) throws -> [String] {
        let path = Harness.fixture("dump.kdump")
        let kdump = try KdumpCompressedFile(reader: try MappedFile(path: path), path: path)
        let present = Array(kdump.presentPages())
        let bounds: [UInt64] = [0, kdump.maxMapnr / 3, 2 * kdump.maxMapnr / 3, kdump.maxMapnr]
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let sub = kdump.pageSize
        func put<T: FixedWidthInteger>(_ v: T, at offset: Int, in data: inout Data) {
            withUnsafeBytes(of: v.littleEndian) { data.replaceSubrange(offset ..< offset + MemoryLayout<T>.size, with: $0) }
        }
        var paths: [String] = []
        for k in 0 ..< 3 {
            var part = original
            put(Int32(1), at: sub + 12, in: &part)   // split
            put(bounds[k], at: sub + 16, in: &part); put(bounds[k + 1], at: sub + 24, in: &part)
            put(bounds[k], at: sub + 80, in: &part); put(bounds[k + 1], at: sub + 88, in: &part)
            let skipped = present.filter { $0 < bounds[k] }.count
            let table = Int(kdump.dataOffset)
            let kept = present.filter { $0 >= bounds[k] && $0 < bounds[k + 1] }.count
            part.replaceSubrange(table ..< table + 24 * kept,
                                 with: original[(table + 24 * skipped) ..< (table + 24 * (skipped + kept))])
            let file = dir.appendingPathComponent("dump.part\(k + 1)").path
            try part.write(to: URL(fileURLWithPath: file))
            paths.append(file)
        }
        return paths
    }

    /// The parts, given with the vmlinux in any order, answer as the whole dump does; one part
    /// alone is refused.
    @Test(Harness.needsSample) func splitDumpAnswersAsTheWholeOne() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let parts = try Self.splitParts(in: dir)
        let commands = "ps; log | tail -5; rd -p 0x1000000 16; kmem -i"
        let whole = try Harness.run(["-c", commands, Harness.fixture("dump.kdump"), Self.vmlinux])
        let split = try Harness.run(["-c", commands, parts[1], Self.vmlinux, parts[2], parts[0]])
        #expect(whole.exitCode == 0 && split.exitCode == 0)
        #expect(split.stderr == "")
        #expect(split.stdout == whole.stdout)
        let alone = try Harness.run(["-c", "vmcoreinfo", parts[0]])
        #expect(alone.exitCode == 1)
        #expect(alone.stderr.hasPrefix("crashsh: \(parts[0]): part 1 of a split dump (makedumpfile --split; pfns 0x0-"))
        #expect(alone.stderr.hasSuffix("): give all parts\n"))
        let missing = try Harness.run(["-c", "vmcoreinfo", parts[0], parts[2]])
        #expect(missing.exitCode == 1 && missing.stderr.contains("give all parts"))
    }
}

import Testing
@testable import DumpModel

/// The bitmaps of a kdump file read through a reader that cannot point at them (as a flattened
/// file's, which span several records): copied once on first use, not at open, and the answers
/// the same as in place.
@Suite(.enabled(if: FormatFixtures.available, "fixtures not prepared (../shared/fixtures/prepare.sh)"))
struct KdumpBitmapCopyTests {
    /// A reader over another that hands out no pointers and counts what it is asked for.
    final class FetchOnly: ByteReader {
        let base: any ByteReader
        var name: String { base.name }
        var size: UInt64 { base.size }
        private(set) var fetches = 0
        private(set) var ranges: [Range<UInt64>] = []
        init(_ base: any ByteReader) { self.base = base }
        func fetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
            fetches += 1
            ranges.append(offset ..< offset &+ UInt64(buffer.count))
            try base.fetch(from: offset, into: buffer, what: what)
        }
        func resetCounts() { fetches = 0; ranges = [] }
    }

    static func states(_ d: KdumpCompressedFile) -> [PageState] {
        (0 ..< d.maxMapnr + 100).map { d.pageState(pfn: $0) }
    }

    /// The reference: dump.flat holds dump.kdump's bytes, read in place from the mapping; for
    /// qemu.kdump (flattened, bitmaps in 4 KiB records, 1st and 2nd interleaved) the reader that
    /// fetches word by word.
    @Test(arguments: ["dump.kdump", "dump.flat", "qemu.kdump"])
    func copiedBitmapsAnswerLikeMappedOnes(_ name: String) throws {
        let file = try MappedFile(path: FormatFixtures.path(name))
        let raw: any ByteReader = FlattenedFile.hasSignature(file) ? try FlattenedFile(base: file) : file
        let inPlace = name == "qemu.kdump" ? try KdumpCompressedFile(reader: raw, bitmapCopyLimit: 0)
            : try #require(try FormatFixtures.open("dump.kdump") as? KdumpCompressedFile)
        let counting = FetchOnly(raw)
        let copied = try KdumpCompressedFile(reader: counting)
        // Open reads the headers and notes, nothing of the bitmaps.
        let bitmaps = copied.bitmapOffset ..< copied.bitmapOffset + copied.bitmapLength
        #expect(!counting.ranges.contains { $0.overlaps(bitmaps) })
        counting.resetCounts()

        let summary = copied.summary()
        // Both bitmaps in two fetches, then nothing per word.
        #expect(counting.fetches == 2)
        #expect(counting.ranges.allSatisfy { bitmaps.contains($0.lowerBound) && $0.upperBound <= bitmaps.upperBound })
        let expected = inPlace.summary()
        #expect(summary.pagesPresent == expected.pagesPresent)
        #expect(summary.pagesExcluded == expected.pagesExcluded)
        #expect(Self.states(copied) == Self.states(inPlace))
        #expect(Array(copied.presentPages()) == Array(inPlace.presentPages()))
        var a = [UInt8](repeating: 0, count: 4096), b = a
        for (i, pfn) in inPlace.presentPages().enumerated() where i % 101 == 0 {
            try a.withUnsafeMutableBytes { try inPlace.readPage(pfn: pfn, into: $0) }
            try b.withUnsafeMutableBytes { try copied.readPage(pfn: pfn, into: $0) }
            #expect(a == b, "pfn \(pfn)")
        }
    }

    /// Past the copy limit (a corrupt header could ask for gigabytes), words are fetched one by one,
    /// with the same answers.
    @Test func beyondTheCopyLimitWordsAreFetched() throws {
        let inPlace = try #require(try FormatFixtures.open("dump.flat") as? KdumpCompressedFile)
        let counting = FetchOnly(try FlattenedFile(base: MappedFile(path: FormatFixtures.path("dump.flat"))))
        let uncopied = try KdumpCompressedFile(reader: counting, bitmapCopyLimit: 0)
        counting.resetCounts()
        let summary = uncopied.summary()
        #expect(counting.fetches > 2 * Int(uncopied.maxMapnr / 64))
        #expect(counting.ranges.allSatisfy { $0.count == 8 })
        #expect(summary.pagesPresent == inPlace.summary().pagesPresent)
        #expect(summary.pagesExcluded == inPlace.summary().pagesExcluded)
        #expect(Self.states(uncopied) == Self.states(inPlace))
    }
}

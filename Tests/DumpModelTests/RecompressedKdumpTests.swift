import Foundation
import Testing
@testable import DumpModel

/// Debian's makedumpfile cannot write snappy (nor raw-only) files: rewrite dump.kdump with the
/// same headers and bitmaps and every present page recompressed, then read them back.
@Suite(.enabled(if: FormatFixtures.available, "fixtures not prepared (../shared/fixtures/prepare.sh)"))
struct RecompressedKdumpTests {
    /// dump.kdump's headers and bitmaps unchanged, status set to `c`, a new page_desc table and data.
    static func rewrite(_ c: TestWriter.Compression) throws -> (bytes: [UInt8], source: KdumpCompressedFile) {
        let source = try #require(try FormatFixtures.open("dump.kdump") as? KdumpCompressedFile)
        var out = try source.reader.bytes(at: 0, count: Int(source.dataOffset))
        let status: UInt32 = switch c {
        case .raw: 0
        case .zlib: 1
        case .lzo: 2
        case .snappy: 4
        case .zstd: 0x20
        }
        TestWriter.put(status, at: 424, in: &out)
        let pfns = Array(source.presentPages())
        var table: [UInt8] = [], data: [UInt8] = []
        table.reserveCapacity(24 * pfns.count)
        let dataStart = out.count + 24 * pfns.count
        var page = [UInt8](repeating: 0, count: source.pageSize)
        for pfn in pfns {
            try page.withUnsafeMutableBytes { try source.readPage(pfn: pfn, into: $0) }
            let (stored, flags) = TestWriter.compress(page, c)
            // Like makedumpfile: keep a page raw when compression does not make it smaller.
            let (bytes, f) = stored.count < page.count ? (stored, flags) : (page, UInt32(0))
            table += TestWriter.le(UInt64(dataStart + data.count)) + TestWriter.le(UInt32(bytes.count))
                + TestWriter.le(f) + TestWriter.le(UInt64(0))
            data += bytes
        }
        return (out + table + data, source)
    }

    static func compareAll(_ d: any DumpFile, with source: KdumpCompressedFile) throws -> Int {
        var a = [UInt8](repeating: 0, count: 4096), b = a
        var n = 0
        for pfn in source.presentPages() {
            try a.withUnsafeMutableBytes { try source.readPage(pfn: pfn, into: $0) }
            try b.withUnsafeMutableBytes { try d.readPage(pfn: pfn, into: $0) }
            if a != b { Issue.record("pfn \(pfn) differs"); return n }
            n += 1
        }
        return n
    }

    @Test(arguments: [TestWriter.Compression.snappy, .zstd, .lzo, .raw])
    func recompressedPagesReadBackEqual(_ c: TestWriter.Compression) throws {
        let (bytes, source) = try Self.rewrite(c)
        let d = try DumpOpener.open(reader: ByteBuffer(bytes, name: "recompressed.kdump"))
        let kd = try #require(d as? KdumpCompressedFile)
        #expect(kd.compressionName == (c == .raw ? "none" : "\(c)"))
        #expect(d.vmcoreinfoText == source.vmcoreinfoText)
        #expect(d.prstatus == source.prstatus)
        #expect(try Self.compareAll(d, with: source) == 17567)
        // Excluded stays excluded.
        let excluded = try #require((0..<source.maxMapnr).first { source.pageState(pfn: $0) == .excluded })
        var page = [UInt8](repeating: 0, count: 4096)
        page.withUnsafeMutableBytes { buf in
            #expect(throws: DumpError.excludedPage(paddr: excluded * 4096)) { try d.readPage(pfn: excluded, into: buf) }
            return ()
        }
    }

    /// The snappy file written to disk, opened by path (mapped) and in flattened form.
    @Test func snappyFileOnDiskAndFlattened() throws {
        let (bytes, source) = try Self.rewrite(.snappy)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("crashsh-snappy-\(getpid()).kdump").path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let d = try DumpOpener.open(path: path)
        #expect(d.format == .kdumpCompressed)
        #expect(try Self.compareAll(d, with: source) == 17567)
        let flat = try DumpOpener.open(reader: ByteBuffer(TestWriter.flatten(bytes, chunk: 65536), name: "snappy.flat"))
        #expect(flat.format == .flattened)
        #expect(try Self.compareAll(flat, with: source) == 17567)
    }
}

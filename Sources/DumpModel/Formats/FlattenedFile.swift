#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// makedumpfile's flattened format (-F, and QEMU's kdump output written to a pipe): a 4 KiB header
/// ("makedumpfile" signature, big-endian type and version), then records of big-endian
/// {offset, size} followed by `size` bytes that belong at `offset` of the logical file, ended by a
/// record of {-1, -1}.
///
/// The records are indexed at open in one sequential pass that reads only what it needs, in
/// 1 MiB chunks with pread (`streamingFetch`), so memory stays flat however large the file: the
/// index holds offsets only (24 bytes per record). Where records overlap a later one wins, as a
/// second write would. The index can be kept on disk (`FlatIndexCache`), so the next open of the
/// same file costs one small read. The reassembled logical file is then a `ByteReader`, so the
/// kdump-compressed (or ELF) reader runs on it unchanged. Ranges no record wrote read as zeros,
/// like the holes of the file that makedumpfile -R would create (`writeSeekable(to:)` makes that
/// file).
public final class FlattenedFile: ByteReader {
    /// The flattened file on disk.
    public let base: any ByteReader
    public var name: String { base.name }
    /// Size of the logical file (end of the last byte any record writes).
    public var size: UInt64 { index.logicalSize }
    public var headerType: Int64 { index.headerType }
    public var headerVersion: Int64 { index.headerVersion }
    /// Data records in the file (the end marker and empty records not counted).
    public var recordCount: Int { Int(index.recordCount) }
    /// True when the index came from the on-disk cache rather than a pass over the file.
    public let indexFromCache: Bool

    static let signature: [UInt8] = Array("makedumpfile".utf8)
    static let headerSize: UInt64 = 4096
    static let recordHeaderSize: UInt64 = 16

    private let index: FlatIndex

    /// True when `reader` starts with the flattened-format signature.
    public static func hasSignature(_ reader: any ByteReader) -> Bool {
        guard let head = try? reader.bytes(at: 0, count: 16) else { return false }
        return Array(head[0..<12]) == signature && head[12] == 0
    }

    /// Indexes the records of the flattened file in `base`. With a `cache` and a file on disk, a
    /// good index kept for this file is used instead of the pass, and a new one is kept after it.
    public init(base: any ByteReader, cache: FlatIndexCache? = nil) throws {
        self.base = base
        let identity = (base as? MappedFile)?.identity
        if let cache, let identity, let kept = cache.load(identity: identity, fileSize: base.size) {
            index = kept
            indexFromCache = true
            return
        }
        index = try FlatIndex(scanning: base)
        indexFromCache = false
        if let cache, let identity { cache.store(index, identity: identity) }
    }

    public func fetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        try copy(from: offset, into: buffer, what: what, streaming: false)
    }

    public func streamingFetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        try copy(from: offset, into: buffer, what: what, streaming: true)
    }

    private func copy(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String, streaming: Bool) throws {
        let count = UInt64(buffer.count)
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else { throw truncated(what, at: offset, length: count) }
        guard count > 0, let dst = buffer.baseAddress else { return }
        let starts = index.starts, ends = index.ends, fileOffsets = index.fileOffsets
        var i = index.firstIndex(endingAfter: offset)
        var pos = offset
        while pos < end {
            if i < starts.count, starts[i] <= pos {
                let e = min(end, ends[i])
                let window = UnsafeMutableRawBufferPointer(start: dst + Int(pos - offset), count: Int(e - pos))
                let at = fileOffsets[i] + (pos - starts[i])
                if streaming {
                    try base.streamingFetch(from: at, into: window, what: what)
                } else {
                    try base.fetch(from: at, into: window, what: what)
                }
                pos = e
                i += 1
            } else {
                // A hole: no record wrote these bytes.
                let e = i < starts.count ? min(end, starts[i]) : end
                (dst + Int(pos - offset)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(e - pos))
                pos = e
            }
        }
    }

    public func directPointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer? {
        let i = index.firstIndex(endingAfter: offset)
        guard i < index.starts.count, index.starts[i] <= offset else { return nil }
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= index.ends[i] else { return nil }
        return base.directPointer(at: index.fileOffsets[i] + (offset - index.starts[i]), count: count)
    }

    /// Writes the logical file to a new file at `path` (what `makedumpfile -R` does): each
    /// record's bytes at their offset, the ranges no record wrote left as holes. The result is an
    /// ordinary, seekable kdump-compressed (or ELF) file. Refuses to overwrite an existing file.
    /// `progress` is called after each piece with the bytes written so far; returning false stops
    /// the copy (the partial output is removed).
    public func writeSeekable(to path: String, progress: (UInt64) -> Bool = { _ in true }) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DumpError.cannotWrite(path: path, errno: errno) }
        var finished = false
        defer {
            close(fd)
            if !finished { unlink(path) }
        }
        let chunkSize = 1 << 20
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { chunk.deallocate() }
        // In file order, so the flattened file is read front to back.
        let order = index.fileOffsets.indices.sorted { index.fileOffsets[$0] < index.fileOffsets[$1] }
        var written: UInt64 = 0
        for i in order {
            var pos = index.starts[i]
            while pos < index.ends[i] {
                let n = Int(min(UInt64(chunkSize), index.ends[i] - pos))
                let window = UnsafeMutableRawBufferPointer(rebasing: chunk[0 ..< n])
                try base.streamingFetch(from: index.fileOffsets[i] + (pos - index.starts[i]), into: window,
                                        what: "flattened record data")
                var done = 0
                while done < n {
                    let w = pwrite(fd, chunk.baseAddress! + done, n - done, off_t(pos + UInt64(done)))
                    if w < 0 {
                        if errno == EINTR { continue }
                        throw DumpError.cannotWrite(path: path, errno: errno)
                    }
                    done += w
                }
                pos += UInt64(n)
                written += UInt64(n)
            }
            if !progress(written) { throw DumpError.cannotWrite(path: path, errno: EINTR) }
        }
        guard ftruncate(fd, off_t(size)) == 0, fsync(fd) == 0 else { throw DumpError.cannotWrite(path: path, errno: errno) }
        finished = true
    }

    /// crash's "makedumpfile header" block.
    func headerSection() -> HeaderSection {
        HeaderSection(title: "makedumpfile header:", fields: [
            HeaderField("signature", .quoted("makedumpfile")),
            HeaderField("type", .decimal(Int64(clamping: headerType))),
            HeaderField("version", .decimal(Int64(clamping: headerVersion))),
            HeaderField("all_flat_data", .heading),
            HeaderField("num_array", .decimal(Int64(clamping: recordCount))),
        ], nameWidth: 19)
    }
}

/// Where the bytes of a flattened file's logical file are: sorted, disjoint logical ranges
/// `starts[i] ..< ends[i]`, each stored at `fileOffsets[i]` of the flattened file.
struct FlatIndex: Equatable {
    var headerType: Int64
    var headerVersion: Int64
    var recordCount: UInt64
    var logicalSize: UInt64
    var starts: [UInt64]
    var ends: [UInt64]
    var fileOffsets: [UInt64]

    /// The first range whose end is past `x` (== count when none).
    func firstIndex(endingAfter x: UInt64) -> Int { ends.firstIndex(endingAfter: x) }

    /// True when the ranges are sorted, disjoint and inside a flattened file of `fileSize` bytes
    /// (what an index read back from disk must be before it is trusted).
    func isConsistent(fileSize: UInt64) -> Bool {
        guard headerType == 1, starts.count == ends.count, starts.count == fileOffsets.count else { return false }
        var previousEnd: UInt64 = 0
        for i in starts.indices {
            guard starts[i] < ends[i], starts[i] >= previousEnd, fileOffsets[i] >= FlattenedFile.headerSize else { return false }
            let (end, overflow) = fileOffsets[i].addingReportingOverflow(ends[i] - starts[i])
            guard !overflow, end <= fileSize else { return false }
            previousEnd = ends[i]
        }
        return logicalSize == previousEnd
    }

    /// One pass over the records of the flattened file in `base`, front to back, reading record
    /// headers through a 1 MiB window and skipping record data.
    init(scanning base: any ByteReader) throws {
        let path = base.name
        guard FlattenedFile.hasSignature(base) else {
            throw DumpError.unknownFormat(path: path, detail: "no makedumpfile flattened signature")
        }
        headerType = try base.load(Int64.self, at: 16, order: .big, what: "flattened header type")
        headerVersion = try base.load(Int64.self, at: 24, order: .big, what: "flattened header version")
        guard headerType == 1 else {
            throw DumpError.badHeader(path: path, field: "flattened type", value: String(headerType),
                                      reason: "expected 1 (TYPE_FLAT_HEADER)")
        }
        guard base.size >= FlattenedFile.headerSize else {
            throw base.truncated("flattened header", at: 0, length: FlattenedFile.headerSize)
        }
        let windowSize = 1 << 20
        let window = UnsafeMutableRawBufferPointer.allocate(byteCount: windowSize, alignment: 16)
        defer { window.deallocate() }
        var windowStart: UInt64 = 0, windowCount: UInt64 = 0
        /// Size of the record just passed: after a large one (makedumpfile writes 64 KiB records)
        /// the next header is read alone, 4 KiB, rather than a window of data mostly skipped.
        var lastLength: UInt64 = 0
        /// The record header at `pos`, read through the window.
        func recordHeader(at pos: UInt64) throws -> (Int64, Int64) {
            let headerSize = FlattenedFile.recordHeaderSize
            if pos < windowStart || pos - windowStart + headerSize > windowCount {
                guard base.size - pos >= headerSize else {
                    throw base.truncated("flattened record header", at: pos, length: headerSize)
                }
                let want: UInt64 = lastLength >= UInt64(windowSize / 32) ? 4096 : UInt64(windowSize)
                let n = min(want, base.size - pos)
                try base.streamingFetch(from: pos, into: UnsafeMutableRawBufferPointer(rebasing: window[0 ..< Int(n)]),
                                        what: "flattened record header")
                windowStart = pos
                windowCount = n
            }
            let at = Int(pos - windowStart)
            let off = Int64(bigEndian: window.loadUnaligned(fromByteOffset: at, as: Int64.self))
            let len = Int64(bigEndian: window.loadUnaligned(fromByteOffset: at + 8, as: Int64.self))
            return (off, len)
        }

        var pieces: [(start: UInt64, end: UInt64, rank: Int)] = []
        var dataOffsets: [UInt64] = []
        var pos = FlattenedFile.headerSize
        var sawEnd = false
        while pos < base.size {
            let (off, len) = try recordHeader(at: pos)
            if off == -1 && len == -1 { sawEnd = true; break }
            guard off >= 0, len >= 0 else {
                throw DumpError.badHeader(path: path, field: "flattened record at \(hex(pos))",
                                          value: "offset \(off), size \(len)", reason: "negative offset or size")
            }
            let start = pos + FlattenedFile.recordHeaderSize
            let (dataEnd, o1) = start.addingReportingOverflow(UInt64(len))
            guard !o1, dataEnd <= base.size else {
                throw base.truncated("flattened record data (logical offset \(hex(UInt64(off))))", at: start, length: UInt64(len))
            }
            let (logicalEnd, o2) = UInt64(off).addingReportingOverflow(UInt64(len))
            guard !o2 else {
                throw DumpError.badHeader(path: path, field: "flattened record at \(hex(pos))",
                                          value: "offset \(off), size \(len)", reason: "past the end of a file")
            }
            if len > 0 {
                // Later records win: rank is the negated record number.
                pieces.append((UInt64(off), logicalEnd, -pieces.count))
                dataOffsets.append(start)
            }
            pos = dataEnd
            lastLength = UInt64(len)
        }
        guard sawEnd else {
            throw base.truncated("flattened end marker", at: pos, length: FlattenedFile.recordHeaderSize)
        }
        recordCount = UInt64(pieces.count)
        let map = IntervalMap(pieces: pieces)
        starts = map.starts
        ends = map.ends
        fileOffsets = (0 ..< map.count).map { i in
            let owner = map.owners[i]
            return dataOffsets[owner] + (map.starts[i] - pieces[owner].start)
        }
        logicalSize = ends.last ?? 0
    }

    init(headerType: Int64, headerVersion: Int64, recordCount: UInt64, logicalSize: UInt64,
         starts: [UInt64], ends: [UInt64], fileOffsets: [UInt64]) {
        self.headerType = headerType; self.headerVersion = headerVersion
        self.recordCount = recordCount; self.logicalSize = logicalSize
        self.starts = starts; self.ends = ends; self.fileOffsets = fileOffsets
    }
}

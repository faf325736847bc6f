/// makedumpfile's flattened format (-F, and QEMU's kdump output written to a pipe): a 4 KiB header
/// ("makedumpfile" signature, big-endian type and version), then records of big-endian
/// {offset, size} followed by `size` bytes that belong at `offset` of the logical file, ended by a
/// record of {-1, -1}.
///
/// The records are indexed once at open (O(records), two compact arrays after resolving overlaps;
/// a later record wins where two overlap, as a second write would); the reassembled logical file is
/// then a `ByteReader`, so the kdump-compressed (or ELF) reader runs on it unchanged. Ranges no
/// record wrote read as zeros, like the holes of the file that makedumpfile -R would create.
public final class FlattenedFile: ByteReader {
    /// The flattened file on disk.
    public let base: any ByteReader
    public var name: String { base.name }
    /// Size of the logical file (end of the last byte any record writes).
    public let size: UInt64
    public let headerType: Int64
    public let headerVersion: Int64
    /// Data records in the file (the end marker not counted).
    public let recordCount: Int

    static let signature: [UInt8] = Array("makedumpfile".utf8)
    static let headerSize: UInt64 = 4096
    static let recordHeaderSize: UInt64 = 16

    private let map: IntervalMap
    /// Per record: logical offset and file offset of its data.
    private let logicalStart: [UInt64]
    private let dataOffset: [UInt64]

    /// True when `reader` starts with the flattened-format signature.
    public static func hasSignature(_ reader: any ByteReader) -> Bool {
        guard let head = try? reader.bytes(at: 0, count: 16) else { return false }
        return Array(head[0..<12]) == signature && head[12] == 0
    }

    /// Indexes the records of the flattened file in `base`.
    public init(base: any ByteReader) throws {
        self.base = base
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
        var pieces: [(start: UInt64, end: UInt64, rank: Int)] = []
        var logical: [UInt64] = [], data: [UInt64] = []
        var pos = FlattenedFile.headerSize
        var logicalSize: UInt64 = 0
        var sawEnd = false
        while pos < base.size {
            let off = try base.load(Int64.self, at: pos, order: .big, what: "flattened record header")
            let len = try base.load(Int64.self, at: pos &+ 8, order: .big, what: "flattened record header")
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
                logical.append(UInt64(off))
                data.append(start)
                logicalSize = max(logicalSize, logicalEnd)
            }
            pos = dataEnd
        }
        guard sawEnd else {
            throw base.truncated("flattened end marker", at: pos, length: FlattenedFile.recordHeaderSize)
        }
        recordCount = pieces.count
        map = IntervalMap(pieces: pieces)
        logicalStart = logical
        dataOffset = data
        size = logicalSize
    }

    public func fetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        let count = UInt64(buffer.count)
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else { throw truncated(what, at: offset, length: count) }
        guard count > 0, let dst = buffer.baseAddress else { return }
        var i = map.firstIndex(endingAfter: offset)
        var pos = offset
        while pos < end {
            if i < map.count, map.starts[i] <= pos {
                let e = min(end, map.ends[i])
                let owner = map.owners[i]
                let window = UnsafeMutableRawBufferPointer(start: dst + Int(pos - offset), count: Int(e - pos))
                try base.fetch(from: dataOffset[owner] + (pos - logicalStart[owner]), into: window, what: what)
                pos = e
                i += 1
            } else {
                // A hole: no record wrote these bytes.
                let e = i < map.count ? min(end, map.starts[i]) : end
                (dst + Int(pos - offset)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(e - pos))
                pos = e
            }
        }
    }

    public func directPointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer? {
        guard let i = map.index(containing: offset) else { return nil }
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= map.ends[i] else { return nil }
        let owner = map.owners[i]
        return base.directPointer(at: dataOffset[owner] + (offset - logicalStart[owner]), count: count)
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

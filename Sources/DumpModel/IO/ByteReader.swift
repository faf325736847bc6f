/// Byte order of the values in a file, decided once per format.
public enum ByteOrder: Sendable {
    case little, big
}

/// Something that holds bytes at offsets: a mapped file, a range of one, the reassembled
/// logical file behind makedumpfile's flattened format.
///
/// One primitive, `fetch(from:into:)`; the typed loads are generic conveniences built on it.
public protocol ByteReader {
    /// Name used in error messages (usually the file path).
    var name: String { get }
    /// Number of readable bytes; offsets are `0 ..< size`.
    var size: UInt64 { get }
    /// Copies `buffer.count` bytes starting at `offset` into `buffer`, or throws `.truncated`.
    func fetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws
    /// The bytes `offset ..< offset+count` in place, when the reader holds them contiguously in memory
    /// (a mapped file); nil otherwise, and then callers `fetch` into their own buffer. Lets page readers
    /// decompress straight from the mapping without copying.
    func directPointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer?
    /// `fetch` for a pass over much of the file (indexing, copying): a mapped file reads these with
    /// pread(2) so the pages passed over do not stay resident in the process.
    func streamingFetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws
}

extension ByteReader {
    public func directPointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer? { nil }
    public func streamingFetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        try fetch(from: offset, into: buffer, what: what)
    }
}

extension ByteReader {
    /// The error for "`length` bytes at `offset` are not there".
    public func truncated(_ what: String, at offset: UInt64, length: UInt64) -> DumpError {
        .truncated(path: name, what: what, offset: offset, length: length, fileSize: size)
    }

    /// One integer, bounds-checked, in the given byte order.
    @inline(__always)
    public func load<T: FixedWidthInteger>(_: T.Type = T.self, at offset: UInt64, order: ByteOrder = .little,
                                           what: String = "value") throws -> T {
        var v: T = 0
        try withUnsafeMutableBytes(of: &v) { (buf) in
            try fetch(from: offset, into: buf, what: what)
        }
        return order == .little ? T(littleEndian: v) : T(bigEndian: v)
    }

    /// `count` bytes as an array.
    public func bytes(at offset: UInt64, count: Int, what: String = "bytes") throws -> [UInt8] {
        guard count >= 0 else { throw truncated(what, at: offset, length: 0) }
        // Check before allocating: `count` often comes from the file.
        let (end, overflow) = offset.addingReportingOverflow(UInt64(count))
        guard !overflow, end <= size else { throw truncated(what, at: offset, length: UInt64(count)) }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { (buf) in
            try fetch(from: offset, into: buf, what: what)
        }
        return out
    }

    /// A fixed-size character field (NUL-padded) as a String, lossy for non-UTF-8 bytes.
    public func fixedString(at offset: UInt64, count: Int, what: String = "string") throws -> String {
        let raw = try bytes(at: offset, count: count, what: what)
        let end = raw.firstIndex(of: 0) ?? raw.count
        return String(decoding: raw[..<end], as: UTF8.self)
    }
}

extension MappedFile: ByteReader {
    public var name: String { path }

    public func directPointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer? {
        pointer(at: offset, count: count)
    }

    public func fetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        guard buffer.count > 0, let dst = buffer.baseAddress else { return }
        guard isMapped else { return try readWithoutMapping(from: offset, into: buffer, what: what) }
        guard let p = pointer(at: offset, count: UInt64(buffer.count)) else {
            throw truncated(what, at: offset, length: UInt64(buffer.count))
        }
        dst.copyMemory(from: p, byteCount: buffer.count)
    }

    public func streamingFetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        try readWithoutMapping(from: offset, into: buffer, what: what)
    }
}

/// A window `start ..< start+size` of another reader, with offsets relative to `start`.
/// Cheap to make; every access is checked against the window first.
public struct ByteRange<Base: ByteReader>: ByteReader {
    public let base: Base
    public let start: UInt64
    public let size: UInt64
    public var name: String { base.name }

    public init(_ base: Base, start: UInt64, size: UInt64, what: String = "range") throws {
        let (end, overflow) = start.addingReportingOverflow(size)
        guard !overflow, end <= base.size else { throw base.truncated(what, at: start, length: size) }
        self.base = base
        self.start = start
        self.size = size
    }

    public func fetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(buffer.count))
        guard !overflow, end <= size else {
            throw DumpError.truncated(path: name, what: what, offset: start &+ offset, length: UInt64(buffer.count),
                             fileSize: base.size)
        }
        try base.fetch(from: start + offset, into: buffer, what: what)
    }

    public func streamingFetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(buffer.count))
        guard !overflow, end <= size else {
            throw DumpError.truncated(path: name, what: what, offset: start &+ offset, length: UInt64(buffer.count),
                             fileSize: base.size)
        }
        try base.streamingFetch(from: start + offset, into: buffer, what: what)
    }

    public func directPointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer? {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else { return nil }
        return base.directPointer(at: start + offset, count: count)
    }
}

/// Little-endian loads from an in-memory byte array (a note, a decompressed page), bounds-checked.
public struct ByteBuffer: ByteReader, Sendable {
    public let bytes: [UInt8]
    public let name: String
    public var size: UInt64 { UInt64(bytes.count) }

    public init(_ bytes: [UInt8], name: String = "buffer") {
        self.bytes = bytes
        self.name = name
    }

    public func fetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(buffer.count))
        guard !overflow, end <= size else { throw truncated(what, at: offset, length: UInt64(buffer.count)) }
        guard buffer.count > 0, let dst = buffer.baseAddress else { return }
        bytes.withUnsafeBytes { src in
            dst.copyMemory(from: src.baseAddress! + Int(offset), byteCount: buffer.count)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Indexes of flattened files kept on disk (one small file per dump, named by its device and
/// inode), so a flattened dump is read end to end once, not at every open.
///
/// An index file holds the dump's identity (device, inode, size, modification time) and a format
/// version; it is used only when both match the dump as it is now and its checksum and ranges
/// check out (`FlatIndex.isConsistent`). Anything else (stale, damaged, another version) is
/// ignored, and the index built by the next pass replaces it. Writing is best-effort: a cache
/// that cannot be written costs the next run a pass, nothing else.
public struct FlatIndexCache: Sendable {
    /// The directory holding the index files.
    public let directory: String

    /// Bumped whenever the layout below changes.
    static let formatVersion: UInt32 = 1
    static let magic: [UInt8] = Array("CRSHFLAT".utf8)
    /// magic, version + padding, 5 identity words, header type/version, record count, logical size,
    /// range count.
    static let headerBytes = 8 + 8 + 5 * 8 + 2 * 8 + 3 * 8

    public init(directory: String) { self.directory = directory }

    /// `$XDG_CACHE_HOME/crashsh/flat-index`, else `$HOME/.cache/crashsh/flat-index`; nil without either.
    public static func defaultDirectory(xdgCacheHome: String?, home: String?) -> String? {
        if let x = xdgCacheHome, x.hasPrefix("/") { return x + "/crashsh/flat-index" }
        if let h = home, h.hasPrefix("/") { return h + "/.cache/crashsh/flat-index" }
        return nil
    }

    func path(for identity: FileIdentity) -> String {
        "\(directory)/\(identity.device)-\(identity.inode).index"
    }

    /// The kept index for the file with `identity`, if there is a good one.
    func load(identity: FileIdentity, fileSize: UInt64) -> FlatIndex? {
        let fd = open(path(for: identity), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let length = Int(st.st_size)
        guard length >= FlatIndexCache.headerBytes + 8, (length - FlatIndexCache.headerBytes - 8) % 24 == 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: length)
        let complete = bytes.withUnsafeMutableBytes { buf -> Bool in
            var done = 0
            while done < length {
                let n = read(fd, buf.baseAddress! + done, length - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        guard complete else { return nil }
        return FlatIndexCache.decode(bytes, identity: identity, fileSize: fileSize)
    }

    /// Keeps `index` for the file with `identity` (written to a temporary name, then renamed, so a
    /// reader never sees half a file). Failures are ignored.
    func store(_ index: FlatIndex, identity: FileIdentity) {
        guard makeDirectories(directory) else { return }
        let final = path(for: identity)
        let temporary = final + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let bytes = FlatIndexCache.encode(index, identity: identity)
        let ok = bytes.withUnsafeBytes { buf -> Bool in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        close(fd)
        if !ok || rename(temporary, final) != 0 { unlink(temporary) }
    }

    private func makeDirectories(_ path: String) -> Bool {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    static func encode(_ index: FlatIndex, identity: FileIdentity) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerBytes + 24 * index.starts.count + 8)
        func word(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        out += magic
        word(UInt64(formatVersion))
        for v in [identity.device, identity.inode, identity.size,
                  UInt64(bitPattern: identity.modifiedSeconds), UInt64(bitPattern: identity.modifiedNanoseconds),
                  UInt64(bitPattern: index.headerType), UInt64(bitPattern: index.headerVersion),
                  index.recordCount, index.logicalSize, UInt64(index.starts.count)] { word(v) }
        for array in [index.starts, index.ends, index.fileOffsets] {
            array.withUnsafeBytes { raw in
                // Stored little-endian, as the machines crashsh runs on hold them.
                out += raw
            }
        }
        word(checksum(out[...]))
        return out
    }

    static func decode(_ bytes: [UInt8], identity: FileIdentity, fileSize: UInt64) -> FlatIndex? {
        guard bytes.count >= headerBytes + 8, Array(bytes[0 ..< 8]) == magic else { return nil }
        func word(_ k: Int) -> UInt64 {
            bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8 * k, as: UInt64.self)) }
        }
        guard word(1) == UInt64(formatVersion),
              word(2) == identity.device, word(3) == identity.inode, word(4) == identity.size,
              word(5) == UInt64(bitPattern: identity.modifiedSeconds),
              word(6) == UInt64(bitPattern: identity.modifiedNanoseconds) else { return nil }
        let count = word(11)
        guard count <= UInt64(bytes.count), UInt64(headerBytes) + 24 * count + 8 == UInt64(bytes.count),
              checksum(bytes[0 ..< bytes.count - 8]) == word(bytes.count / 8 - 1) else { return nil }
        let n = Int(count)
        func array(_ k: Int) -> [UInt64] {
            let start = headerBytes + 8 * n * k
            return bytes.withUnsafeBytes { raw in
                (0 ..< n).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * $0, as: UInt64.self)) }
            }
        }
        let index = FlatIndex(headerType: Int64(bitPattern: word(7)), headerVersion: Int64(bitPattern: word(8)),
                              recordCount: word(9), logicalSize: word(10),
                              starts: array(0), ends: array(1), fileOffsets: array(2))
        return index.isConsistent(fileSize: fileSize) ? index : nil
    }

    /// A word-at-a-time multiplicative hash: catches torn and damaged files, fast enough that
    /// checking costs little next to reading. `bytes.count` is a multiple of 8.
    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            var k = 0
            while k + 8 <= raw.count {
                let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: k, as: UInt64.self))
                h = (h ^ w) &* 0x0000_0100_0000_01b3
                h ^= h >> 29
                k += 8
            }
            return h
        }
    }
}

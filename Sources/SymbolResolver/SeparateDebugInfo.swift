import CDwarf
import CDecompress
#if canImport(Glibc)
import Glibc
#endif

/// What an ELF file says about debuginfo kept in another file.
extension ELFImage {
    /// The GNU build-id (NT_GNU_BUILD_ID in an SHT_NOTE section) as lowercase hex, or nil.
    var buildIDHex: String? {
        for s in sections where s.type == UInt32(SHT_NOTE) {
            guard let b = storedBytes(of: s) else { continue }
            var at = 0
            while at + 12 <= b.count, let nsz = b.u32(at), let dsz = b.u32(at + 4), let type = b.u32(at + 8) {
                let nameLen = Int(nsz), descLen = Int(dsz)
                let nameAt = at + 12
                guard nameLen < b.count, descLen < b.count else { break }
                let descAt = nameAt + ((nameLen + 3) & ~3)
                guard descAt <= b.count - descLen else { break }
                if type == UInt32(NT_GNU_BUILD_ID), nameLen == 4, b.cString(at: nameAt) == "GNU",
                   let desc = b.slice(descAt, descLen), desc.count > 0 {
                    return Self.hex(desc)
                }
                at = descAt + ((descLen + 3) & ~3)
            }
        }
        return nil
    }

    static func hex(_ b: Bytes) -> String {
        var hex = ""
        hex.reserveCapacity(b.count * 2)
        for i in 0..<b.count {
            let v = b.base.load(fromByteOffset: i, as: UInt8.self)
            hex += String(v >> 4, radix: 16) + String(v & 0xf, radix: 16)
        }
        return hex
    }

    /// `.gnu_debuglink`: the debug file's base name and the CRC-32 of its whole contents.
    var gnuDebugLink: (name: String, crc: UInt32)? {
        guard let s = section(named: ".gnu_debuglink"), let b = storedBytes(of: s),
              let n = b.cStringLength(at: 0), n > 0, let name = b.cString(at: 0) else { return nil }
        let crcAt = (n + 1 + 3) & ~3
        guard let crc = b.u32(crcAt), Self.isPlainFileName(name) else { return nil }
        return (name, crc)
    }

    /// `.gnu_debugaltlink` (written by dwz -m): the common file's path and its build-id (hex).
    var gnuDebugAltLink: (path: String, buildID: String)? {
        guard let s = section(named: ".gnu_debugaltlink"), let b = storedBytes(of: s),
              let n = b.cStringLength(at: 0), n > 0, let path = b.cString(at: 0),
              let id = b.slice(n + 1, b.count - n - 1), id.count > 0 else { return nil }
        return (path, Self.hex(id))
    }

    /// A name from an untrusted file that stays in the directory it is joined to.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && name != "." && name != ".."
    }

    var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// Finds the file that holds a stripped file's debuginfo, where gdb and the distributions put
/// it: by build-id under each debug root (`ROOT/.build-id/xx/yyyy.debug`), then by
/// `.gnu_debuglink` beside the file, in its `.debug/` folder and under each root mirrored by the
/// file's directory. A build-id candidate must carry the same build-id; a debuglink candidate
/// the same build-id when both have one, else the CRC-32 the link records.
struct SeparateDebugInfo {
    /// Debug roots, normally /usr/lib/debug (crashsh also looks in its debuginfo cache).
    var roots: [String]

    func find(for image: ELFImage, role: ELFRole) -> ELFImage? {
        let id = image.buildIDHex
        if let id, id.count > 2 {
            for root in roots {
                let candidate = "\(root)/.build-id/\(id.prefix(2))/\(id.dropFirst(2)).debug"
                if let d = open(candidate, role: role, excluding: image), d.buildIDHex == id { return d }
            }
        }
        guard let link = image.gnuDebugLink else { return nil }
        let dir = image.directory
        var candidates = ["\(dir)/\(link.name)", "\(dir)/.debug/\(link.name)"]
        let absoluteDir = realPath(dir) ?? dir
        for root in roots { candidates.append("\(root)\(absoluteDir)/\(link.name)") }
        for candidate in candidates {
            guard let d = open(candidate, role: role, excluding: image) else { continue }
            if let id, let other = d.buildIDHex {
                if other == id { return d }
                continue
            }
            if Self.crc32(of: d.file) == link.crc { return d }
        }
        return nil
    }

    /// The dwz common file named by `.gnu_debugaltlink`: the path as written (relative to the
    /// file's directory), else by its build-id under each root; it must carry that build-id.
    func findAlternate(for image: ELFImage) -> ELFImage? {
        guard let link = image.gnuDebugAltLink else { return nil }
        var candidates: [String] = []
        if !link.path.split(separator: "/").contains("..") {
            candidates.append(link.path.hasPrefix("/") ? link.path : "\(image.directory)/\(link.path)")
        }
        if link.buildID.count > 2 {
            for root in roots { candidates.append("\(root)/.build-id/\(link.buildID.prefix(2))/\(link.buildID.dropFirst(2)).debug") }
        }
        for candidate in candidates {
            if let d = open(candidate, role: .supplementary, excluding: image), d.buildIDHex == link.buildID { return d }
        }
        return nil
    }

    private func open(_ path: String, role: ELFRole, excluding image: ELFImage) -> ELFImage? {
        guard let candidate = realPath(path), candidate != realPath(image.path) else { return nil }
        return try? ELFImage(path: path, role: role)
    }

    private func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// The CRC-32 (zlib's polynomial, as .gnu_debuglink uses) of `bytes`, in chunks zlib's
    /// 32-bit length accepts.
    static func crc32(of bytes: Bytes) -> UInt32 {
        var crc = CDecompress.crc32(0, nil, 0)
        var at = 0
        while at < bytes.count {
            let n = min(bytes.count - at, 1 << 30)
            crc = CDecompress.crc32(crc, (bytes.base + at).assumingMemoryBound(to: Bytef.self), uInt(n))
            at += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}

import Foundation

/// Dumps made from the fixture set for tests that need a kind of dump the set lacks. They are
/// written once per machine under the temporary directory (sparse: all-zero pages are holes)
/// and rewritten when their source changes; nothing generated is committed.
public enum GeneratedDumps {
    /// qemu.elf with its VMCOREINFO note removed from the PT_NOTE segment: what QEMU's
    /// dump-guest-memory writes for a guest without `-device vmcoreinfo`. Nil without the fixture set.
    public static let qemuElfWithoutVMCOREINFO: Result<String, GeneratedDumpError>? = {
        guard let set = SharedFixtures.setDirectory else { return nil }
        do {
            return .success(try generate(from: set + "/qemu.elf", name: "qemu-no-vmcoreinfo.elf", edit: removeVMCOREINFONote))
        } catch {
            return .failure(GeneratedDumpError("qemu-no-vmcoreinfo.elf: \(error)"))
        }
    }()

    /// qemu.kdump (QEMU's kdump-compressed output, flattened) without VMCOREINFO: the sub-header's
    /// offset_vmcoreinfo/size_vmcoreinfo zeroed, the note cut from the note block, and the
    /// sub-header's phys_base zeroed (a header value the CPU state must override).
    public static let qemuKdumpWithoutVMCOREINFO: Result<String, GeneratedDumpError>? = {
        guard let set = SharedFixtures.setDirectory else { return nil }
        do {
            return .success(try generate(from: set + "/qemu.kdump", name: "qemu-no-vmcoreinfo.kdump",
                                         headLength: Int.max, edit: removeKdumpVMCOREINFO))
        } catch {
            return .failure(GeneratedDumpError("qemu-no-vmcoreinfo.kdump: \(error)"))
        }
    }()

    /// A copy of the kdump-compressed `source` (not flattened) in which the page frames `pfns`
    /// are excluded as makedumpfile excludes a page: their bits cleared in the dumpable bitmap
    /// and their page descriptors removed (the later ones move up; page data stays where it was).
    public static func kdump(excluding pfns: ClosedRange<UInt64>, from source: String, name: String) throws -> String {
        try generate(from: source, name: name, headLength: Int.max) { b in
            func le(_ at: Int, _ n: Int) throws -> Int {
                guard at >= 0, at + n <= b.count else { throw GeneratedDumpError("offset \(at) past the file") }
                return b[at ..< at + n].reversed().reduce(0) { $0 << 8 | Int($1) }
            }
            guard b.count > 440, Array(b[0 ..< 8]) == Array("KDUMP   ".utf8) else { throw GeneratedDumpError("not kdump-compressed") }
            // disk_dump_header: block_size at 428, sub_hdr_size 432, bitmap_blocks 436, max_mapnr 440.
            let block = try le(428, 4), subBlocks = try le(432, 4), bitmapBlocks = try le(436, 4)
            let bitmap2 = (1 + subBlocks) * block + bitmapBlocks * block / 2
            let descriptors = (1 + subBlocks + bitmapBlocks) * block
            let pfnCount = bitmapBlocks * block / 2 * 8
            guard pfns.upperBound < pfnCount else { throw GeneratedDumpError("pfn \(pfns.upperBound) past the bitmap") }
            var rank = 0
            var kept: [[UInt8]] = []
            for pfn in 0 ..< pfnCount {
                let byte = bitmap2 + pfn / 8, bit = UInt8(1) << (pfn % 8)
                guard b[byte] & bit != 0 else { continue }
                let at = descriptors + rank * 24
                rank += 1
                if pfns.contains(UInt64(pfn)) { b[byte] &= ~bit } else { kept.append(Array(b[at ..< at + 24])) }
            }
            for (i, d) in kept.enumerated() { b.replaceSubrange(descriptors + i * 24 ..< descriptors + (i + 1) * 24, with: d) }
        }
    }

    /// Writes `edit(source)`'s header change and the rest of `source` to the cache, unless a copy
    /// made from the same source (size and modification time) is there.
    static func generate(from source: String, name: String, headLength wanted: Int = 1 << 20,
                         edit: (inout [UInt8]) throws -> Void) throws -> String {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("crashsh-generated-\(getuid())")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let target = dir.appendingPathComponent(name).path
        let attributes = try fm.attributesOfItem(atPath: source)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let stamp = "\(source) \(size) \(modified)\n"
        let stampPath = target + ".source"
        if fm.fileExists(atPath: target), (try? String(contentsOfFile: stampPath, encoding: .utf8)) == stamp {
            return target
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: source), options: .alwaysMapped)
        // The edits touch only headers and notes: by default the first MiB is edited in memory.
        let headLength = min(data.count, wanted)
        var head = [UInt8](data.prefix(headLength))
        try edit(&head)
        let temporary = target + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw GeneratedDumpError("cannot create \(temporary)") }
        defer { close(fd) }
        func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
            guard pwrite(fd, bytes.baseAddress, bytes.count, off_t(offset)) == bytes.count else {
                throw GeneratedDumpError("cannot write \(temporary)")
            }
        }
        try head.withUnsafeBytes { try write($0, at: 0) }
        let page = 4096
        try data.withUnsafeBytes { (all: UnsafeRawBufferPointer) in
            var offset = headLength
            while offset < all.count {
                let chunk = UnsafeRawBufferPointer(rebasing: all[offset ..< min(offset + page, all.count)])
                if chunk.contains(where: { $0 != 0 }) { try write(chunk, at: offset) }
                offset += chunk.count
            }
        }
        guard ftruncate(fd, off_t(data.count)) == 0 else { throw GeneratedDumpError("cannot size \(temporary)") }
        try? fm.removeItem(atPath: target)
        try fm.moveItem(atPath: temporary, toPath: target)
        try stamp.write(toFile: stampPath, atomically: true, encoding: .utf8)
        return target
    }

    /// Cuts the VMCOREINFO note out of an ELF64 core's first PT_NOTE segment: the segment ends
    /// before it when it is the last note, else the note's name is changed so readers skip it.
    static func removeVMCOREINFONote(_ b: inout [UInt8]) throws {
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
        func put64(_ v: Int, _ o: Int) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
        guard b.count >= 64, b[0 ..< 4] == [0x7f, 0x45, 0x4c, 0x46] else { throw GeneratedDumpError("not an ELF file") }
        let phoff = u64(32), phentsize = u16(54), phnum = u16(56)
        for i in 0..<phnum {
            let ph = phoff + i * phentsize
            guard ph + 56 <= b.count, u32(ph) == 4 else { continue }
            let start = u64(ph + 8), size = u64(ph + 32)
            guard start + size <= b.count else { throw GeneratedDumpError("PT_NOTE beyond the first MiB") }
            var pos = start
            while pos + 12 <= start + size {
                let namesz = u32(pos), descsz = u32(pos + 4)
                let next = pos + 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
                if Array(b[pos + 12 ..< pos + 12 + min(namesz, 10)]) == Array("VMCOREINFO".utf8) {
                    if next >= start + size {
                        put64(pos - start, ph + 32)
                        put64(pos - start, ph + 40)
                    } else {
                        b[pos + 12] = UInt8(ascii: "X")
                    }
                    return
                }
                pos = next
            }
        }
        throw GeneratedDumpError("no VMCOREINFO note")
    }
}

extension GeneratedDumps {
    /// The bytes of a kdump-compressed file as its logical offsets see them: the whole file, or
    /// the data of a flattened file's records (each logical byte in one record, as makedumpfile
    /// and QEMU write them).
    struct LogicalBytes {
        /// (logical offset, length, offset of the data in the file).
        var records: [(logical: Int, length: Int, data: Int)] = []

        init(_ b: [UInt8]) throws {
            guard b.count >= 4096, Array(b[0 ..< 12]) == Array("makedumpfile".utf8) else {
                records = [(0, b.count, 0)]
                return
            }
            func be64(_ o: Int) -> Int { (0..<8).reduce(0) { $0 << 8 | Int(b[o + $1]) } }
            var pos = 4096
            while pos + 16 <= b.count {
                let offset = be64(pos), length = be64(pos + 8)
                if offset == -1 { return }
                guard offset >= 0, length >= 0, pos + 16 + length <= b.count else { throw GeneratedDumpError("bad flattened record") }
                records.append((offset, length, pos + 16))
                pos += 16 + length
            }
        }

        /// File offset of logical byte `at`.
        func fileOffset(_ at: Int) throws -> Int {
            guard let r = records.last(where: { $0.logical <= at && at < $0.logical + $0.length }) else {
                throw GeneratedDumpError("logical offset \(at) in no record")
            }
            return r.data + (at - r.logical)
        }
        func read(_ b: [UInt8], _ at: Int, _ count: Int) throws -> [UInt8] {
            try (0..<count).map { b[try fileOffset(at + $0)] }
        }
        func write(_ b: inout [UInt8], _ at: Int, _ bytes: [UInt8]) throws {
            for (i, v) in bytes.enumerated() { b[try fileOffset(at + i)] = v }
        }
    }

    static func removeKdumpVMCOREINFO(_ b: inout [UInt8]) throws {
        let file = try LogicalBytes(b)
        func le(_ bytes: [UInt8]) -> Int { bytes.reversed().reduce(0) { $0 << 8 | Int($1) } }
        func put(_ v: Int, _ at: Int) throws { try file.write(&b, at, (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }) }
        guard try file.read(b, 0, 8) == Array("KDUMP   ".utf8) else { throw GeneratedDumpError("not kdump-compressed") }
        // disk_dump_header: header_version at 8, block_size at 428; the sub-header is block 1.
        let version = le(try file.read(b, 8, 4)), block = le(try file.read(b, 428, 4))
        guard version >= 4, block >= 4096 else { throw GeneratedDumpError("header version \(version) has no note block") }
        let sub = block
        try put(0, sub)           // phys_base
        try put(0, sub + 32)      // offset_vmcoreinfo
        try put(0, sub + 40)      // size_vmcoreinfo
        let noteStart = le(try file.read(b, sub + 48, 8)), noteSize = le(try file.read(b, sub + 56, 8))
        var pos = noteStart
        while pos + 12 <= noteStart + noteSize {
            let head = try file.read(b, pos, 12)
            let namesz = le(Array(head[0 ..< 4])), descsz = le(Array(head[4 ..< 8]))
            let next = pos + 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
            if try file.read(b, pos + 12, min(namesz, 10)) == Array("VMCOREINFO".utf8) {
                if next >= noteStart + noteSize {
                    try put(pos - noteStart, sub + 56)
                } else {
                    try file.write(&b, pos + 12, [UInt8(ascii: "X")])
                }
                return
            }
            pos = next
        }
        throw GeneratedDumpError("no VMCOREINFO note")
    }
}

public struct GeneratedDumpError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

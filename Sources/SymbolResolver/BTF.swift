#if canImport(Glibc)
import Glibc
#endif

/// The kernel's .BTF section (include/uapi/linux/btf.h): a header, then type records numbered
/// from 1 (0 is void), then a string table. Records are read in place from the mapped file;
/// `init` only finds where each record starts, so it costs about a millisecond per 10k types.
///
/// A module's BTF is *split* BTF layered over the kernel's (libbpf's btf__parse_split, the
/// kernel's btf_parse_module): its records continue the kernel's numbering (its first record is
/// id `base.count`) and a string offset at or past the kernel's string length is one into the
/// module's own strings. Such a table numbers its records locally from 1 like any other;
/// `base` and `baseStringLength` say how ids and strings of the kernel are reached.
final class BTFTable {
    // BTF_KIND_* values.
    static let kindInt: UInt32 = 1, kindPtr: UInt32 = 2, kindArray: UInt32 = 3, kindStruct: UInt32 = 4
    static let kindUnion: UInt32 = 5, kindEnum: UInt32 = 6, kindFwd: UInt32 = 7, kindTypedef: UInt32 = 8
    static let kindVolatile: UInt32 = 9, kindConst: UInt32 = 10, kindRestrict: UInt32 = 11
    static let kindFunc: UInt32 = 12, kindFuncProto: UInt32 = 13, kindVar: UInt32 = 14
    static let kindDatasec: UInt32 = 15, kindFloat: UInt32 = 16, kindDeclTag: UInt32 = 17
    static let kindTypeTag: UInt32 = 18, kindEnum64: UInt32 = 19

    let types: Bytes
    let strings: Bytes
    /// Byte offset in `types` of record id (index 0 unused: void).
    let offsets: [UInt32]
    /// What keeps the bytes behind `types` and `strings` alive: the mapped vmlinux (`ELFImage`) or a
    /// heap copy (`OwnedBytes`), so the table never outlives them.
    let owner: AnyObject?
    /// The kernel's table this one is split from (module BTF), else nil.
    let base: BTFTable?
    /// String offsets below this are the base table's (0 without a base).
    let baseStringLength: Int

    var count: Int { offsets.count }

    init?(section: Bytes, owner: AnyObject?, base: BTFTable? = nil) {
        self.owner = owner
        self.base = base
        baseStringLength = base?.strings.count ?? 0
        guard let magic = section.u16(0), magic == 0xEB9F,
              let version = section.u8(2), version == 1,
              let hdrLen = section.u32(4), let typeOff = section.u32(8), let typeLen = section.u32(12),
              let strOff = section.u32(16), let strLen = section.u32(20),
              let t = section.slice(Int(hdrLen) &+ Int(typeOff), Int(typeLen)),
              let s = section.slice(Int(hdrLen) &+ Int(strOff), Int(strLen)) else { return nil }
        types = t
        strings = s
        var list: [UInt32] = [0]
        list.reserveCapacity(Int(typeLen) / 16)
        var at = 0
        while at <= t.count - 12 {
            let info = t.u32u(at + 4)
            let kind = (info >> 24) & 0x1f
            let vlen = Int(info & 0xffff)
            var extra: Int
            switch kind {
            case BTFTable.kindInt, BTFTable.kindVar, BTFTable.kindDeclTag: extra = 4
            case BTFTable.kindArray: extra = 12
            case BTFTable.kindStruct, BTFTable.kindUnion, BTFTable.kindDatasec: extra = 12 * vlen
            case BTFTable.kindEnum, BTFTable.kindFuncProto: extra = 8 * vlen
            case BTFTable.kindEnum64: extra = 12 * vlen
            case BTFTable.kindPtr, BTFTable.kindFwd, BTFTable.kindTypedef, BTFTable.kindVolatile,
                 BTFTable.kindConst, BTFTable.kindRestrict, BTFTable.kindFunc, BTFTable.kindFloat,
                 BTFTable.kindTypeTag: extra = 0
            default: return nil   // an unknown kind: its length is unknown, so the rest cannot be read
            }
            guard 12 + extra <= t.count - at else { return nil }
            list.append(UInt32(at))
            at += 12 + extra
        }
        offsets = list
    }

    @inline(__always) func record(_ id: Int) -> Int? { id > 0 && id < offsets.count ? Int(offsets[id]) : nil }
    @inline(__always) func kind(_ id: Int) -> UInt32 {
        guard let at = record(id) else { return 0 }
        return (types.u32u(at + 4) >> 24) & 0x1f
    }
    @inline(__always) func info(_ id: Int) -> UInt32 { record(id).map { types.u32u($0 + 4) } ?? 0 }
    @inline(__always) func vlen(_ id: Int) -> Int { Int(info(id) & 0xffff) }
    @inline(__always) func kindFlag(_ id: Int) -> Bool { info(id) >> 31 != 0 }
    /// The size or type field (a union in btf_type).
    @inline(__always) func sizeOrType(_ id: Int) -> UInt32 { record(id).map { types.u32u($0 + 8) } ?? 0 }
    @inline(__always) func nameOffset(_ id: Int) -> Int { record(id).map { Int(types.u32u($0)) } ?? 0 }

    /// True when `string(offset)` would be `key` (a non-empty key), compared in place.
    func stringEquals(_ offset: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        if let base {
            if offset < baseStringLength { return base.stringEquals(offset, key) }
            return strings.cStringEquals(at: offset - baseStringLength, key)
        }
        return offset > 0 && strings.cStringEquals(at: offset, key)
    }

    func string(_ offset: Int) -> String? {
        if let base {
            if offset < baseStringLength { return base.string(offset) }
            guard let s = strings.cString(at: offset - baseStringLength), !s.isEmpty else { return nil }
            return s
        }
        guard offset > 0, let s = strings.cString(at: offset), !s.isEmpty else { return nil }
        return s
    }
    func name(_ id: Int) -> String? { string(nameOffset(id)) }

    /// Bytes of the record's trailing data, checked at init.
    @inline(__always) func u32(_ id: Int, _ offsetInTrailer: Int) -> UInt32 {
        guard let at = record(id) else { return 0 }
        return types.u32u(at + 12 + offsetInTrailer)
    }

    /// Lookups answered by a linear pass (cheaper than building the index for a few).
    private var scans = 0

    /// Name index over every named record, built after a few lookups.
    private(set) lazy var nameIndex: NameHashIndex = NameHashIndex(count: offsets.count) { id in
        guard id > 0 else { return nil }
        let off = Int(types.u32u(Int(offsets[id])))
        guard off > 0, let n = strings.cStringLength(at: off), n > 0 else { return nil }
        return UnsafeRawBufferPointer(start: strings.base + off, count: n)
    }

    /// The first ENUM or ENUM64 record with an enumerator called `name`, and its value: one pass
    /// over the records comparing name bytes in place (nothing is decoded or allocated).
    func enumeratorRecord(named name: String) -> (id: Int, value: Int64)? {
        var found: (id: Int, value: Int64)?
        name.withBytes { key in
            guard key.count > 0 else { return }
            for id in 1..<max(1, offsets.count) {
                let k = kind(id)
                guard k == BTFTable.kindEnum || k == BTFTable.kindEnum64 else { continue }
                let stride = k == BTFTable.kindEnum ? 8 : 12
                for i in 0..<vlen(id) where nameEquals(Int(u32(id, i * stride)), key) {
                    if k == BTFTable.kindEnum {
                        let v = u32(id, i * 8 + 4)
                        found = (id, kindFlag(id) ? Int64(Int32(bitPattern: v)) : Int64(v))
                    } else {
                        found = (id, Int64(bitPattern: UInt64(u32(id, i * 12 + 8)) << 32 | UInt64(u32(id, i * 12 + 4))))
                    }
                    return
                }
            }
        }
        return found
    }

    func enumeratorValue(named name: String) -> Int64? { enumeratorRecord(named: name)?.value }

    /// The string at `offset` equals `key`; a split table's low offsets are the base's strings.
    @inline(__always) private func nameEquals(_ offset: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        guard let base else { return strings.cStringEquals(at: offset, key) }
        if offset < baseStringLength { return base.strings.cStringEquals(at: offset, key) }
        return strings.cStringEquals(at: offset - baseStringLength, key)
    }

    /// A split table's names (local ids), decoded once: its records can name themselves with
    /// the base's strings, so names are not all in `strings`. Split tables are small (a module's
    /// types), so a dictionary costs little.
    private lazy var splitNames: [String: [Int]] = {
        var names: [String: [Int]] = [:]
        for id in 1..<max(1, offsets.count) {
            if let n = name(id) { names[n, default: []].append(id) }
        }
        return names
    }()

    /// Ids of records called `name` (any kind).
    func ids(named name: String) -> [Int] {
        if base != nil { return splitNames[name] ?? [] }
        var out: [Int] = []
        if scans < 6 {
            scans += 1
            name.withBytes { key in
                guard let k = key.baseAddress, key.count > 0 else { return }
                let first = key[0]
                let sbase = strings.base, slimit = strings.count - key.count
                offsets.withUnsafeBufferPointer { o in
                    for id in 1..<o.count {
                        let off = Int(types.u32u(Int(o[id])))
                        guard off > 0, off < slimit, sbase.load(fromByteOffset: off, as: UInt8.self) == first else { continue }
                        if memcmp(sbase + off, k, key.count) == 0, sbase.load(fromByteOffset: off + key.count, as: UInt8.self) == 0 {
                            out.append(id)
                        }
                    }
                }
            }
            return out
        }
        name.withBytes { key in
            nameIndex.forEachMatch(key, equals: { id, k in strings.cStringEquals(at: nameOffset(id), k) }) {
                out.append($0)
            }
        }
        return out
    }
}

/// A heap copy of bytes for a `BTFTable` that is not read from the mapped vmlinux (a section given
/// as bytes: tests, mutated sections).
final class OwnedBytes {
    private let buffer: UnsafeMutableRawBufferPointer
    let view: Bytes

    init(_ bytes: [UInt8]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 8)
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress { buffer.baseAddress!.copyMemory(from: base, byteCount: bytes.count) }
        }
        self.buffer = buffer
        view = Bytes(base: UnsafeRawPointer(buffer.baseAddress!), count: bytes.count)
    }

    deinit { buffer.deallocate() }
}

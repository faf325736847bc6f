import Foundation
import Testing
import TestSupport
@testable import SymbolResolver

/// Seeded mutations of the fixture vmlinux's .BTF section, parsed in memory: every case must
/// parse (or be refused) and answer the lookups `struct`, `p` and the kernel layout make, without
/// trapping, hanging or recursing without bound.
@Suite(.enabled(if: Fixture.available, Comment(rawValue: SharedFixtures.sampleMissing))) struct BTFMutationTests {
    /// SplitMix64 (TestSupport): the same sequence on every machine for a seed.
    typealias Random = SplitMix64

    /// The pristine section, and facts about it the mutations aim at.
    struct Pristine {
        var bytes: [UInt8]
        var typesStart: Int          // offset in the section of the first record
        var recordOffsets: [Int]     // per id (index 0 unused), offset in the section
        var stringsStart: Int
        var stringsLength: Int
        var taskStruct: Int
        var aimed: [Int]             // task_struct and the ids its members name
    }

    static func pristine() throws -> Pristine? {
        var result: Pristine?
        try withKernel { k in
            guard let image = k.image, let s = image.section(named: ".BTF"), let b = image.bytes(of: s) else { return }
            let bytes = Array(UnsafeRawBufferPointer(start: b.base, count: b.count))
            let table = try #require(BTFTable(section: b, owner: nil))
            let hdr = Int(b.u32(4)!), typeOff = Int(b.u32(8)!), strOff = Int(b.u32(16)!), strLen = Int(b.u32(20)!)
            let types = KernelTypes(btf: table)
            let task = Int(try types.type(named: "struct task_struct").rawValue)
            var aimed = [task]
            if let c = types.composite(TypeID(rawValue: UInt32(task))) {
                aimed += c.members.prefix(64).map { Int($0.type.rawValue) }.filter { $0 > 0 && $0 < table.count }
            }
            result = Pristine(bytes: bytes, typesStart: hdr + typeOff, recordOffsets: table.offsets.map { hdr + typeOff + Int($0) },
                              stringsStart: hdr + strOff, stringsLength: strLen, taskStruct: task, aimed: aimed)
        }
        return result
    }

    /// One mutation of the section in `buf`, chosen by `r`.
    static func mutate(_ buf: UnsafeMutableRawBufferPointer, _ p: Pristine, _ r: inout Random) {
        func put32(_ v: UInt32, at o: Int) {
            guard o >= 0, o + 4 <= buf.count else { return }
            buf.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self)
        }
        func id() -> UInt32 {
            switch r.below(4) {
            case 0: return UInt32(r.below(p.recordOffsets.count + 8))
            case 1: return UInt32(p.taskStruct)
            case 2: return UInt32(p.aimed[r.below(p.aimed.count)])
            default: return UInt32(truncatingIfNeeded: r.next())
            }
        }
        let aimedRecord = p.recordOffsets[p.aimed[r.below(p.aimed.count)]]
        let anyRecord = p.recordOffsets[1 + r.below(p.recordOffsets.count - 1)]
        let record = r.below(2) == 0 ? aimedRecord : anyRecord
        switch r.below(12) {
        case 0:   // a header field: lengths and offsets
            let field = 4 + 4 * r.below(5)
            let values: [UInt32] = [0, 1, 24, UInt32.max, UInt32.max - 3, UInt32(p.bytes.count), UInt32(truncatingIfNeeded: r.next())]
            put32(values[r.below(values.count)], at: field)
        case 1:   // a record's kind, vlen and kind_flag
            put32(UInt32(r.below(32)) << 24 | UInt32(r.below(0x10000)) | (r.below(2) == 0 ? 1 << 31 : 0), at: record + 4)
        case 2:   // a record's vlen only (the record's trailer length changes)
            let old = buf.load(fromByteOffset: record + 4, as: UInt32.self)
            put32(old & 0xffff_0000 | UInt32(r.below(0x10000)), at: record + 4)
        case 3:   // a record's size or referenced type: cycles, absurd ids, absurd sizes
            put32(r.below(2) == 0 ? id() : UInt32(truncatingIfNeeded: r.next()), at: record + 8)
        case 4, 5, 9, 10, 11:   // a member of task_struct or of a type it names: its type (cycles) or offset
            let at = aimedRecord + 12 + 12 * r.below(64)
            if r.below(3) == 0 { put32(UInt32(truncatingIfNeeded: r.next()), at: at + 8) } else { put32(id(), at: at + 4) }
        case 6:   // a name offset
            put32(r.below(2) == 0 ? UInt32(truncatingIfNeeded: r.next()) : UInt32(p.stringsLength - 1 + r.below(3)), at: record)
        case 7:   // string table bytes: names that end early or run on
            let at = p.stringsStart + r.below(p.stringsLength)
            if at < buf.count { buf[at] = r.below(2) == 0 ? 0 : UInt8(truncatingIfNeeded: r.next()) }
        default:  // bytes anywhere
            for _ in 0 ..< 1 + r.below(8) { buf[r.below(buf.count)] = UInt8(truncatingIfNeeded: r.next()) }
        }
    }

    /// What commands ask of the types; only that it ends matters here.
    static func exercise(_ t: KernelTypes) {
        for name in ["struct task_struct", "task_struct", "struct list_head", "pid_t", "unsigned long", "struct mm_struct *"] {
            guard let id = try? t.type(named: name) else { continue }
            _ = t.size(of: id)
            _ = t.alignment(of: id)
            _ = t.name(of: id)
            let c = t.composite(id)
            for m in c?.members.prefix(200) ?? [] {
                _ = t.type(m.type)
                _ = t.size(of: m.type)
                _ = t.resolved(m.type)
            }
            for path in ["pid", "comm", "se.vruntime", "pid_links[1].next", "tasks.next", "no_such_member", "a.b.c"] {
                if let m = try? t.member(path, in: id) {
                    _ = t.size(of: m.type)
                    _ = t.type(t.resolved(m.type))
                }
            }
        }
    }

    @Test func mutatedSectionsEndCleanly() throws {
        let p = try #require(try Self.pristine(), "the vmlinux has no .BTF section")
        let cases = Int(ProcessInfo.processInfo.environment["CRASHSH_BTF_MUTATIONS"] ?? "") ?? 1200
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: p.bytes.count, alignment: 8)
        defer { buf.deallocate() }
        var parsed = 0, refused = 0
        var slowest: (Duration, UInt64) = (.zero, 0)
        let clock = ContinuousClock()
        // CRASHSH_BTF_MUTATION_SEED=n replays one case.
        let only = ProcessInfo.processInfo.environment["CRASHSH_BTF_MUTATION_SEED"].flatMap { UInt64($0) }
        for seed in only.map({ $0 ... $0 }) ?? 0 ... UInt64(cases - 1) {
            p.bytes.withUnsafeBytes { buf.copyMemory(from: $0) }
            var r = Random(state: seed &* 0x2545_f491_4f6c_dd1d)
            for _ in 0 ..< 1 + r.below(3) { Self.mutate(buf, p, &r) }
            let start = clock.now
            if let table = BTFTable(section: Bytes(base: UnsafeRawPointer(buf.baseAddress!), count: buf.count), owner: nil) {
                parsed += 1
                Self.exercise(KernelTypes(btf: table))
            } else {
                refused += 1
            }
            let took = clock.now - start
            if took > slowest.0 { slowest = (took, seed) }
        }
        // Most mutations leave a readable section: the lookups above really ran.
        #expect(only != nil || parsed > cases / 3, "parsed \(parsed), refused \(refused)")
        // The slowest case is printed, not asserted (no wall-clock bounds in tests): the worst
        // are linear in the section, seconds in a debug build.
        print("BTF mutations: \(parsed) parsed, \(refused) refused; slowest: seed \(slowest.1), \(slowest.0)")
    }
}

import Testing
@testable import DumpModel

/// kallsyms tables written by hand (scripts/kallsyms.c's layout) in a fake kernel memory:
/// relative offsets with and without absolute per-cpu values, absolute kallsyms_addresses,
/// multi-byte tokens and the two-byte length of a long name.
@Suite struct KallsymsTableTests {
    /// Sparse kernel memory: areas placed at addresses; a read outside them fails.
    struct FakeMemory {
        var areas: [(UInt64, [UInt8])] = []

        mutating func put(_ address: UInt64, _ bytes: [UInt8]) { areas.append((address, bytes)) }

        func read(_ address: UInt64, _ count: Int) throws -> [UInt8] {
            var out: [UInt8] = []
            for i in 0..<count {
                let a = address &+ UInt64(i)
                // Page-sized reads may run past an area: unwritten bytes of a page read as 0.
                let byte = areas.first { a >= $0.0 && a < $0.0 + UInt64($0.1.count) }.map { $0.1[Int(a - $0.0)] } ?? 0
                out.append(byte)
            }
            guard areas.contains(where: { address >= $0.0 && address < $0.0 + UInt64($0.1.count) }) else {
                throw DumpError.missing(what: "test memory at \(address)")
            }
            return out
        }
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    static let tokenTable: UInt64 = 0xffff_ffff_8200_0000
    static let tokenIndex: UInt64 = 0xffff_ffff_8200_2000
    static let names: UInt64 = 0xffff_ffff_8200_4000
    static let count: UInt64 = 0xffff_ffff_8200_8000
    static let offsets: UInt64 = 0xffff_ffff_8200_9000
    static let relativeBase: UInt64 = 0xffff_ffff_8200_a000
    static let addressTable: UInt64 = 0xffff_ffff_8200_b000
    static let longName = String(repeating: "a", count: 200)

    /// Token 1 is "sched", token 2 "ule", token 3 "Tsys_" (a type letter inside a token);
    /// every printable byte is its own token; the rest are empty.
    static func tokens() -> [[UInt8]] {
        var t = [[UInt8]](repeating: [], count: 256)
        for b in 0x20...0x7e { t[b] = [UInt8(b)] }
        t[1] = Array("sched".utf8)
        t[2] = Array("ule".utf8)
        t[3] = Array("Tsys_".utf8)
        return t
    }

    /// The symbols (type letter + name, as token lists) the tests put in the table.
    static func entries() -> [[UInt8]] {
        func chars(_ s: String) -> [UInt8] { Array(s.utf8) }
        return [
            chars("A__per_cpu_start"),
            chars("Arunqueues"),
            chars("A__per_cpu_end"),
            chars("T_stext"),
            chars("T") + [1, 2],                      // Tschedule
            [3] + chars("read"),                      // Tsys_read
            chars("t" + longName),                    // length 201: two length bytes
            chars("Djiffies"),
        ]
    }

    static func memory(offsets values: [Int32]?, base: UInt64, addresses: [UInt64]? = nil) -> FakeMemory {
        var m = FakeMemory()
        var table: [UInt8] = []
        var index: [UInt8] = []
        for t in tokens() {
            index += le(UInt16(table.count))
            table += t + [0]
        }
        m.put(tokenTable, table)
        m.put(tokenIndex, index)
        var names: [UInt8] = []
        for e in entries() {
            if e.count > 0x7f {
                names += [UInt8(0x80 | (e.count & 0x7f)), UInt8(e.count >> 7)]
            } else {
                names.append(UInt8(e.count))
            }
            names += e
        }
        m.put(Self.names, names)
        m.put(count, le(UInt32(entries().count)))
        if let values { m.put(offsets, values.flatMap { le($0) }) }
        m.put(relativeBase, le(base))
        if let addresses { m.put(addressTable, addresses.flatMap { le($0) }) }
        return m
    }

    static let relativeLocation = KallsymsLocation(names: names, symbolCount: count, tokenTable: tokenTable, tokenIndex: tokenIndex,
                                                   addressing: .relative(offsets: offsets, relativeBase: relativeBase))

    static let expectedNames = ["__per_cpu_start", "runqueues", "__per_cpu_end", "_stext", "schedule", "sys_read", longName, "jiffies"]

    @Test func relativeOffsetsWithoutAbsolutePerCPU() throws {
        let base: UInt64 = 0xffff_ffff_8100_0000
        let m = Self.memory(offsets: [0, 0, 0, 0x1000, 0x2000, 0x2100, 0x2200, 0x90_0000], base: base)
        let t = try KallsymsTable.decode(at: Self.relativeLocation, stext: base + 0x1000, read: m.read)
        #expect(t.count == 8)
        #expect((0..<t.count).map(t.name) == Self.expectedNames)
        #expect(String(decoding: t.typeLetters, as: UTF8.self) == "AAATTTtD")
        #expect(t.addresses == [base, base, base, base + 0x1000, base + 0x2000, base + 0x2100, base + 0x2200, base + 0x90_0000])
        #expect(t.address(of: "schedule") == base + 0x2000)
        #expect(t.address(of: "sched") == nil)
    }

    @Test func relativeOffsetsWithAbsolutePerCPU() throws {
        let base: UInt64 = 0xffff_ffff_8100_0000
        // Per-cpu symbols hold their offset; the rest hold -(address - base + 1).
        func negative(_ a: UInt64) -> Int32 { Int32(-(Int64(a - base) + 1)) }
        let values = [0, 0x31980, 0x34000, negative(base), negative(base + 0x2000), negative(base + 0x2100),
                      negative(base + 0x2200), negative(base + 0x90_0000)]
        let m = Self.memory(offsets: values, base: base)
        let t = try KallsymsTable.decode(at: Self.relativeLocation, stext: base, read: m.read)
        #expect(t.addresses == [0, 0x31980, 0x34000, base, base + 0x2000, base + 0x2100, base + 0x2200, base + 0x90_0000])
        // Without _stext to check against, negative values mean the absolute per-cpu reading.
        let unchecked = try KallsymsTable.decode(at: Self.relativeLocation, stext: nil, read: m.read)
        #expect(unchecked.addresses == t.addresses)
        // A table that puts _stext elsewhere than VMCOREINFO says is refused.
        #expect(throws: DumpError.self) { try KallsymsTable.decode(at: Self.relativeLocation, stext: base + 8, read: m.read) }
    }

    @Test func absoluteAddresses() throws {
        let addresses: [UInt64] = [0, 0x31980, 0x34000, 0xffff_ffff_8100_0000, 0xffff_ffff_8100_2000,
                                   0xffff_ffff_8100_2100, 0xffff_ffff_8100_2200, 0xffff_ffff_8190_0000]
        let m = Self.memory(offsets: nil, base: 0, addresses: addresses)
        var location = Self.relativeLocation
        location.addressing = .absolute(addresses: Self.addressTable)
        let t = try KallsymsTable.decode(at: location, stext: nil, read: m.read)
        #expect(t.addresses == addresses)
        #expect((0..<t.count).map(t.name) == Self.expectedNames)
    }

    @Test func unbelievableCountAndMissingPagesAreErrors() throws {
        var m = Self.memory(offsets: [Int32](repeating: 0, count: 8), base: 0)
        m.areas.removeAll { $0.0 == Self.count }
        m.put(Self.count, Self.le(UInt32(0)))
        #expect(throws: DumpError.self) { try KallsymsTable.decode(at: Self.relativeLocation, stext: nil, read: m.read) }
        let empty = FakeMemory()
        #expect(throws: DumpError.self) { try KallsymsTable.decode(at: Self.relativeLocation, stext: nil, read: empty.read) }
    }

    @Test func locationFromVMCOREINFO() throws {
        let text = """
        SYMBOL(kallsyms_names)=ffffffffb1f6a6b8
        SYMBOL(kallsyms_num_syms)=ffffffffb1f6a6b0
        SYMBOL(kallsyms_token_table)=ffffffffb2105e68
        SYMBOL(kallsyms_token_index)=ffffffffb21061f8
        SYMBOL(kallsyms_offsets)=ffffffffb1ee1f48
        SYMBOL(kallsyms_relative_base)=ffffffffb1f6a6a8

        """
        let location = try #require(KallsymsLocation(vmcoreinfo: VMCoreInfo(raw: text)))
        #expect(location.addressing == .relative(offsets: 0xffffffffb1ee1f48, relativeBase: 0xffffffffb1f6a6a8))
        #expect(location.names == 0xffffffffb1f6a6b8)
        #expect(KallsymsLocation(vmcoreinfo: VMCoreInfo(raw: "SYMBOL(kallsyms_names)=ffffffffb1f6a6b8\n")) == nil)
    }
}

import Testing
@testable import DumpModel

/// kallsyms tables laid out by hand as scripts/kallsyms.c writes them (every part 8-aligned)
/// inside a fake kernel image among noise, found with nothing naming their parts.
@Suite struct KallsymsFinderTests {
    static let imageStart: UInt64 = 0xffff_ffff_8b00_0000
    static let symbolCount = 300

    enum Order: CaseIterable {
        /// Up to 6.1: offsets, relative_base, num_syms, names, markers, token table, index.
        case offsetsFirst
        /// 6.2, 6.3 (and 6.1 stable backports): kallsyms_seqs_of_names between markers and tokens.
        case offsetsFirstWithSeqs
        /// 6.4's order: num_syms, names, markers, tokens, index, offsets, relative_base, seqs.
        case offsetsAfterIndex
        /// Before 4.6 (no CONFIG_KALLSYMS_BASE_RELATIVE): addresses, num_syms, names, markers,
        /// token table, index.
        case absoluteAddresses
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// Bytes that look like nothing in particular, with a decoy run of digit tokens.
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        var out: [UInt8] = []
        for _ in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            out.append(UInt8(truncatingIfNeeded: state >> 33))
        }
        out += Array("0\u{0}1\u{0}2\u{0}3\u{0}4\u{0}5\u{0}6\u{0}7\u{0}8\u{0}9\u{0}".utf8) + [0, 0, 0, 0]
        return out
    }

    /// "T_text" at the image start, then local symbols "tf1"... every 16 bytes; printable bytes
    /// are their own tokens, token 1 is "tf" (so the names are compressed a little).
    static func symbols() -> [(entry: [UInt8], offset: Int32)] {
        var out: [([UInt8], Int32)] = [(Array("T_text".utf8), 0)]
        for i in 1..<symbolCount { out.append(([UInt8(ascii: "t"), 1] + Array(String(i).utf8), Int32(i * 16))) }
        return out
    }

    /// The fake image and where each part was put.
    static func image(_ order: Order) -> (bytes: [UInt8], location: KallsymsLocation) {
        var b = noise(5000, seed: 7)
        func pad() { while b.count % 8 != 0 { b.append(0) } }
        func at(_ offset: Int) -> UInt64 { imageStart + UInt64(offset) }
        let syms = symbols()
        var names: [UInt8] = []
        var markers: [UInt8] = []
        for (i, s) in syms.enumerated() {
            if i % 256 == 0 { markers += le(UInt32(names.count)) }
            names.append(UInt8(s.entry.count))
            names += s.entry
        }
        var table: [UInt8] = []
        var index: [UInt8] = []
        for t in 0..<256 {
            index += le(UInt16(table.count))
            if t == 1 {
                table += Array("tf".utf8)
            } else if (0x21...0x7e).contains(t) {
                table.append(UInt8(t))
            } else {
                table.append(UInt8(ascii: "~"))
            }
            table.append(0)
        }
        let offsets = syms.flatMap { le($0.offset) }
        let seqs = [UInt8](repeating: 0, count: 3 * syms.count)
        var offsetsAt = 0, baseAt = 0, countAt = 0, namesAt = 0, tableAt = 0, indexAt = 0
        func putCountNamesMarkers() {
            pad(); countAt = b.count; b += le(UInt32(syms.count))
            pad(); namesAt = b.count; b += names
            pad(); b += markers
        }
        func putTokens() {
            pad(); tableAt = b.count; b += table
            pad(); indexAt = b.count; b += index
        }
        func putOffsets() {
            pad(); offsetsAt = b.count; b += offsets
            pad(); baseAt = b.count; b += le(imageStart)
        }
        switch order {
        case .offsetsFirst:
            putOffsets(); putCountNamesMarkers(); putTokens()
        case .offsetsFirstWithSeqs:
            putOffsets(); putCountNamesMarkers(); pad(); b += seqs; putTokens()
        case .offsetsAfterIndex:
            putCountNamesMarkers(); putTokens(); putOffsets(); pad(); b += seqs
        case .absoluteAddresses:
            pad(); offsetsAt = b.count; b += syms.flatMap { le(imageStart + UInt64($0.offset)) }
            putCountNamesMarkers(); putTokens()
        }
        b += noise(3000, seed: 11)
        let addressing: KallsymsLocation.Addressing = order == .absoluteAddresses
            ? .absolute(addresses: at(offsetsAt)) : .relative(offsets: at(offsetsAt), relativeBase: at(baseAt))
        let location = KallsymsLocation(names: at(namesAt), symbolCount: at(countAt), tokenTable: at(tableAt),
                                        tokenIndex: at(indexAt), addressing: addressing)
        return (b, location)
    }

    @Test(arguments: Order.allCases)
    func findsEveryPartAmongNoise(order: Order) throws {
        let (bytes, expected) = Self.image(order)
        let (table, location) = try KallsymsFinder.table(in: bytes, imageStart: Self.imageStart)
        #expect(location == expected)
        #expect(table.count == Self.symbolCount)
        #expect(table.name(0) == "_text" && table.name(299) == "tf299")
        #expect(table.address(of: "tf257") == Self.imageStart + 257 * 16)
    }

    /// The token index must describe the table exactly: one wrong offset and nothing is found.
    @Test func aTokenIndexThatDisagreesIsNotTaken() throws {
        var (bytes, expected) = Self.image(.offsetsFirst)
        let index = Int(expected.tokenIndex - Self.imageStart)
        bytes[index + 2 * 0x41] &+= 1
        #expect(KallsymsFinder.candidates(in: bytes, imageStart: Self.imageStart).isEmpty)
        #expect(throws: DumpError.self) { try KallsymsFinder.table(in: bytes, imageStart: Self.imageStart) }
    }

    /// A table whose `_text` is not where the image starts is another's: refused.
    @Test func aTableWithTextElsewhereIsRefused() throws {
        let (bytes, _) = Self.image(.offsetsFirst)
        #expect(!KallsymsFinder.candidates(in: bytes, imageStart: Self.imageStart + 0x20_0000).isEmpty)
        #expect(throws: DumpError.self) { try KallsymsFinder.table(in: bytes, imageStart: Self.imageStart + 0x20_0000) }
    }
}

import Foundation
import Testing
@testable import Commands
import SymbolResolver

/// Type information as a damaged vmlinux can give it: records by key, members as written.
final class HandMadeTypes: TypeSource {
    var records: [UInt64: [CMember]] = [:]
    func type(named name: String) -> CType? { nil }
    func members(of record: CRecord) -> [CMember] { records[record.key] ?? [] }
    func global(named name: String) -> (address: UInt64, type: CType?)? { nil }
    func symbolName(for address: UInt64) -> (name: String, offset: UInt64)? { nil }
}

/// Memory that reads as a repeating byte pattern everywhere.
final class PatternMemory: MemoryReader {
    func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: address &+ UInt64($0)) }
    }
}

/// Inputs found in review that made the value printer and the evaluator trap or run for hours:
/// members and sizes from damaged type information, values from dump memory.
@Suite struct ReviewValuePrinterTests {
    static let char = CType.integer(CInteger(name: "char", size: 1, isSigned: true))
    static let int = CType.integer(CInteger(name: "int", size: 4, isSigned: true))

    /// A char array member whose offset lies past the bytes read for its struct: the string slice
    /// started past the end of the array (a trap).
    @Test func charArrayPastTheValueBytes() {
        let types = HandMadeTypes()
        types.records[1] = [CMember(name: "comm", type: .array(Self.char, count: 16), bitOffset: 800)]
        let record = CType.record(CRecord(kind: .structure, name: "small", size: 4, key: 1))
        let printer = ValuePrinter(source: types, memory: PatternMemory())
        #expect(printer.topLevel(record, bytes: [0x41, 0x42, 0, 0], address: 0x1000) == "{\n  comm = \"\"...\n}")
        guard case let .object(pairs) = printer.json(record, bytes: [0x41, 0x42, 0, 0], address: 0x1000) else {
            Issue.record("not an object")
            return
        }
        #expect(pairs.map(\.0) == ["comm"])
    }

    /// An array member near the top of the offset range with elements of nearly Int.max bytes:
    /// `offset + k * size` overflowed.
    @Test func hugeElementSizesDoNotOverflow() {
        let types = HandMadeTypes()
        let big = CType.record(CRecord(kind: .structure, name: "big", size: Int.max - 10, key: 2))
        types.records[1] = [CMember(name: "far", type: .array(big, count: 2), bitOffset: Int.max)]
        let record = CType.record(CRecord(kind: .structure, name: "outer", size: 8, key: 1))
        let printer = ValuePrinter(source: types, memory: PatternMemory())
        #expect(printer.topLevel(record, bytes: [UInt8](repeating: 0, count: 8), address: 0x1000) == "{\n  far = {}\n}")
        _ = printer.json(record, bytes: [UInt8](repeating: 0, count: 8), address: 0x1000)
        // A bit field whose type claims an absurd size is still at most 64 bits.
        types.records[3] = [CMember(name: "bits", type: big, bitOffset: 3, bitSize: 5)]
        let holder = CType.record(CRecord(kind: .structure, name: "holder", size: 8, key: 3))
        _ = printer.topLevel(holder, bytes: [UInt8](repeating: 0xff, count: 8), address: nil)
        _ = printer.json(holder, bytes: [UInt8](repeating: 0xff, count: 8), address: nil)
    }

    /// A struct holding itself by value, twice: printing was 2^48 values deep-first.
    @Test func selfNestedStructPrintingEnds() {
        let types = HandMadeTypes()
        let loop = CType.record(CRecord(kind: .structure, name: "loop", size: 8, key: 1))
        types.records[1] = [CMember(name: "a", type: loop, bitOffset: 0), CMember(name: "b", type: loop, bitOffset: 0),
                            CMember(name: "n", type: Self.int, bitOffset: 0)]
        var printer = ValuePrinter(source: types, memory: PatternMemory())
        printer.maxValues = 20_000
        let text = printer.topLevel(loop, bytes: [UInt8](repeating: 1, count: 8), address: 0x1000)
        #expect(text.contains("{...}"))
        #expect(text.contains("n = 16843009"))
        _ = printer.json(loop, bytes: [UInt8](repeating: 1, count: 8), address: 0x1000)
    }

    /// Anonymous members that are the struct itself: the member search walked 3^16 records.
    @Test func anonymousMemberCycleSearchEnds() {
        let types = HandMadeTypes()
        let knot = CRecord(kind: .structure, name: "knot", size: 4, key: 1)
        types.records[1] = [CMember(name: nil, type: .record(knot), bitOffset: 0),
                            CMember(name: nil, type: .record(knot), bitOffset: 0),
                            CMember(name: nil, type: .record(knot), bitOffset: 0),
                            CMember(name: "v", type: Self.int, bitOffset: 0)]
        let e = ExpressionEvaluator(source: types, memory: PatternMemory())
        #expect(e.findMember("missing", in: knot) == nil)
        #expect(e.findMember("v", in: knot)?.member.name == "v")
    }

    /// BTF whose FUNC_PROTO returns and takes pointers to itself: the CType was built 3^64 times.
    @Test(Harness.needsSample) func functionTypeCycleEnds() throws {
        func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        // id 1: PTR -> 2; id 2: FUNC_PROTO returning 1, with two parameters of type 1.
        let records = le(0) + le(2 << 24) + le(2) + le(0) + le(13 << 24 | 2) + le(1) + le(0) + le(1) + le(0) + le(1)
        let section = [0x9f, 0xeb, 1, 0] + le(24) + le(0) + le(UInt32(records.count)) + le(UInt32(records.count)) + le(1)
            + records + [0]
        let types = try #require(KernelTypes(btfSection: section))
        let symbols = try KernelImage(path: Harness.fixture(Harness.vmlinuxName)).symbols()
        let source = KernelTypeSource(types: types, symbols: symbols, variableType: { _ in nil })
        guard case let .pointer(.function(returns, parameters, _)) = source.ctype(TypeID(rawValue: 1)) else {
            Issue.record("not a function pointer")
            return
        }
        #expect(parameters?.count == 2)
        _ = returns
    }
}

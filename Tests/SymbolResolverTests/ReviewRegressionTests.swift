import Foundation
import Testing
@testable import SymbolResolver

/// A .BTF section written record by record (include/uapi/linux/btf.h), for type graphs a real
/// kernel never has: cycles through tags, structs nested in themselves.
struct BTFWriter {
    private(set) var strings: [UInt8] = [0]
    private(set) var records: [UInt8] = []
    private(set) var count = 0
    /// For split BTF (a module's): the base's type count (ids continue from it) and string
    /// length (string offsets continue from it); 0 for a base.
    private(set) var idBase: UInt32 = 0
    private(set) var stringBase: UInt32 = 0

    init() {}

    /// A writer of split BTF over `base`: its first record is id `base.count + 1`, its first
    /// string is at offset `base.strings.count`, and its string section has no leading 0.
    init(splitOver base: BTFWriter) {
        strings = []
        idBase = UInt32(base.count)
        stringBase = UInt32(base.strings.count)
    }

    static func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    mutating func string(_ s: String) -> UInt32 {
        let at = stringBase + UInt32(strings.count)
        strings += Array(s.utf8) + [0]
        return at
    }

    /// Appends one record; returns its id (ids count from 1).
    @discardableResult
    mutating func record(name: String? = nil, nameOffset: UInt32? = nil, kind: UInt32, vlen: Int = 0, kindFlag: Bool = false,
                         sizeOrType: UInt32, trailer: [UInt32] = []) -> UInt32 {
        let nameOff = nameOffset ?? name.map { string($0) } ?? 0
        let info = UInt32(vlen) | kind << 24 | (kindFlag ? 1 << 31 : 0)
        records += Self.le(nameOff) + Self.le(info) + Self.le(sizeOrType)
        for w in trailer { records += Self.le(w) }
        count += 1
        return idBase + UInt32(count)
    }

    /// A struct with `members` (name, type id, bit offset).
    @discardableResult
    mutating func structure(_ name: String?, size: UInt32, _ members: [(String?, UInt32, UInt32)]) -> UInt32 {
        var trailer: [UInt32] = []
        for (n, t, off) in members { trailer += [n.map { string($0) } ?? 0, t, off] }
        return record(name: name, kind: BTFTable.kindStruct, vlen: members.count, sizeOrType: size, trailer: trailer)
    }

    var section: [UInt8] {
        var out: [UInt8] = [0x9f, 0xeb, 1, 0]
        out += Self.le(24) + Self.le(0) + Self.le(UInt32(records.count))
        out += Self.le(UInt32(records.count)) + Self.le(UInt32(strings.count))
        return out + records + strings
    }
}

/// Inputs found in review that made SymbolResolver trap, recurse without bound or take
/// exponential time on a corrupt vmlinux.
@Suite struct ReviewRegressionTests {
    /// Without DWARF behind the BTF, a 0-element array member keeps BTF's answer: `[]`.
    @Test func zeroLengthArrayWithoutDWARFIsFlexible() throws {
        var w = BTFWriter()
        let int = w.record(name: "int", kind: BTFTable.kindInt, sizeOrType: 4, trailer: [1 << 24 | 32])
        let array = w.record(kind: BTFTable.kindArray, sizeOrType: 0, trailer: [int, int, 0])
        let s = w.structure("tail", size: 4, [("n", int, 0), ("rest", array, 32)])
        let t = try #require(KernelTypes(btfSection: w.section))
        let c = try #require(t.compositeAsDeclared(TypeID(rawValue: s)))
        #expect(t.type(c.members[1].type) == .array(of: TypeID(rawValue: int), count: nil))
        #expect(c == t.composite(TypeID(rawValue: s)))
    }

    @Test func bytesInitializerReadsAHandMadeSection() throws {
        var w = BTFWriter()
        let int = w.record(name: "int", kind: BTFTable.kindInt, sizeOrType: 4, trailer: [1 << 24 | 32])
        let s = w.structure("pair", size: 8, [("a", int, 0), ("b", int, 32)])
        let t = try #require(KernelTypes(btfSection: w.section))
        #expect(t.btfTypeCount == 3)
        let id = try t.type(named: "struct pair")
        #expect(id.rawValue == s)
        #expect(try t.member("b", in: id).byteOffset == 4)
        #expect(t.size(of: id) == 8)
        #expect(KernelTypes(btfSection: []) == nil)
        #expect(KernelTypes(btfSection: Array(w.section.dropLast(w.strings.count + 1))) == nil)
    }

    /// TYPE_TAG -> TYPE_TAG -> the first one: `type(_:)` followed tags by recursion, forever.
    @Test func typeTagCycleIsVoid() throws {
        var w = BTFWriter()
        w.record(name: "a", kind: BTFTable.kindTypeTag, sizeOrType: 2)
        w.record(name: "b", kind: BTFTable.kindTypeTag, sizeOrType: 1)
        w.record(name: "v", kind: BTFTable.kindVar, sizeOrType: 3, trailer: [1])   // a VAR whose type is itself
        let t = try #require(KernelTypes(btfSection: w.section))
        #expect(t.type(TypeID(rawValue: 1)) == .void)
        #expect(t.type(TypeID(rawValue: 3)) == .void)
        #expect(t.size(of: TypeID(rawValue: 1)) == nil)
    }

    /// A struct holding itself by value, twice: alignment walked it as a tree 64 levels deep (2^64).
    @Test func selfNestedStructAlignmentEnds() throws {
        var w = BTFWriter()
        let s = w.structure("loop", size: 16, [("x", 1, 0), ("y", 1, 64)])
        let t = try #require(KernelTypes(btfSection: w.section))
        #expect(t.alignment(of: TypeID(rawValue: s)) == 1)
    }

    /// Anonymous members that are the struct itself: member lookup searched them as a tree 32
    /// levels deep (3^32 composites decoded) before saying "no such member".
    @Test func anonymousMemberCycleEnds() throws {
        var w = BTFWriter()
        let int = w.record(name: "int", kind: BTFTable.kindInt, sizeOrType: 4, trailer: [1 << 24 | 32])
        let s = w.structure("knot", size: 4, [(nil, 2, 0), (nil, 2, 0), (nil, 2, 0), ("v", int, 0)])
        let t = try #require(KernelTypes(btfSection: w.section))
        #expect(throws: SymbolError.self) { try t.member("missing", in: TypeID(rawValue: s)) }
        #expect(try t.member("v", in: TypeID(rawValue: s)).type.rawValue == int)
    }

    /// st_size of linux_banner beyond Int.max trapped in `Int(sym.size)`.
    @Test func hugeBannerSizeDoesNotTrap() throws {
        let path = NSTemporaryDirectory() + "crashsh-review-\(getpid())-banner.vmlinux"
        defer { unlink(path) }
        try Data(TinyVmlinux.bytes(bannerSize: UInt64.max)).write(to: URL(fileURLWithPath: path))
        let k = try KernelImage(path: path)
        #expect(try k.symbols().symbol(named: "linux_banner")?.size == UInt64.max)
        #expect(k.linuxBanner?.hasPrefix("L") == true)
    }
}

/// The smallest x86_64 ET_EXEC libelf accepts with a .rodata holding linux_banner and a .symtab.
enum TinyVmlinux {
    static func bytes(bannerSize: UInt64) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        var rodata = Array("Linux version 6.1.0-tiny (review) #1 SMP\n".utf8) + [0]
        rodata += [UInt8](repeating: 0, count: (8 - rodata.count % 8) % 8)
        let strtab: [UInt8] = [0] + Array("linux_banner".utf8) + [0]
        let shstr: [UInt8] = [0] + Array(".rodata\0.symtab\0.strtab\0.shstrtab\0".utf8)
        let address: UInt64 = 0xffff_ffff_8100_0000
        var symtab = [UInt8](repeating: 0, count: 24)
        symtab += le(UInt32(1)) + [UInt8(1 << 4 | 1), 0] + le(UInt16(1)) + le(address) + le(bannerSize)
        var out = [UInt8](repeating: 0, count: 64)
        let rodataAt = 64, symtabAt = rodataAt + rodata.count, strtabAt = symtabAt + symtab.count
        let shstrAt = strtabAt + strtab.count
        let shoff = (shstrAt + shstr.count + 7) & ~7
        out.replaceSubrange(0..<8, with: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])
        func put(_ b: [UInt8], _ at: Int) { out.replaceSubrange(at ..< at + b.count, with: b) }
        put(le(UInt16(2)), 16); put(le(UInt16(62)), 18); put(le(UInt32(1)), 20)
        put(le(UInt64(shoff)), 40); put(le(UInt16(64)), 52); put(le(UInt16(64)), 58)
        put(le(UInt16(5)), 60); put(le(UInt16(4)), 62)
        out += rodata + symtab + strtab + shstr
        out += [UInt8](repeating: 0, count: shoff - out.count)
        func shdr(_ name: UInt32, _ type: UInt32, _ flags: UInt64, _ addr: UInt64, _ off: Int, _ size: Int,
                  _ link: UInt32, _ info: UInt32, _ entsize: UInt64) -> [UInt8] {
            le(name) + le(type) + le(flags) + le(addr) + le(UInt64(off)) + le(UInt64(size)) + le(link) + le(info)
                + le(UInt64(8)) + le(entsize)
        }
        out += [UInt8](repeating: 0, count: 64)
        out += shdr(1, 1, 2, address, rodataAt, rodata.count, 0, 0, 0)          // .rodata: PROGBITS, ALLOC
        out += shdr(9, 2, 0, 0, symtabAt, symtab.count, 3, 1, 24)             // .symtab -> .strtab
        out += shdr(17, 3, 0, 0, strtabAt, strtab.count, 0, 0, 0)
        out += shdr(25, 3, 0, 0, shstrAt, shstr.count, 0, 0, 0)
        return out
    }
}

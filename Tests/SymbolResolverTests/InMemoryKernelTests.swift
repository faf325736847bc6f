import Testing
@testable import SymbolResolver

/// The second source of `KernelImage`: a kernel described by its kallsyms table and memory
/// (no vmlinux), and every BTF kind `KernelTypes` decodes, on hand-made bytes.
@Suite struct InMemoryKernelTests {
    /// A .BTF section with one record of every kind (ids in comment order).
    static func everyKind() -> BTFWriter {
        var w = BTFWriter()
        w.record(name: "int", kind: BTFTable.kindInt, sizeOrType: 4, trailer: [1 << 24 | 32])           // 1 INT
        w.record(kind: BTFTable.kindPtr, sizeOrType: 1)                                                  // 2 PTR
        w.record(kind: BTFTable.kindArray, sizeOrType: 0, trailer: [1, 1, 4])                            // 3 ARRAY
        w.structure("pair", size: 8, [("a", 1, 0), ("b", 1, 32)])                                        // 4 STRUCT
        w.record(name: "either", kind: BTFTable.kindUnion, vlen: 1, sizeOrType: 4,
                 trailer: [w.string("x"), 1, 0])                                                         // 5 UNION
        w.record(name: "color", kind: BTFTable.kindEnum, vlen: 2, kindFlag: true, sizeOrType: 4,
                 trailer: [w.string("RED"), 0, w.string("DARK"), UInt32(bitPattern: -1)])               // 6 ENUM
        w.record(name: "later", kind: BTFTable.kindFwd, kindFlag: true, sizeOrType: 0)                   // 7 FWD
        w.record(name: "myint", kind: BTFTable.kindTypedef, sizeOrType: 1)                               // 8 TYPEDEF
        w.record(kind: BTFTable.kindVolatile, sizeOrType: 1)                                             // 9 VOLATILE
        w.record(kind: BTFTable.kindConst, sizeOrType: 1)                                                // 10 CONST
        w.record(kind: BTFTable.kindRestrict, sizeOrType: 2)                                             // 11 RESTRICT
        w.record(kind: BTFTable.kindFuncProto, vlen: 2, sizeOrType: 1, trailer: [w.string("n"), 1, 0, 0]) // 12 FUNC_PROTO
        w.record(name: "f", kind: BTFTable.kindFunc, sizeOrType: 12)                                     // 13 FUNC
        w.record(name: "counter", kind: BTFTable.kindVar, sizeOrType: 1, trailer: [1])                  // 14 VAR
        w.record(name: ".data..percpu", kind: BTFTable.kindDatasec, vlen: 1, sizeOrType: 4, trailer: [14, 0, 4]) // 15 DATASEC
        w.record(name: "double", kind: BTFTable.kindFloat, sizeOrType: 8)                                // 16 FLOAT
        w.record(name: "tag", kind: BTFTable.kindDeclTag, sizeOrType: 4, trailer: [UInt32.max])          // 17 DECL_TAG
        w.record(name: "user", kind: BTFTable.kindTypeTag, sizeOrType: 2)                                // 18 TYPE_TAG
        w.record(name: "big", kind: BTFTable.kindEnum64, vlen: 1, sizeOrType: 8,
                 trailer: [w.string("HUGE"), 0x89ab_cdef, 0x0123_4567])                                   // 19 ENUM64
        return w
    }

    @Test func everyBTFKindDecodes() throws {
        let t = try #require(KernelTypes(btfSection: Self.everyKind().section))
        #expect(t.btfTypeCount == 20)
        func id(_ n: UInt32) -> TypeID { TypeID(rawValue: n) }
        let int = id(1)
        #expect(t.type(int) == .base(name: "int", size: 4, encoding: .signed))
        #expect(t.type(id(2)) == .pointer(to: int))
        #expect(t.type(id(3)) == .array(of: int, count: 4))
        #expect(t.type(id(4)) == .structure(Composite(name: "pair", size: 8, members: [
            Member(name: "a", type: int, bitOffset: 0, bitSize: 0), Member(name: "b", type: int, bitOffset: 32, bitSize: 0)])))
        #expect(t.type(id(5)) == .union(Composite(name: "either", size: 4, members: [Member(name: "x", type: int, bitOffset: 0, bitSize: 0)])))
        #expect(t.type(id(6)) == .enumeration(name: "color", size: 4, isSigned: true,
                                              values: [Enumerator(name: "RED", value: 0), Enumerator(name: "DARK", value: -1)]))
        #expect(t.type(id(7)) == .forward(name: "later", isUnion: true))
        #expect(t.type(id(8)) == .typedef(name: "myint", target: int))
        #expect(t.type(id(9)) == .qualified(.volatile, int))
        #expect(t.type(id(10)) == .qualified(.const, int))
        #expect(t.type(id(11)) == .qualified(.restrict, id(2)))
        let proto = KType.function(returns: int, parameters: [Parameter(name: "n", type: int)], isVariadic: true)
        #expect(t.type(id(12)) == proto)
        // FUNC, VAR and TYPE_TAG stand for what they name or annotate.
        #expect(t.type(id(13)) == proto)
        #expect(t.function(named: "f") != nil)
        #expect(t.type(id(14)) == .base(name: "int", size: 4, encoding: .signed))
        // DATASEC and DECL_TAG describe no type of a value.
        #expect(t.type(id(15)) == .void)
        #expect(t.type(id(16)) == .base(name: "double", size: 8, encoding: .float))
        #expect(t.type(id(17)) == .void)
        #expect(t.type(id(18)) == .pointer(to: int))
        #expect(t.type(id(19)) == .enumeration(name: "big", size: 8, isSigned: false,
                                               values: [Enumerator(name: "HUGE", value: 0x0123_4567_89ab_cdef)]))
        #expect(t.enumerator(named: "HUGE") == 0x0123_4567_89ab_cdef)
        #expect(t.size(of: id(3)) == 16)
    }

    /// A kernel of a few symbols whose BTF and ORC tables lie in "memory" between their
    /// bounding symbols.
    static func kernel(btf: [UInt8]?) -> KernelImage {
        let base: UInt64 = 0xffff_ffff_8100_0000
        let btfAt = base + 0x10_0000
        let orcAt = base + 0x20_0000
        var symbols: [(String, Character, UInt64)] = [
            ("__per_cpu_start", "A", 0), ("runqueues", "A", 0x3_1980), ("__per_cpu_end", "A", 0x3_4000),
            ("_text", "T", base), ("_stext", "T", base), ("schedule", "T", base + 0x100), ("helper", "t", base + 0x180),
            ("jiffies", "D", base + 0x8_0000), ("jiffies_64", "D", base + 0x8_0000), ("next_var", "D", base + 0x8_0008),
            ("__start_orc_unwind_ip", "R", orcAt), ("__stop_orc_unwind_ip", "R", orcAt + 8),
            ("_end", "B", base + 0x40_0000),
        ]
        if let btf { symbols += [("__start_BTF", "R", btfAt), ("__stop_BTF", "R", btfAt + UInt64(btf.count))] }
        var names: [UInt8] = [], starts: [UInt32] = [], letters: [UInt8] = [], addresses: [UInt64] = []
        for (name, letter, address) in symbols {
            starts.append(UInt32(names.count))
            names += Array(name.utf8) + [0]
            letters.append(letter.asciiValue ?? 0)
            addresses.append(address)
        }
        let orc: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let source = InMemoryKernel(kallsymsNames: names, kallsymsNameStarts: starts, kallsymsTypeLetters: letters,
                                    kallsymsAddresses: addresses) { address, count in
            if let btf, address == btfAt, count <= btf.count { return Array(btf.prefix(count)) }
            if address == orcAt, count <= orc.count { return Array(orc.prefix(count)) }
            throw SymbolError.missing(path: "test", what: "page at \(address) excluded")
        }
        return KernelImage(memory: source, path: "no vmlinux")
    }

    @Test func symbolsFromKallsyms() throws {
        let k = Self.kernel(btf: nil)
        #expect(k.isFromMemory && !k.hasDWARF)
        let table = try k.symbols()
        let schedule = try #require(table.symbol(named: "schedule"))
        #expect(schedule.description == "ffffffff81000100 (T) schedule")
        #expect(schedule.kind == .function && schedule.binding == .global && schedule.section == ".text")
        // Sizes reach the next symbol; lookups by address find the symbol and offset.
        #expect(schedule.size == 0x80)
        let at = try #require(table.symbol(at: 0xffff_ffff_8100_0190))
        #expect(at.symbol.name == "helper" && at.offset == 0x10 && at.symbol.binding == .local)
        // Per-cpu symbols (written 'A' with absolute per-cpu kallsyms) are offsets, not image addresses.
        let rq = try #require(table.symbol(named: "runqueues"))
        #expect(rq.section == ".data..percpu" && !rq.isRelocatable && rq.address == 0x3_1980)
        #expect(table.symbol(at: 0x3_1980) == nil)
        let jiffies = try #require(table.symbol(named: "jiffies"))
        #expect(jiffies.kind == .object && jiffies.size == 8)
        // ORC tables come from memory between their bounding symbols, at run-time addresses.
        let ips = try #require(k.sectionContents(named: ".orc_unwind_ip"))
        #expect(ips.address == 0xffff_ffff_8120_0000 && ips.bytes == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(k.sectionContents(named: ".orc_header") == nil)
        // No BTF: types say so in one line.
        #expect(throws: SymbolError.self) { try k.types() }
        do { _ = try k.types() } catch { #expect("\(error)".contains("the kernel has no BTF")) }
    }

    @Test func typesFromMemoryBTF() throws {
        let k = Self.kernel(btf: Self.everyKind().section)
        let types = try k.types()
        #expect(types.btfTypeCount == 20)
        #expect(try types.type(named: "struct pair").rawValue == 4)
        // A data symbol BTF does not describe reads as an unsigned integer as wide as its space.
        let v = try k.variable(named: "jiffies")
        #expect(types.type(types.resolved(v.type)) == .base(name: "unsigned long", size: 8, encoding: .unsigned))
        #expect(throws: SymbolError.self) { try k.variable(named: "schedule") }
    }

    @Test func unreadableBTFIsOneClearError() throws {
        var btf = Self.everyKind().section
        btf[0] = 0
        let k = Self.kernel(btf: btf)
        do {
            _ = try k.types()
            Issue.record("types from bytes that are not BTF")
        } catch {
            #expect("\(error)" == "no vmlinux: the bytes between __start_BTF and __stop_BTF are not BTF")
        }
    }
}

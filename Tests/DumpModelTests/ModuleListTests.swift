import Testing
@testable import DumpModel

/// ModuleListReader on hand-made kernel memory: a `modules` list of hand-made `struct module`s
/// (module_layout shape, `mod_kallsyms` pointer) and their symbol tables, read through a
/// dictionary layout and a sparse memory.
@Suite struct ModuleListTests {
    /// Kernel image addresses (the synthetic kernel maps them): every hand-made object sits at
    /// `k` plus a small offset.
    static let k: UInt64 = 0xffff_ffff_8200_0000

    /// Hand-made kernel memory: bytes written at kernel image addresses of a synthetic dump.
    struct KernelBytes {
        let dump: SyntheticDump
        func physical(_ v: UInt64) -> UInt64 { v - 0xffff_ffff_8000_0000 + 0x0100_0000 }
        func write(_ address: UInt64, _ bytes: [UInt8]) { dump.write(physical(address), bytes) }
        /// Makes the page holding `address` one the dump tool left out.
        func exclude(_ address: UInt64) { dump.excluded.insert(physical(address) >> 12) }
        func reader(_ layout: DictionaryLayout = ModuleListTests.layout) throws -> ModuleListReader {
            ModuleListReader(memory: KernelMemory(space: try space(dump, layout: layout)))
        }
    }

    static let head: UInt64 = k + 0x1000
    static let layout = DictionaryLayout(
        symbols: ["modules": head],
        sizes: ["module": 128, "mod_kallsyms": 32, "module_layout": 16],
        offsets: ["module.list": 8, "module.name": 24, "module.core_layout": 64, "module.init_layout": 80,
                  "module.kallsyms": 112, "module.taints": 120,
                  "module_layout.base": 0, "module_layout.size": 8, "module_layout.text_size": 12,
                  "mod_kallsyms.symtab": 0, "mod_kallsyms.num_symtab": 8, "mod_kallsyms.strtab": 16,
                  "mod_kallsyms.typetab": 24])

    static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * $0)) } }

    /// A `struct module` at `address` whose list.next is `next` (a list node address).
    static func module(_ name: String, next: UInt64, base: UInt64, size: UInt64, text: UInt64,
                       kallsyms: UInt64, taints: UInt64) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 128)
        b.replaceSubrange(8..<16, with: le(next, 8))
        b.replaceSubrange(24..<(24 + name.utf8.count), with: Array(name.utf8))
        b.replaceSubrange(64..<72, with: le(base, 8))
        b.replaceSubrange(72..<76, with: le(size, 4))
        b.replaceSubrange(76..<80, with: le(text, 4))
        b.replaceSubrange(112..<120, with: le(kallsyms, 8))
        b.replaceSubrange(120..<128, with: le(taints, 8))
        return b
    }

    /// One Elf64_Sym.
    static func sym(name: UInt32, info: UInt8, shndx: UInt16, value: UInt64, size: UInt64) -> [UInt8] {
        le(UInt64(name), 4) + [info, 0] + le(UInt64(shndx), 2) + le(value, 8) + le(size, 8)
    }

    /// alpha (symbols, tainted) -> beta (no kallsyms) -> `third`'s list node -> head.
    static func memory(third: UInt64 = head) -> KernelBytes {
        let (dump, _) = syntheticKernel()
        let m = KernelBytes(dump: dump)
        m.write(head, le(k + 0x10008, 8))
        m.write(k + 0x10000, module("alpha", next: k + 0x20008, base: 0x40000, size: 0x2000, text: 0x1000,
                                    kallsyms: k + 0x50000, taints: 1 << 12))
        m.write(k + 0x20000, module("beta", next: third, base: 0x60000, size: 0x1000, text: 0x800, kallsyms: 0, taints: 0))
        // mod_kallsyms: symtab, num_symtab 4, strtab, typetab
        m.write(k + 0x50000, le(k + 0x51000, 8) + le(4, 8) + le(k + 0x52000, 8) + le(k + 0x53000, 8))
        let strtab: [UInt8] = [0] + Array("alpha_fn.isra.0".utf8) + [0] + Array("alpha_data".utf8) + [0]
            + Array("printk".utf8) + [0]
        m.write(k + 0x51000, [UInt8](repeating: 0, count: 24)
            + sym(name: 1, info: 0x02, shndx: 1, value: 0x40010, size: 0x40)
            + sym(name: 17, info: 0x11, shndx: 3, value: 0x41800, size: 8)
            + sym(name: 28, info: 0x10, shndx: 0, value: 0, size: 0))
        // The string table's length is not stored: the reader reads on past the last name.
        m.write(k + 0x52000, strtab + [UInt8](repeating: 0xee, count: 4096 - strtab.count))
        m.write(k + 0x53000, Array("\u{0}tdU".utf8))
        return m
    }

    @Test func readsModulesAndTheirSymbolTables() throws {
        let mem = Self.memory()
        let records = try mem.reader().modules()
        #expect(records.count == 2)
        guard case let .module(alpha) = records[0], case let .module(beta) = records[1] else {
            Issue.record("expected two readable modules: \(records)")
            return
        }
        #expect(alpha.address == Self.k + 0x10000 && alpha.name == "alpha")
        #expect(alpha.regions.first == ModuleMemoryRegion(kind: "core", base: 0x40000, size: 0x2000, textSize: 0x1000, isInit: false))
        #expect(alpha.initRegion == nil)
        #expect(alpha.textBase == 0x40000 && alpha.coreSize == 0x2000)
        #expect(alpha.taints == 1 << 12)
        #expect(alpha.symbolCount == 4 && alpha.hasKallsyms && alpha.problems.isEmpty)
        #expect(alpha.symbols == [
            ModuleSymbol(name: "alpha_fn.isra.0", value: 0x40010, size: 0x40, info: 0x02, sectionIndex: 1, nmType: "t"),
            ModuleSymbol(name: "alpha_data", value: 0x41800, size: 8, info: 0x11, sectionIndex: 3, nmType: "d"),
            ModuleSymbol(name: "printk", value: 0, size: 0, info: 0x10, sectionIndex: 0, nmType: "U"),
        ])
        #expect(beta.name == "beta" && beta.symbols.isEmpty && !beta.hasKallsyms && beta.taints == 0)
        #expect(beta.regions.first?.base == 0x60000 && beta.regions.first?.textSize == 0x800)
    }

    @Test func anUnreadableModuleIsARowAndEndsTheWalk() throws {
        // beta's next points at a node in a page left out of the dump: that module gets a row
        // with the reason.
        let mem = Self.memory(third: Self.k + 0x30008)
        mem.exclude(Self.k + 0x30000)
        let records = try mem.reader().modules()
        #expect(records.count == 3)
        guard case let .unreadable(address, reason) = records[2] else { Issue.record("\(records)"); return }
        #expect(address == Self.k + 0x30000 && reason.contains("excluded from the dump"))
    }

    @Test func aCycleEndsTheWalk() throws {
        // beta points back at alpha instead of the list head.
        let mem = Self.memory(third: Self.k + 0x10008)
        let records = try mem.reader().modules()
        #expect(records.map(\.address) == [Self.k + 0x10000, Self.k + 0x20000])
        let capped = try mem.reader().modules(maxModules: 1)
        #expect(capped.map(\.address) == [Self.k + 0x10000])
        // Interrupted, the walk stops with the one interrupt error.
        #expect(throws: InterruptedByUser.self) { try mem.reader().modules(interrupted: { true }) }
    }

    @Test func symbolTableParsingIsBounded() {
        // A name offset past the string table and a name without its NUL are counted, not read.
        let table = [UInt8](repeating: 0, count: 24)
            + Self.sym(name: 1, info: 0x12, shndx: 1, value: 0x1000, size: 4)
            + Self.sym(name: 900, info: 0x12, shndx: 1, value: 0x2000, size: 4)
            + Self.sym(name: 6, info: 0x02, shndx: 1, value: 0x3000, size: 4)
        let strtab: [UInt8] = [0] + Array("good".utf8) + [0] + Array("cut".utf8)
        let parsed = ModuleSymbolTable.parse(symtab: table, count: 1000, strtab: strtab, typetab: nil)
        #expect(parsed.symbols.map(\.name) == ["good"])
        #expect(parsed.symbols.first?.nmType == nil && parsed.symbols.first?.info == 0x12)
        #expect(parsed.unreadableNames == 2)
        // A truncated table yields the whole entries only.
        #expect(ModuleSymbolTable.parse(symtab: Array(table.prefix(40)), count: 4, strtab: strtab, typetab: nil).symbols.isEmpty)
    }

    @Test func missingLayoutIsATypedError() throws {
        let reader = try Self.memory().reader(DictionaryLayout())
        #expect(throws: DumpError.self) { try reader.modules() }
    }
}

/// The kernel modules loaded in the crashed kernel, read from its `modules` list: each module's
/// `struct module` address, name, memory regions, taint bits, exported symbols and the symbol
/// table the kernel kept for kallsyms.
///
/// Every fact about `struct module` comes through `KernelLayout`, and the shape of a kernel decides
/// how it is read, not its version:
/// - memory: `module.mem[]` of `struct module_memory` (6.4+), else `core_layout`/`init_layout` of
///   `struct module_layout`, else the flat `module_core`/`core_size` members of older kernels;
/// - symbols: `module.kallsyms` pointing at a `struct mod_kallsyms` (4.6+), else `module.symtab`,
///   `num_symtab` and `strtab` directly;
/// - exports: `struct kernel_symbol` with 32-bit self-relative `value_offset`/`name_offset`
///   (kernels built with PREL32 relocations), else absolute `value`/`name` pointers.
///
/// The symbol table entries are ELF64 `Elf64_Sym` records: that layout is the ELF file format's,
/// not the kernel's, so it is read as such.
///
/// A dump is untrusted: the list walk is bounded and cycle-safe, counts are capped, every read
/// that fails becomes a problem recorded on that module (or a row of its own when the module
/// cannot be read at all), and the walk goes on where it can.
public struct ModuleListReader {
    /// At most this many modules are read (Linux has no fixed limit; real systems load a few hundred).
    public static let defaultMaxModules = 4096
    /// At most this many symbol table entries per module (the largest in-tree modules have tens of thousands).
    public static let maxSymbolsPerModule = 1 << 18
    /// At most this many exported symbols per list (`syms`, `gpl_syms`) of a module.
    public static let maxExportsPerModule = 1 << 16
    /// The longest symbol name read (the kernel's KSYM_NAME_LEN is 512 since 6.1, 128 before).
    public static let maxNameLength = 512

    let memory: KernelMemory
    var layout: any KernelLayout { memory.layout }

    public init(memory: KernelMemory) {
        self.memory = memory
    }

    /// The modules on the `modules` list, in list order (the most recently loaded first, as the
    /// kernel adds at the head). A module whose `struct module` cannot be read is an
    /// `.unreadable` record; a broken link (unreadable or NULL) ends the walk after its module,
    /// with a row saying so when that module itself was readable; a loop or more than
    /// `maxModules` entries end it quietly (the records so far stand).
    ///
    /// - Throws: `DumpError.missing` when the layout lacks the `modules` list or `struct module`
    ///   (no debuginfo), the `MemoryFault` of the list head's link, or `InterruptedByUser` when
    ///   `interrupted()` turns true.
    public func modules(maxModules: Int = ModuleListReader.defaultMaxModules,
                        interrupted: @escaping () -> Bool = { false }) throws -> [ModuleRecord] {
        let shape = try ModuleShape(layout)
        guard let head = layout.symbolAddress("modules") else {
            throw DumpError.missing(what: "symbol modules (needs the vmlinux's debuginfo)")
        }
        let walk = KernelLists(memory: memory, interrupted: interrupted).listHead(head, limit: max(0, maxModules))
        if case .interrupted = walk.stop { throw InterruptedByUser() }
        if case let .brokenLink(at, fault) = walk.stop, at == head { throw fault }
        var records: [ModuleRecord] = []
        for link in walk.nodes {
            if interrupted() { throw InterruptedByUser() }
            let moduleAddress = link &- shape.list
            do {
                records.append(.module(try module(at: moduleAddress, shape: shape)))
            } catch {
                records.append(.unreadable(address: moduleAddress, reason: String(describing: error)))
                continue
            }
            // A readable module whose link is not is odd enough to say so; the rest of the list
            // is out of reach.
            if case let .brokenLink(at, fault) = walk.stop, at == link {
                records.append(.unreadable(address: moduleAddress, reason: "cannot follow module.list.next: \(fault)"))
            }
        }
        return records
    }

    // MARK: - One module

    /// Reads the module whose `struct module` is at `address`.
    public func module(at address: UInt64) throws -> KernelModule {
        try module(at: address, shape: try ModuleShape(layout))
    }

    private func module(at address: UInt64, shape: ModuleShape) throws -> KernelModule {
        let raw = try read(address, shape.structSize)
        func field(_ offset: Int?, _ size: Int?) -> UInt64? {
            guard let offset, let size, offset >= 0, size > 0, size <= 8, offset <= raw.count - size else { return nil }
            var v: UInt64 = 0
            for i in 0..<size { v |= UInt64(raw[offset + i]) << UInt64(8 * i) }
            return v
        }
        // The name is a fixed char array inside the struct.
        let nameStart = min(raw.count, shape.name)
        let nameEnd = min(raw.count, nameStart + shape.nameSize)
        let nameBytes = raw[nameStart..<nameEnd].prefix { $0 != 0 }
        guard !nameBytes.isEmpty else { throw DumpError.missing(what: "module at \(hex(address)): empty name") }
        let name = String(decoding: nameBytes, as: UTF8.self)

        var regions: [ModuleMemoryRegion] = []
        switch shape.memory {
        case let .memoryArray(offset, stride, count, baseOff, sizeOff, sizeSize, kinds):
            for t in 0..<count {
                let at = offset + t * stride
                guard let base = field(at + baseOff, 8), let size = field(at + sizeOff, sizeSize) else { continue }
                let kind = t < kinds.count ? kinds[t] : "MOD_MEM_\(t)"
                regions.append(ModuleMemoryRegion(kind: kind, base: base, size: size, textSize: nil,
                                                  isInit: kind.contains("INIT")))
            }
        case let .layouts(core, initial, baseOff, sizeOff, sizeSize, textOff, textSize):
            for (at, kind, isInit) in [(core, "core", false), (initial, "init", true)] {
                guard let at, let base = field(at + baseOff, 8), let size = field(at + sizeOff, sizeSize) else { continue }
                let text = textOff.flatMap { field(at + $0, textSize) }
                regions.append(ModuleMemoryRegion(kind: kind, base: base, size: size, textSize: text, isInit: isInit))
            }
        case let .flat(members):
            for m in members {
                guard let base = field(m.base, 8), let size = field(m.size, m.sizeSize) else { continue }
                let text = m.text.flatMap { field($0, m.textSize) }
                regions.append(ModuleMemoryRegion(kind: m.kind, base: base, size: size, textSize: text, isInit: m.isInit))
            }
        }

        var module = KernelModule(address: address, name: name, regions: regions)
        module.state = field(shape.state, 4).map { Int64(Int32(truncatingIfNeeded: $0)) }
        module.taints = field(shape.taints, shape.taintsSize)
        module.percpu = field(shape.percpu, 8)
        module.percpuSize = field(shape.percpuSize, 4)
        if let data = field(shape.btfData, 8), data != 0, let size = field(shape.btfDataSize, shape.btfDataSizeWidth) {
            module.btfData = data
            module.btfDataSize = size
        }

        var problems: [String] = []
        // Exported symbols: `syms` then `gpl_syms`, as the kernel resolves them.
        if let e = shape.exports {
            for (list, count, gpl) in [(e.syms, e.numSyms, false), (e.gplSyms, e.numGplSyms, true)] {
                guard let table = field(list, 8), let n = field(count.offset, count.size), n > 0, table != 0 else { continue }
                do {
                    module.exports += try exports(table: table, count: n, entry: e, gplOnly: gpl)
                } catch {
                    problems.append("exported symbols at \(hex(table)): \(error)")
                }
            }
        }

        // The kallsyms table the kernel kept for the module.
        var symtab: UInt64?, numSymtab: UInt64?, strtab: UInt64?, typetab: UInt64?
        switch shape.kallsyms {
        case let .pointer(offset, k):
            if let p = field(offset, 8), p != 0 {
                do {
                    let ks = try read(p, k.size)
                    func kf(_ o: Int?, _ s: Int) -> UInt64? {
                        guard let o, o >= 0, o <= ks.count - s else { return nil }
                        var v: UInt64 = 0
                        for i in 0..<s { v |= UInt64(ks[o + i]) << UInt64(8 * i) }
                        return v
                    }
                    symtab = kf(k.symtab, 8)
                    numSymtab = kf(k.num, k.numSize)
                    strtab = kf(k.strtab, 8)
                    typetab = kf(k.typetab, 8)
                } catch {
                    problems.append("module.kallsyms at \(hex(p)): \(error)")
                }
            }
        case let .inline(s, n, nSize, str):
            symtab = field(s, 8)
            numSymtab = field(n, nSize)
            strtab = field(str, 8)
        case .none:
            break
        }
        if let symtab, let numSymtab, let strtab, symtab != 0, strtab != 0, numSymtab > 0 {
            do {
                let table = try symbols(symtab: symtab, count: numSymtab, strtab: strtab, typetab: typetab,
                                        regions: regions)
                module.symbols = table.symbols
                module.symbolCount = Int(min(numSymtab, UInt64(Int.max)))
                if let p = table.problem { problems.append(p) }
            } catch {
                problems.append("symbol table at \(hex(symtab)): \(error)")
            }
        }
        module.hasKallsyms = symtab != nil && symtab != 0
        module.problems = problems
        return module
    }

    // MARK: - BTF

    /// The most bytes of module BTF read (in-tree modules have at most a few MiB; the kernel's
    /// own BTF_MAX_SIZE is 16 MiB).
    public static let maxModuleBTFSize: UInt64 = 16 << 20

    /// Where each module's BTF lies once loaded: the kernel's `btf_modules` list
    /// (kernel/bpf/btf.c) of `struct btf_module`, whose `btf` is a `struct btf` holding a copy
    /// of the module's raw BTF in `data`, `data_size` bytes. (`module.btf_data` itself is
    /// cleared when the module's init is done: its .BTF section is freed with the load image.)
    /// Bounded by `maxModules`, cycle-safe; entries whose `struct btf` cannot be read are left out.
    ///
    /// - Throws: `DumpError.missing` when the layout lacks the list or its structs, the
    ///   `MemoryFault` of the list head's link.
    public func moduleBTFLocations(maxModules: Int = ModuleListReader.defaultMaxModules,
                                   interrupted: @escaping () -> Bool = { false }) throws -> [ModuleBTFLocation] {
        guard let head = layout.symbolAddress("btf_modules"),
              let list = layout.memberOffset("btf_module", "list"),
              let moduleField = layout.memberOffset("btf_module", "module"),
              let btfField = layout.memberOffset("btf_module", "btf"),
              let data = layout.memberOffset("btf", "data"),
              let dataSize = layout.memberOffset("btf", "data_size") else {
            throw DumpError.missing(what: "the btf_modules list (struct btf_module, struct btf)")
        }
        let sizeWidth = layout.memberSize("btf", "data_size").flatMap { [1, 2, 4, 8].contains($0) ? $0 : nil } ?? 4
        let walk = KernelLists(memory: memory, interrupted: interrupted).listHead(head, limit: max(0, maxModules))
        if case .interrupted = walk.stop { throw InterruptedByUser() }
        if case let .brokenLink(at, fault) = walk.stop, at == head { throw fault }
        var out: [ModuleBTFLocation] = []
        for link in walk.nodes {
            let entry = link &- UInt64(list)
            guard let module = try? memory.load(UInt64.self, entry &+ UInt64(moduleField)),
                  let btf = try? memory.load(UInt64.self, entry &+ UInt64(btfField)), btf != 0,
                  let address = try? memory.load(UInt64.self, btf &+ UInt64(data)),
                  let size = try? memory.unsigned(btf &+ UInt64(dataSize), size: sizeWidth) else { continue }
            out.append(ModuleBTFLocation(module: module, data: address, size: size))
        }
        return out
    }

    /// The bytes of a module's BTF.
    ///
    /// - Throws: `DumpError.missing` when there is none or its size is beyond
    ///   `maxModuleBTFSize` (a damaged size), or the `MemoryFault` of the read.
    public func btfData(_ location: ModuleBTFLocation) throws -> [UInt8] {
        guard location.data != 0, location.size > 0 else { throw DumpError.missing(what: "module BTF (none kept)") }
        guard location.size <= ModuleListReader.maxModuleBTFSize else {
            throw DumpError.missing(what: "module BTF of \(location.size) bytes (more than \(ModuleListReader.maxModuleBTFSize))")
        }
        return try read(location.data, Int(location.size))
    }

    // MARK: - Symbols

    private func symbols(symtab: UInt64, count: UInt64, strtab: UInt64, typetab: UInt64?,
                         regions: [ModuleMemoryRegion]) throws -> (symbols: [ModuleSymbol], problem: String?) {
        var problem: String?
        var n = Int(min(count, UInt64(Self.maxSymbolsPerModule)))
        if UInt64(n) < count { problem = "num_symtab \(count): only the first \(n) entries read" }
        let raw = try readPrefix(symtab, n * ModuleSymbolTable.entrySize)
        if raw.count < n * ModuleSymbolTable.entrySize {
            n = raw.count / ModuleSymbolTable.entrySize
            problem = "symbol table unreadable past entry \(n) of \(count)"
        }
        // The string table's length is not stored: read up to the furthest name, within the
        // module region that holds it.
        let farthest = ModuleSymbolTable.maxNameOffset(raw, count: n)
        var want = UInt64(farthest) &+ UInt64(Self.maxNameLength)
        if let region = regions.first(where: { $0.contains(strtab) }) {
            want = min(want, region.end &- strtab)
        }
        let strings = try readPrefix(strtab, Int(min(want, 1 << 26)))
        var types: [UInt8]?
        if let typetab, typetab != 0 { types = try? readPrefix(typetab, n) }
        let parsed = ModuleSymbolTable.parse(symtab: raw, count: n, strtab: strings, typetab: types)
        if parsed.unreadableNames > 0 {
            problem = (problem.map { $0 + "; " } ?? "") + "\(parsed.unreadableNames) symbol names unreadable"
        }
        return (parsed.symbols, problem)
    }

    private func exports(table: UInt64, count: UInt64, entry e: ModuleShape.Exports, gplOnly: Bool) throws -> [ExportedModuleSymbol] {
        let n = Int(min(count, UInt64(Self.maxExportsPerModule)))
        let raw = try readPrefix(table, n * e.size)
        var out: [ExportedModuleSymbol] = []
        for i in 0..<(raw.count / e.size) {
            let at = i * e.size
            let entryAddress = table &+ UInt64(at)
            let value: UInt64, nameAddress: UInt64
            switch e.kind {
            case let .relative(valueOff, nameOff):
                guard let v = ModuleSymbolTable.le32(raw, at + valueOff), let s = ModuleSymbolTable.le32(raw, at + nameOff) else { continue }
                value = entryAddress &+ UInt64(valueOff) &+ UInt64(bitPattern: Int64(Int32(bitPattern: v)))
                nameAddress = entryAddress &+ UInt64(nameOff) &+ UInt64(bitPattern: Int64(Int32(bitPattern: s)))
            case let .absolute(valueOff, nameOff):
                guard let v = ModuleSymbolTable.le64(raw, at + valueOff), let s = ModuleSymbolTable.le64(raw, at + nameOff) else { continue }
                value = v
                nameAddress = s
            }
            guard let name = try? cString(at: nameAddress), !name.isEmpty else { continue }
            out.append(ExportedModuleSymbol(name: name, value: value, gplOnly: gplOnly))
        }
        return out
    }

    // MARK: - Reads

    private func read(_ address: UInt64, _ count: Int) throws(MemoryFault) -> [UInt8] {
        try memory.bytes(address, count: count)
    }

    /// Up to `count` bytes at `address`, page by page, stopping at the first page that cannot be
    /// read. Throws only when not even the first page can be read.
    private func readPrefix(_ address: UInt64, _ count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var at = address
        while out.count < count {
            let inPage = Int(at & 0xfff)
            let n = min(4096 - inPage, count - out.count)
            do {
                out += try read(at, n)
            } catch {
                if out.isEmpty { throw error }
                break
            }
            let (next, overflow) = at.addingReportingOverflow(UInt64(n))
            if overflow { break }
            at = next
        }
        return out
    }

    /// The NUL-terminated string at `address`, at most `maxNameLength` bytes.
    private func cString(at address: UInt64) throws -> String {
        let bytes = try readPrefix(address, Self.maxNameLength)
        guard let end = bytes.firstIndex(of: 0) else { throw DumpError.missing(what: "string at \(hex(address)): no end") }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

/// One module on the list, or the address of one that could not be read and why.
public enum ModuleRecord: Sendable {
    case module(KernelModule)
    case unreadable(address: UInt64, reason: String)

    /// The `struct module` address.
    public var address: UInt64 {
        switch self {
        case let .module(m): return m.address
        case let .unreadable(a, _): return a
        }
    }
}

/// Where a module's raw BTF lies: its `struct module` address, the bytes' address and length.
public struct ModuleBTFLocation: Sendable, Equatable {
    public let module: UInt64
    public let data: UInt64
    public let size: UInt64

    public init(module: UInt64, data: UInt64, size: UInt64) {
        self.module = module
        self.data = data
        self.size = size
    }
}

/// A loaded module as the dump holds it.
public struct KernelModule: Sendable {
    /// Address of its `struct module`.
    public let address: UInt64
    public let name: String
    /// Its memory: one `core` and one `init` region (kernels before 6.4), or one per
    /// `enum mod_mem_type` (MOD_TEXT, MOD_DATA, ...). Regions of size 0 are kept.
    public let regions: [ModuleMemoryRegion]
    /// `module.state` (MODULE_STATE_LIVE = 0, COMING, GOING, UNFORMED).
    public internal(set) var state: Int64?
    /// `module.taints`: bit n set for taint flag n (`taint_flags[n]`).
    public internal(set) var taints: UInt64?
    /// The module's per-cpu area and its size, when it has one.
    public internal(set) var percpu: UInt64?
    public internal(set) var percpuSize: UInt64?
    /// The module's own (split) BTF, `btf_data` and `btf_data_size`, when the kernel keeps one.
    public internal(set) var btfData: UInt64?
    public internal(set) var btfDataSize: UInt64?
    /// Exported symbols (`syms`, then `gpl_syms`), in table order.
    public internal(set) var exports: [ExportedModuleSymbol] = []
    /// The kallsyms symbol table from entry 1 on (entry 0 is ELF's null symbol), in table order.
    public internal(set) var symbols: [ModuleSymbol] = []
    /// `num_symtab` as the kernel states it.
    public internal(set) var symbolCount = 0
    /// True when the module has a kallsyms table (the kernel was built with CONFIG_KALLSYMS).
    public internal(set) var hasKallsyms = false
    /// What could not be read (exports, symbol table, names): one line each.
    public internal(set) var problems: [String] = []

    public init(address: UInt64, name: String, regions: [ModuleMemoryRegion]) {
        self.address = address
        self.name = name
        self.regions = regions
    }

    /// Where the module's code starts: MOD_TEXT's base, or the core region's.
    public var textBase: UInt64? {
        (regions.first { $0.kind == "MOD_TEXT" } ?? regions.first { $0.kind == "core" })?.base
    }

    /// The size of everything but the init regions (what stays after loading).
    public var coreSize: UInt64 {
        regions.filter { !$0.isInit }.reduce(0) { $0 &+ $1.size }
    }

    /// The core region (kernels before 6.4), or MOD_TEXT.
    public var coreRegion: ModuleMemoryRegion? {
        regions.first { $0.kind == "core" } ?? regions.first { $0.kind == "MOD_TEXT" }
    }

    /// The init region (before 6.4), when it is still there (size > 0).
    public var initRegion: ModuleMemoryRegion? {
        regions.first { $0.kind == "init" && $0.size > 0 }
    }
}

/// One block of a module's memory.
public struct ModuleMemoryRegion: Sendable, Equatable {
    /// "core" or "init" (module_layout kernels, flat-member kernels), or the `mod_mem_type`
    /// enumerator name ("MOD_TEXT", "MOD_INIT_DATA"...).
    public let kind: String
    public let base: UInt64
    public let size: UInt64
    /// Bytes of code at the start of a core/init region (`text_size`); nil where regions are per type.
    public let textSize: UInt64?
    public let isInit: Bool

    public init(kind: String, base: UInt64, size: UInt64, textSize: UInt64?, isInit: Bool) {
        self.kind = kind
        self.base = base
        self.size = size
        self.textSize = textSize
        self.isInit = isInit
    }

    /// One past the last byte (saturating: a corrupt size does not wrap).
    public var end: UInt64 {
        let (e, o) = base.addingReportingOverflow(size)
        return o ? UInt64.max : e
    }

    public func contains(_ address: UInt64) -> Bool { address >= base && address < end }
}

/// An entry of a module's kallsyms symbol table (an `Elf64_Sym` with its name).
public struct ModuleSymbol: Sendable, Equatable {
    public let name: String
    /// st_value: the symbol's address (absolute and undefined symbols aside).
    public let value: UInt64
    public let size: UInt64
    /// st_info: binding in the high nibble, type in the low one. Kernels before 5.x (no typetab)
    /// stored nm's type letter here instead.
    public let info: UInt8
    /// st_shndx (SHN_UNDEF = 0, SHN_ABS = 0xfff1...).
    public let sectionIndex: UInt16
    /// nm's type letter from the kernel's `typetab`, when it keeps one.
    public let nmType: Character?

    public init(name: String, value: UInt64, size: UInt64, info: UInt8, sectionIndex: UInt16, nmType: Character?) {
        self.name = name
        self.value = value
        self.size = size
        self.info = info
        self.sectionIndex = sectionIndex
        self.nmType = nmType
    }
}

/// A symbol the module exports to others (`EXPORT_SYMBOL`, `EXPORT_SYMBOL_GPL`).
public struct ExportedModuleSymbol: Sendable, Equatable {
    public let name: String
    public let value: UInt64
    public let gplOnly: Bool
}

/// Parsing of a module's raw symbol table bytes (ELF64 `Elf64_Sym` records: st_name u32,
/// st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64; little-endian on x86_64).
public enum ModuleSymbolTable {
    public static let entrySize = 24

    /// The symbols of entries 1..<count of `symtab` (entry 0 is the null symbol), named from
    /// `strtab` (a name that does not end inside it is counted in `unreadableNames` and left
    /// out), with `typetab[i]` as nm's letter when given and printable.
    public static func parse(symtab: [UInt8], count: Int, strtab: [UInt8], typetab: [UInt8]?)
        -> (symbols: [ModuleSymbol], unreadableNames: Int) {
        var out: [ModuleSymbol] = []
        var unreadable = 0
        let n = min(max(0, count), symtab.count / entrySize)
        guard n > 1 else { return ([], 0) }
        out.reserveCapacity(n - 1)
        for i in 1..<n {
            let at = i * entrySize
            guard let nameOffset = le32(symtab, at), let value = le64(symtab, at + 8), let size = le64(symtab, at + 16) else { continue }
            let info = symtab[at + 4]
            let shndx = UInt16(symtab[at + 6]) | UInt16(symtab[at + 7]) << 8
            let start = Int(nameOffset)
            guard start < strtab.count, let end = strtab[start...].firstIndex(of: 0) else {
                unreadable += 1
                continue
            }
            let name = String(decoding: strtab[start..<end], as: UTF8.self)
            var letter: Character?
            if let typetab, i < typetab.count, typetab[i] >= 0x21, typetab[i] < 0x7f {
                letter = Character(Unicode.Scalar(typetab[i]))
            }
            out.append(ModuleSymbol(name: name, value: value, size: size, info: info, sectionIndex: shndx, nmType: letter))
        }
        return (out, unreadable)
    }

    /// The largest st_name among entries 1..<count.
    static func maxNameOffset(_ symtab: [UInt8], count: Int) -> UInt32 {
        var m: UInt32 = 0
        let n = min(count, symtab.count / entrySize)
        var i = 1
        while i < n {
            if let v = le32(symtab, i * entrySize), v > m { m = v }
            i += 1
        }
        return m
    }

    static func le32(_ b: [UInt8], _ at: Int) -> UInt32? {
        guard at >= 0, at <= b.count - 4 else { return nil }
        return UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    static func le64(_ b: [UInt8], _ at: Int) -> UInt64? {
        guard let lo = le32(b, at), let hi = le32(b, at + 4) else { return nil }
        return UInt64(lo) | UInt64(hi) << 32
    }
}

/// Where the members of `struct module` (and the structs it points to) sit in this kernel.
struct ModuleShape {
    enum Memory {
        /// 6.4+: `module.mem[count]` of `struct module_memory`.
        case memoryArray(offset: Int, stride: Int, count: Int, base: Int, size: Int, sizeSize: Int, kinds: [String])
        /// `module.core_layout` / `init_layout` of `struct module_layout`.
        case layouts(core: Int?, initial: Int?, base: Int, size: Int, sizeSize: Int, text: Int?, textSize: Int)
        /// `module_core`, `core_size`, `core_text_size` (and the init ones) as direct members.
        case flat([FlatRegion])
    }
    struct FlatRegion {
        var kind: String, isInit: Bool, base: Int, size: Int, sizeSize: Int, text: Int?, textSize: Int
    }
    enum Kallsyms {
        case pointer(offset: Int, KallsymsStruct)
        case inline(symtab: Int, num: Int, numSize: Int, strtab: Int)
        case none
    }
    struct KallsymsStruct {
        var size: Int, symtab: Int?, num: Int?, numSize: Int, strtab: Int?, typetab: Int?
    }
    struct Exports {
        enum Kind { case relative(value: Int, name: Int), absolute(value: Int, name: Int) }
        var size: Int, kind: Kind
        var syms: Int?, numSyms: (offset: Int?, size: Int), gplSyms: Int?, numGplSyms: (offset: Int?, size: Int)
    }

    let structSize: Int
    let list: UInt64
    let name: Int
    let nameSize: Int
    let state: Int?
    let taints: Int?
    let taintsSize: Int
    let percpu: Int?
    let percpuSize: Int?
    /// `module.btf_data` and `btf_data_size` (CONFIG_DEBUG_INFO_BTF_MODULES), when the kernel has them.
    let btfData: Int?
    let btfDataSize: Int?
    let btfDataSizeWidth: Int
    let memory: Memory
    let kallsyms: Kallsyms
    let exports: Exports?

    init(_ l: any KernelLayout) throws {
        func offset(_ type: String, _ member: String) -> Int? {
            guard let o = l.memberOffset(type, member), o >= 0, o < 1 << 20 else { return nil }
            return o
        }
        /// A member's size when it is a plausible integer width, else `fallback`.
        func width(_ type: String, _ member: String, _ fallback: Int) -> Int {
            guard let s = l.memberSize(type, member), [1, 2, 4, 8].contains(s) else { return fallback }
            return s
        }
        guard let size = l.typeSize("module"), size > 0, size <= 1 << 16 else {
            throw DumpError.missing(what: "struct module (needs the vmlinux's debuginfo)")
        }
        guard let listOffset = offset("module", "list"), let nameOffset = offset("module", "name") else {
            throw DumpError.missing(what: "module.list or module.name (needs the vmlinux's debuginfo)")
        }
        structSize = size
        list = UInt64(listOffset)
        name = nameOffset
        nameSize = max(1, min(l.memberSize("module", "name") ?? 56, 256))
        state = offset("module", "state")
        taints = offset("module", "taints")
        taintsSize = width("module", "taints", 8)
        percpu = offset("module", "percpu")
        percpuSize = offset("module", "percpu_size")
        btfData = offset("module", "btf_data")
        btfDataSize = offset("module", "btf_data_size")
        btfDataSizeWidth = width("module", "btf_data_size", 4)

        if let mem = offset("module", "mem"), let stride = l.typeSize("module_memory"), stride > 0,
           let base = offset("module_memory", "base"), let sz = offset("module_memory", "size") {
            let count = max(0, min((l.memberSize("module", "mem") ?? stride) / stride, 64))
            var kinds: [String] = []
            if let e = l.enumerators("mod_mem_type") {
                for (n, v) in e where v >= 0 && v < Int64(count) {
                    while kinds.count <= Int(v) { kinds.append("MOD_MEM_\(kinds.count)") }
                    kinds[Int(v)] = n
                }
            }
            memory = .memoryArray(offset: mem, stride: stride, count: count, base: base, size: sz,
                                  sizeSize: width("module_memory", "size", 4), kinds: kinds)
        } else if let base = offset("module_layout", "base"), let sz = offset("module_layout", "size"),
                  offset("module", "core_layout") != nil {
            memory = .layouts(core: offset("module", "core_layout"), initial: offset("module", "init_layout"),
                              base: base, size: sz, sizeSize: width("module_layout", "size", 4),
                              text: offset("module_layout", "text_size"), textSize: width("module_layout", "text_size", 4))
        } else if let core = offset("module", "module_core"), let coreSize = offset("module", "core_size") {
            var flat = [FlatRegion(kind: "core", isInit: false, base: core, size: coreSize,
                                   sizeSize: width("module", "core_size", 4), text: offset("module", "core_text_size"),
                                   textSize: width("module", "core_text_size", 4))]
            if let i = offset("module", "module_init"), let s = offset("module", "init_size") {
                flat.append(FlatRegion(kind: "init", isInit: true, base: i, size: s, sizeSize: width("module", "init_size", 4),
                                       text: offset("module", "init_text_size"), textSize: width("module", "init_text_size", 4)))
            }
            memory = .flat(flat)
        } else {
            throw DumpError.missing(what: "the module memory layout (module.mem, module.core_layout or module.module_core)")
        }

        if let k = offset("module", "kallsyms"), let ks = l.typeSize("mod_kallsyms"), ks > 0, ks <= 4096 {
            kallsyms = .pointer(offset: k, KallsymsStruct(size: ks, symtab: offset("mod_kallsyms", "symtab"),
                                                          num: offset("mod_kallsyms", "num_symtab"),
                                                          numSize: width("mod_kallsyms", "num_symtab", 4),
                                                          strtab: offset("mod_kallsyms", "strtab"),
                                                          typetab: offset("mod_kallsyms", "typetab")))
        } else if let s = offset("module", "symtab"), let n = offset("module", "num_symtab"), let str = offset("module", "strtab") {
            kallsyms = .inline(symtab: s, num: n, numSize: width("module", "num_symtab", 4), strtab: str)
        } else {
            kallsyms = .none
        }

        if let ksize = l.typeSize("kernel_symbol"), ksize > 0, ksize <= 64 {
            var kind: Exports.Kind?
            if let v = offset("kernel_symbol", "value_offset"), let n = offset("kernel_symbol", "name_offset") {
                kind = .relative(value: v, name: n)
            } else if let v = offset("kernel_symbol", "value"), let n = offset("kernel_symbol", "name") {
                kind = .absolute(value: v, name: n)
            }
            exports = kind.map {
                Exports(size: ksize, kind: $0, syms: offset("module", "syms"),
                        numSyms: (offset("module", "num_syms"), width("module", "num_syms", 4)),
                        gplSyms: offset("module", "gpl_syms"),
                        numGplSyms: (offset("module", "num_gpl_syms"), width("module", "num_gpl_syms", 4)))
            }
        } else {
            exports = nil
        }
    }
}

/// One entry of the kernel's `taint_flags[]` table: the letter shown for taint bit `bit` when it
/// is set, and whether the flag can be set on a module (`taint_flag.module`).
public struct TaintFlag: Sendable, Equatable {
    public let bit: Int
    public let letter: Character
    public let appliesToModules: Bool
}

extension ModuleListReader {
    /// The most taint flags read (the kernel has about 20).
    public static let maxTaintFlags = 64

    /// The kernel's `taint_flags[]` table (4.10+: `struct taint_flag` with `c_true` or `true`, and
    /// `module`). The array length comes from the layout, else `TAINT_FLAGS_COUNT`.
    /// - Throws: `DumpError.missing` when the kernel has no such table or its layout is unknown.
    public func taintFlags() throws -> [TaintFlag] {
        let l = layout
        guard let table = l.symbolAddress("taint_flags"), let size = l.typeSize("taint_flag"), size > 0, size <= 64 else {
            throw DumpError.missing(what: "taint_flags[] or struct taint_flag (needs the vmlinux's debuginfo)")
        }
        guard let letterOffset = l.memberOffset("taint_flag", "c_true") ?? l.memberOffset("taint_flag", "true"),
              letterOffset >= 0, letterOffset < size else {
            throw DumpError.missing(what: "taint_flag.c_true")
        }
        let moduleOffset = l.memberOffset("taint_flag", "module").flatMap { $0 >= 0 && $0 < size ? $0 : nil }
        let count = max(0, min(l.length("taint_flags") ?? Int(l.number("TAINT_FLAGS_COUNT") ?? 0), Self.maxTaintFlags))
        guard count > 0 else { throw DumpError.missing(what: "the length of taint_flags[]") }
        let raw = try memory.bytes(table, count: count * size)
        guard raw.count == count * size else { throw DumpError.missing(what: "taint_flags[] (short read)") }
        return (0..<count).map { i in
            let at = i * size
            let c = raw[at + letterOffset]
            return TaintFlag(bit: i, letter: c >= 0x20 && c < 0x7f ? Character(Unicode.Scalar(c)) : "?",
                             appliesToModules: moduleOffset.map { raw[at + $0] != 0 } ?? true)
        }
    }
}

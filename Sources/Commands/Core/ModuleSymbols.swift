import DumpModel
import SymbolResolver

/// A module symbol as crash shows it: its name, address, crash's type letter and its module.
public struct ModuleSymbolEntry: Sendable, Equatable {
    public var name: String
    public var address: UInt64
    /// The letter crash 8.0.6 shows: st_info itself when it is printable (kernels that stored
    /// nm's letter there), 't'/'T' for local/global functions, '?' for anything else
    /// (exported symbols start as '?' and take their kallsyms entry's letter).
    public var type: Character
    /// nm's letter from the kernel's typetab, when the kernel keeps one.
    public var nmType: Character?
    public var size: UInt64
    /// The module's name.
    public var module: String
    /// Index of the module in `ModuleSymbolIndex.modules`.
    var moduleIndex: Int
    /// Index in its module's `symbols` (or `initSymbols`).
    var position: Int
    var inInit: Bool
}

/// What an address in a module resolves to: a symbol and the offset into it, or (an address
/// before the module's first symbol) the module's start.
public enum ModuleLocation: Sendable, Equatable {
    case symbol(ModuleSymbolEntry, offset: UInt64)
    case moduleStart(module: String, base: UInt64, offset: UInt64)
}

/// The loaded modules and their symbols in crash's order, built once per session from the dump
/// (`Session.moduleSymbols()`): what `mod` lists, and what symbol lookups consult for addresses
/// outside the kernel image and names the vmlinux lacks.
///
/// Per module, as crash 8.0.6 stores them: the exported symbols first (`syms`, then `gpl_syms`,
/// type '?'), then each kallsyms entry whose value lies in the module's memory, is defined and
/// has a name (an entry with an exported symbol's name and value only gives that symbol its
/// type letter); then all sorted by address, keeping that order among equal addresses.
/// Modules are ordered by base address.
public final class ModuleSymbolIndex {
    public struct Module {
        public let module: KernelModule
        /// Where the module's symbols start and end: the core region (or MOD_TEXT's base and the
        /// sum of the non-init regions on 6.4+ kernels).
        public let base: UInt64
        public let end: UInt64
        /// The init region, while it exists.
        public let initBase: UInt64?
        public let initEnd: UInt64?
        /// End of the module's code (base + text_size), or MOD_TEXT's end.
        public let textEnd: UInt64
        public let symbols: [ModuleSymbolEntry]
        public let initSymbols: [ModuleSymbolEntry]

        /// True when `address` lies in any of the module's memory.
        func contains(_ address: UInt64) -> Bool {
            if address >= base && address < end { return true }
            if let initBase, let initEnd, address >= initBase && address < initEnd { return true }
            return module.regions.contains { $0.size > 0 && $0.contains(address) }
        }
    }

    /// Readable modules, by base address.
    public let modules: [Module]
    /// Module debuginfo loaded by `mod -s` / `mod -S`, by module name (see ModuleDebugLoading.swift).
    public internal(set) var debugInfo: [String: ModuleDebugInfo] = [:]
    /// How many module files were opened: each gets its own key space for translated types.
    var loadedCount = 0
    /// Every record of the list walk, in list order (for `mod`, which also shows unreadable rows).
    public let records: [ModuleRecord]
    /// Why the module list could not be read at all, if it could not.
    public let loadError: Error?

    init(records: [ModuleRecord], loadError: Error? = nil) {
        self.records = records
        self.loadError = loadError
        var built: [Module] = []
        for case let .module(m) in records {
            built.append(Self.build(m, index: 0))
        }
        built.sort { $0.base < $1.base }
        // Entries carry their module's index in the sorted array.
        modules = built.enumerated().map { i, m in
            func reindex(_ list: [ModuleSymbolEntry]) -> [ModuleSymbolEntry] {
                list.map { var e = $0; e.moduleIndex = i; return e }
            }
            return Module(module: m.module, base: m.base, end: m.end, initBase: m.initBase, initEnd: m.initEnd,
                          textEnd: m.textEnd, symbols: reindex(m.symbols), initSymbols: reindex(m.initSymbols))
        }
    }

    /// crash 8.0.6's type letter for a kallsyms entry's st_info.
    static func crashTypeLetter(info: UInt8) -> Character {
        if info >= 0x20 && info < 0x7f { return Character(Unicode.Scalar(info)) }
        switch info {
        case 0x02: return "t"   // STB_LOCAL, STT_FUNC
        case 0x12: return "T"   // STB_GLOBAL, STT_FUNC
        default: return "?"
        }
    }

    private static func build(_ m: KernelModule, index: Int) -> Module {
        let base: UInt64, end: UInt64, textEnd: UInt64
        var initBase: UInt64?, initEnd: UInt64?
        if let core = m.regions.first(where: { $0.kind == "core" }) {
            base = core.base
            end = core.end
            textEnd = core.textSize.map { min(core.end, core.base &+ $0) } ?? core.end
            if let i = m.initRegion { initBase = i.base; initEnd = i.end }
        } else {
            // Per-type regions (6.4+) are separate allocations: the module spans from its text to
            // the end of its last non-init region.
            let text = m.regions.first { $0.kind == "MOD_TEXT" }
            base = text?.base ?? m.regions.first?.base ?? 0
            end = max(base, m.regions.filter { !$0.isInit && $0.size > 0 }.map(\.end).max() ?? base)
            textEnd = text?.end ?? base
        }
        func inModule(_ v: UInt64) -> Bool {
            if v >= base && v < end { return true }
            if let initBase, let initEnd, v >= initBase && v < initEnd { return true }
            return m.regions.contains { $0.size > 0 && $0.contains(v) }
        }
        var entries: [ModuleSymbolEntry] = []
        var exported: [String: [Int]] = [:]
        // crash keeps names as it shows them: cut at a compiler clone suffix (".isra.", then
        // ".part.", then ".llvm."), like the kernel's own symbols.
        for e in m.exports where !e.name.isEmpty {
            let name = crashDisplayName(e.name)
            exported[name, default: []].append(entries.count)
            entries.append(ModuleSymbolEntry(name: name, address: e.value, type: "?", nmType: nil, size: 0,
                                             module: m.name, moduleIndex: index, position: 0, inInit: false))
        }
        for s in m.symbols where s.sectionIndex != 0 && !s.name.isEmpty && inModule(s.value) {
            let name = crashDisplayName(s.name)
            if let same = exported[name]?.first(where: { entries[$0].address == s.value }) {
                if entries[same].type == "?" { entries[same].type = crashTypeLetter(info: s.info) }
                entries[same].nmType = s.nmType
                entries[same].size = s.size
                continue
            }
            entries.append(ModuleSymbolEntry(name: name, address: s.value, type: crashTypeLetter(info: s.info),
                                             nmType: s.nmType, size: s.size, module: m.name, moduleIndex: index,
                                             position: 0, inInit: false))
        }
        // Stable by address: equal addresses keep the order above.
        let sorted = entries.enumerated().sorted { a, b in
            a.element.address != b.element.address ? a.element.address < b.element.address : a.offset < b.offset
        }.map(\.element)
        var core: [ModuleSymbolEntry] = [], initial: [ModuleSymbolEntry] = []
        for var e in sorted {
            if let initBase, let initEnd, e.address >= initBase, e.address < initEnd {
                e.inInit = true
                e.position = initial.count
                initial.append(e)
            } else {
                e.position = core.count
                core.append(e)
            }
        }
        return Module(module: m, base: base, end: end, initBase: initBase, initEnd: initEnd, textEnd: textEnd,
                      symbols: core, initSymbols: initial)
    }

    // MARK: - Lookups

    /// What crash shows for `address`: among the modules in base order, the one whose range holds
    /// it; there the first symbol at exactly that address (after a '.'-named one, the next at the
    /// same address), else the last symbol below it, else the module's start. The end address of
    /// a module and addresses between modules resolve to nothing.
    /// The symbol after `entry` in its module's list (address order): where crash ends a module
    /// function `dis` shows, since 5.0+ modules keep no usable st_size.
    func nextSymbol(after entry: ModuleSymbolEntry) -> ModuleSymbolEntry? {
        guard entry.moduleIndex >= 0, entry.moduleIndex < modules.count else { return nil }
        let m = modules[entry.moduleIndex]
        for list in [m.symbols, m.initSymbols] {
            guard entry.position < list.count, list[entry.position] == entry else { continue }
            return list[(entry.position + 1)...].first { $0.address > entry.address }
        }
        return nil
    }

    public func symbol(at address: UInt64) -> ModuleLocation? {
        for m in modules {
            if m.base > address { break }
            if m.end < address { continue }
            if let found = locate(address, in: m.symbols, start: m.base, end: m.end, module: m.module.name) {
                return found
            }
        }
        for m in modules {
            guard let b = m.initBase, let e = m.initEnd, address >= b, address <= e else { continue }
            if let found = locate(address, in: m.initSymbols, start: b, end: e, module: m.module.name) {
                return found
            }
        }
        return nil
    }

    private func locate(_ address: UInt64, in symbols: [ModuleSymbolEntry], start: UInt64, end: UInt64,
                        module: String) -> ModuleLocation? {
        // First index whose address is >= `address`.
        var lo = 0, hi = symbols.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if symbols[mid].address < address { lo = mid + 1 } else { hi = mid }
        }
        if lo < symbols.count, symbols[lo].address == address {
            var at = lo
            if symbols[at].name.hasPrefix("."), at + 1 < symbols.count, symbols[at + 1].address == address { at += 1 }
            return .symbol(symbols[at], offset: 0)
        }
        if address == start { return .moduleStart(module: module, base: start, offset: 0) }
        guard address < end else { return nil }
        if lo > 0 { return .symbol(symbols[lo - 1], offset: address - symbols[lo - 1].address) }
        return .moduleStart(module: module, base: start, offset: address - start)
    }

    /// Every module symbol called `name`, modules in base order, each module's in address order.
    public func symbols(named name: String) -> [ModuleSymbolEntry] {
        modules.flatMap { m in (m.symbols + m.initSymbols).filter { $0.name == name } }
    }

    /// Module symbols whose name contains `substring`, as `sym -q` lists them.
    public func symbols(containing substring: String) -> [ModuleSymbolEntry] {
        modules.flatMap { m in (m.symbols + m.initSymbols).filter { substring.isEmpty || $0.name.contains(substring) } }
    }

    /// The symbol after (or before) `entry` in its module's address order.
    public func neighbour(of entry: ModuleSymbolEntry, after: Bool) -> ModuleSymbolEntry? {
        guard entry.moduleIndex < modules.count else { return nil }
        let m = modules[entry.moduleIndex]
        let list = entry.inInit ? m.initSymbols : m.symbols
        let i = after ? entry.position + 1 : entry.position - 1
        return i >= 0 && i < list.count ? list[i] : nil
    }

    /// True for an address crash counts as module code: the symbol there is a text symbol, or it
    /// lies between the module's base and the end of its text.
    public func isText(_ address: UInt64, symbol: ModuleSymbolEntry?) -> Bool {
        if let symbol, symbol.type == "t" || symbol.type == "T" { return true }
        for m in modules where m.contains(address) {
            if address >= m.base && address < m.textEnd { return true }
        }
        return false
    }

    /// The module whose memory holds `address`.
    public func module(containing address: UInt64) -> Module? {
        modules.first { $0.contains(address) }
    }

    /// One line of crash's `sym -l` module part: a marker or a symbol.
    public enum ListingLine {
        case marker(address: UInt64, text: String)
        case symbol(ModuleSymbolEntry)
    }

    /// The module part of crash's `sym -l`: per module in base order, "MODULE START" at its base,
    /// its symbols, "MODULE END" at its end, then the init region's the same way when present.
    public func listing() -> [ListingLine] {
        var out: [ListingLine] = []
        for m in modules {
            let name = m.module.name
            out.append(.marker(address: m.base, text: "MODULE START: \(name)"))
            out += m.symbols.map { .symbol($0) }
            out.append(.marker(address: m.end, text: "MODULE END: \(name)"))
            if let b = m.initBase, let e = m.initEnd {
                out.append(.marker(address: b, text: "MODULE INIT START: \(name)"))
                out += m.initSymbols.map { .symbol($0) }
                out.append(.marker(address: e, text: "MODULE INIT END: \(name)"))
            }
        }
        return out
    }
}

extension Session {
    /// True once the module list has been read (lookups the vmlinux answers never read it).
    public var hasReadModules: Bool { moduleIndexCache != nil }

    /// The loaded modules and their symbols, read from the dump on first use and kept for the
    /// session. Never throws: when the list cannot be read (no debuginfo, no page tables), the
    /// index is empty and `loadError` says why. Ctrl-C during the read gives an empty index that
    /// is not kept, so the next command tries again.
    public func moduleSymbols() -> ModuleSymbolIndex {
        if let moduleIndexCache { return moduleIndexCache }
        let index: ModuleSymbolIndex
        do {
            let memory = try crashedKernel().memory
            let records = try ModuleListReader(memory: memory).modules(interrupted: { [weak self] in
                self?.interruptRequested() ?? false
            })
            index = ModuleSymbolIndex(records: records)
        } catch is InterruptedByUser {
            return ModuleSymbolIndex(records: [], loadError: CommandError.interrupted)
        } catch {
            index = ModuleSymbolIndex(records: [], loadError: error)
        }
        moduleIndexCache = index
        return index
    }
}

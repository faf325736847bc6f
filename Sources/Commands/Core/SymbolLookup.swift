import DumpModel
import SymbolResolver

/// A symbol found by name or address: one of the vmlinux, one of a loaded module, or (an
/// address before a module's first symbol) the module itself.
enum FoundSymbol {
    case kernel(Symbol)
    case module(ModuleSymbolEntry)
    case moduleStart(module: String, base: UInt64)

    var name: String {
        switch self {
        case let .kernel(s): return s.name
        case let .module(e): return e.name
        case let .moduleStart(m, _): return "(\(m) module)"
        }
    }
}

/// The one place where symbol lookups by name and by address merge the vmlinux's symbols with
/// the loaded modules' (`sym`, `rd`, `rd -s`, and the `<sym+off>` labels of `p`/`struct`).
///
/// The kernel's table answers first. The modules are read from the dump only when the kernel
/// cannot answer: a name the vmlinux does not have, or an address outside its image at or above
/// the kernel text mapping (x86_64 puts module space right after the kernel image), so
/// `sym schedule` never reads them. Once read they stay for the session (`Session.moduleSymbols()`).
/// A name both the vmlinux and a module define is answered from the vmlinux alone.
struct SymbolLookup {
    let kernel: KernelImage
    let table: SymbolTable
    let slide: UInt64
    let session: Session

    init(session: Session) throws {
        table = try session.kernelSymbols()
        kernel = try session.kernel()
        slide = table.slide
        self.session = session
    }

    /// The session's modules (read on first use).
    var modules: ModuleSymbolIndex { session.moduleSymbols() }

    /// True when an address the kernel image has no symbol for may lie in a module.
    static func mayBeModuleAddress(_ address: UInt64) -> Bool {
        address >= KernelAddressSpace.startKernelMap
    }

    /// The symbols `word` means: every kernel symbol of that name, else every module symbol of
    /// that name; else, for a hexadecimal word, the symbol the address lies in. Throws crash's messages.
    func resolve(_ word: String) throws -> [(symbol: FoundSymbol, offset: UInt64)] {
        let named = table.symbols(named: word)
        if !named.isEmpty {
            return named.sorted { $0.address < $1.address }.map { (.kernel($0), 0) }
        }
        let address = parseHexAddress(word)
        if address == nil {
            let inModules = modules.symbols(named: word)
            if !inModules.isEmpty { return inModules.map { (.module($0), 0) } }
        }
        if let address {
            if let loc = table.symbol(at: address) { return [(.kernel(loc.symbol), loc.offset)] }
            if let found = moduleLocation(address) { return [found] }
            throw CommandError("invalid address: \(word)")
        }
        throw CommandError("symbol not found: \(word)" + alternatives(word))
    }

    /// The module symbol (or module start) an address outside the kernel image lies in.
    func moduleLocation(_ address: UInt64) -> (symbol: FoundSymbol, offset: UInt64)? {
        guard Self.mayBeModuleAddress(address), let loc = modules.symbol(at: address) else { return nil }
        switch loc {
        case let .symbol(e, offset): return (.module(e), offset)
        case let .moduleStart(m, base, offset): return (.moduleStart(module: m, base: base), offset)
        }
    }

    /// The address of the symbol a user names (`rd NAME`): the kernel's preferred one, else the
    /// first module symbol of that name.
    func address(ofName name: String) -> UInt64? {
        if let s = table.symbol(named: name) { return s.address }
        return modules.symbols(named: name).first?.address
    }

    /// crash's label for a value (`rd -s`): "name" or "name+offset" (decimal), from the kernel or
    /// a module; nil when no symbol holds the value.
    func label(for value: UInt64) -> String? {
        if let loc = table.symbol(at: value) {
            return loc.offset == 0 ? loc.symbol.name : "\(loc.symbol.name)+\(loc.offset)"
        }
        guard let (found, offset) = moduleLocation(value), case let .module(e) = found else { return nil }
        return offset == 0 ? e.name : "\(e.name)+\(offset)"
    }

    /// The module symbol for gdb's `<sym+off>` after a pointer into a module (the kernel's own
    /// rule lives in `SymbolTable.gdbSymbol`).
    static func moduleLabel(session: Session, address: UInt64) -> (name: String, offset: UInt64)? {
        guard mayBeModuleAddress(address), case let .symbol(e, offset)? = session.moduleSymbols().symbol(at: address) else {
            return nil
        }
        return (e.name, offset)
    }

    /// ", possible alternatives: a, b, c" for names containing `word`, or "".
    private func alternatives(_ word: String) -> String {
        guard word.count >= 3 else { return "" }
        var names: [String] = []
        var more = false
        for s in table.symbols(containing: word) where !names.contains(s.name) {
            if names.count == 8 { more = true; break }
            names.append(s.name)
        }
        if names.count < 8 {
            for e in modules.symbols(containing: word) where !names.contains(e.name) {
                if names.count == 8 { more = true; break }
                names.append(e.name)
            }
        }
        guard !names.isEmpty else { return "" }
        return " (possible alternatives: " + names.joined(separator: ", ") + (more ? ", ..." : "") + ")"
    }

    /// The next (or previous) symbol in address order at another address than `symbol`.
    func neighbour(of symbol: FoundSymbol, after: Bool) -> FoundSymbol? {
        switch symbol {
        case let .kernel(s):
            if !after {
                guard s.address > 0 else { return nil }
                return table.symbol(at: s.address - 1).map { .kernel($0.symbol) }
            }
            return table.firstSymbol(after: s.address).map { .kernel($0) }
        case let .module(e):
            return modules.neighbour(of: e, after: after).map { .module($0) }
        case .moduleStart:
            return nil
        }
    }

    /// The row for `symbol` at `offset`, with the source line of a text address if asked.
    func row(_ found: FoundSymbol, offset: UInt64, withSource: Bool, section: Bool) -> SymCommand.SymbolRow {
        switch found {
        case let .kernel(symbol):
            return row(symbol, offset: offset, withSource: withSource, section: section)
        case let .module(e):
            let address = e.address &+ offset
            var row = SymCommand.SymbolRow(address: address, type: e.type, name: e.name, offset: offset)
            row.module = e.module
            if section {
                row.section = "in \(e.module) module"
            } else if withSource, modules.isText(address, symbol: e) {
                // crash looks for a source line of module code and, without the module's
                // debuginfo (`mod -s`), prints an empty one.
                if let src = modules.sourceLine(at: address) {
                    row.file = src.file
                    row.line = src.line
                } else {
                    row.lineNotFound = true
                }
            }
            return row
        case let .moduleStart(_, base):
            // crash prints the module's base, not base + offset, for this one.
            return SymCommand.SymbolRow(address: base, type: "m", name: found.name, offset: offset)
        }
    }

    /// The row for a kernel `symbol` at `offset`, with the source line of a text address if asked.
    func row(_ symbol: Symbol, offset: UInt64, withSource: Bool, section: Bool) -> SymCommand.SymbolRow {
        let address = runtimeAddress(symbol) &+ offset
        var row = SymCommand.SymbolRow(address: address, type: symbol.typeLetter, name: symbol.name, offset: offset)
        if section { row.section = symbol.section }
        if withSource && isText(symbol) {
            if let src = sourceLine(runtimeAddress: address, symbol: symbol) {
                row.file = src.file
                row.line = src.line
            } else {
                row.lineNotFound = kernel.hasDWARF
            }
        }
        return row
    }

    /// The run-time address of `symbol`. Absolute symbols whose value lies in the kernel image
    /// mapping (`init_per_cpu__*`, linker-script addresses) name places in the image and move
    /// with it, as crash shows them; small absolute values (sizes, per-cpu offsets) stay. The
    /// image mapping starts at `__START_KERNEL_map` and is at most 1 GiB long.
    func runtimeAddress(_ symbol: Symbol) -> UInt64 {
        if !symbol.isRelocatable, symbol.typeLetter == "A" || symbol.typeLetter == "a",
           symbol.address >= KernelAddressSpace.startKernelMap, symbol.address < KernelAddressSpace.startKernelMap &+ (1 << 30) {
            return symbol.address &+ slide
        }
        return symbol.address
    }

    /// True for symbols in kernel text: crash shows source lines only for those.
    func isText(_ s: Symbol) -> Bool {
        switch s.typeLetter {
        case "t", "T": return true
        case "w", "W": return s.kind == .function || s.section.hasPrefix(".text")
        default: return s.section.hasPrefix(".text")
        }
    }

    /// File and line of a run-time text address, from the vmlinux's line table.
    /// Nil when the vmlinux has no line info for it (no DWARF, as in a vmlinux stripped with
    /// --strip-debug: `sym` then shows the symbol alone, as crash does).
    func sourceLine(runtimeAddress: UInt64, symbol: Symbol) -> (file: String, line: Int)? {
        // Line tables hold link-time addresses.
        let link = symbol.isRelocatable ? runtimeAddress &- slide : runtimeAddress
        guard let found = try? kernel.sourceLine(atLinkAddress: link) else { return nil }
        return (found.file, found.line)
    }
}

import CDwarf

/// A global variable: where it is (link-time; relocate with the symbol table's slide) and its type.
public struct GlobalVariable: Sendable, Hashable {
    public let name: String
    /// The ELF symbol, at its link-time address.
    public let symbol: Symbol
    public let type: TypeID
    /// True for per-cpu variables: `symbol.address` is an offset into each CPU's per-cpu area.
    public let isPerCPU: Bool
    /// The type is a guess from the symbol's extent, not a declaration (no vmlinux, and the
    /// kernel's BTF does not describe the variable).
    public var typeIsGuessed = false
}

extension KernelImage {
    func dwarfIndex() -> DwarfIndex? {
        if let d = dwarfCache { return d }
        let d = image.flatMap { DwarfIndex(image: $0, debugRoots: debugRoots) }
        dwarfCache = d
        return d
    }

    /// The source file and line of the code at `address` (link-time: subtract the KASLR
    /// slide first), from the DWARF line table of the unit .debug_aranges names for it. Nil
    /// when the address has no line info; throws `.noDebugInfo` when the file has no DWARF.
    public func sourceLine(atLinkAddress address: UInt64) throws -> SourceLine? {
        guard let d = dwarfIndex() else { throw SymbolError.noDebugInfo(path: path) }
        return d.sourceLine(at: address)
    }

    /// The global variable `name` with its type: from .BTF for per-cpu variables, else from
    /// the DWARF declaration or definition. The defining unit is searched first among the
    /// units that hold the symbol's neighbours in the same section (object files are linked in
    /// .debug_info order); only when that fails are all units' top-level DIEs scanned.
    public func variable(named name: String) throws -> GlobalVariable {
        let table = try symbols()
        guard let index = table.index(named: name) else { throw SymbolError.variableNotFound(name: name) }
        let sym = table.symbol(index)
        let types = try self.types()
        let isPerCPU = sym.section == ".data..percpu"
        if let btf = types.btf {
            for id in btf.ids(named: name) where btf.kind(id) == BTFTable.kindVar {
                return GlobalVariable(name: name, symbol: sym, type: TypeID(rawValue: btf.sizeOrType(id)), isPerCPU: isPerCPU)
            }
        }
        if image == nil { return try inferredVariable(sym, isPerCPU: isPerCPU, types: types) }
        guard let d = dwarfIndex() else { throw SymbolError.noDebugInfo(path: path) }
        let address = sym.address
        var die: Dwarf_Die?
        if let (first, last) = candidateUnits(forSymbol: index, table: table, dwarf: d) {
            die = d.findVariable(named: name, address: address, units: first, through: last,
                                   stopAtDeclaration: sym.size == 0)
        }
        if die == nil {
            die = d.findVariable(named: name, address: address, units: 0, through: UInt64.max, stopAtDeclaration: true)
        }
        guard var found = die else { throw SymbolError.variableNotFound(name: name) }
        return GlobalVariable(name: name, symbol: sym, type: d.typeOf(&found, into: types), isPerCPU: isPerCPU)
    }

    /// The prototype of the function `name` (a `.function` type): from .BTF, else from the
    /// DWARF subprogram in the unit that holds the function's code. nil when the name is not a
    /// function symbol or no debuginfo describes it (assembly entry points).
    public func functionType(named name: String) throws -> TypeID? {
        let types = try self.types()
        if let id = types.function(named: name) { return id }
        return dwarfFunctionType(named: name, into: types)
    }

    /// The prototype built from DWARF alone (also what a vmlinux without .BTF gets).
    func dwarfFunctionType(named name: String, into types: KernelTypes) -> TypeID? {
        guard let table = try? symbols(), let sym = table.symbol(named: name), sym.kind == .function,
              let d = dwarfIndex(), var die = d.findFunction(named: name, address: sym.address) else { return nil }
        return d.translate(&die, into: types, depth: 0)
    }

    /// The range of unit offsets that should hold the object file defining raw symbol `index`:
    /// its own STT_FILE group for a local symbol, else the groups of the nearest local symbols
    /// around it in the same section, each mapped to a unit through one of its functions.
    func candidateUnits(forSymbol index: Int, table: SymbolTable, dwarf: DwarfIndex) -> (UInt64, UInt64)? {
        let store = table.store
        let raw = store.raw
        if store.fileGroup[index] != UInt32.max, let u = unit(ofGroup: store.fileGroup[index], store: store, dwarf: dwarf) {
            return (u, u)
        }
        let target = raw[index]
        let order = store.byAddress
        var lo = 0, hi = order.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if raw[Int(order[mid])].value < target.value { lo = mid + 1 } else { hi = mid }
        }
        var units: [UInt64] = []
        // The nearest local symbol with a known unit on each side, within 512 symbols.
        for direction in [-1, 1] {
            var j = direction < 0 ? lo - 1 : lo
            var found = 0
            var steps = 0
            while j >= 0, j < order.count, steps < 512, found < 1 {
                let k = Int(order[j])
                if raw[k].sectionIndex == target.sectionIndex, store.fileGroup[k] != UInt32.max,
                   let u = unit(ofGroup: store.fileGroup[k], store: store, dwarf: dwarf) {
                    units.append(u)
                    found += 1
                }
                j += direction
                steps += 1
            }
        }
        // Object files are linked in unit order, so the defining unit usually lies between the
        // two; the search goes upwards from the lower one.
        guard let first = units.min(), let last = units.max() else { return nil }
        return (first, last)
    }

    /// The unit holding the functions of STT_FILE group `group` (nil when it has none).
    func unit(ofGroup group: UInt32, store: SymbolStore, dwarf: DwarfIndex) -> UInt64? {
        let starts = store.groupStarts
        guard Int(group) < starts.count else { return nil }
        var i = starts[Int(group)]
        let raw = store.raw
        while i < raw.count, store.fileGroup[i] == group {
            if Int32(raw[i].info & 0xf) == STT_FUNC, raw[i].relocatable, let u = dwarf.unit(containing: raw[i].value) {
                return u
            }
            i += 1
        }
        return nil
    }
}

/// Where one loaded module's BTF comes from: its name and a reader of its bytes (the module's
/// `btf_data`, `btf_data_size` bytes long), called only when a name is looked up in modules.
public struct ModuleBTFSource {
    public let module: String
    public let read: () throws -> [UInt8]

    public init(module: String, read: @escaping () throws -> [UInt8]) {
        self.module = module
        self.read = read
    }
}

/// The loaded modules' split BTF over the kernel's (CONFIG_DEBUG_INFO_BTF_MODULES): read on
/// the first name the kernel's types lack, then each module's types are translated into the
/// `KernelTypes` table as they are asked for, so commands see one model.
final class ModuleBTFLayer {
    final class Module {
        let name: String
        let table: BTFTable
        /// Local record id -> the id its translation has in the `KernelTypes` table.
        var translated: [Int: TypeID] = [:]
        init(name: String, table: BTFTable) {
            self.name = name
            self.table = table
        }
    }

    let sources: () -> [ModuleBTFSource]
    let report: (String) -> Void
    /// The modules whose BTF was read, in the order the sources came; nil until first asked.
    var modules: [Module]?
    /// One line per module whose BTF could not be read or parsed.
    var problems: [String] = []

    init(sources: @escaping () -> [ModuleBTFSource], report: @escaping (String) -> Void) {
        self.sources = sources
        self.report = report
    }
}

extension KernelTypes {
    /// Lets `moduleType(named:)` look in the loaded modules' BTF. `sources` is called once, on
    /// the first lookup; `report` is told one line for each module whose BTF is unusable (those
    /// modules are skipped, the kernel's types are untouched).
    public func useModuleBTF(_ sources: @escaping () -> [ModuleBTFSource], report: @escaping (String) -> Void = { _ in }) {
        moduleBTF = ModuleBTFLayer(sources: sources, report: report)
    }

    /// True once `useModuleBTF` was called.
    public var usesModuleBTF: Bool { moduleBTF != nil }

    /// One line for each module whose BTF could not be used, once modules were read.
    public var moduleBTFProblems: [String] { moduleBTF?.problems ?? [] }

    /// A type the kernel's types lack, spelled as for `type(named:)`, from the first module
    /// whose BTF defines it (a module's definition wins over another's declaration).
    public func moduleType(named spelled: String) -> TypeID? {
        try? type(spelled: spelled) { name, space in
            if let known = type(named: name, in: space) { return known }
            return moduleBTFType(named: name, in: space)
        }
    }

    /// The modules' BTF, read and parsed on first use.
    private func loadedModuleBTF() -> [ModuleBTFLayer.Module] {
        guard let layer = moduleBTF else { return [] }
        if let modules = layer.modules { return modules }
        var modules: [ModuleBTFLayer.Module] = []
        layer.modules = []
        guard let btf else {
            layer.problems.append("module BTF not used: the kernel has no BTF for it to extend")
            layer.report(layer.problems[0])
            return []
        }
        for source in layer.sources() {
            let problem: String
            do {
                let bytes = try source.read()
                let owned = OwnedBytes(bytes)
                if let table = BTFTable(section: owned.view, owner: owned, base: btf) {
                    modules.append(ModuleBTFLayer.Module(name: source.module, table: table))
                    continue
                }
                problem = "module \(source.module): its BTF is damaged (bad header or records); its types are skipped"
            } catch {
                problem = "module \(source.module): its BTF cannot be read (\(error)); its types are skipped"
            }
            layer.problems.append(problem)
            layer.report(problem)
        }
        layer.modules = modules
        return modules
    }

    /// Type names the loaded modules' BTF adds (for completion).
    func moduleTypeNames(withPrefix prefix: String, into out: inout Set<String>) {
        for module in loadedModuleBTF() { Self.typeNames(in: module.table, withPrefix: prefix, into: &out) }
    }

    /// An enumerator the kernel's types lack, from the first module whose BTF declares it.
    func moduleEnumerator(named name: String) -> (type: TypeID, value: Int64)? {
        for module in loadedModuleBTF() {
            guard let (id, value) = module.table.enumeratorRecord(named: name) else { continue }
            return (translate(id, of: module), value)
        }
        return nil
    }

    private func moduleBTFType(named name: String, in space: NameSpace) -> TypeID? {
        let key = space == .base ? KernelTypes.gccSpelling(name) : name
        var declaration: (ModuleBTFLayer.Module, Int)?
        for module in loadedModuleBTF() {
            guard let found = KernelTypes.record(named: key, in: space, of: module.table) else { continue }
            if !found.isDeclaration { return translate(found.id, of: module) }
            if declaration == nil { declaration = (module, found.id) }
        }
        return declaration.map { translate($0.1, of: $0.0) }
    }

    /// The `KernelTypes` id of the module's record `local`, translating it and every module
    /// record it reaches (a worklist, not recursion: the depth is the input's). Ids below the
    /// kernel's count are the kernel's own; ids past the module's records decode as void.
    private func translate(_ local: Int, of module: ModuleBTFLayer.Module) -> TypeID {
        let baseCount = btf?.count ?? 0
        let table = module.table
        var pending: [Int] = []
        func map(_ raw: UInt32) -> TypeID {
            var global = Int(raw)
            // Tags, FUNC and VAR stand for their target: followed, bounded (a damaged chain can loop).
            for _ in 0..<64 {
                if global == 0 { return .void }
                if global < baseCount { return TypeID(rawValue: UInt32(global)) }
                let id = global - baseCount + 1
                guard id < table.count else { return .void }
                let k = table.kind(id)
                if k == BTFTable.kindTypeTag || k == BTFTable.kindFunc || k == BTFTable.kindVar {
                    global = Int(table.sizeOrType(id))
                    continue
                }
                if let known = module.translated[id] { return known }
                let reserved = reserve()
                module.translated[id] = reserved
                pending.append(id)
                return reserved
            }
            return .void
        }
        let result = map(UInt32(clamping: local + baseCount - 1))
        while let id = pending.popLast() {
            guard let target = module.translated[id] else { continue }
            define(target, as: decode(table, id, map))
        }
        return result
    }
}

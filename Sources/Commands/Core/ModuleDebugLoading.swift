#if canImport(Glibc)
import Glibc
#endif
import DumpModel
import SymbolResolver

/// Loading modules' debuginfo (`mod -s`, `mod -S`) and asking it for source lines.
extension ModuleSymbolIndex {
    /// File and line of module code at the run-time `address`, when its module's debuginfo is loaded.
    public func sourceLine(at address: UInt64) -> SourceLine? {
        guard let m = module(containing: address), let d = debugInfo[m.module.name] else { return nil }
        return d.sourceLine(at: address)
    }

    /// The functions inlined at module code `address`, innermost first (empty without debuginfo).
    public func inlinedFunctions(at address: UInt64) -> [String] {
        guard let m = module(containing: address), let d = debugInfo[m.module.name] else { return [] }
        return d.inlinedFunctions(at: address)
    }

    /// A type no vmlinux type answers, from the loaded modules' DWARF (by base address order),
    /// translated into the kernel's `types`.
    public func type(named spelled: String, into types: KernelTypes) -> TypeID? {
        for m in modules {
            if let d = debugInfo[m.module.name], let id = d.type(named: spelled, into: types) { return id }
        }
        return nil
    }

    /// A module function or variable called `name` whose module's debuginfo is loaded: its
    /// address and declared type (a prototype for a function); nil otherwise.
    public func global(named name: String, into types: KernelTypes) -> (address: UInt64, type: TypeID?, isFunction: Bool)? {
        for e in symbols(named: name) {
            guard let d = debugInfo[e.module] else { continue }
            let isFunction = e.type == "t" || e.type == "T"
            let type = isFunction ? d.functionType(named: name, address: e.address, into: types)
                                  : d.variableType(named: name, address: e.address, into: types)
            return (e.address, type, isFunction)
        }
        return nil
    }

    /// True when module `name`'s debuginfo is loaded.
    public func hasDebugInfo(_ name: String) -> Bool { debugInfo[name] != nil }

    /// Opens `path` as the debuginfo of `module`, relocated with the module's section addresses
    /// from the dump, and keeps it for the session (replacing one loaded before).
    func loadDebugInfo(for module: Module, path: String, session: Session) throws {
        let memory = try session.crashedKernel().memory
        let sections = try ModuleListReader(memory: memory).sectionAddresses(module: module.module.address)
        do {
            loadedCount += 1
            debugInfo[module.module.name] = try ModuleDebugInfo(path: path, sectionAddresses: sections,
                                                                debugRoots: session.debugRoots,
                                                                typeKeySpace: UInt64(loadedCount))
        } catch let e as SymbolError {
            throw CommandError(e.description)
        }
    }
}

/// Where a module's object file is looked for, as crash looks in /lib/modules/RELEASE: a tree
/// searched for NAME.ko (or NAME.ko.debug; '-' and '_' are the same in module names).
struct ModuleFileSearch {
    /// At most this many directory entries are visited per tree (a distribution's has ~6,000).
    static let maxEntries = 200_000

    /// The trees to search when no directory is given: each debug root's lib/modules/RELEASE
    /// (Debian's -dbg packages, crashsh's cache), then /lib/modules/RELEASE.
    static func defaultTrees(release: String?, debugRoots: [String]) -> [String] {
        guard let release, !release.isEmpty, !release.contains("/"), !release.hasPrefix(".") else { return [] }
        return debugRoots.map { "\($0)/lib/modules/\(release)" } + ["/lib/modules/\(release)"]
    }

    /// Every module object file under `trees` by module name (first tree wins).
    static func index(trees: [String], interrupted: () -> Bool) -> [String: String] {
        var found: [String: String] = [:]
        for tree in trees {
            var pending = [tree]
            var visited = 0
            var inTree: [String: String] = [:]
            while let dir = pending.popLast(), visited < maxEntries, !interrupted() {
                guard let handle = opendir(dir) else { continue }
                defer { closedir(handle) }
                while let entry = readdir(handle), visited < maxEntries {
                    visited += 1
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    if name == "." || name == ".." { continue }
                    let path = dir + "/" + name
                    var st = stat()
                    guard lstat(path, &st) == 0 else { continue }
                    if (st.st_mode & S_IFMT) == S_IFDIR {
                        pending.append(path)
                    } else if let module = moduleName(ofFile: name), inTree[module] == nil {
                        inTree[module] = path
                    }
                }
            }
            for (k, v) in inTree where found[k] == nil { found[k] = v }
        }
        return found
    }

    /// "virtio-blk.ko" and "virtio_blk.ko.debug" are module virtio_blk's.
    static func moduleName(ofFile name: String) -> String? {
        for suffix in [".ko.debug", ".ko"] where name.hasSuffix(suffix) && name.count > suffix.count {
            return String(name.dropLast(suffix.count).map { $0 == "-" ? "_" : $0 })
        }
        return nil
    }
}

extension Session {
    /// File and line of the code at run-time `address`: from the debuginfo of the module that
    /// holds it (once the module list was read and `mod -s`/`-S` loaded it), else from the
    /// vmlinux's line table at `address - slide`. Module space is asked first: a module address
    /// minus the KASLR slide can fall inside the kernel's link-time range.
    func sourceLine(runtimeAddress address: UInt64, slide: UInt64) -> SourceLine? {
        if hasReadModules, moduleSymbols().module(containing: address) != nil {
            return moduleSymbols().sourceLine(at: address)
        }
        return (try? kernel().sourceLine(atLinkAddress: address &- slide)) ?? nil
    }

    /// The functions inlined at run-time `address`, innermost first (see `sourceLine(runtimeAddress:slide:)`).
    func inlinedFunctions(runtimeAddress address: UInt64, slide: UInt64) -> [String] {
        if hasReadModules, moduleSymbols().module(containing: address) != nil {
            return moduleSymbols().inlinedFunctions(at: address)
        }
        return (try? kernel().inlinedFunctions(atLinkAddress: address &- slide)) ?? []
    }
}

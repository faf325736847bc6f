#if canImport(Glibc)
import Glibc
#endif
import DumpModel

/// `mod`: the loaded kernel modules as crash lists them (struct module address, name, base and
/// size of the module's core memory, and where its debuginfo comes from), `mod -s`/`mod -S`:
/// load modules' debuginfo (.ko files) for source lines, and `mod -t`: the taint flags of
/// tainted modules.
public enum ModCommand: CrashCommand {
    public static let name = "mod"
    public static let summary = "module information"
    public static let usage = """
    NAME
      mod - module information

    SYNOPSIS
      mod [-t | -s NAME [FILE] | -S [DIR]]

    DESCRIPTION
      Without options, lists every module on the kernel's module list, by base address:
        MODULE       address of its struct module
        NAME         its name
        BASE         where its code starts (TEXT_BASE on kernels with per-type module memory)
        SIZE         bytes of its memory other than the init sections
        OBJECT FILE  the module's debuginfo file once loaded with -s or -S; else
                     "(not loaded)", followed by "[CONFIG_KALLSYMS]" when the module's own
                     symbol table was read (`sym`, `rd -s` and `p` use those symbols).
      A module whose struct module cannot be read is listed with the reason.

        -s NAME [FILE]  load module NAME's debuginfo from FILE (a .ko with DWARF, or a
                        stripped .ko whose debug file is found by build-id/.gnu_debuglink),
                        else from NAME.ko or NAME.ko.debug under DEBUGROOT/lib/modules/RELEASE
                        (/usr/lib/debug, crashsh's cache) or /lib/modules/RELEASE; then show
                        its row. Its code's file:line then shows in `sym`, `dis -l`, `bt -l`.
        -S [DIR]        the same for every module, from the tree DIR (or those trees), then
                        list all modules.
        -t              show the modules that taint the kernel, with their taint letters
                        (or "no tainted modules").

    EXAMPLES
      crash> mod
           MODULE       NAME                         BASE         SIZE  OBJECT FILE
      ffffffffc0264340  virtio_ring            ffffffffc025d000  49152  (not loaded)  [CONFIG_KALLSYMS]
      ...
      crash> mod -s dummy
           MODULE       NAME                         BASE         SIZE  OBJECT FILE
      ffffffffc0277100  dummy                  ffffffffc0275000  16384  /usr/lib/debug/lib/modules/.../dummy.ko
      crash> mod -t
      no tainted modules
    """

    /// One row of the listing: a module, or one that could not be read.
    public enum Row: Sendable {
        case module(address: UInt64, name: String, base: UInt64, size: UInt64, kallsyms: Bool,
                    symbolCount: Int, taints: UInt64?, problems: [String], objectFile: String?)
        case unreadable(address: UInt64, reason: String)
    }

    public struct ListResult: CommandResult {
        public var rows: [Row]
        /// True on kernels with per-type module memory (6.4+): crash heads the column TEXT_BASE.
        public var textBaseColumn: Bool
        /// Column widths at least this wide: `mod -s` shows one row in the whole list's columns.
        public var minimumNameWidth = 0, minimumSizeWidth = 0

        public func renderText() -> String {
            var nameWidth = minimumNameWidth, sizeWidth = minimumSizeWidth
            for case let .module(_, name, _, size, _, _, _, _, _) in rows {
                nameWidth = max(nameWidth, name.count)
                sizeWidth = max(sizeWidth, String(size).count)
            }
            var out = centered("MODULE", 16) + "  " + ljust("NAME", nameWidth) + "  "
                + centered(textBaseColumn ? "TEXT_BASE" : "BASE", 16) + "  " + rjust("SIZE", sizeWidth) + "  OBJECT FILE\n"
            for row in rows {
                switch row {
                case let .module(address, name, base, size, kallsyms, _, _, _, objectFile):
                    out += rjust(String(address, radix: 16), 16) + "  " + ljust(name, nameWidth) + "  "
                        + rjust(String(base, radix: 16), 16) + "  " + rjust(String(size), sizeWidth) + "  "
                    // crash ends a loaded module's path with a space.
                    if let objectFile {
                        out += objectFile + " \n"
                    } else {
                        out += "(not loaded)" + (kallsyms ? "  [CONFIG_KALLSYMS]" : "") + "\n"
                    }
                case let .unreadable(address, reason):
                    out += rjust(String(address, radix: 16), 16) + "  (cannot read this module: \(reason))\n"
                }
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            .object([("modules", .array(rows.map { row in
                switch row {
                case let .module(address, name, base, size, kallsyms, count, taints, problems, objectFile):
                    var pairs: [(String, JSONValue)] = [
                        ("module", .address(address)), ("name", .string(name)), ("base", .address(base)),
                        ("size", .wide(size)), ("objectFile", objectFile.map(JSONValue.string) ?? .null), ("kallsyms", .bool(kallsyms)),
                        ("symbols", .int(Int64(count))),
                        ("taints", taints.map { JSONValue.wide($0) } ?? .null),
                    ]
                    if !problems.isEmpty { pairs.append(("problems", .array(problems.map(JSONValue.string)))) }
                    return .object(pairs)
                case let .unreadable(address, reason):
                    return .object([("module", .address(address)), ("error", .string(reason))])
                }
            }))])
        }
    }

    public struct TaintResult: CommandResult {
        /// Tainted modules in listing order, with the letters of their module taint flags.
        public var tainted: [(name: String, address: UInt64, letters: String)]

        public func renderText() -> String {
            if tainted.isEmpty { return "no tainted modules\n" }
            let width = tainted.map(\.name.count).max() ?? 0
            var out = ljust("NAME", width) + "  TAINTS\n"
            for t in tainted { out += ljust(t.name, width) + "  " + t.letters + "\n" }
            return out
        }

        public func renderJSON() -> JSONValue {
            .object([("tainted", .array(tainted.map {
                .object([("name", .string($0.name)), ("module", .address($0.address)), ("taints", .string($0.letters))])
            }))])
        }
    }

    static let synopsis = "usage: mod [-t | -s NAME [FILE] | -S [DIR]]"

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        var taints = false
        var loadOne: (name: String, file: String?)?
        var loadAll: (Bool, dir: String?) = (false, nil)
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            switch a {
            case "-t": taints = true
            case "-s":
                guard i + 1 < arguments.count else { throw CommandError("-s needs a module name (\(synopsis))") }
                let file = i + 2 < arguments.count && !arguments[i + 2].hasPrefix("-") ? arguments[i + 2] : nil
                loadOne = (arguments[i + 1], file)
                i += file == nil ? 1 : 2
            case "-S":
                let dir = i + 1 < arguments.count && !arguments[i + 1].hasPrefix("-") ? arguments[i + 1] : nil
                loadAll = (true, dir)
                if dir != nil { i += 1 }
            case let o where o.hasPrefix("-"):
                throw CommandError("option \(o) is not supported (\(synopsis))")
            default:
                throw CommandError("unexpected argument \(a) (\(synopsis))")
            }
            i += 1
        }
        if [taints, loadOne != nil, loadAll.0].filter({ $0 }).count > 1 {
            throw CommandError("-t, -s and -S go alone (\(synopsis))")
        }
        let index = session.moduleSymbols()
        if let e = index.loadError {
            if let c = e as? CommandError { throw c }
            throw CommandError("cannot read the module list: \(e)")
        }
        // crash's order: by base address; modules that could not be read follow.
        let unreadable: [Row] = index.records.compactMap {
            if case let .unreadable(a, r) = $0 { return .unreadable(address: a, reason: r) }
            return nil
        }
        if taints {
            let tainted = index.modules.filter { ($0.module.taints ?? 0) != 0 }
            guard !tainted.isEmpty else { return TaintResult(tainted: []) }
            let flags = try ModuleListReader(memory: session.crashedKernel().memory).taintFlags()
            return TaintResult(tainted: tainted.map { m in
                let bits = m.module.taints ?? 0
                let letters = flags.filter { $0.appliesToModules && $0.bit < 64 && bits & (1 << UInt64($0.bit)) != 0 }.map(\.letter)
                return (m.module.name, m.module.address, String(letters))
            })
        }
        var shown = index.modules
        if let (name, file) = loadOne {
            let key = name.map { $0 == "-" ? "_" : $0 }
            guard let m = index.modules.first(where: { $0.module.name == name || $0.module.name == String(key) }) else {
                throw CommandError("\(name): not a loaded module (\(synopsis))")
            }
            var path = file
            if path == nil {
                let trees = ModuleFileSearch.defaultTrees(release: session.vmcoreinfo?.osRelease, debugRoots: session.debugRoots)
                path = ModuleFileSearch.index(trees: trees, interrupted: session.interruptRequested)[m.module.name]
            }
            guard let path else { throw CommandError("cannot find or load object file for \(name) module") }
            try index.loadDebugInfo(for: m, path: path, session: session)
            shown = [m]
        } else if loadAll.0 {
            var trees = ModuleFileSearch.defaultTrees(release: session.vmcoreinfo?.osRelease, debugRoots: session.debugRoots)
            if let dir = loadAll.dir {
                var st = stat()
                guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                    throw CommandError("\(dir) is not a directory (\(synopsis))")
                }
                trees = [dir]
            }
            let files = ModuleFileSearch.index(trees: trees, interrupted: session.interruptRequested)
            if session.interruptRequested() { throw CommandError.interrupted }
            for m in index.modules {
                guard let path = files[m.module.name] else { continue }
                // One module whose file does not load leaves its row "(not loaded)"; the rest load.
                try? index.loadDebugInfo(for: m, path: path, session: session)
            }
        }
        let rows: [Row] = shown.map { m in
            .module(address: m.module.address, name: m.module.name, base: m.module.textBase ?? m.base,
                    size: m.module.coreSize, kallsyms: !m.module.symbols.isEmpty,
                    symbolCount: m.symbols.count + m.initSymbols.count, taints: m.module.taints,
                    problems: m.module.problems, objectFile: index.debugInfo[m.module.name]?.path)
        } + (loadOne == nil ? unreadable : [])
        let textBase = index.modules.contains { m in m.module.regions.contains { $0.kind == "MOD_TEXT" } }
        var result = ListResult(rows: rows, textBaseColumn: textBase)
        result.minimumNameWidth = index.modules.map(\.module.name.count).max() ?? 0
        result.minimumSizeWidth = index.modules.map { String($0.module.coreSize).count }.max() ?? 0
        return result
    }
}

/// `s` centred in `width` columns, the odd space on the right (crash's CENTER|LJUST).
func centered(_ s: String, _ width: Int) -> String {
    let extra = width - s.count
    guard extra > 0 else { return s }
    let left = extra / 2
    return String(repeating: " ", count: left) + s + String(repeating: " ", count: extra - left)
}

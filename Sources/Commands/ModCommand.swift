import DumpModel

/// `mod`: the loaded kernel modules as crash lists them (struct module address, name, base and
/// size of the module's core memory, and where its debuginfo would come from), and `mod -t`:
/// the taint flags of tainted modules.
public enum ModCommand: CrashCommand {
    public static let name = "mod"
    public static let summary = "module information"
    public static let usage = """
    NAME
      mod - module information

    SYNOPSIS
      mod [-t]

    DESCRIPTION
      Without options, lists every module on the kernel's module list, by base address:
        MODULE       address of its struct module
        NAME         its name
        BASE         where its code starts (TEXT_BASE on kernels with per-type module memory)
        SIZE         bytes of its memory other than the init sections
        OBJECT FILE  crashsh loads no module debuginfo: "(not loaded)", followed by
                     "[CONFIG_KALLSYMS]" when the module's own symbol table was read; `sym`,
                     `rd -s` and `p` use those symbols.
      A module whose struct module cannot be read is listed with the reason.

        -t  show the modules that taint the kernel, with their taint letters
            (or "no tainted modules").

    EXAMPLES
      crash> mod
           MODULE       NAME                         BASE         SIZE  OBJECT FILE
      ffffffffc0264340  virtio_ring            ffffffffc025d000  49152  (not loaded)  [CONFIG_KALLSYMS]
      ...
      crash> mod -t
      no tainted modules
    """

    /// One row of the listing: a module, or one that could not be read.
    public enum Row: Sendable {
        case module(address: UInt64, name: String, base: UInt64, size: UInt64, kallsyms: Bool,
                    symbolCount: Int, taints: UInt64?, problems: [String])
        case unreadable(address: UInt64, reason: String)
    }

    public struct ListResult: CommandResult {
        public var rows: [Row]
        /// True on kernels with per-type module memory (6.4+): crash heads the column TEXT_BASE.
        public var textBaseColumn: Bool

        public func renderText() -> String {
            var nameWidth = 0, sizeWidth = 0
            for case let .module(_, name, _, size, _, _, _, _) in rows {
                nameWidth = max(nameWidth, name.count)
                sizeWidth = max(sizeWidth, String(size).count)
            }
            var out = centered("MODULE", 16) + "  " + ljust("NAME", nameWidth) + "  "
                + centered(textBaseColumn ? "TEXT_BASE" : "BASE", 16) + "  " + rjust("SIZE", sizeWidth) + "  OBJECT FILE\n"
            for row in rows {
                switch row {
                case let .module(address, name, base, size, kallsyms, _, _, _):
                    out += rjust(String(address, radix: 16), 16) + "  " + ljust(name, nameWidth) + "  "
                        + rjust(String(base, radix: 16), 16) + "  " + rjust(String(size), sizeWidth) + "  "
                        + "(not loaded)" + (kallsyms ? "  [CONFIG_KALLSYMS]" : "") + "\n"
                case let .unreadable(address, reason):
                    out += rjust(String(address, radix: 16), 16) + "  (cannot read this module: \(reason))\n"
                }
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            .object([("modules", .array(rows.map { row in
                switch row {
                case let .module(address, name, base, size, kallsyms, count, taints, problems):
                    var pairs: [(String, JSONValue)] = [
                        ("module", .address(address)), ("name", .string(name)), ("base", .address(base)),
                        ("size", .wide(size)), ("objectFile", .null), ("kallsyms", .bool(kallsyms)),
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

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        var taints = false
        for a in arguments {
            switch a {
            case "-t": taints = true
            case let o where o.hasPrefix("-"):
                throw CommandError("option \(o) is not supported: crashsh loads no module debuginfo (usage: mod [-t])")
            default:
                throw CommandError("unexpected argument \(a) (usage: mod [-t])")
            }
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
        let rows: [Row] = index.modules.map { m in
            .module(address: m.module.address, name: m.module.name, base: m.module.textBase ?? m.base,
                    size: m.module.coreSize, kallsyms: !m.module.symbols.isEmpty,
                    symbolCount: m.symbols.count + m.initSymbols.count, taints: m.module.taints,
                    problems: m.module.problems)
        } + unreadable
        let textBase = index.modules.contains { m in m.module.regions.contains { $0.kind == "MOD_TEXT" } }
        return ListResult(rows: rows, textBaseColumn: textBase)
    }
}

/// `s` centred in `width` columns, the odd space on the right (crash's CENTER|LJUST).
func centered(_ s: String, _ width: Int) -> String {
    let extra = width - s.count
    guard extra > 0 else { return s }
    let left = extra / 2
    return String(repeating: " ", count: left) + s + String(repeating: " ", count: extra - left)
}

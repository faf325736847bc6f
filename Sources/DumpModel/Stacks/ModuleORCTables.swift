/// The ORC tables of loaded modules. x86_64 kernels built with the ORC unwinder keep each
/// module's tables in its memory: `struct module.arch` (`struct mod_arch_specific`) holds
/// `num_orcs`, `orc_unwind_ip` (an array of s32, each an offset from its own address, sorted
/// when the module was loaded) and `orc_unwind` (the entries, in the kernel image's format).
public enum ModuleORCTables {
    /// Far more entries than any module has: a larger count is corrupt.
    public static let maxEntries = 1 << 20

    /// Why a module's table was not read.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// The kernel's `mod_arch_specific` has no ORC members (no CONFIG_UNWINDER_ORC).
        case noORCMembers
        case badCount(UInt64)
        case unreadable(MemoryFault)
        case table(ORCTableError)

        public var description: String {
            switch self {
            case .noORCMembers: return "the kernel's modules carry no ORC tables (module.arch.num_orcs)"
            case let .badCount(n): return "implausible ORC entry count \(n)"
            case let .unreadable(f): return "ORC table unreadable: \(f)"
            case let .table(e): return "\(e)"
            }
        }
    }

    /// The code regions of a module: the text at the start of its core region and, while it is
    /// still there, its init region (before 6.4); MOD_TEXT and MOD_INIT_TEXT after.
    public static func textRanges(of module: KernelModule) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for r in module.regions where r.size > 0 {
            switch r.kind {
            case "core", "init":
                let text = min(r.size, r.textSize ?? r.size)
                let (end, overflow) = r.base.addingReportingOverflow(text)
                if !overflow, end > r.base { out.append(r.base..<end) }
            case "MOD_TEXT", "MOD_INIT_TEXT":
                if r.end > r.base { out.append(r.base..<r.end) }
            default:
                break
            }
        }
        return out
    }

    /// The ORC table of `module`, in `format` (the kernel image's: modules are built with the
    /// same objtool), keeping only entries for the module's present code: the entries of freed
    /// init code stay in the table after loading, and their addresses may lie in another module
    /// loaded later. Nil when the module has no entries there.
    public static func table(of module: KernelModule, memory: KernelMemory, format: ORCFormat) throws(Failure) -> ORCTable? {
        guard let table = try table(module: module.address, memory: memory, format: format) else { return nil }
        return table.keeping(textRanges(of: module))
    }

    /// The whole ORC table of the module whose `struct module` is at `module`, in `format`. Nil
    /// when the module has no entries.
    public static func table(module: UInt64, memory: KernelMemory, format: ORCFormat) throws(Failure) -> ORCTable? {
        let layout = memory.layout
        guard let arch = layout.memberOffset("module", "arch"), arch >= 0,
              let countAt = layout.memberOffset("mod_arch_specific", "num_orcs"), countAt >= 0,
              let ipsAt = layout.memberOffset("mod_arch_specific", "orc_unwind_ip"), ipsAt >= 0,
              let entriesAt = layout.memberOffset("mod_arch_specific", "orc_unwind"), entriesAt >= 0 else {
            throw .noORCMembers
        }
        let base = module &+ UInt64(arch)
        let countSize = layout.memberSize("mod_arch_specific", "num_orcs") ?? 4
        let entrySize = layout.typeSize("orc_entry") ?? 6
        guard entrySize == 6 else { throw .table(.sizeMismatch(ips: 0, entries: 0)) }
        let count: UInt64, ips: UInt64, entries: UInt64
        do {
            count = try memory.unsigned(base &+ UInt64(countAt), size: countSize == 8 ? 8 : 4)
            ips = try memory.load(UInt64.self, base &+ UInt64(ipsAt))
            entries = try memory.load(UInt64.self, base &+ UInt64(entriesAt))
        } catch {
            throw .unreadable(error)
        }
        if count == 0 || ips == 0 || entries == 0 { return nil }
        guard count <= UInt64(maxEntries) else { throw .badCount(count) }
        let n = Int(count)
        let ipBytes: [UInt8], entryBytes: [UInt8]
        do {
            ipBytes = try memory.bytes(ips, count: n * 4)
            entryBytes = try memory.bytes(entries, count: n * 6)
        } catch {
            throw .unreadable(error)
        }
        do {
            return try ORCTable(ipTable: ipBytes, ipTableAddress: ips, entries: entryBytes, hasHeader: false, format: format)
        } catch {
            throw .table(error)
        }
    }
}

/// Tables read on first use (the modules' ORC tables: reading the module list costs time a
/// trace through kernel code alone does not need).
public final class LazyORCTables {
    private var loaded: [ORCTable]?
    private let load: () -> [ORCTable]

    public init(_ load: @escaping () -> [ORCTable]) { self.load = load }

    public var tables: [ORCTable] {
        if let loaded { return loaded }
        let t = load()
        loaded = t
        return t
    }
}

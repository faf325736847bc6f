import DumpModel
import SymbolResolver

/// DumpModel's `KernelLayout` answered from the vmlinux: ELF symbols at run-time (KASLR-moved)
/// addresses, and sizes, member offsets and enums from SymbolResolver's type model (BTF, DWARF
/// behind it). The session layers VMCOREINFO behind this for what the vmlinux lacks.
///
/// Not thread-safe (the symbol and type indexes are built on first use).
final class DebuginfoKernelLayout: KernelLayout {
    let symbols: SymbolTable
    let types: KernelTypes
    /// The declared type of a global variable (DWARF or BTF), for `length` of array variables.
    let variableType: (String) -> TypeID?
    private var typeCache: [String: TypeID?] = [:]

    init(symbols: SymbolTable, types: KernelTypes, variableType: @escaping (String) -> TypeID? = { _ in nil }) {
        self.symbols = symbols
        self.types = types
        self.variableType = variableType
    }

    /// Element count of an array variable ("taint_flags") or of an array member ("zone.free_area").
    func length(_ name: String) -> Int? {
        var id: TypeID?
        if let dot = name.firstIndex(of: ".") {
            guard let owner = typeID(String(name[..<dot])),
                  let m = try? types.member(String(name[name.index(after: dot)...]), in: owner) else { return nil }
            id = m.type
        } else {
            id = variableType(name)
        }
        guard let id, case let .array(_, count?) = types.type(types.resolved(id)) else { return nil }
        return Int(exactly: count)
    }

    func symbolAddress(_ name: String) -> UInt64? { symbols.symbol(named: name)?.address }

    /// The type a bare name means in kernel layout questions: a struct first (SIZE(page) is
    /// `struct page`), then a union, a typedef, a base type.
    private func typeID(_ name: String) -> TypeID? {
        if let cached = typeCache[name] { return cached }
        var found: TypeID?
        for space in [KernelTypes.NameSpace.structure, .union, .typedef, .base, .enumeration] {
            if let id = types.type(named: name, in: space) { found = id; break }
        }
        typeCache[name] = found
        return found
    }

    func typeSize(_ type: String) -> Int? {
        guard let id = typeID(type), let size = types.size(of: id) else { return nil }
        return Int(exactly: size)
    }

    func memberOffset(_ type: String, _ member: String) -> Int? {
        guard let id = typeID(type), let m = try? types.member(member, in: id) else { return nil }
        return Int(exactly: m.byteOffset)
    }

    func memberSize(_ type: String, _ member: String) -> Int? {
        guard let id = typeID(type), let m = try? types.member(member, in: id),
              let size = types.size(of: m.type) else { return nil }
        return Int(exactly: size)
    }

    func enumerators(_ enumType: String) -> [(name: String, value: Int64)]? {
        guard let id = types.type(named: enumType, in: .enumeration),
              case let .enumeration(_, _, _, values) = types.type(id) else { return nil }
        return values.map { ($0.name, $0.value) }
    }
}

extension Session {
    /// The crashed kernel's address space, built on first use and kept: facts from the vmlinux
    /// when one was given (it must match the dump), VMCOREINFO behind them; phys_base from
    /// VMCOREINFO or the kdump sub-header.
    public func addressSpace() throws -> KernelAddressSpace {
        if let addressSpaceState { return try addressSpaceState.get() }
        let state = Result<KernelAddressSpace, Error> {
            var layout: (any KernelLayout)?
            if vmlinuxPath != nil {
                let kernel = try kernel()
                layout = DebuginfoKernelLayout(symbols: try kernelSymbols(), types: try kernel.types(),
                                               variableType: { name in (try? kernel.variable(named: name))?.type })
            }
            return try KernelAddressSpace(memory: memory, vmcoreinfo: vmcoreinfo, layout: layout,
                                          physBase: dump.headerPhysBase)
        }
        addressSpaceState = state
        return try state.get()
    }
}

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
    /// The type of a global variable by name (the vmlinux's BTF or DWARF), for `length`.
    let variableType: (String) -> TypeID?
    private var typeCache: [String: TypeID?] = [:]
    /// Member answers by "type\u{0}path": kernel views ask the same few members for every task.
    private var offsetCache: [String: Int?] = [:]
    private var sizeCache: [String: Int?] = [:]

    init(symbols: SymbolTable, types: KernelTypes, variableType: @escaping (String) -> TypeID? = { _ in nil }) {
        self.symbols = symbols
        self.types = types
        self.variableType = variableType
    }

    /// Symbol answers so far: views ask the same few names many times (runqueues per CPU...).
    private var symbolCache: [String: UInt64?] = [:]

    func symbolAddress(_ name: String) -> UInt64? {
        if let cached = symbolCache[name] { return cached }
        let a = symbols.symbol(named: name)?.address
        symbolCache[name] = a
        return a
    }

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
        let key = type + "\u{0}" + member
        if let cached = offsetCache[key] { return cached }
        var found: Int?
        if let id = typeID(type), let m = try? types.member(member, in: id) { found = Int(exactly: m.byteOffset) }
        offsetCache[key] = found
        return found
    }

    func memberSize(_ type: String, _ member: String) -> Int? {
        let key = type + "\u{0}" + member
        if let cached = sizeCache[key] { return cached }
        var found: Int?
        if let id = typeID(type), let m = try? types.member(member, in: id), let size = types.size(of: m.type) {
            found = Int(exactly: size)
        }
        sizeCache[key] = found
        return found
    }

    /// An enumerator's value by name (VMCOREINFO's NUMBER() answers behind this).
    func number(_ name: String) -> Int64? { types.enumerator(named: name) }

    /// Element count of an array variable ("dmi_ident") or of an array member ("zone.free_area").
    func length(_ name: String) -> Int? {
        let id: TypeID
        if let dot = name.firstIndex(of: ".") {
            guard let outer = typeID(String(name[..<dot])),
                  let m = try? types.member(String(name[name.index(after: dot)...]), in: outer) else { return nil }
            id = m.type
        } else {
            guard let v = variableType(name) else { return nil }
            id = v
        }
        guard case let .array(_, count?) = types.type(types.resolved(id)) else { return nil }
        return Int(exactly: count)
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
    /// VMCOREINFO, else the CPU state (with the vmlinux), else the dump header.
    public func addressSpace() throws -> KernelAddressSpace {
        if let addressSpaceState { return try addressSpaceState.get() }
        let state = Result<KernelAddressSpace, Error> {
            var layout: (any KernelLayout)?
            var placement: KernelImagePlacement?
            if vmlinuxPath != nil {
                let kernel = try kernel()
                do {
                    placement = try imagePlacement()
                } catch {
                    // The dump header's phys_base still serves (an old kernel's QEMU kdump file).
                    if dump.headerPhysBase == nil { throw error }
                }
                layout = DebuginfoKernelLayout(symbols: try kernelSymbols(), types: try kernel.types(),
                                               variableType: { try? kernel.variable(named: $0).type })
            } else if placementFromCPUState && dump.headerPhysBase == nil && (try? kernel()) == nil {
                throw CommandError("no VMCOREINFO in \(dump.path): finding phys_base from the CPU state needs the vmlinux,"
                                   + " or kallsyms found in the kernel image its page tables map")
            } else if let kernel = try? kernel(), let symbols = try? kernelSymbols() {
                // Without a vmlinux: kallsyms and the kernel's BTF when the dump has them (only
                // BTF's per-cpu VAR records give a variable's type), VMCOREINFO alone otherwise.
                if let types = try? kernel.types() {
                    layout = DebuginfoKernelLayout(symbols: symbols, types: types, variableType: { name in
                        guard let v = try? kernel.variable(named: name), v.isPerCPU else { return nil }
                        return v.type
                    })
                }
            }
            // Found without vmlinux from the CPU state: its phys_base overrides the dump header's.
            let found = placementFromCPUState ? kernelFoundFromCPUState?.start : nil
            return try KernelAddressSpace(memory: memory, vmcoreinfo: vmcoreinfo, layout: layout,
                                          physBase: placement?.physBase ?? found?.physBase ?? dump.headerPhysBase,
                                          kernelOffset: placement?.slide, fiveLevel: placement?.fiveLevel ?? found?.fiveLevel)
        }
        addressSpaceState = state
        return try state.get()
    }
}

extension Session {
    /// The crashed kernel the kernel views share (tasks, per-CPU areas, the current context),
    /// built on first use over `addressSpace()` and kept for the session.
    public func crashedKernel() throws -> CrashedKernel {
        if let crashedKernelState { return crashedKernelState }
        let k = CrashedKernel(space: try addressSpace(), interrupted: { [weak self] in self?.interruptRequested() ?? false })
        crashedKernelState = k
        return k
    }
}

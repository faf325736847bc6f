import DumpModel
import SymbolResolver

/// The expression evaluator's view of the vmlinux: SymbolResolver's type model (BTF with DWARF
/// behind it) translated into `CType`, and the ELF symbols at run-time (KASLR-moved) addresses.
public final class KernelTypeSource: TypeSource {
    public let types: KernelTypes
    public let symbols: SymbolTable
    /// The declared type of a global variable, from DWARF; nil when unknown.
    let variableType: (String) -> TypeID?
    /// A function's prototype (a `.function` type id); nil when unknown.
    let functionPrototype: (String) -> TypeID?
    /// The module symbol an address outside the kernel image lies in (name and offset), for
    /// `<sym+off>` labels; nil when the session has no modules to ask.
    var moduleSymbol: ((UInt64) -> (name: String, offset: UInt64)?)?
    /// A type the vmlinux lacks, from loaded module debuginfo (`mod -s`); nil when none defines it.
    var moduleType: ((String) -> TypeID?)?
    /// A module function or variable the vmlinux lacks, from loaded module debuginfo.
    var moduleGlobal: ((String) -> (address: UInt64, type: TypeID?, isFunction: Bool)?)?
    /// A type guessed for a global that has no declared one (see `guessedType(named:)`).
    var guessedVariableType: ((String) -> TypeID?)?
    private var cache: [TypeID: CType] = [:]
    /// `members(of:)` answers so far, by record key: printing a value asks again for every
    /// instance of a struct (each list_head of a task_struct), and each answer costs a pass over
    /// the type's members with one String per name.
    private var memberCache: [UInt64: [CMember]] = [:]

    /// - Parameter variableType: the DWARF type of a global variable by name (SymbolResolver's
    ///   variable lookup); globals without one can still be used through casts.
    /// - Parameter functionType: a function's prototype by name (SymbolResolver's
    ///   `functionType(named:)`: BTF, else DWARF); without one a function is an address only.
    public init(types: KernelTypes, symbols: SymbolTable, variableType: @escaping (String) -> TypeID?,
                functionType: @escaping (String) -> TypeID? = { _ in nil }) {
        self.types = types
        self.symbols = symbols
        self.variableType = variableType
        self.functionPrototype = functionType
    }

    /// The `CType` for a model type id.
    public func ctype(_ id: TypeID) -> CType { ctype(id, depth: 0) }

    private func ctype(_ id: TypeID, depth: Int) -> CType {
        if let c = cache[id] { return c }
        guard depth < 64 else { return .void }
        // void while in progress: only damaged type information leads back to a type being built
        // (records are references and do not recurse), e.g. a function type whose parameters point
        // to itself, which without this would be expanded params^64 times.
        cache[id] = .void
        let result: CType
        switch types.type(id) {
        case .void:
            result = .void
        case let .base(name, size, encoding):
            if encoding == .float {
                result = .float(name: name, size: Int(clamping: size))
            } else {
                result = .integer(CInteger(name: name, size: Int(clamping: size), isSigned: encoding.isSigned))
            }
        case let .pointer(to):
            result = .pointer(ctype(to, depth: depth + 1))
        case let .array(of, count):
            result = .array(ctype(of, depth: depth + 1), count: count.map { Int(clamping: $0) })
        case let .structure(c):
            result = .record(CRecord(kind: .structure, name: c.name, size: Int(clamping: c.size), key: UInt64(id.rawValue)))
        case let .union(c):
            result = .record(CRecord(kind: .union, name: c.name, size: Int(clamping: c.size), key: UInt64(id.rawValue)))
        case let .enumeration(name, size, isSigned, values):
            result = .enumeration(CEnum(name: name, size: Int(clamping: size), isSigned: isSigned,
                                        enumerators: values.map { CEnum.Enumerator(name: $0.name, value: $0.value) }))
        case let .forward(name, isUnion):
            // A declaration: the definition may exist under the same name elsewhere (BTF keeps both).
            if let def = types.type(named: name, in: isUnion ? .union : .structure), def != id,
               types.composite(def) != nil {
                result = ctype(def, depth: depth + 1)
            } else {
                result = .record(CRecord(kind: isUnion ? .union : .structure, name: name, size: 0,
                                         key: UInt64(id.rawValue), isDeclaration: true))
            }
        case let .typedef(name, target):
            result = .typedef(name: name, ctype(target, depth: depth + 1))
        case let .qualified(q, target):
            let inner = ctype(target, depth: depth + 1)
            switch q {
            case .const: result = .qualified(inner, const: true, volatile: false)
            case .volatile: result = .qualified(inner, const: false, volatile: true)
            case .restrict: result = inner
            }
        case let .function(returns, parameters, isVariadic):
            result = .function(returns: ctype(returns, depth: depth + 1),
                               parameters: parameters.map { ctype($0.type, depth: depth + 1) }, variadic: isVariadic)
        }
        cache[id] = result
        return result
    }

    public func type(named name: String) -> CType? {
        if let id = try? types.type(named: name) { return ctype(id) }
        return moduleType?(name).map { ctype($0) }
    }

    public func members(of record: CRecord) -> [CMember] {
        if let known = memberCache[record.key] { return known }
        guard record.key <= UInt64(UInt32.max),
              let c = types.compositeAsDeclared(TypeID(rawValue: UInt32(record.key))) else { return [] }
        let members = c.members.map {
            CMember(name: $0.name, type: ctype($0.type), bitOffset: Int(clamping: $0.bitOffset),
                    bitSize: $0.isBitField ? Int($0.bitSize) : nil)
        }
        memberCache[record.key] = members
        return members
    }

    public func global(named name: String) -> (address: UInt64, type: CType?)? {
        guard let s = symbols.symbol(named: name) else {
            guard let g = moduleGlobal?(name) else { return nil }
            let t = g.type.map { ctype($0) }
            if g.isFunction { return (g.address, t.flatMap { $0.isFunction ? $0 : nil } ?? Self.textWithoutDebugInfo) }
            return (g.address, t)
        }
        // Functions have no variable DIE: do not search DWARF for one.
        if s.kind == .function {
            return (s.address, functionType(name) ?? Self.textWithoutDebugInfo)
        }
        if let id = variableType(name) {
            var t = ctype(id)
            // A variable declared "x[]" in a header and defined with a size elsewhere: the ELF
            // symbol's size gives the element count, as the definition would.
            if case let .array(element, count) = t.resolved, count ?? 0 == 0, let es = element.size, es > 0, s.size > 0,
               s.size % UInt64(es) == 0 {
                t = .array(element, count: Int(clamping: s.size / UInt64(es)))
                if case let .qualified(_, c, v) = ctype(id) { t = .qualified(t, const: c, volatile: v) }
            }
            return (s.address, t)
        }
        // A label in kernel text without debuginfo (assembly entry points): gdb's minimal text
        // symbol, which prints as a function.
        if "tTwW".contains(s.typeLetter) || s.section.hasPrefix(".text") { return (s.address, Self.textWithoutDebugInfo) }
        return (s.address, nil)
    }

    public func guessedType(named name: String) -> CType? {
        guessedVariableType?(name).map { ctype($0) }
    }

    public func enumerator(named name: String) -> (type: CType, value: Int64)? {
        if let found = types.enumeratorConstant(named: name) { return (ctype(found.type), found.value) }
        return nil
    }

    /// gdb's type of a text symbol without debuginfo: an unprototyped function returning int,
    /// named `<text variable, no debug info>` (how `p`, `whatis` and `p &` show it).
    static let textWithoutDebugInfo = CType.typedef(
        name: "<text variable, no debug info>",
        .function(returns: .integer(CInteger(name: "int", size: 4, isSigned: true)), parameters: nil, variadic: false))

    /// A function's prototype as a `.function` CType, or nil when the debuginfo has none.
    func functionType(_ name: String) -> CType? {
        guard let id = functionPrototype(name) else { return nil }
        let t = ctype(id)
        return t.isFunction ? t : nil
    }

    /// True for a per-cpu variable (its symbol is an offset into each CPU's area).
    public func isPerCPU(_ name: String) -> Bool {
        guard let s = symbols.symbol(named: name) else { return false }
        // Linker-script symbols assigned to the section (__per_cpu_load, __init_begin) are
        // kernel addresses, not offsets.
        return s.section == ".data..percpu" && !s.isRelocatable
    }

    /// gdb's rule for `<sym+off>` after a pointer: the symbol whose extent contains the
    /// address, or a size-0 text label before it; data labels without a size do not count.
    public func symbolName(for address: UInt64) -> (name: String, offset: UInt64)? {
        guard let loc = symbols.gdbSymbol(at: address) else { return moduleSymbol?(address) }
        if loc.isInside || (loc.symbol.size == 0 && loc.symbol.kind == .function) || (loc.offset == 0 && loc.symbol.kind == .function) {
            return (loc.symbol.name, loc.offset)
        }
        return nil
    }
}

/// Kernel virtual memory for the evaluator and printer: the session's `KernelMemory`, whose
/// failures are typed `MemoryFault`s (address, space, reason).
public final class KernelMemoryReader: MemoryReader {
    public let memory: KernelMemory
    public init(memory: KernelMemory) { self.memory = memory }

    public func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        try memory.bytes(address, count: count)
    }
}

/// The text of a memory fault for commands that print gdb-like messages: "cannot read kernel
/// memory at 0x...: <why>".
func faultMessage(_ fault: MemoryFault) -> String {
    "cannot read kernel memory at 0x\(String(fault.address, radix: 16)): \(faultReason(fault))"
}

/// Why a read failed, in words.
func faultReason(_ fault: MemoryFault) -> String {
    switch fault.reason {
    case let .excludedPage(p): return "page excluded from the dump (physical address 0x\(String(p, radix: 16)))"
    case let .notInDump(p): return "not in the dump (physical address 0x\(String(p, radix: 16)))"
    case let .notMapped(level, detail): return "\(level): \(detail)"
    case let .corrupt(detail): return detail
    case let .refused(detail): return detail
    }
}

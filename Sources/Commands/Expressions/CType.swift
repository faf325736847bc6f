/// The C type model that `p`, `struct`, `union` and `whatis` work on.
///
/// It is deliberately independent of where the types come from (BTF, DWARF, or a test's hand-made
/// types): a `TypeSource` answers lookups, and everything here is plain values. Only struct and
/// union types are references (`CRecord`, members fetched on demand), because those are the only
/// place where C types can be recursive; every other type is built eagerly and is finite.
public indirect enum CType: Sendable, Hashable {
    case void
    /// An integer type: `int`, `unsigned long`, `char`, `_Bool`...
    case integer(CInteger)
    /// A floating point type (`float`, `double`); the kernel rarely has them.
    case float(name: String, size: Int)
    case pointer(CType)
    /// `count` is nil for a flexible or unknown-size array (`x[]`), 0 for a zero-length one
    /// (`x[0]`, as the DWARF bounds say).
    case array(CType, count: Int?)
    case record(CRecord)
    case enumeration(CEnum)
    case typedef(name: String, CType)
    case qualified(CType, const: Bool, volatile: Bool)
    /// A function type; `parameters` nil means unprototyped (`void ()`).
    case function(returns: CType, parameters: [CType]?, variadic: Bool)
}

/// An integer base type as the debuginfo names it.
public struct CInteger: Sendable, Hashable {
    public var name: String
    public var size: Int
    public var isSigned: Bool
    public init(name: String, size: Int, isSigned: Bool) {
        self.name = name
        self.size = size
        self.isSigned = isSigned
    }
    /// One-byte types named like a char print as characters, and their arrays as strings (gdb's rule).
    public var isCharacter: Bool { size == 1 && name.contains("char") }
    public var isBool: Bool { name == "_Bool" || name == "bool" }
}

/// A struct or union. Identity is the source's key (a BTF id or DWARF offset), so two lookups
/// of one type compare equal; the members are asked for only when needed.
public struct CRecord: Sendable, Hashable {
    public enum Kind: String, Sendable { case structure = "struct", union }
    public var kind: Kind
    /// nil for an anonymous struct/union.
    public var name: String?
    public var size: Int
    /// The source's identity of this type; `TypeSource.members(of:)` takes it back.
    public var key: UInt64
    /// A declaration without a definition (`struct foo;`): no size, no members.
    public var isDeclaration: Bool
    public init(kind: Kind, name: String?, size: Int, key: UInt64, isDeclaration: Bool = false) {
        self.kind = kind
        self.name = name
        self.size = size
        self.key = key
        self.isDeclaration = isDeclaration
    }
}

/// One member of a struct or union.
public struct CMember: Sendable, Hashable {
    /// nil for an anonymous struct/union member.
    public var name: String?
    public var type: CType
    /// Offset from the start of the containing record, in bits.
    public var bitOffset: Int
    /// Width of a bit field, nil for an ordinary member.
    public var bitSize: Int?
    public init(name: String?, type: CType, bitOffset: Int, bitSize: Int? = nil) {
        self.name = name
        self.type = type
        self.bitOffset = bitOffset
        self.bitSize = bitSize
    }
    public var byteOffset: Int { bitOffset / 8 }
}

/// An enum with its enumerators (in declaration order).
public struct CEnum: Sendable, Hashable {
    public var name: String?
    public var size: Int
    public var isSigned: Bool
    public var enumerators: [Enumerator]
    public struct Enumerator: Sendable, Hashable {
        public var name: String
        public var value: Int64
        public init(name: String, value: Int64) { self.name = name; self.value = value }
    }
    public init(name: String?, size: Int, isSigned: Bool, enumerators: [Enumerator]) {
        self.name = name
        self.size = size
        self.isSigned = isSigned
        self.enumerators = enumerators
    }
}

/// Where the expression evaluator gets its facts: types, variables, symbols.
///
/// Addresses are run-time (KASLR applied).
public protocol TypeSource: AnyObject {
    /// A type by the name a user writes: "task_struct" (struct, union, typedef or enum by bare
    /// name, in that order), "struct task_struct", "union rcu_special", "enum pid_type",
    /// "pid_t", "unsigned long".
    func type(named name: String) -> CType?
    /// The members of `record`, in declaration order.
    func members(of record: CRecord) -> [CMember]
    /// A global variable or function: its run-time address and its type. nil type when only an
    /// ELF symbol is known (the evaluator then treats it as `int`-less: address only).
    func global(named name: String) -> (address: UInt64, type: CType?)?
    /// The symbol gdb would name for a pointer value: the symbol containing `address`, and the
    /// offset into it. nil when none (direct-map and vmalloc addresses).
    func symbolName(for address: UInt64) -> (name: String, offset: UInt64)?
    /// An enumeration constant (`PG_lru`): the enum type declaring it and its value.
    func enumerator(named name: String) -> (type: CType, value: Int64)?
    /// For a global whose `global(named:)` type is nil: a type guessed from its symbol (an
    /// integer of its size) that a plain `p NAME` reads it with; nil when there is no guess.
    /// Casts and `&NAME` never use it.
    func guessedType(named name: String) -> CType?
}

extension TypeSource {
    public func enumerator(named name: String) -> (type: CType, value: Int64)? { nil }
    public func guessedType(named name: String) -> CType? { nil }
}

/// How deep anonymous struct/union members are searched for a member name.
let maxAnonymousMemberDepth = 16

extension TypeSource {
    /// Finds `name` among `record`'s members, looking through anonymous struct/union members as
    /// C does (a direct member first, then each anonymous member in order, depth first). Returns
    /// the member and its bit offset from the start of `record`. The one member search of `p`,
    /// `struct -o`, `whatis TYPE.member` and completion.
    public func findMember(_ name: String, in record: CRecord) -> (member: CMember, bitOffset: Int)? {
        // Records already searched are not searched again: damaged type information can make
        // anonymous members a cycle, or a DAG that is exponential to walk as a tree.
        var searched = Set<CRecord>()
        func search(_ r: CRecord, _ base: Int, _ depth: Int) -> (CMember, Int)? {
            guard depth < maxAnonymousMemberDepth, searched.insert(r).inserted else { return nil }
            let members = self.members(of: r)
            if let m = members.first(where: { $0.name == name }) { return (m, base &+ m.bitOffset) }
            for m in members where m.name == nil {
                if let inner = m.type.record, let hit = search(inner, base &+ m.bitOffset, depth + 1) { return hit }
            }
            return nil
        }
        return search(record, 0, 0).map { (member: $0.0, bitOffset: $0.1) }
    }
}

/// Reads kernel virtual memory for the evaluator and printer.
public protocol MemoryReader: AnyObject {
    /// Exactly `count` bytes at kernel virtual `address`, or throws naming the address.
    func read(_ address: UInt64, count: Int) throws -> [UInt8]
}

extension CType {
    /// The type with typedefs and qualifiers peeled off.
    public var resolved: CType {
        var t = self
        for _ in 0..<64 {
            switch t {
            case let .typedef(_, inner): t = inner
            case let .qualified(inner, _, _): t = inner
            default: return t
            }
        }
        return t
    }

    /// sizeof, or nil for void, functions, flexible arrays and incomplete records.
    public var size: Int? {
        switch self {
        case .void, .function: return nil
        case let .integer(i): return i.size
        case let .float(_, s): return s
        case .pointer: return 8
        case let .array(e, count):
            guard let count, let es = e.size else { return nil }
            let (p, o) = count.multipliedReportingOverflow(by: es)
            return o ? nil : p
        case let .record(r): return r.isDeclaration ? nil : r.size
        case let .enumeration(e): return e.size
        case let .typedef(_, t): return t.size
        case let .qualified(t, _, _): return t.size
        }
    }

    public var isFunction: Bool { if case .function = resolved { return true }; return false }
    /// The record behind typedefs (`atomic_t` -> its anonymous struct).
    public var record: CRecord? { if case let .record(r) = resolved { return r }; return nil }
    public var enumeration: CEnum? { if case let .enumeration(e) = resolved { return e }; return nil }
}

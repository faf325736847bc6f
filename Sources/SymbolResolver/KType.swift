/// A type of the kernel, by number. Numbers below the BTF type count are .BTF ids (0 is void);
/// higher ones were built from DWARF in this process. Only meaningful with the `KernelTypes`
/// that returned it.
public struct TypeID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let void = TypeID(rawValue: 0)
    public var description: String { "#\(rawValue)" }
}

/// How a base type's bytes are read.
public enum BaseEncoding: String, Sendable, Hashable {
    case signed, unsigned, signedChar, unsignedChar, bool, float
    public var isSigned: Bool { self == .signed || self == .signedChar }
}

/// const, volatile, restrict.
public enum Qualifier: String, Sendable, Hashable {
    case const, volatile, restrict
}

/// One member of a struct or union. Offsets count from the start of the enclosing composite.
public struct Member: Sendable, Hashable {
    /// nil for an anonymous struct/union member.
    public let name: String?
    public let type: TypeID
    /// Offset of the member's first bit.
    public let bitOffset: UInt64
    /// Width of a bit-field; 0 when the member is not a bit-field.
    public let bitSize: UInt32
    public var byteOffset: UInt64 { bitOffset / 8 }
    public var isBitField: Bool { bitSize != 0 }
    public init(name: String?, type: TypeID, bitOffset: UInt64, bitSize: UInt32) {
        self.name = name; self.type = type; self.bitOffset = bitOffset; self.bitSize = bitSize
    }
}

/// A struct or union body.
public struct Composite: Sendable, Hashable {
    /// nil for an anonymous struct/union.
    public let name: String?
    public let size: UInt64
    public let members: [Member]
    public init(name: String?, size: UInt64, members: [Member]) {
        self.name = name; self.size = size; self.members = members
    }
}

/// One enumerator.
public struct Enumerator: Sendable, Hashable {
    public let name: String
    public let value: Int64
    public init(name: String, value: Int64) { self.name = name; self.value = value }
}

/// One parameter of a function type.
public struct Parameter: Sendable, Hashable {
    public let name: String?
    public let type: TypeID
    public init(name: String?, type: TypeID) { self.name = name; self.type = type }
}

/// A kernel type, one level deep: references to other types are `TypeID`s, resolved through
/// `KernelTypes.type(_:)`. Base type names are C spellings ("unsigned long", not gcc's
/// "long unsigned int").
public enum KType: Sendable, Hashable {
    case void
    case base(name: String, size: UInt64, encoding: BaseEncoding)
    case pointer(to: TypeID)
    /// `count` nil for a flexible array member without bounds (`[]`); 0 for a zero-length array
    /// (GNU `[0]`: DWARF says count 0 or upper bound -1), which gdb prints as `[0]`. BTF cannot
    /// tell the two apart and gives nil for both.
    case array(of: TypeID, count: UInt64?)
    case structure(Composite)
    case union(Composite)
    case enumeration(name: String?, size: UInt64, isSigned: Bool, values: [Enumerator])
    /// A struct or union declared but not defined here.
    case forward(name: String, isUnion: Bool)
    case typedef(name: String, target: TypeID)
    case qualified(Qualifier, TypeID)
    case function(returns: TypeID, parameters: [Parameter], isVariadic: Bool)
}

/// A resolved member path such as `se.vruntime` or `pid_links[1].next`.
public struct MemberPath: Sendable, Hashable {
    /// The path as given.
    public let path: String
    /// The last component's name.
    public let name: String
    public let type: TypeID
    /// Offset of the first bit from the start of the outer type.
    public let bitOffset: UInt64
    /// Bit-field width, 0 when not a bit-field.
    public let bitSize: UInt32
    public var byteOffset: UInt64 { bitOffset / 8 }
}

/// A kernel object at an address, with its struct or union type name: `task_struct` at
/// 0xffff8a15411f8000. Members are found by name through the `KernelLayout` (BTF/DWARF, or
/// VMCOREINFO), never by fixed offsets, so one view reads every kernel whose types have the
/// members it asks for.
///
/// Reads throw `MemoryFault` (the memory could not be read) or `DumpError.missing` (the layout
/// does not know the member: another kernel version, or no debuginfo).
public struct KernelObject {
    public let address: UInt64
    /// The struct/union name as the layout knows it ("task_struct", "mm_struct").
    public let type: String
    public let memory: KernelMemory

    public init(address: UInt64, type: String, memory: KernelMemory) {
        self.address = address
        self.type = type
        self.memory = memory
    }

    /// Whether the type has `path` (a dotted member path: "se.vruntime").
    public func has(_ path: String) -> Bool { memory.layout.memberOffset(type, path) != nil }

    /// The first of `paths` the type has (`anyOf: ["__state", "state"]`), or nil.
    public func member(anyOf paths: [String]) -> String? { paths.first { has($0) } }

    /// Byte offset of `path` in the type.
    public func offset(_ path: String) throws -> Int {
        guard let o = memory.layout.memberOffset(type, path), o >= 0 else {
            throw DumpError.missing(what: "\(type).\(path)")
        }
        return o
    }

    /// Size in bytes of the member at `path`.
    public func size(_ path: String) throws -> Int {
        guard let s = memory.layout.memberSize(type, path), s >= 0 else {
            throw DumpError.missing(what: "size of \(type).\(path)")
        }
        return s
    }

    /// The address of the member at `path`.
    public func address(of path: String) throws -> UInt64 {
        address &+ UInt64(try offset(path))
    }

    /// The member at `path` as an unsigned integer of its own size (1, 2, 4 or 8 bytes).
    public func unsigned(_ path: String) throws -> UInt64 {
        let s = try size(path)
        return try memory.unsigned(address(of: path), size: s)
    }

    /// The member at `path` as a signed integer of its own size.
    public func signed(_ path: String) throws -> Int64 {
        let s = try size(path)
        return try memory.signed(address(of: path), size: s)
    }

    /// The pointer-sized member at `path`.
    public func pointer(_ path: String) throws -> UInt64 {
        try memory.load(UInt64.self, address(of: path))
    }

    /// The embedded struct member at `path`, viewed as `type`.
    public func object(_ path: String, as type: String) throws -> KernelObject {
        KernelObject(address: try address(of: path), type: type, memory: memory)
    }

    /// The object the pointer member at `path` points to, viewed as `type`; nil for NULL.
    public func follow(_ path: String, as type: String) throws -> KernelObject? {
        let p = try pointer(path)
        return p == 0 ? nil : KernelObject(address: p, type: type, memory: memory)
    }

    /// A `char name[N]` member as text, up to its first NUL.
    public func charArray(_ path: String) throws -> String {
        let n = try size(path)
        return try memory.cString(address(of: path), maxLength: n)
    }

    /// The string a `char *` member points to (at most `maxLength` bytes); nil for NULL.
    public func string(_ path: String, maxLength: Int = 4096) throws -> String? {
        let p = try pointer(path)
        return p == 0 ? nil : try memory.cString(p, maxLength: maxLength)
    }

    /// The object of `type` that contains this one as its member `path` (the kernel's
    /// container_of): the address minus the member's offset.
    public static func container(of memberAddress: UInt64, type: String, member path: String,
                                 memory: KernelMemory) throws -> KernelObject {
        guard let o = memory.layout.memberOffset(type, path), o >= 0 else {
            throw DumpError.missing(what: "\(type).\(path)")
        }
        return KernelObject(address: memberAddress &- UInt64(o), type: type, memory: memory)
    }
}

/// The firmware's DMI (SMBIOS) identification strings the kernel kept at boot: `dmi_ident[]`,
/// indexed by the enumerators of `enum dmi_field` (DMI_BIOS_VENDOR, DMI_SYS_VENDOR, ...), as
/// crash's `sys -i` shows them.
public struct DMIInfo: Sendable {
    public struct Field: Sendable {
        /// The `enum dmi_field` enumerator, or nil when the enum is unknown (then only `index`).
        public var name: String?
        public var index: Int
        /// The string, or why it could not be read.
        public var value: Result<String, MemoryFault>
    }

    /// The enumerators that index `dmi_ident[]`, in declaration order (empty when the enum is
    /// unknown): every one below the array's length, up to the first that is not.
    public let enumeratorNames: [String]
    /// The slots whose pointer is set, in enumerator (else index) order.
    public let fields: [Field]

    /// Longest string crash reads for one field (its buffer size less the NUL).
    public static let maxLength = 1499

    /// Reads `dmi_ident[]` through `space`'s memory.
    public static func read(from space: KernelAddressSpace) throws -> DMIInfo {
        try read(from: KernelMemory(space: space))
    }

    /// Reads `dmi_ident[]`.
    /// - Throws: `DumpError.missing` when the kernel has no `dmi_ident` (no DMI support) or its
    ///   length is unknown; the `MemoryFault` when the array itself cannot be read.
    public static func read(from memory: KernelMemory) throws -> DMIInfo {
        let layout = memory.layout
        guard let table = layout.symbolAddress("dmi_ident") else {
            throw DumpError.missing(what: "dmi_ident (the kernel has no DMI support)")
        }
        let enumerators = layout.enumerators("dmi_field")
        // The kernel declares dmi_ident[DMI_STRING_MAX].
        guard let length = layout.length("dmi_ident")
                ?? enumerators?.first(where: { $0.name == "DMI_STRING_MAX" }).map({ Int($0.value) }),
              length > 0, length <= 1 << 12 else {
            throw DumpError.missing(what: "the length of dmi_ident[]")
        }
        let raw = try memory.bytes(table, count: length * 8)
        func pointer(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(raw[i * 8 + b]) << UInt64(b * 8) }
            return v
        }
        func field(_ name: String?, _ i: Int) -> Field? {
            let p = pointer(i)
            guard p != 0 else { return nil }
            return Field(name: name, index: i,
                         value: Result { () throws(MemoryFault) in try memory.cString(p, maxLength: maxLength) })
        }
        var names: [String] = []
        var fields: [Field] = []
        if let enumerators {
            for (name, value) in enumerators {
                guard value >= 0, value < Int64(length) else { break }
                names.append(name)
                if let f = field(name, Int(value)) { fields.append(f) }
            }
        } else {
            for i in 0..<length { if let f = field(nil, i) { fields.append(f) } }
        }
        return DMIInfo(enumeratorNames: names, fields: fields)
    }
}

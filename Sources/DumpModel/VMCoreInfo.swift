/// The VMCOREINFO note: KEY=VALUE lines the crashed kernel wrote about itself, parsed once,
/// with typed accessors for the keys crash and crashsh use.
public struct VMCoreInfo: Sendable {
    /// The note exactly as found (for `vmcoreinfo`).
    public let raw: String
    /// Every KEY=VALUE line in order; a key that repeats keeps every value here.
    public let entries: [(key: String, value: String)]
    private let index: [String: String]

    public init(raw: String) {
        self.raw = raw
        var entries: [(String, String)] = []
        var index: [String: String] = [:]
        for line in raw.split(whereSeparator: { $0 == "\n" || $0 == "\0" }) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            let value = String(line[line.index(after: eq)...])
            entries.append((key, value))
            if index[key] == nil { index[key] = value }
        }
        self.entries = entries
        self.index = index
    }

    public subscript(key: String) -> String? { index[key] }

    public var osRelease: String? { index["OSRELEASE"] }
    public var buildID: String? { index["BUILD-ID"] }
    public var pageSize: Int? { index["PAGESIZE"].flatMap { Int($0) } }
    /// KASLR slide of the kernel image (hex in the note).
    public var kernelOffset: UInt64? { index["KERNELOFFSET"].flatMap { UInt64($0, radix: 16) } }
    /// Seconds since the epoch at the crash.
    public var crashTime: Int64? { index["CRASHTIME"].flatMap { Int64($0) } }

    /// SYMBOL(name)=hex address.
    public func symbol(_ name: String) -> UInt64? { index["SYMBOL(\(name))"].flatMap { UInt64($0, radix: 16) } }
    /// SIZE(type)=decimal. The kernel writes sizeof, never negative: a negative value is
    /// corrupt and reads as unknown, so consumers can use the value as an unsigned size.
    public func size(_ type: String) -> Int? { index["SIZE(\(type))"].flatMap(Self.nonNegative) }
    /// OFFSET(type.member)=decimal (offsetof: negative values read as unknown).
    public func offset(_ path: String) -> Int? { index["OFFSET(\(path))"].flatMap(Self.nonNegative) }
    /// NUMBER(name)=decimal, possibly negative (phys_base is written as a signed number).
    public func number(_ name: String) -> Int64? { index["NUMBER(\(name))"].flatMap { Int64($0) } }
    /// LENGTH(name)=decimal (an element count: negative values read as unknown).
    public func length(_ name: String) -> Int? { index["LENGTH(\(name))"].flatMap(Self.nonNegative) }

    private static func nonNegative(_ text: String) -> Int? {
        guard let v = Int(text), v >= 0 else { return nil }
        return v
    }
}

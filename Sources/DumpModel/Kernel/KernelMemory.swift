/// Which address space a read was made in.
public enum AddressSpaceKind: String, Sendable, Equatable {
    case physical
    case kernel
    case user
}

/// A read of the crashed machine's memory that failed: where, in which space, and why. Commands
/// render it; nobody parses its message.
public struct MemoryFault: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// RAM the machine had, left out of the dump by the dump tool's filtering.
        case excludedPage(physical: UInt64)
        /// A physical address the dump does not describe.
        case notInDump(physical: UInt64)
        /// The page tables do not map the address; `level` is the level whose entry failed.
        case notMapped(level: String, detail: String)
        /// The dump's bytes for the page are damaged.
        case corrupt(detail: String)
        /// The read was refused before it was made (absurd size, no page table for a user address).
        case refused(detail: String)
    }

    public var address: UInt64
    public var space: AddressSpaceKind
    public var reason: Reason

    public init(address: UInt64, space: AddressSpaceKind, reason: Reason) {
        self.address = address
        self.space = space
        self.reason = reason
    }

    /// The fault for a `DumpError` thrown while reading `address` in `space`.
    public init(address: UInt64, space: AddressSpaceKind, error: any Error) {
        self.address = address
        self.space = space
        switch error {
        case let fault as MemoryFault:
            self = fault
        case let DumpError.excludedPage(paddr):
            reason = .excludedPage(physical: paddr)
        case let DumpError.notInDump(paddr):
            reason = .notInDump(physical: paddr)
        case let DumpError.translationFailed(_, level, detail):
            reason = .notMapped(level: level, detail: detail)
        case let e as DumpError:
            if case .corruptPage = e {
                // The whole line: it names the dump file, the page and the file offset.
                reason = .corrupt(detail: e.description)
            } else {
                reason = .refused(detail: e.description)
            }
        default:
            reason = .refused(detail: String(describing: error))
        }
    }

    public var description: String {
        let a = "\(space == .physical ? "physical" : space == .user ? "user" : "kernel") address 0x\(String(address, radix: 16))"
        switch reason {
        case let .excludedPage(p):
            return "\(a): page excluded from the dump (physical 0x\(String(p, radix: 16)))"
        case let .notInDump(p):
            return "\(a): not in the dump (physical 0x\(String(p, radix: 16)))"
        case let .notMapped(level, detail):
            return "\(a): not mapped (\(level): \(detail))"
        case let .corrupt(detail):
            return "\(a): \(detail)"
        case let .refused(detail):
            return "\(a): \(detail)"
        }
    }
}

/// The one way kernel views read the crashed machine's memory: kernel virtual addresses, user
/// addresses through a page table, and physical addresses, each failing with a `MemoryFault`.
/// Integer loads are little-endian (x86_64), decided here once. (`rd -p` on a dump whose
/// kernel page tables cannot be found reads `PhysicalMemory` itself, with the same faults.)
public struct KernelMemory {
    /// The most bytes one read may ask for: a damaged length never allocates gigabytes.
    public static let maxReadSize = 1 << 26

    /// The kernel's address space (page tables, KASLR): every virtual read goes through it.
    public let space: KernelAddressSpace

    public init(space: KernelAddressSpace) { self.space = space }

    public var layout: any KernelLayout { space.layout }

    /// Copies `buffer.count` bytes at `address` in `kind` (`userPGD` is the physical address of the
    /// task's top-level page table, for user reads).
    public func read(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer,
                     in kind: AddressSpaceKind = .kernel, userPGD: UInt64? = nil) throws(MemoryFault) {
        do {
            switch kind {
            case .physical:
                try space.memory.read(physical: address, into: buffer)
            case .kernel:
                guard address >= space.kernelHalfStart else {
                    throw MemoryFault(address: address, space: .kernel,
                                      reason: .notMapped(level: "PGD", detail: "not a kernel address"))
                }
                try space.read(virtual: address, into: buffer)
            case .user:
                guard let userPGD else {
                    throw MemoryFault(address: address, space: .user, reason: .refused(detail: "no task page table"))
                }
                try space.read(virtual: address, into: buffer, userPGD: userPGD)
            }
        } catch {
            throw MemoryFault(address: address, space: kind, error: error)
        }
    }

    /// `count` bytes at `address`.
    public func bytes(_ address: UInt64, count: Int, in kind: AddressSpaceKind = .kernel,
                      userPGD: UInt64? = nil) throws(MemoryFault) -> [UInt8] {
        guard count >= 0, count <= Self.maxReadSize else {
            throw MemoryFault(address: address, space: kind, reason: .refused(detail: "read of \(count) bytes refused"))
        }
        var out = [UInt8](repeating: 0, count: count)
        var fault: MemoryFault?
        out.withUnsafeMutableBytes { b in
            do throws(MemoryFault) { try read(address, into: b, in: kind, userPGD: userPGD) } catch { fault = error }
        }
        if let fault { throw fault }
        return out
    }

    /// One little-endian integer.
    public func load<T: FixedWidthInteger>(_: T.Type = T.self, _ address: UInt64,
                                           in kind: AddressSpaceKind = .kernel) throws(MemoryFault) -> T {
        var v: T = 0
        var fault: MemoryFault?
        withUnsafeMutableBytes(of: &v) { b in
            do throws(MemoryFault) { try read(address, into: b, in: kind) } catch { fault = error }
        }
        if let fault { throw fault }
        return T(littleEndian: v)
    }

    /// An unsigned integer of `size` bytes (1, 2, 4 or 8), zero-extended.
    public func unsigned(_ address: UInt64, size: Int) throws(MemoryFault) -> UInt64 {
        switch size {
        case 1: return UInt64(try load(UInt8.self, address))
        case 2: return UInt64(try load(UInt16.self, address))
        case 4: return UInt64(try load(UInt32.self, address))
        case 8: return try load(UInt64.self, address)
        default:
            throw MemoryFault(address: address, space: .kernel, reason: .refused(detail: "integer of \(size) bytes"))
        }
    }

    /// A signed integer of `size` bytes (1, 2, 4 or 8), sign-extended.
    public func signed(_ address: UInt64, size: Int) throws(MemoryFault) -> Int64 {
        switch size {
        case 1: return Int64(try load(Int8.self, address))
        case 2: return Int64(try load(Int16.self, address))
        case 4: return Int64(try load(Int32.self, address))
        case 8: return try load(Int64.self, address)
        default:
            throw MemoryFault(address: address, space: .kernel, reason: .refused(detail: "integer of \(size) bytes"))
        }
    }

    /// The NUL-terminated string at `address`, at most `maxLength` bytes (read page by page, so a
    /// short string at the end of a mapped page does not fail on the next one). Bytes that are not
    /// UTF-8 are kept as replacement characters.
    public func cString(_ address: UInt64, maxLength: Int, in kind: AddressSpaceKind = .kernel,
                        userPGD: UInt64? = nil) throws(MemoryFault) -> String {
        var collected: [UInt8] = []
        var at = address
        let limit = max(0, min(maxLength, Self.maxReadSize))
        while collected.count < limit {
            let inPage = Int(4096 - (at & 0xfff))
            let n = min(inPage, limit - collected.count)
            let chunk = try bytes(at, count: n, in: kind, userPGD: userPGD)
            if let nul = chunk.firstIndex(of: 0) {
                collected += chunk[..<nul]
                break
            }
            collected += chunk
            let (next, overflow) = at.addingReportingOverflow(UInt64(n))
            if overflow { break }
            at = next
        }
        return String(decoding: collected, as: UTF8.self)
    }

    /// A typed view of the object of struct/union `type` at `address`.
    public func object(_ address: UInt64, _ type: String) -> KernelObject {
        KernelObject(address: address, type: type, memory: self)
    }
}

// MARK: - Layout facts a read needs

extension KernelMemory {
    /// The run-time address of the kernel symbol `name`, or `.missing` naming it.
    public func symbol(_ name: String) throws(DumpError) -> UInt64 {
        guard let a = layout.symbolAddress(name) else { throw .missing(what: "symbol \(name)") }
        return a
    }

    /// `sizeof(type)`, or `.missing`; zero or negative sizes are refused.
    public func size(of type: String) throws(DumpError) -> Int {
        guard let s = layout.typeSize(type), s > 0 else { throw .missing(what: "SIZE(\(type))") }
        return s
    }

    /// The byte offset of `member` in `type`, or `.missing` naming it (a negative offset is none).
    public func offset(_ type: String, _ member: String) throws(DumpError) -> UInt64 {
        guard let o = layout.memberOffset(type, member), let u = UInt64(exactly: o) else {
            throw .missing(what: "\(type).\(member)")
        }
        return u
    }

    /// The value of the counter of type `type` at `address`: an `atomic_long_t`/`atomic_t` (a
    /// struct whose `counter` member holds it) or a plain integer type, sign-extended from the
    /// width the layout gives.
    public func counter(_ address: UInt64, type: String) throws -> Int64 {
        let size = try size(of: type)
        let inner = layout.memberOffset(type, "counter").flatMap { UInt64(exactly: $0) }
        let width = inner != nil ? (layout.memberSize(type, "counter") ?? size) : size
        return try signed(address &+ (inner ?? 0), size: width)
    }
}

/// Why one value of the crashed kernel could not be read, kept beside the values that could be
/// (a figure of `kmem -i`, a row): the layout lacks what the read needs (another kernel, no
/// debuginfo) or names something impossible, or the memory faulted.
public enum KernelReadError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(DumpError)
    case fault(MemoryFault)

    /// `error` as thrown by a read through `KernelMemory`/`KernelObject`.
    public init(_ error: any Error) {
        switch error {
        case let e as KernelReadError: self = e
        case let fault as MemoryFault: self = .fault(fault)
        case let e as DumpError: self = .missing(e)
        default: self = .missing(.missing(what: String(describing: error)))
        }
    }

    public var description: String {
        switch self {
        case let .missing(e): return e.description
        case let .fault(fault): return fault.description
        }
    }
}

extension Result where Failure == KernelReadError {
    /// The value `body` reads, or what it threw as a `KernelReadError`.
    public static func reading(_ body: () throws -> Success) -> Self {
        do { return .success(try body()) } catch { return .failure(KernelReadError(error)) }
    }
}

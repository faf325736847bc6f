/// Small typed reads of kernel variables shared by the kernel-object readers: a symbol's
/// address, a member's offset, a counter of whatever width the layout says, each failing with a
/// `DumpError` that names what was missing or unreadable.
extension KernelAddressSpace {
    /// The run-time address of `name`, or `.missing` naming the symbol.
    func requireSymbol(_ name: String) throws(DumpError) -> UInt64 {
        guard let a = layout.symbolAddress(name) else { throw .missing(what: "symbol \(name)") }
        return a
    }

    /// The byte offset of `member` in `type`, or `.missing` naming it. A negative offset is not one.
    func requireOffset(_ type: String, _ member: String) throws(DumpError) -> UInt64 {
        guard let o = layout.memberOffset(type, member), let u = UInt64(exactly: o) else {
            throw .missing(what: "\(type).\(member)")
        }
        return u
    }

    /// `sizeof(type)`, or `.missing`; zero or negative sizes are refused.
    func requireSize(_ type: String) throws(DumpError) -> Int {
        guard let s = layout.typeSize(type), s > 0 else { throw .missing(what: "SIZE(\(type))") }
        return s
    }

    /// One value of `width` bytes (1, 2, 4 or 8) at `vaddr`, sign-extended when `signed`.
    func readInteger(at vaddr: UInt64, width: Int, signed: Bool) throws(DumpError) -> Int64 {
        do {
            switch (width, signed) {
            case (8, _): return try load(Int64.self, virtual: vaddr)
            case (4, true): return Int64(try load(Int32.self, virtual: vaddr))
            case (4, false): return Int64(try load(UInt32.self, virtual: vaddr))
            case (2, true): return Int64(try load(Int16.self, virtual: vaddr))
            case (2, false): return Int64(try load(UInt16.self, virtual: vaddr))
            case (1, true): return Int64(try load(Int8.self, virtual: vaddr))
            case (1, false): return Int64(try load(UInt8.self, virtual: vaddr))
            default: throw DumpError.missing(what: "an integer of \(width) bytes at \(hex(vaddr))")
            }
        } catch {
            throw Self.dumpError(error)
        }
    }

    /// A 64-bit word at `vaddr` (a pointer, an `unsigned long`).
    func readWord(at vaddr: UInt64) throws(DumpError) -> UInt64 {
        do { return try load(UInt64.self, virtual: vaddr) } catch { throw Self.dumpError(error) }
    }

    /// The value of an `atomic_long_t` / `atomic_t` / plain integer variable `name`: an atomic
    /// type is a struct whose `counter` member holds the value; the width is the type's.
    func readCounterVariable(_ name: String, type: String) throws(DumpError) -> Int64 {
        let at = try requireSymbol(name)
        return try readCounter(at: at, type: type)
    }

    /// The counter of type `type` (an `atomic_long_t`, `atomic_t`, or an integer type) at `vaddr`.
    func readCounter(at vaddr: UInt64, type: String) throws(DumpError) -> Int64 {
        guard let size = layout.typeSize(type), size > 0 else { throw .missing(what: "SIZE(\(type))") }
        let inner = layout.memberOffset(type, "counter").flatMap { UInt64(exactly: $0) }
        let width = inner != nil ? (layout.memberSize(type, "counter") ?? size) : size
        return try readInteger(at: vaddr &+ (inner ?? 0), width: width, signed: true)
    }

    /// The NUL-terminated string at `vaddr`, at most `limit` bytes (a longer one is cut there).
    func readCString(at vaddr: UInt64, limit: Int) throws(DumpError) -> String {
        var bytes: [UInt8] = []
        var addr = vaddr
        while bytes.count < limit {
            // Never read across a page the string may not reach: a string can end just
            // before an unmapped page.
            let inPage = Int(KernelAddressSpace.pageSize - (addr & (KernelAddressSpace.pageSize - 1)))
            let n = min(inPage, limit - bytes.count)
            let chunk: [UInt8]
            do { chunk = try self.bytes(virtual: addr, count: n) } catch { throw Self.dumpError(error) }
            if let nul = chunk.firstIndex(of: 0) {
                bytes += chunk[..<nul]
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes += chunk
            addr &+= UInt64(n)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Any error of a read as a `DumpError` (reads throw nothing else; anything else is named).
    static func dumpError(_ error: any Error) -> DumpError {
        (error as? DumpError) ?? .missing(what: "\(error)")
    }
}

/// Thrown by a long walk over kernel objects when its `interrupted` closure says the user asked
/// to stop (the Commands layer turns it into its "interrupted" error).
public struct WalkInterrupted: Error, Sendable {
    public init() {}
}

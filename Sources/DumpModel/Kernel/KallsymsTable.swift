/// Where the parts of a kernel's kallsyms table lie in kernel memory (scripts/kallsyms.c writes
/// them; kernel/vmcore_info.c, or crash_core.c before 6.9, names them in VMCOREINFO from 6.0).
public struct KallsymsLocation: Sendable, Equatable {
    /// How a symbol's address is stored.
    public enum Addressing: Sendable, Equatable {
        /// `kallsyms_offsets` (s32 per symbol) against the u64 at `kallsyms_relative_base`
        /// (CONFIG_KALLSYMS_BASE_RELATIVE, every kernel since 4.6 on x86_64).
        case relative(offsets: UInt64, relativeBase: UInt64)
        /// `kallsyms_addresses`: one u64 address per symbol.
        case absolute(addresses: UInt64)
    }

    public var names: UInt64
    public var symbolCount: UInt64
    public var tokenTable: UInt64
    public var tokenIndex: UInt64
    public var addressing: Addressing

    public init(names: UInt64, symbolCount: UInt64, tokenTable: UInt64, tokenIndex: UInt64, addressing: Addressing) {
        self.names = names
        self.symbolCount = symbolCount
        self.tokenTable = tokenTable
        self.tokenIndex = tokenIndex
        self.addressing = addressing
    }

    /// The table's addresses from VMCOREINFO; nil when it does not name them all (kernels
    /// before 6.0, or built without CONFIG_KALLSYMS).
    public init?(vmcoreinfo: VMCoreInfo?) {
        guard let info = vmcoreinfo, let names = info.symbol("kallsyms_names"),
              let count = info.symbol("kallsyms_num_syms"), let table = info.symbol("kallsyms_token_table"),
              let index = info.symbol("kallsyms_token_index") else { return nil }
        let addressing: Addressing
        if let offsets = info.symbol("kallsyms_offsets"), let base = info.symbol("kallsyms_relative_base") {
            addressing = .relative(offsets: offsets, relativeBase: base)
        } else if let addresses = info.symbol("kallsyms_addresses") {
            addressing = .absolute(addresses: addresses)
        } else {
            return nil
        }
        self.init(names: names, symbolCount: count, tokenTable: table, tokenIndex: index, addressing: addressing)
    }
}

/// Every symbol of the kernel's kallsyms table, decoded: names (without the type letter),
/// nm type letters and run-time addresses, in the table's order (by address). What the symbol
/// table is built from when there is no vmlinux.
public struct KallsymsTable: Sendable {
    /// The names, each followed by a NUL.
    public let nameBytes: [UInt8]
    /// Where each symbol's name starts in `nameBytes`.
    public let nameStarts: [UInt32]
    /// nm's letter for each symbol ('T', 't', 'D', 'b'...).
    public let typeLetters: [UInt8]
    /// Run-time addresses; per-cpu symbols of kernels built with absolute per-cpu kallsyms
    /// (x86_64 SMP before 6.15) hold their offset in the per-cpu area.
    public let addresses: [UInt64]

    public var count: Int { addresses.count }

    /// More symbols than any kernel has: a larger count is corrupt.
    static let maxSymbols = 4 << 20

    /// The name of symbol `i`.
    public func name(_ i: Int) -> String {
        let start = Int(nameStarts[i])
        var end = start
        while end < nameBytes.count, nameBytes[end] != 0 { end += 1 }
        return String(decoding: nameBytes[start..<end], as: UTF8.self)
    }

    /// The address of the first symbol called `name` (a linear scan).
    public func address(of name: String) -> UInt64? {
        let key = Array(name.utf8)
        for i in 0..<count {
            let start = Int(nameStarts[i])
            guard start + key.count < nameBytes.count, nameBytes[start + key.count] == 0 else { continue }
            if nameBytes[start..<(start + key.count)].elementsEqual(key) { return addresses[i] }
        }
        return nil
    }

    /// Decodes the table at `location`, reading kernel memory through `read(address, count)`.
    /// With relative addressing the kernel may store per-cpu symbols as absolute values (a
    /// build option the table does not record): when `stext` (VMCOREINFO's SYMBOL(_stext)) is
    /// given, the reading that puts `_stext` there is used, else the absolute per-cpu reading
    /// when any offset is negative (only that reading stores negative values).
    /// - Throws: `DumpError.missing` for a table that is not believable, or `read`'s error.
    public static func decode(at location: KallsymsLocation, stext: UInt64?,
                              read: @escaping (_ address: UInt64, _ count: Int) throws -> [UInt8]) throws -> KallsymsTable {
        let countBytes = try read(location.symbolCount, 4)
        guard let n = countBytes.littleEndian(UInt32.self, at: 0), n > 0, Int(n) <= maxSymbols else {
            throw DumpError.missing(what: "a believable kallsyms_num_syms")
        }
        let count = Int(n)
        let indexBytes = try read(location.tokenIndex, 512)
        var tokenStarts: [Int] = []
        for t in 0..<256 { tokenStarts.append(Int(indexBytes.littleEndian(UInt16.self, at: t * 2) ?? 0)) }
        // Tokens are short; 256 bytes past the last start bounds the read. They are kept in one
        // buffer (token t is tokenBytes[tokenStart[t] ..< tokenStart[t + 1]]) so that expanding
        // names copies bytes, not arrays.
        var tableReader = PagedReader(base: location.tokenTable, limit: (tokenStarts.max() ?? 0) + 256, read: read)
        var tokenBytes: [UInt8] = []
        var tokenStart: [Int] = []
        for start in tokenStarts {
            tokenStart.append(tokenBytes.count)
            var i = start
            while i < start + 256, let b = try? tableReader.byte(at: i), b != 0 {
                tokenBytes.append(b)
                i += 1
            }
        }
        tokenStart.append(tokenBytes.count)

        // Token t expands to tokenBytes[tokenStart[t] ..< tokenStart[t + 1]] (the table's tokens
        // are short, a few bytes). Names are expanded into one growing buffer: each token is
        // copied with a single 8-byte store when it fits (the buffers have 8 bytes of slack),
        // which is what makes decoding 150k names a few milliseconds.
        let slack = 8
        var tokenLength = [Int](repeating: 0, count: 256)
        for t in 0..<256 { tokenLength[t] = tokenStart[t + 1] - tokenStart[t] }
        let longestToken = tokenLength.max() ?? 0
        tokenBytes.append(contentsOf: [UInt8](repeating: 0, count: slack))

        var capacity = count * 24 + slack
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var used = 0
        var starts: [UInt32] = []
        starts.reserveCapacity(count)
        var letters: [UInt8] = []
        letters.reserveCapacity(count)
        // The names area is read in large chunks (its end is not recorded; what follows it is
        // more of the table), a smaller read when a large one fails.
        var chunk: [UInt8] = []
        var chunkStart = 0
        func ensure(_ from: Int, _ n: Int) throws {
            if from >= chunkStart, from + n <= chunkStart + chunk.count { return }
            let address = location.names &+ UInt64(from)
            if let big = try? read(address, 1 << 16) { chunk = big } else { chunk = try read(address, n) }
            chunkStart = from
        }
        var at = 0
        for _ in 0..<count {
            try ensure(at, 2)
            var length = Int(chunk[at - chunkStart])
            at += 1
            if length & 0x80 != 0 {
                length = (length & 0x7f) | Int(chunk[at - chunkStart]) << 7
                at += 1
            }
            try ensure(at, length)
            // Room for the longest expansion of this name and its NUL.
            let most = length * longestToken + 1 + slack
            if used + most > capacity {
                let grown = max(capacity * 2, used + most)
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
                bigger.update(from: buffer, count: used)
                buffer.deallocate()
                buffer = bigger
                capacity = grown
            }
            guard used < Int(UInt32.max) - 0x10000 else { throw DumpError.missing(what: "kallsyms names of a believable size") }
            starts.append(UInt32(used))
            var letter: UInt8 = UInt8(ascii: "?")
            var out = buffer + used
            chunk.withUnsafeBufferPointer { c in
                tokenBytes.withUnsafeBufferPointer { tb in
                    tokenStart.withUnsafeBufferPointer { ts in
                        tokenLength.withUnsafeBufferPointer { tl in
                            guard let tokens = tb.baseAddress else { return }
                            var k = at - chunkStart
                            let end = k + length
                            // The expanded name starts with the symbol's type letter.
                            while k < end {
                                let t = Int(c[k])
                                k += 1
                                var from = tokens + ts[t]
                                var n = tl[t]
                                if n == 0 { continue }
                                letter = from.pointee
                                from += 1
                                n -= 1
                                copyToken(from, n, &out)
                                break
                            }
                            while k < end {
                                let t = Int(c[k])
                                k += 1
                                copyToken(tokens + ts[t], tl[t], &out)
                            }
                        }
                    }
                }
            }
            out.pointee = 0
            used = out - buffer + 1
            letters.append(letter)
            at += length
        }
        let names = [UInt8](UnsafeBufferPointer(start: buffer, count: used))

        var addresses: [UInt64] = []
        addresses.reserveCapacity(count)
        switch location.addressing {
        case let .absolute(table):
            let raw = try read(table, count * 8)
            guard raw.count == count * 8 else { throw DumpError.missing(what: "all of kallsyms_addresses") }
            raw.withUnsafeBytes { b in
                for i in 0..<count { addresses.append(UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) }
            }
        case let .relative(offsetsAt, baseAt):
            guard let base = try read(baseAt, 8).littleEndian(UInt64.self, at: 0) else {
                throw DumpError.missing(what: "kallsyms_relative_base")
            }
            let raw = try read(offsetsAt, count * 4)
            guard raw.count == count * 4 else { throw DumpError.missing(what: "all of kallsyms_offsets") }
            var offsets = [Int32](repeating: 0, count: count)
            raw.withUnsafeBytes { b in
                for i in 0..<count { offsets[i] = Int32(littleEndian: b.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)) }
            }
            func resolve(_ v: Int32, absolutePerCPU: Bool) -> UInt64 {
                guard absolutePerCPU else { return base &+ UInt64(UInt32(bitPattern: v)) }
                return v >= 0 ? UInt64(v) : base &- 1 &- UInt64(bitPattern: Int64(v))
            }
            var absolutePerCPU = offsets.contains { $0 < 0 }
            if let stext {
                let key = Array("_stext\0".utf8)
                let stextIndex = (0..<count).first { i in
                    let s = Int(starts[i])
                    return s + 6 < names.count && names[s..<(s + 7)].elementsEqual(key)
                }
                guard let stextIndex else { throw DumpError.missing(what: "_stext in kallsyms") }
                if resolve(offsets[stextIndex], absolutePerCPU: true) == stext {
                    absolutePerCPU = true
                } else if resolve(offsets[stextIndex], absolutePerCPU: false) == stext {
                    absolutePerCPU = false
                } else {
                    throw DumpError.missing(what: "a kallsyms table that agrees with SYMBOL(_stext)")
                }
            }
            for v in offsets { addresses.append(resolve(v, absolutePerCPU: absolutePerCPU)) }
        }
        return KallsymsTable(nameBytes: names, nameStarts: starts, typeLetters: letters, addresses: addresses)
    }

    /// The crashed kernel's table, found through VMCOREINFO and checked against its `_stext`.
    public init(memory: KernelMemory) throws {
        let info = memory.space.vmcoreinfo
        guard let location = KallsymsLocation(vmcoreinfo: info) else {
            throw DumpError.missing(what: "the kallsyms symbols in VMCOREINFO")
        }
        self = try KallsymsTable.decode(at: location, stext: info?.symbol("_stext")) { address, count in
            try memory.bytes(address, count: count)
        }
    }

    init(nameBytes: [UInt8], nameStarts: [UInt32], typeLetters: [UInt8], addresses: [UInt64]) {
        self.nameBytes = nameBytes
        self.nameStarts = nameStarts
        self.typeLetters = typeLetters
        self.addresses = addresses
    }
}

/// Copies the `n` bytes at `from` to `out` and moves `out` past them; up to 8 bytes are copied
/// as one 8-byte word (both sides have 8 bytes of slack past what is used).
@inline(__always)
private func copyToken(_ from: UnsafePointer<UInt8>, _ n: Int, _ out: inout UnsafeMutablePointer<UInt8>) {
    if n <= 8 {
        UnsafeMutableRawPointer(out).storeBytes(of: UnsafeRawPointer(from).loadUnaligned(as: UInt64.self), as: UInt64.self)
    } else {
        out.update(from: from, count: n)
    }
    out += n
}

/// Sequential reads of a memory area a page at a time through a read function, keeping the
/// last page: a table of a few megabytes costs one read per page.
struct PagedReader {
    let base: UInt64
    let limit: Int
    let read: (UInt64, Int) throws -> [UInt8]
    private var page: [UInt8] = []
    private var pageOffset = -1
    static let pageSize = 4096

    init(base: UInt64, limit: Int, read: @escaping (UInt64, Int) throws -> [UInt8]) {
        self.base = base
        self.limit = max(0, limit)
        self.read = read
    }

    mutating func byte(at offset: Int) throws -> UInt8 {
        guard offset >= 0, offset < limit else {
            throw DumpError.missing(what: "byte \(offset) of the \(limit)-byte area at \(hex(base))")
        }
        let address = base &+ UInt64(offset)
        // Pages of the area, counted from the page boundary at or below `base`.
        let pageStart = address & ~UInt64(Self.pageSize - 1)
        let start = Int(pageStart &- (base & ~UInt64(Self.pageSize - 1)))
        if start != pageOffset {
            page = try read(pageStart, Self.pageSize)
            pageOffset = start
        }
        let i = Int(address - pageStart)
        guard i < page.count else { throw DumpError.missing(what: "byte \(offset) of the area at \(hex(base))") }
        return page[i]
    }

}

/// The kernel's own symbol table (kallsyms) read from the dump, for the few symbol addresses a
/// command needs when there is no vmlinux. Recent kernels put the table's addresses in
/// VMCOREINFO: SYMBOL(kallsyms_names), kallsyms_num_syms, kallsyms_token_table,
/// kallsyms_token_index, kallsyms_offsets and kallsyms_relative_base.
///
/// The table (scripts/kallsyms.c):
/// - `kallsyms_names`: one entry per symbol, a length (one byte; from Linux 6.1 a byte with bit 7
///   set is followed by a second one holding bits 7 and up), then that many token numbers.
/// - `kallsyms_token_table`: NUL-terminated token strings, found through the 256 u16 offsets of
///   `kallsyms_token_index`. A symbol's expanded name starts with its type letter.
/// - `kallsyms_offsets`: one s32 per symbol, relative to `kallsyms_relative_base`: either an
///   unsigned offset, or (with absolute per-CPU symbols, as x86_64 SMP kernels build it) a
///   non-negative value that is the address itself and a negative one meaning
///   `relative_base - 1 - value`. Which of the two a kernel uses is not recorded, so the table
///   is trusted only when one reading puts `_stext` where VMCOREINFO says it is.
///
/// Lookups scan the names in order: linear in the table's size, meant for one or two names.
public struct Kallsyms {
    public let memory: KernelMemory
    let count: Int
    let names: LazyVirtualRegion
    let offsets: LazyVirtualRegion
    let relativeBase: UInt64
    let tokens: [[UInt8]]

    /// More symbols than any kernel has: a larger count is corrupt.
    static let maxSymbols = 4 << 20

    /// - Throws: `.missing` when VMCOREINFO lacks the table's symbols, or a read error.
    public init(space: KernelAddressSpace) throws {
        try self.init(memory: KernelMemory(space: space))
    }

    /// - Throws: `.missing` when VMCOREINFO lacks the table's symbols, or the read's `MemoryFault`.
    public init(memory: KernelMemory) throws {
        self.memory = memory
        guard let info = memory.space.vmcoreinfo,
              let namesAt = info.symbol("kallsyms_names"), let countAt = info.symbol("kallsyms_num_syms"),
              let tokenTable = info.symbol("kallsyms_token_table"), let tokenIndex = info.symbol("kallsyms_token_index"),
              let offsetsAt = info.symbol("kallsyms_offsets"), let baseAt = info.symbol("kallsyms_relative_base") else {
            throw DumpError.missing(what: "the kallsyms symbols in VMCOREINFO")
        }
        let n = try memory.load(UInt32.self, countAt)
        guard n > 0, Int(n) <= Self.maxSymbols else {
            throw DumpError.missing(what: "a believable kallsyms_num_syms (\(n))")
        }
        count = Int(n)
        relativeBase = try memory.load(UInt64.self, baseAt)
        // Each entry takes at most 2 length bytes and 32767 token bytes; the region is read lazily.
        names = LazyVirtualRegion(memory: memory, base: namesAt, length: count * 258)
        offsets = LazyVirtualRegion(memory: memory, base: offsetsAt, length: count * 4)
        let index = try memory.bytes(tokenIndex, count: 512)
        let table = LazyVirtualRegion(memory: memory, base: tokenTable, length: 65536 + 256)
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(256)
        for t in 0..<256 {
            let start = Int(index.littleEndian(UInt16.self, at: t * 2) ?? 0)
            var token: [UInt8] = []
            var i = start
            // Tokens are short; 256 bytes bounds a corrupt one.
            while i < start + 256, let b = try? table.byte(at: i), b != 0 {
                token.append(b)
                i += 1
            }
            tokens.append(token)
        }
        self.tokens = tokens
    }

    /// Run-time addresses of `wanted` names (without the type letter) found in the table; the
    /// table is checked against VMCOREINFO's `_stext` and nothing is answered if it disagrees.
    public func addresses(of wanted: Set<String>) throws -> [String: UInt64] {
        guard let stext = memory.space.vmcoreinfo?.symbol("_stext") else {
            throw DumpError.missing(what: "SYMBOL(_stext) in VMCOREINFO, to check kallsyms against")
        }
        let targets = Array(Set(wanted.map { Array($0.utf8) } + [Array("_stext".utf8)]))
        var found = [Int32?](repeating: nil, count: targets.count)
        var foundCount = 0
        // Names are matched while they are expanded, token by token, so that the usual symbol is
        // given up at its first token and skipped by its length, without building its name.
        var alive = [Bool](repeating: false, count: targets.count)
        var matched = [Int](repeating: 0, count: targets.count)
        var at = 0
        scan: for symbol in 0..<count {
            var length = Int(try names.byte(at: at))
            at += 1
            if length & 0x80 != 0 {
                length = (length & 0x7f) | Int(try names.byte(at: at)) << 7
                at += 1
            }
            let end = at + length
            for t in targets.indices {
                alive[t] = found[t] == nil
                matched[t] = 0
            }
            var typeLetter = true
            var anyAlive = true
            while at < end, anyAlive {
                let token = tokens[Int(try names.byte(at: at))]
                at += 1
                anyAlive = false
                for t in targets.indices where alive[t] {
                    let target = targets[t]
                    var m = matched[t]
                    for (k, b) in token.enumerated() {
                        // The first byte of the first token is the symbol's type letter.
                        if typeLetter && k == 0 { continue }
                        if m >= target.count || target[m] != b { alive[t] = false; break }
                        m += 1
                    }
                    matched[t] = m
                    if alive[t] { anyAlive = true }
                }
                typeLetter = false
            }
            at = end
            for t in targets.indices where alive[t] && matched[t] == targets[t].count {
                found[t] = Int32(bitPattern: try offsets.bytes(at: symbol * 4, count: 4).littleEndian(UInt32.self, at: 0) ?? 0)
                foundCount += 1
                if foundCount == targets.count { break scan }
            }
        }
        func offset(_ name: String) -> Int32? {
            targets.firstIndex(of: Array(name.utf8)).flatMap { found[$0] }
        }
        guard let stextOffset = offset("_stext") else {
            throw DumpError.missing(what: "_stext in kallsyms")
        }
        let absolutePerCPU: Bool
        if resolve(stextOffset, absolutePerCPU: true) == stext {
            absolutePerCPU = true
        } else if resolve(stextOffset, absolutePerCPU: false) == stext {
            absolutePerCPU = false
        } else {
            throw DumpError.missing(what: "a kallsyms table that agrees with SYMBOL(_stext)")
        }
        var out: [String: UInt64] = [:]
        for w in wanted {
            if let off = offset(w) { out[w] = resolve(off, absolutePerCPU: absolutePerCPU) }
        }
        return out
    }

    func resolve(_ offset: Int32, absolutePerCPU: Bool) -> UInt64 {
        guard absolutePerCPU else { return relativeBase &+ UInt64(UInt32(bitPattern: offset)) }
        if offset >= 0 { return UInt64(offset) }
        return relativeBase &- 1 &- UInt64(bitPattern: Int64(offset))
    }
}

extension KernelMemory {
    /// The address of the kernel variable `name`: from the layout, else from the kernel's kallsyms
    /// table (for the dumps opened without a vmlinux). Nil when neither knows.
    public func symbolAddressWithKallsyms(_ name: String) -> UInt64? {
        if let a = layout.symbolAddress(name) { return a }
        return (try? Kallsyms(memory: self).addresses(of: [name]))?[name]
    }
}

extension KernelAddressSpace {
    /// `KernelMemory.symbolAddressWithKallsyms(_:)` through this space.
    public func symbolAddressWithKallsyms(_ name: String) -> UInt64? {
        KernelMemory(space: self).symbolAddressWithKallsyms(name)
    }
}

import Disassembly
import DumpModel
import SymbolResolver

/// `dis`: disassembles the text the crashed machine ran (read from the dump's memory, so patched
/// alternatives and static calls show as executed), in gdb's AT&T spelling as crash prints it.
public enum DisCommand: CrashCommand {
    public static let name = "dis"
    public static let summary = "disassemble"
    static let synopsis = "dis [-l] [-r] [-u] [symbol | address] [count]"
    public static let usage = """
    NAME
      dis - disassemble

    SYNOPSIS
      \(synopsis)

    DESCRIPTION
      Disassembles the instructions at a text symbol or address, decoding the bytes read from the
      dump's memory (the code the CPU ran, after alternatives, static calls and ftrace patching).
      With a function name (or its start address) and no count, the whole function is shown;
      with another address, one instruction; with a count, that many instructions.
      Branch targets and %rip-relative operands are named as <symbol+offset>; an ftrace call site
      patched to a 5-byte nop is marked [FTRACE NOP].

        -l         show the source file and line before the instructions they belong to.
        -r         show the function from its start up to and including the instruction at
                   the address.
        -u         the address is a user virtual address of the current context (`set`).
        symbol     a text symbol, optionally with +offset or -offset.
        address    a hexadecimal address.
        count      the number of instructions to show.

    EXAMPLES
      crash> dis sysrq_handle_crash
      0xffffffffb0ca89f0 <sysrq_handle_crash>:\tnopl   0x0(%rax,%rax,1) [FTRACE NOP]
      0xffffffffb0ca89f5 <sysrq_handle_crash+5>:\tcall   0xffffffffb0728270 <__rcu_read_unlock>
      0xffffffffb0ca89fa <sysrq_handle_crash+10>:\tmov    $0xffffffffb19697b9,%rdi
      0xffffffffb0ca8a01 <sysrq_handle_crash+17>:\tcall   0xffffffffb0fccf31 <panic>
    """

    /// One instruction as shown: the decoded instruction and the names crash gives its addresses.
    public struct Line: Sendable {
        public var instruction: Instruction
        /// "schedule+5" for the instruction's address; nil for user addresses.
        public var symbol: String?
        /// The symbol of a direct branch target.
        public var targetSymbol: String?
        /// The symbol of a %rip-relative operand's address (kernel addresses only, as crash).
        public var ripSymbol: String?
        /// The source line (-l) when it differs from the previous instruction's.
        public var source: String?
        /// crash's ftrace call site mark.
        public var ftraceNop: Bool

        var text: String {
            let i = instruction
            var s = "0x" + hexDigits(i.address) + (symbol.map { " <\($0)>" } ?? "") + ":\t" + i.text
            if i.branchTarget != nil, let targetSymbol { s += " <\(targetSymbol)>" }
            if let rip = i.ripRelativeTarget {
                s += "        # 0x" + hexDigits(rip) + (ripSymbol.map { " <\($0)>" } ?? "")
            }
            if ftraceNop { s += " [FTRACE NOP]" }
            return s
        }
    }

    public struct Result: PartialResult {
        public var lines: [Line]
        /// Why the listing stopped early (a read that failed), shown after what was decoded.
        public var failureMessage: String?

        public func renderText() -> String {
            var out = ""
            for l in lines {
                if let src = l.source { out += src + "\n" }
                out += l.text + "\n"
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            var items: [JSONValue] = lines.map { l in
                let i = l.instruction
                var pairs: [(String, JSONValue)] = [
                    ("address", .address(i.address)),
                    ("bytes", .string(i.bytes.map { b in let h = String(b, radix: 16); return b < 16 ? "0" + h : h }.joined())),
                    ("mnemonic", .string(i.mnemonic)),
                    ("operands", .string(i.operands)),
                    ("symbol", l.symbol.map { .string($0) } ?? .null),
                    ("target", i.branchTarget.map { .address($0) } ?? i.ripRelativeTarget.map { .address($0) } ?? .null),
                    ("target_symbol", (i.branchTarget != nil ? l.targetSymbol : l.ripSymbol).map { .string($0) } ?? .null),
                    ("ftrace_nop", .bool(l.ftraceNop)),
                ]
                if let src = l.source { pairs.append(("source", .string(src))) }
                return .object(pairs)
            }
            if let failureMessage { items.append(.object([("error", .string(failureMessage))])) }
            return .object([("instructions", .array(items))])
        }
    }

    struct Options {
        var lines = false
        var reverse = false
        var user = false
        var words: [String] = []
    }

    static func parse(_ arguments: [String]) throws -> Options {
        var o = Options()
        for a in arguments {
            guard a.hasPrefix("-"), a.count > 1, !a.dropFirst().allSatisfy(\.isNumber) else { o.words.append(a); continue }
            for c in a.dropFirst() {
                switch c {
                case "l": o.lines = true
                case "r": o.reverse = true
                case "u": o.user = true
                default: throw CommandError("invalid option -\(c) (usage: \(synopsis))")
                }
            }
        }
        guard !o.words.isEmpty else { throw CommandError("a symbol or an address is needed (usage: \(synopsis))") }
        guard o.words.count <= 2 else { throw CommandError("too many arguments (usage: \(synopsis))") }
        if o.user && o.lines { throw CommandError("-l can only be used with kernel addresses") }
        return o
    }

    /// The most instructions one command decodes: far past any function.
    static let maxInstructions = 1 << 20

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        let o = try parse(arguments)
        var count: Int?
        if o.words.count == 2 {
            guard let n = Int(o.words[1]), n > 0 else { throw CommandError("invalid count argument: \(o.words[1])") }
            guard n <= maxInstructions else { throw CommandError("count \(n) is above the limit of \(maxInstructions) instructions") }
            count = n
        }
        let memory = try session.crashedKernel().memory
        if o.user { return try userListing(o.words[0], count: count ?? 1, memory: memory, session: session) }

        let symbols = try SymbolLookup(session: session)
        let (address, startsFunction) = try resolveAddress(o.words[0], symbols)
        guard address >= memory.space.kernelHalfStart else {
            throw CommandError("\(hexDigits(address)) is not a kernel virtual address")
        }

        // The region to decode: a function's range, or from an address on.
        var start = address
        var end: UInt64?
        var stopAfter: UInt64?
        if o.reverse || (startsFunction && count == nil) {
            guard let range = functionRange(containing: address, symbols) else {
                throw CommandError("cannot resolve address: \(hexDigits(address))")
            }
            start = range.start
            if o.reverse { stopAfter = address } else { end = range.end }
        }
        let limit = o.reverse ? maxInstructions : (count ?? (end == nil ? 1 : maxInstructions))

        let reader = CodeReader(memory: memory, kind: .kernel, userPGD: nil)
        var (instructions, failure) = try decode(from: start, end: end, limit: limit, reader: reader,
                                                 interrupted: session.interruptRequested)
        if let stopAfter, let cut = instructions.firstIndex(where: { $0.address >= stopAfter }) {
            instructions.removeSubrange((cut + 1)...)
        }
        if let count, o.reverse, instructions.count > count { instructions.removeFirst(instructions.count - count) }

        var lines: [Line] = []
        var lastSource = ""
        let kernel = o.lines ? try session.kernel() : nil
        for i in instructions {
            var line = Line(instruction: i, symbol: crashLabel(i.address, symbols), targetSymbol: nil, ripSymbol: nil,
                            source: nil, ftraceNop: false)
            if let t = i.branchTarget { line.targetSymbol = crashLabel(t, symbols) }
            if let r = i.ripRelativeTarget, r >= memory.space.kernelHalfStart { line.ripSymbol = crashLabel(r, symbols) }
            // crash marks a 5-byte nop at a symbol's first byte: where ftrace patched out `call __fentry__`.
            if let s = line.symbol, !s.contains("+"), i.text == "nopl   0x0(%rax,%rax,1)" { line.ftraceNop = true }
            if kernel != nil {
                let src = session.sourceLine(runtimeAddress: i.address, slide: symbols.slide)?.description ?? ""
                if src != lastSource { line.source = src; lastSource = src }
            }
            lines.append(line)
        }
        return Result(lines: lines, failureMessage: failure)
    }

    /// `dis -u`: instructions at a user address of the current context, without symbols.
    static func userListing(_ word: String, count: Int, memory: KernelMemory, session: Session) throws -> Result {
        guard let address = parseHexAddress(word) else { throw CommandError("invalid user address: \(word)") }
        let kernel = try session.crashedKernel()
        guard let pgd = try kernel.userPageTable(of: try kernel.currentTask()) else {
            throw CommandError("the current context has no user address space")
        }
        let reader = CodeReader(memory: memory, kind: .user, userPGD: pgd)
        let (instructions, failure) = try decode(from: address, end: nil, limit: count, reader: reader,
                                                 interrupted: session.interruptRequested)
        if instructions.isEmpty, let failure { throw CommandError(failure) }
        return Result(lines: instructions.map { Line(instruction: $0, symbol: nil, targetSymbol: nil, ripSymbol: nil, source: nil, ftraceNop: false) },
                      failureMessage: failure)
    }

    /// The address a word names (hex, symbol, symbol+off, symbol-off), and whether it is the
    /// first byte of a text symbol (then `dis` shows the whole function).
    static func resolveAddress(_ word: String, _ symbols: SymbolLookup) throws -> (UInt64, Bool) {
        if let a = parseHexAddress(word), symbols.table.symbol(named: word) == nil {
            return (a, isFunctionStart(a, symbols))
        }
        var name = Substring(word)
        var delta: Int64 = 0
        if let sign = word.lastIndex(where: { $0 == "+" || $0 == "-" }), sign != word.startIndex {
            let number = word[word.index(after: sign)...]
            let value: UInt64? = number.hasPrefix("0x") ? UInt64(number.dropFirst(2), radix: 16) : UInt64(number)
            guard let value, value <= UInt64(Int64.max) else { throw CommandError("invalid offset in \(word)") }
            delta = word[sign] == "+" ? Int64(value) : -Int64(value)
            name = word[..<sign]
        }
        guard let base = symbols.address(ofName: String(name)) else { throw CommandError("symbol not found: \(name)") }
        let address = base &+ UInt64(bitPattern: delta)
        return (address, delta == 0 && isFunctionStart(address, symbols))
    }

    static func isFunctionStart(_ address: UInt64, _ symbols: SymbolLookup) -> Bool {
        if let loc = symbols.table.symbol(at: address) {
            return loc.offset == 0 && "tTwW".contains(loc.symbol.typeLetter)
        }
        if let (found, offset) = symbols.moduleLocation(address), case let .module(e) = found {
            return offset == 0 && "tTwW".contains(e.type)
        }
        return false
    }

    /// crash's name for an address (its value_search): among aliases sorted by name, the first
    /// for the exact address, the last for an address inside; module symbols as `sym` shows them.
    static func crashLabel(_ address: UInt64, _ symbols: SymbolLookup) -> String? {
        guard let loc = symbols.table.symbol(at: address) else { return symbols.label(for: address) }
        let s = crashAlias(at: loc.symbol.address, first: loc.offset == 0, symbols) ?? loc.symbol
        return loc.offset == 0 ? s.name : "\(s.name)+\(loc.offset)"
    }

    /// The first or last of the symbols at `address` in crash's table order (by name, bytewise).
    static func crashAlias(at address: UInt64, first: Bool, _ symbols: SymbolLookup) -> Symbol? {
        let aliases = symbols.table.symbols(atExactly: address).sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        return first ? aliases.first : aliases.last
    }

    /// A function's extent: the vmlinux symbol's size (gdb's function range), else up to the
    /// next symbol (crash's fallback, and all it has for module functions).
    static func functionRange(containing address: UInt64, _ symbols: SymbolLookup) -> (start: UInt64, end: UInt64)? {
        if let loc = symbols.table.symbol(at: address) {
            let s = crashAlias(at: loc.symbol.address, first: true, symbols) ?? loc.symbol
            let offset = address &- s.address
            if s.size > 0, offset < s.size { return (s.address, s.address &+ s.size) }
            guard let next = symbols.table.firstSymbol(after: s.address) else { return nil }
            return (s.address, next.address)
        }
        guard let (found, _) = symbols.moduleLocation(address), case let .module(e) = found else { return nil }
        guard let next = symbols.modules.nextSymbol(after: e) else { return nil }
        return (e.address, next.address)
    }

    /// Reads code a page at a time; a fault ends the region there.
    struct CodeReader {
        let memory: KernelMemory
        let kind: AddressSpaceKind
        let userPGD: UInt64?

        /// Up to `count` bytes at `address`, shorter when a page in between cannot be read
        /// (the fault is returned when not even the first byte could be).
        func read(_ address: UInt64, count: Int) -> (bytes: [UInt8], fault: MemoryFault?) {
            var out: [UInt8] = []
            var at = address
            while out.count < count {
                let n = min(count - out.count, 4096 - Int(at & 0xfff))
                do {
                    out += try memory.bytes(at, count: n, in: kind, userPGD: userPGD)
                } catch {
                    return (out, error)
                }
                let (next, overflow) = at.addingReportingOverflow(UInt64(n))
                if overflow { break }
                at = next
            }
            return (out, nil)
        }
    }

    /// Decodes from `start` until `end` (exclusive) or `limit` instructions, reading a chunk at a
    /// time. Returns the instructions and, when a read failed first, the fault's message.
    static func decode(from start: UInt64, end: UInt64?, limit: Int, reader: CodeReader,
                       interrupted: () -> Bool) throws -> ([Instruction], String?) {
        let disassembler = Disassembler()
        var out: [Instruction] = []
        var at = start
        let chunk = 4096
        while out.count < limit {
            if let end, at >= end { break }
            if interrupted() { throw CommandError.interrupted }
            // Enough bytes for the rest of the region plus one instruction past a chunk's end.
            var want = chunk + Disassembler.maxInstructionLength
            if let end { want = Int(min(UInt64(want), end - at + UInt64(Disassembler.maxInstructionLength))) }
            let (bytes, fault) = reader.read(at, count: want)
            var decoded = disassembler.decode(bytes: bytes, at: at, limit: limit - out.count)
            if let end { decoded = decoded.filter { $0.address < end } }
            // Keep to the chunk so the next read starts at an instruction boundary.
            if bytes.count == want, decoded.count > 1 {
                let chunkEnd = at &+ UInt64(chunk)
                if let cut = decoded.firstIndex(where: { $0.address >= chunkEnd }) { decoded.removeSubrange(cut...) }
            }
            guard let last = decoded.last else {
                let f = fault.map { "cannot read code at \($0)" } ?? "cannot decode at 0x\(hexDigits(at))"
                return (out, f)
            }
            out += decoded
            at = last.address &+ UInt64(last.length)
            if bytes.count < want, let fault, at >= fault.address { return (out, "cannot read code at \(fault)") }
            if bytes.count < want, fault == nil { break }
        }
        return (out, nil)
    }

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        prefix.hasPrefix("-") ? [] : session.symbolCompletions(prefix: prefix)
    }
}

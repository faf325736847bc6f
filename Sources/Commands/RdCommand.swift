import DumpModel
import SymbolResolver

/// `rd`: the crashed machine's memory as hexadecimal (or decimal) words with their ASCII, or as a
/// string, at a kernel virtual, user virtual or physical address, in crash's layout.
public enum RdCommand: CrashCommand {
    public static let name = "rd"
    public static let summary = "read memory"
    public static let usage = """
    NAME
      rd - read memory

    SYNOPSIS
      rd [-8|-16|-32|-64] [-s] [-a] [-p|-u] [-x] [-d|-D] [-o offset] [-e end] address|symbol [count]

    DESCRIPTION
      Displays count items (default 1) of memory starting at address, a hexadecimal address or a
      kernel symbol. Each line starts with the address of its first item; hexadecimal lines end
      with the bytes as ASCII ('.' for the unprintable ones).

        -64        64-bit items, 2 per line (the default).
        -32        32-bit items, 4 per line.
        -16        16-bit items, 8 per line.
        -8         bytes, 16 per line.
        -s         show 64-bit values that are kernel symbol addresses as symbol+offset (decimal).
        -a         the memory as an ASCII string: up to the first unprintable byte, or count bytes
                   (unprintable bytes start a new line), 60 characters per line.
        -p         address is a physical address.
        -u         address is a user virtual address of the current context's task.
        -x         no ASCII at the end of hexadecimal lines.
        -d         signed decimal values; -D unsigned decimal values.
        -o offset  add offset (decimal, or hex with 0x) to the address.
        -e end     read up to the address end instead of count items.

      Without -p or -u, an address in the kernel half is a kernel virtual address and an address
      in the user half a user virtual address, as crash does. A page left out of the dump (dump
      level filtering) or an address that no page table maps ends the display with one line
      saying which, on standard error; what was read before it is shown first, and rd counts as
      failed either way (exit status 1 after -c or -i), whether nothing or part was read.

    EXAMPLES
      crash> rd -64 linux_banner 4
      ffffffffb171ffe0:  65762078756e694c 2e36206e6f697372   Linux version 6.
      ffffffffb171fff0:  632d36352d302e31 646d612d64756f6c   1.0-56-cloud-amd
      crash> rd -a linux_banner
      ffffffffb171ffe0:  Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debi
      ...
    """

    /// What kind of address the command reads at.
    public enum AddressKind: String, Sendable {
        case kernelVirtual = "KVADDR"
        case userVirtual = "UVADDR"
        case physical = "PHYSADDR"

        /// crash's words in error messages ("kernel virtual", "user virtual", "physical").
        var words: String {
            switch self {
            case .kernelVirtual: return "kernel virtual"
            case .userVirtual: return "user virtual"
            case .physical: return "physical"
            }
        }
    }

    /// How each item is shown.
    public enum Radix: String, Sendable { case hex, signedDecimal = "decimal", unsignedDecimal = "udecimal" }

    /// One read item: its address, value and, with `-s`, the symbol its value points into.
    public struct Item: Sendable {
        public var address: UInt64
        public var value: UInt64
        public var symbol: String?
    }

    /// A read that fails part-way is a partial result (`PartialResult`): what was read is the
    /// output, the error line goes to standard error and the command counts as failed, as when
    /// the first byte fails (then there is no output at all). crash prints the same lines; it
    /// just has one output stream.
    public struct Result: PartialResult {
        public var kind: AddressKind
        /// Bytes per item: 1, 2, 4, 8; 1 for `-a`.
        public var width: Int
        public var radix: Radix
        public var ascii: Bool
        public var symbolic: Bool
        /// Whether hexadecimal lines end with their ASCII.
        public var asciiColumn: Bool
        public var items: [Item]
        /// The read error that ended the display early, in crash's words.
        public var error: String?

        /// Items per line for each width, as crash lays them out on 80 columns.
        static func perLine(_ width: Int) -> Int { 16 / width }

        public var failureMessage: String? { error }

        public func renderText() -> String {
            ascii ? renderString() : renderWords()
        }

        /// crash's address column: right-justified hex in 16 columns, then ":  ".
        private func addressColumn(_ a: UInt64) -> String {
            rjust(hexDigits(a), 16) + ":  "
        }

        private func renderWords() -> String {
            var out = ""
            let perLine = Result.perLine(width)
            var line = ""
            var chars = ""
            var index = 0
            while index < items.count {
                let item = items[index]
                if index % perLine == 0 {
                    if index > 0 { out += finish(line, chars) }
                    line = addressColumn(item.address)
                    chars = ""
                }
                line += format(item)
                if asciiColumn {
                    for i in 0..<width {
                        let b = UInt8(truncatingIfNeeded: item.value >> (8 * UInt64(i)))
                        chars.append(b >= 0x20 && b < 0x7f ? Character(Unicode.Scalar(b)) : ".")
                    }
                }
                index += 1
            }
            if !items.isEmpty {
                if asciiColumn {
                    // A short last line is padded so its ASCII lines up with the full lines'.
                    let fullLength = 19 + perLine * (2 * width + 1)
                    line += String(repeating: " ", count: max(0, fullLength - line.count))
                }
                out += finish(line, chars)
            }
            return out
        }

        private func finish(_ line: String, _ chars: String) -> String {
            asciiColumn ? line + "  " + chars + "\n" : line + "\n"
        }

        private func format(_ item: Item) -> String {
            if let symbol = item.symbol {
                return ljust(symbol, 16) + " "
            }
            switch radix {
            case .hex:
                return hexDigits(item.value, width: 2 * width) + " "
            case .signedDecimal:
                let v: String
                switch width {
                case 8: v = String(Int64(bitPattern: item.value))
                case 4: v = String(Int32(truncatingIfNeeded: item.value))
                default: v = String(item.value)   // crash prints bytes and 16-bit words unsigned
                }
                return rjust(v, Result.decimalWidth(width, signed: true)) + " "
            case .unsignedDecimal:
                return rjust(String(item.value), Result.decimalWidth(width, signed: false)) + " "
            }
        }

        static func decimalWidth(_ width: Int, signed: Bool) -> Int {
            switch width {
            case 8: return signed ? 15 : 20
            case 4: return 12
            case 2: return 5
            default: return 3
            }
        }

        /// `-a`: printable runs, 60 characters per line; an unprintable byte ends the line.
        private func renderString() -> String {
            var out = ""
            var inLine = 0
            for item in items {
                let b = UInt8(truncatingIfNeeded: item.value)
                guard b >= 0x20 && b < 0x7f else {
                    if inLine > 0 { out += "\n" }
                    inLine = 0
                    continue
                }
                if inLine == 60 { out += "\n"; inLine = 0 }
                if inLine == 0 { out += addressColumn(item.address) }
                out.append(Character(Unicode.Scalar(b)))
                inLine += 1
            }
            if inLine > 0 { out += "\n" }
            // crash ends a counted display with a newline even when nothing in it was printable.
            if out.isEmpty && !items.isEmpty { out = "\n" }
            return out
        }

        public func renderJSON() -> JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("address", items.first.map { .address($0.address) } ?? .null),
                ("type", .string(kind.rawValue)),
            ]
            if ascii {
                let bytes = items.map { UInt8(truncatingIfNeeded: $0.value) }
                pairs.append(("string", .string(String(decoding: bytes, as: UTF8.self))))
            } else {
                pairs.append(("width", .int(Int64(width * 8))))
                pairs.append(("values", .array(items.map { item in
                    switch radix {
                    case .signedDecimal where width == 8: return .int(Int64(bitPattern: item.value))
                    case .signedDecimal where width == 4: return .int(Int64(Int32(truncatingIfNeeded: item.value)))
                    case .hex: return .address(item.value)
                    default: return .uint(item.value)
                    }
                })))
                if symbolic {
                    pairs.append(("symbols", .array(items.map { $0.symbol.map(JSONValue.string) ?? .null })))
                }
                var bytes: [UInt8] = []
                for item in items { for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: item.value >> (8 * UInt64(i)))) } }
                pairs.append(("ascii", .string(String(bytes.map { $0 >= 0x20 && $0 < 0x7f ? Character(Unicode.Scalar($0)) : "." }))))
            }
            if let error { pairs.append(("error", .string(error))) }
            return .object(pairs)
        }
    }

    struct Options {
        var width = 8
        var widthGiven = false
        var symbolic = false
        var ascii = false
        var kind: AddressKind?
        var noASCII = false
        var radix = Radix.hex
        var offset: UInt64 = 0
        var end: UInt64?
        var words: [String] = []
    }

    static let synopsis = "rd [-8|-16|-32|-64] [-s] [-a] [-p|-u] [-x] [-d|-D] [-o offset] [-e end] address|symbol [count]"

    static func parse(_ arguments: [String]) throws -> Options {
        var o = Options()
        var i = 0
        func value(_ flag: String) throws -> String {
            guard i < arguments.count else { throw CommandError("option \(flag) needs a value (usage: \(synopsis))") }
            i += 1
            return arguments[i - 1]
        }
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            switch a {
            case "-8": o.width = 1; o.widthGiven = true; o.ascii = false
            case "-16": o.width = 2; o.widthGiven = true; o.ascii = false
            case "-32": o.width = 4; o.widthGiven = true; o.ascii = false
            case "-64": o.width = 8; o.widthGiven = true; o.ascii = false
            case "-o":
                let w = try value(a)
                guard let v = parseNumber(w) else { throw CommandError("invalid offset: \(w)") }
                o.offset = v
            case "-e":
                let w = try value(a)
                guard let v = parseHexAddress(w) else { throw CommandError("invalid ending address: \(w)") }
                o.end = v
            default:
                guard a.hasPrefix("-"), a.count > 1 else { o.words.append(a); continue }
                for c in a.dropFirst() {
                    switch c {
                    case "s", "S": o.symbolic = true
                    case "a": o.ascii = true
                    case "p": o.kind = .physical
                    case "u": o.kind = .userVirtual
                    case "x": o.noASCII = true
                    case "d": o.radix = .signedDecimal
                    case "D": o.radix = .unsignedDecimal
                    default: throw CommandError("invalid option -\(c) (usage: \(synopsis))")
                    }
                }
            }
        }
        if o.symbolic && o.width != 8 { throw CommandError("-s option is only allowed with 64-bit display") }
        guard !o.words.isEmpty else { throw CommandError("an address or a symbol is needed (usage: \(synopsis))") }
        guard o.words.count <= 2 else { throw CommandError("too many arguments (usage: \(synopsis))") }
        return o
    }

    /// `rd -a` without a count reads up to the first unprintable byte, at most this many bytes
    /// (said in an error line when reached). Counted word displays stream and have no limit.
    static let maxItems = 1 << 24

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        let o = try parse(arguments)
        let target = o.words[0]
        var start: UInt64
        if let a = parseHexAddress(target) {
            start = a
        } else {
            guard let a = try SymbolLookup(session: session).address(ofName: target) else {
                throw CommandError("symbol not found: \(target)")
            }
            start = a
        }
        start = start &+ o.offset

        let width = o.ascii ? 1 : o.width
        var count: Int?
        if o.words.count == 2 {
            guard let n = Int(o.words[1]), n > 0 else { throw CommandError("invalid count request: \(o.words[1])") }
            count = n
        } else if let end = o.end {
            guard end > start else { throw CommandError("invalid ending address: \(hexDigits(end))") }
            count = Int(min((end - start) / UInt64(width), UInt64(Int.max)))
            if count == 0 { count = 1 }
        } else if !o.ascii {
            count = 1
        }

        let memory = try MemoryAccess(session: session, requested: o.kind, address: start)
        let typeName = o.ascii ? "ascii" : "\(width * 8)-bit \(memory.kind.rawValue)"

        var symbols: SymbolLookup?
        if o.symbolic { symbols = try SymbolLookup(session: session) }
        let asciiColumn = o.radix == .hex && !o.symbolic && !o.noASCII && !o.ascii

        if !o.ascii, let count {
            let words = StreamedWords(memory: memory, start: start, count: count, width: width, typeName: typeName,
                                      shape: Result(kind: memory.kind, width: width, radix: o.radix, ascii: false,
                                                    symbolic: o.symbolic, asciiColumn: asciiColumn, items: [], error: nil),
                                      symbols: symbols, interrupted: session.interruptRequested)
            // A first read that fails is the command's error, before any output.
            let (first, failure) = words.batch(at: start, count: min(count, words.batchItems))
            if first.isEmpty, let failure { throw CommandError(failure) }
            return words
        }

        var items: [Item] = []
        var failure: String?
        var address = start
        let limit = count ?? maxItems
        // Reads go a chunk at a time (one page at most), then are cut into items.
        var buffer = [UInt8](repeating: 0, count: 4096)
        readLoop: while items.count < limit {
            let toPageEnd = 4096 - Int(address & 0xfff)
            let n = min((limit - items.count) * width, max(width, toPageEnd - toPageEnd % width))
            do {
                try buffer.withUnsafeMutableBytes { b in
                    try memory.read(address, into: UnsafeMutableRawBufferPointer(rebasing: b[0..<n]))
                }
            } catch {
                // The chunk may hold readable items before the failing page: retry item by item.
                if n > width, let partial = try? readItems(memory, at: address, count: n / width, width: width) {
                    items += partial.items
                    address &+= UInt64(partial.items.count * width)
                    if partial.items.count < n / width {
                        failure = describe(partial.error, address: address, kind: memory.kind, type: typeName)
                        break readLoop
                    }
                    continue
                }
                failure = describe(error, address: address, kind: memory.kind, type: typeName)
                break
            }
            var stop = false
            for k in 0..<(n / width) {
                var v: UInt64 = 0
                for i in 0..<width { v |= UInt64(buffer[k * width + i]) << (8 * UInt64(i)) }
                if o.ascii && count == nil && !(v >= 0x20 && v < 0x7f) { stop = true; break }
                items.append(Item(address: address &+ UInt64(k * width), value: v, symbol: nil))
            }
            if stop { break }
            let (next, overflow) = address.addingReportingOverflow(UInt64(n))
            if overflow { break }
            address = next
        }
        if items.isEmpty, let failure { throw CommandError(failure) }
        if failure == nil, count == nil, items.count == limit {
            failure = "stopped after \(limit) bytes: -a without a count reads at most \(limit); give a count"
        }

        if let symbols {
            for i in items.indices { items[i].symbol = symbols.label(for: items[i].value) }
        }
        return Result(kind: memory.kind, width: width, radix: o.radix, ascii: o.ascii, symbolic: o.symbolic,
                      asciiColumn: asciiColumn, items: items, error: failure)
    }

    /// Reads `count` items one by one until the first failure.
    static func readItems(_ memory: MemoryAccess, at start: UInt64, count: Int, width: Int) throws
        -> (items: [Item], error: Error) {
        var items: [Item] = []
        var address = start
        var buffer = [UInt8](repeating: 0, count: 8)
        for _ in 0..<count {
            do {
                try buffer.withUnsafeMutableBytes { b in
                    try memory.read(address, into: UnsafeMutableRawBufferPointer(rebasing: b[0..<width]))
                }
            } catch {
                return (items, error)
            }
            var v: UInt64 = 0
            for i in 0..<width { v |= UInt64(buffer[i]) << (8 * UInt64(i)) }
            items.append(Item(address: address, value: v, symbol: nil))
            address &+= UInt64(width)
        }
        return (items, DumpError.missing(what: "nothing"))
    }

    /// crash's readmem error line for a failed read at `address`, with crashsh's reason after it.
    static func describe(_ error: Error, address: UInt64, kind: AddressKind, type: String) -> String {
        let a = hexDigits(address)
        let tail = "\(kind.words) address: \(a)  type: \"\(type)\""
        switch error {
        case let f as MemoryFault:
            switch f.reason {
            case .excludedPage:
                return "page excluded: \(tail)"
            case let .notInDump(paddr):
                if kind == .physical { return "not in dump: \(tail)" }
                return "not in dump: \(tail) (physical address \(hexDigits(paddr)))"
            case let .notMapped(level, reason):
                return "invalid \(kind.words) address: \(a)  type: \"\(type)\" (\(level): \(reason))"
            case .corrupt, .refused:
                return "read error: \(tail) (\(faultReason(f)))"
            }
        case let e as CommandError:
            return e.message
        default:
            return "read error: \(tail) (\(error))"
        }
    }

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        prefix.hasPrefix("-") ? [] : session.symbolCompletions(prefix: prefix)
    }
}

extension RdCommand {
    /// A counted word display, read and written a page at a time: the first line shows at once
    /// and memory stays flat whatever the count. Ctrl-C (the session's interrupt flag) stops it.
    ///
    /// A read error part-way ends the stream with a `CommandError` after the items read (and, in
    /// JSON, after the result object is closed with its `error`), so the shell reports it as a
    /// partial result; the whole-string renderings note it for `failureMessage`.
    struct StreamedWords: StreamingResult, PartialResult {
        /// The failure the last whole rendering met.
        final class FailureNote { var message: String? }
        let note = FailureNote()
        var failureMessage: String? { note.message }
        let memory: MemoryAccess
        let start: UInt64
        let count: Int
        let width: Int
        let typeName: String
        /// The layout (kind, radix, columns) with no items: each batch is rendered through it.
        let shape: Result
        let symbols: SymbolLookup?
        let interrupted: () -> Bool

        /// Items per read: one page, a whole number of lines for every width.
        var batchItems: Int { 4096 / width }

        /// Up to `count` items from `address`, and the read error that cut them short.
        func batch(at address: UInt64, count: Int) -> ([Item], String?) {
            var buffer = [UInt8](repeating: 0, count: count * width)
            do {
                try buffer.withUnsafeMutableBytes { try memory.read(address, into: $0) }
            } catch {
                // The batch may hold readable items before the failing page: read them one by one.
                guard let partial = try? RdCommand.readItems(memory, at: address, count: count, width: width) else {
                    return ([], RdCommand.describe(error, address: address, kind: memory.kind, type: typeName))
                }
                let failedAt = address &+ UInt64(partial.items.count * width)
                return (partial.items, RdCommand.describe(partial.error, address: failedAt, kind: memory.kind, type: typeName))
            }
            var items: [Item] = []
            items.reserveCapacity(count)
            for k in 0 ..< count {
                var v: UInt64 = 0
                for i in 0 ..< width { v |= UInt64(buffer[k * width + i]) << (8 * UInt64(i)) }
                items.append(Item(address: address &+ UInt64(k * width), value: v, symbol: nil))
            }
            return (items, nil)
        }

        /// Calls `body` with each batch in order; returns the read error that ended the display
        /// early, if any. Throws `CommandError.interrupted` on Ctrl-C.
        func forEachBatch(_ body: ([Item]) throws -> Void) throws -> String? {
            var address = start
            var done = 0
            while done < count {
                if interrupted() { throw CommandError.interrupted }
                // The first batch ends at the page boundary, so later reads are page-aligned.
                let toPage = (4096 - Int(address & 0xfff)) / width
                let n = min(count - done, done == 0 && toPage > 0 ? toPage : batchItems)
                var (items, failure) = batch(at: address, count: n)
                if let symbols { for i in items.indices { items[i].symbol = symbols.label(for: items[i].value) } }
                if !items.isEmpty { try body(items) }
                if let failure { return failure }
                done += n
                let (next, overflow) = address.addingReportingOverflow(UInt64(n * width))
                if overflow { break }
                address = next
            }
            return nil
        }

        func streamText(to sink: any OutputSink) throws {
            // Lines hold perLine items from the start address; a batch that does not end a line
            // carries its tail into the next.
            var carry: [Item] = []
            let perLine = Result.perLine(width)
            let failure = try forEachBatch { items in
                let all = carry + items
                let whole = all.count - all.count % perLine
                carry = Array(all[whole...])
                var lines = shape
                lines.items = Array(all[..<whole])
                try sink.write(lines.renderText())
            }
            var last = shape
            last.items = carry
            try sink.write(last.renderText())
            if let failure { throw CommandError(failure) }
        }

        func streamJSON(to sink: any OutputSink) throws {
            var head = shape.renderJSON().rendered()
            // `{"address":null,"type":...,"width":N,"values":[]}`, the address filled in and the
            // list left open.
            head = head.replacingOccurrences(of: "\"address\":null", with: "\"address\":" + JSONValue.address(start).rendered())
            guard let open = head.range(of: "\"values\":[]") else { return }
            try sink.write(String(head[..<open.lowerBound]) + "\"values\":[")
            var first = true
            func list(_ element: (Item) -> JSONValue) throws -> String? {
                first = true
                do {
                    return try forEachBatch { items in
                        var piece = ""
                        for item in items {
                            if !first { piece += "," }
                            first = false
                            piece += element(item).rendered()
                        }
                        try sink.write(piece)
                    }
                } catch let error as CommandError {
                    try sink.write("],\"error\":" + JSONValue.string(error.message).rendered() + "}")
                    throw error
                }
            }
            var values = shape
            let failure = try list { item in
                values.items = [item]
                guard case let .array(one)? = values.renderJSON()["values"], let v = one.first else { return .null }
                return v
            }
            if shape.symbolic {
                try sink.write("],\"symbols\":[")
                _ = try list { $0.symbol.map(JSONValue.string) ?? .null }
            }
            try sink.write("],\"ascii\":\"")
            _ = try forEachBatch { items in
                var bytes: [UInt8] = []
                for item in items { for i in 0 ..< width { bytes.append(UInt8(truncatingIfNeeded: item.value >> (8 * UInt64(i)))) } }
                let text = String(bytes.map { $0 >= 0x20 && $0 < 0x7f ? Character(Unicode.Scalar($0)) : "." })
                try sink.write(String(JSONValue.string(text).rendered().dropFirst().dropLast()))
            }
            try sink.write("\"")
            if let failure { try sink.write(",\"error\":" + JSONValue.string(failure).rendered()) }
            try sink.write("}")
            if let failure { throw CommandError(failure) }
        }

        func renderText() -> String {
            let sink = StringSink()
            note.message = nil
            do { try streamText(to: sink) } catch { note.message = "\(error)" }
            return sink.text
        }

        func renderJSON() -> JSONValue {
            var all = shape
            do { all.error = try forEachBatch { all.items += $0 } } catch { all.error = "\(error)" }
            note.message = all.error
            var json = all.renderJSON()
            if case var .object(pairs) = json, let i = pairs.firstIndex(where: { $0.0 == "address" }) {
                pairs[i].1 = .address(start)
                json = .object(pairs)
            }
            return json
        }
    }
}

/// Parses a count or offset: decimal, or hex with 0x.
private func parseNumber(_ word: String) -> UInt64? {
    if word.hasPrefix("0x") || word.hasPrefix("0X") { return UInt64(word.dropFirst(2), radix: 16) }
    return UInt64(word)
}

/// Where `rd` reads: physical memory, the kernel's address space, or the current context's
/// user space, all through the session's `KernelMemory`.
struct MemoryAccess {
    let kind: RdCommand.AddressKind
    private let memory: KernelMemory?
    private let physical: PhysicalMemory
    private let space: AddressSpaceKind
    private let userPGD: UInt64?

    /// `requested` is -p/-u; without either, the address decides, as crash does: kernel half ->
    /// kernel virtual, user half -> user virtual of the current context.
    init(session: Session, requested: RdCommand.AddressKind?, address: UInt64) throws {
        if requested == .physical {
            kind = .physical
            // Physical reads need no page tables: VMCOREINFO alone may not build an address space.
            memory = nil
            physical = session.memory
            space = .physical
            userPGD = nil
            return
        }
        let kernel = try session.crashedKernel()
        memory = kernel.memory
        physical = session.memory
        let isKernel = address >= kernel.space.kernelHalfStart
        let k: RdCommand.AddressKind = requested ?? (isKernel ? .kernelVirtual : .userVirtual)
        kind = k
        switch k {
        case .userVirtual:
            guard address < kernel.space.userAddressLimit else {
                throw CommandError("invalid user virtual address: \(hexDigits(address))  type: \"64-bit UVADDR\"")
            }
            space = .user
            userPGD = try session.currentUserPageTable(space: kernel.space)
        default:
            guard isKernel else {
                throw CommandError("invalid kernel virtual address: \(hexDigits(address))  type: \"64-bit KVADDR\"")
            }
            space = .kernel
            userPGD = nil
        }
    }

    func read(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(MemoryFault) {
        guard let memory else {
            do { try physical.read(physical: address, into: buffer) } catch {
                throw MemoryFault(address: address, space: .physical, error: error)
            }
            return
        }
        try memory.read(address, into: buffer, in: space, userPGD: userPGD)
    }
}

extension Session {
    /// Physical address of the top-level page table of the current context's task (`set`; by
    /// default the task that was running on the CPU that panicked), for `rd -u` and user addresses.
    func currentUserPageTable(space: KernelAddressSpace) throws -> UInt64 {
        let kernel = try crashedKernel()
        let task: KernelTask
        do {
            task = try kernel.currentTask()
        } catch let DumpError.missing(what) {
            throw CommandError("no current user process: \(what) is unknown (needs the vmlinux)")
        }
        guard let pgd = try kernel.userPageTable(of: task) else {
            throw CommandError("no current user process: the current context (PID \(task.pid)) is a kernel thread")
        }
        return pgd
    }
}

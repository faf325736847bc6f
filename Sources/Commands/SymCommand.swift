import DumpModel
import SymbolResolver

/// `sym`: kernel symbols by name or address, all of them in address order (`-l`), or the ones
/// whose name contains a string (`-q`), in crash's one-line form.
public enum SymCommand: CrashCommand {
    public static let name = "sym"
    public static let summary = "translate a symbol to its address, or an address to its symbol"
    public static let usage = """
    NAME
      sym - translate a symbol to its address, or an address to its symbol

    SYNOPSIS
      sym [-l] | [-q string] | [-n] [-p] [-s] symbol | address ...

    DESCRIPTION
      Shows each kernel symbol named, or the symbol an address lies in, as
        ADDRESS (TYPE) NAME[+OFFSET] [FILE: LINE]
      where TYPE is the nm(1) letter of the symbol, OFFSET is decimal, and FILE: LINE is the
      source line of a kernel text address (from the vmlinux's DWARF line table). Addresses are
      run-time addresses: the vmlinux's link-time addresses moved by the dump's KASLR offset.
      Symbols of loaded modules come from each module's own symbol table in the dump and are
      shown with their module, "ADDRESS (TYPE) NAME[+OFFSET] [MODULE]", TYPE as crash shows it
      ('t'/'T' for functions, '?' for the rest); a name the vmlinux also defines is the vmlinux's.

        -l         list every kernel symbol, in address order, then each module's.
        -q string  list the symbols whose name contains string, in address order.
        -n         also show the symbol that follows.
        -p         also show the symbol that precedes.
        -s         show the ELF section of the symbol instead of the source line.
      symbol       a kernel symbol name; every symbol of that name is shown.
      address      a hexadecimal kernel address (with or without 0x).

    EXAMPLES
      crash> sym schedule
      ffffffffb10114f0 (T) schedule debian/build/build_amd64_none_cloud-amd64/kernel/sched/core.c: 6654
      crash> sym ffffffffb0ca8a05
      ffffffffb0ca8a05 (t) sysrq_handle_crash+21 debian/build/build_amd64_none_cloud-amd64/drivers/tty/sysrq.c: 155
      crash> sym -q sysrq_handle_s
      ffffffffb0ca8780 (t) sysrq_handle_showstate_blocked
      ...
    """

    /// One line of output: a symbol (with the offset into it), or an argument that named nothing.
    public enum Entry: Sendable {
        case symbol(SymbolRow)
        /// A line of `sym -l` that is not a symbol: "ffffffffc025d000 MODULE START: virtio_ring".
        case marker(address: UInt64, text: String)
        case failure(String)
    }

    /// A symbol as `sym` shows it.
    public struct SymbolRow: Sendable {
        /// The address asked about (the symbol's address plus `offset`).
        public var address: UInt64
        /// nm's letter.
        public var type: Character
        public var name: String
        /// Bytes past the symbol's start (0 when a name was given).
        public var offset: UInt64
        /// The source file and line of a text address, when the vmlinux has line info for it.
        public var file: String?
        public var line: Int?
        /// True for a text address whose line was looked up in the vmlinux's DWARF and not found:
        /// crash then prints the separator and an empty line ("sym+12 ").
        public var lineNotFound = false
        /// The ELF section (shown with `-s`).
        public var section: String?
        /// The module the symbol belongs to (nil: the kernel image).
        public var module: String?

        /// crash's line: "ffffffffb10114f5 (T) schedule+5 .../core.c: 6655".
        public var text: String {
            var s = String(address, radix: 16) + " (\(type)) " + name
            if offset != 0 { s += "+\(offset)" }
            if let module { s += " [\(module)]" }
            if let section { s += " [\(section)]" } else if let file, let line { s += " \(file): \(line)" } else if lineNotFound { s += " " }
            return s
        }

        public var json: JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("address", .address(address)), ("type", .string(String(type))), ("name", .string(name)),
                ("offset", .uint(offset)),
            ]
            if let module { pairs.append(("module", .string(module))) }
            if let section { pairs.append(("section", .string(section))) }
            pairs.append(("file", file.map(JSONValue.string) ?? .null))
            pairs.append(("line", line.map { JSONValue.int(Int64($0)) } ?? .null))
            return .object(pairs)
        }
    }

    /// What `sym` prints: the `-l` listing (written as it is produced: every kernel symbol
    /// then each module's), then the lines of `-q` and of each symbol or address named.
    public struct Result: StreamingResult {
        /// The kernel's symbols in crash's `sym -l` order and the modules' listing, or nil
        /// without `-l`.
        var listing: (kernel: [Symbol], modules: [ModuleSymbolIndex.ListingLine])?
        public var entries: [Entry]
        let interrupted: () -> Bool

        /// Calls `body` with every line in order. Throws `CommandError.interrupted` on Ctrl-C.
        func forEachEntry(_ body: (Entry) throws -> Void) throws {
            if let listing {
                for (n, s) in listing.kernel.enumerated() {
                    if n & 4095 == 4095, interrupted() { throw CommandError.interrupted }
                    try body(.symbol(SymbolRow(address: s.address, type: s.typeLetter, name: s.name, offset: 0)))
                }
                for (n, line) in listing.modules.enumerated() {
                    if n & 4095 == 4095, interrupted() { throw CommandError.interrupted }
                    switch line {
                    case let .marker(address, text): try body(.marker(address: address, text: text))
                    case let .symbol(e):
                        // The listing names the module in its MODULE START line, not on each symbol.
                        try body(.symbol(SymbolRow(address: e.address, type: e.type, name: e.name, offset: 0)))
                    }
                }
            }
            for e in entries { try body(e) }
        }

        static func text(_ e: Entry) -> String {
            switch e {
            case let .symbol(row): return row.text + "\n"
            case let .marker(address, text): return String(address, radix: 16) + " " + text + "\n"
            case let .failure(message): return "sym: " + message + "\n"
            }
        }

        /// Lines are gathered into pieces of about this many bytes before they are written.
        static let pieceSize = 32 * 1024

        public func streamText(to sink: any OutputSink) throws {
            var piece = ""
            try forEachEntry { e in
                piece += Result.text(e)
                if piece.utf8.count >= Result.pieceSize { try sink.write(piece); piece = "" }
            }
            try sink.write(piece)
        }

        public func streamJSON(to sink: any OutputSink) throws {
            var piece = "{\"symbols\":["
            var first = true
            var errors: [JSONValue] = []
            do {
                try forEachEntry { e in
                    let element: JSONValue
                    switch e {
                    case let .symbol(row): element = row.json
                    case let .marker(address, text):
                        element = .object([("address", .address(address)), ("marker", .string(text))])
                    case let .failure(message): errors.append(.string(message)); return
                    }
                    if !first { piece += "," }
                    first = false
                    piece += element.rendered()
                    if piece.utf8.count >= Result.pieceSize { try sink.write(piece); piece = "" }
                }
            } catch let error as CommandError {
                try sink.write(piece + "],\"error\":" + JSONValue.string(error.message).rendered() + "}")
                throw error
            }
            piece += "]"
            if !errors.isEmpty { piece += ",\"errors\":" + JSONValue.array(errors).rendered() }
            try sink.write(piece + "}")
        }

        public func renderText() -> String {
            let sink = StringSink()
            do { try streamText(to: sink) } catch { return sink.text + "sym: \(error)\n" }
            return sink.text
        }

        public func renderJSON() -> JSONValue {
            var symbols: [JSONValue] = []
            var errors: [JSONValue] = []
            var failure: String?
            do {
                try forEachEntry { e in
                    switch e {
                    case let .symbol(row): symbols.append(row.json)
                    case let .marker(address, text):
                        symbols.append(.object([("address", .address(address)), ("marker", .string(text))]))
                    case let .failure(message): errors.append(.string(message))
                    }
                }
            } catch {
                failure = "\(error)"
            }
            var pairs: [(String, JSONValue)] = [("symbols", .array(symbols))]
            if !errors.isEmpty { pairs.append(("errors", .array(errors))) }
            if let failure { pairs.append(("error", .string(failure))) }
            return .object(pairs)
        }
    }

    struct Options {
        var list = false
        var queries: [String] = []
        var next = false
        var previous = false
        var section = false
        var targets: [String] = []
    }

    static func parse(_ arguments: [String]) throws -> Options {
        var o = Options()
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            guard a.hasPrefix("-"), a.count > 1 else { o.targets.append(a); continue }
            var letters = Array(a.dropFirst())
            while !letters.isEmpty {
                let c = letters.removeFirst()
                switch c {
                case "l", "L": o.list = true
                case "n": o.next = true
                case "p": o.previous = true
                case "s": o.section = true
                case "q":
                    if !letters.isEmpty {
                        o.queries.append(String(letters)); letters = []
                    } else if i < arguments.count {
                        o.queries.append(arguments[i]); i += 1
                    } else {
                        throw CommandError("option -q needs a string (sym -q STRING)")
                    }
                default:
                    throw CommandError("invalid option -\(c) (usage: sym [-l] | [-q string] | [-n] [-p] [-s] symbol | address ...)")
                }
            }
        }
        if !o.list && o.queries.isEmpty && o.targets.isEmpty {
            throw CommandError("a symbol or an address is needed (usage: sym [-l] | [-q string] | [-n] [-p] [-s] symbol | address ...)")
        }
        return o
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        let options = try parse(arguments)
        let resolver = try SymbolLookup(session: session)
        var entries: [Entry] = []
        let showSection = options.section
        // crash's list, addresses and order (see `SymbolTable.crashListing`), then the modules';
        // the rows are made as they are written.
        let listing = options.list ? (kernel: resolver.table.crashListing(), modules: resolver.modules.listing()) : nil
        for q in options.queries {
            let hits = resolver.table.symbols(containing: q)
            let moduleHits = resolver.modules.symbols(containing: q)
            if hits.isEmpty && moduleHits.isEmpty { entries.append(.failure("no symbol contains \"\(q)\"")) }
            for s in hits { entries.append(.symbol(resolver.row(s, offset: 0, withSource: false, section: false))) }
            for e in moduleHits { entries.append(.symbol(resolver.row(.module(e), offset: 0, withSource: false, section: false))) }
        }
        for target in options.targets {
            let found: [(symbol: FoundSymbol, offset: UInt64)]
            do { found = try resolver.resolve(target) } catch let e as CommandError {
                entries.append(.failure(e.message)); continue
            }
            for loc in found {
                if options.previous, let p = resolver.neighbour(of: loc.symbol, after: false) {
                    entries.append(.symbol(resolver.row(p, offset: 0, withSource: !showSection, section: showSection)))
                }
                entries.append(.symbol(resolver.row(loc.symbol, offset: loc.offset, withSource: !showSection, section: showSection)))
                if options.next, let n = resolver.neighbour(of: loc.symbol, after: true) {
                    entries.append(.symbol(resolver.row(n, offset: 0, withSource: !showSection, section: showSection)))
                }
            }
        }
        // Only failures: the command failed (stderr, non-zero status), with every message.
        if listing == nil, !entries.isEmpty, entries.allSatisfy({ if case .failure = $0 { return true } else { return false } }) {
            let messages = entries.compactMap { e -> String? in if case let .failure(m) = e { return m } else { return nil } }
            throw CommandError(messages.joined(separator: "; "))
        }
        return Result(listing: listing, entries: entries, interrupted: session.interruptRequested)
    }

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        prefix.hasPrefix("-") ? [] : session.symbolCompletions(prefix: prefix)
    }
}


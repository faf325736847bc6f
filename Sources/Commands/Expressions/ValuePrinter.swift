/// Prints values the way crash's embedded gdb does with crash's settings (pretty structs, no
/// `<repeats N times>` folding, no element limit, symbolic pointers): "{\n  next = 0x0,\n ...}",
/// `"swapper/0\000..."`, `115 's'`, `0xffffffffb201aae8 <init_task+168>`.
///
/// Also renders the same value as JSON. Never follows a pointer except to show the string a
/// `char *` points to, and bounds element counts and nesting so garbage memory cannot blow up.
public struct ValuePrinter {
    /// gdb's print formats: natural, /x, /d (signed), /o, /t (binary), /c (character), and
    /// crash's `-d` (output radix 10: numbers in decimal by their own signedness).
    public enum Format: Sendable { case natural, hex, decimal, octal, binary, character, radixDecimal }

    public let source: any TypeSource
    public let memory: any MemoryReader
    public var format: Format = .natural
    /// Elements of an array in JSON (a bound against absurd sizes from damaged types).
    public var maxElements = 1 << 16
    /// Elements of an array, characters of a string, printed as text before "...": gdb's
    /// `print elements` as crash sets it (256).
    public var printElementLimit = 256
    /// Bytes read for the string a `char *` points to (gdb's print elements again).
    public var maxStringBytes = 256
    public var maxDepth = 48
    /// Values printed (text and JSON together) before the rest is elided: corrupt type information
    /// can nest a struct in itself, and `maxDepth` alone would still allow members^depth values.
    public var maxValues = 1 << 20
    private let printed = Counter()

    /// Shared by copies of one printer: the values printed so far.
    private final class Counter { var count = 0 }

    public init(source: any TypeSource, memory: any MemoryReader, format: Format = .natural) {
        self.source = source
        self.memory = memory
        self.format = format
    }

    /// Counts one value against `maxValues`; false once the budget is spent.
    private func spend() -> Bool {
        printed.count += 1
        return printed.count <= maxValues
    }

    private var formatter: DeclarationFormatter { DeclarationFormatter(source: source) }

    /// The text after "$n = ": top-level pointers carry their type in parentheses, functions
    /// their signature in braces.
    public func topLevel(_ type: CType, bytes: [UInt8], address: UInt64?) -> String {
        switch type.resolved {
        case let .pointer(target) where format == .natural:
            // gdb leaves out "(char *)" for an unnamed pointer to char: the string shows the type.
            if case .pointer = type, case let .integer(i) = target.unqualified, i.name == "char" {
                return text(type, bytes, 0, address: address, level: 0)
            }
            return "(\(formatter.name(of: type))) " + text(type, bytes, 0, address: address, level: 0)
        case .function:
            let a = address ?? 0
            return "{\(formatter.name(of: type))} " + hex(a) + symbolSuffix(a)
        default:
            return text(type, bytes, 0, address: address, level: 0)
        }
    }

    /// A member's value as crash's `struct` shows it on "  name = <value>," lines (nested lines
    /// indented for level 1).
    public func memberText(_ type: CType, bytes: [UInt8], address: UInt64?) -> String {
        text(type, bytes, 0, address: address, level: 1)
    }

    /// The value of `type` held in `bytes` at `offset`; `address` is where it lives in memory
    /// (for symbolic names of flexible arrays), `level` the nesting for indentation.
    func text(_ type: CType, _ bytes: [UInt8], _ offset: Int, address: UInt64?, level: Int) -> String {
        guard level < maxDepth, spend() else { return "{...}" }
        switch type.resolved {
        case .void:
            return "void"
        case let .integer(i):
            let raw = ValueBytes.unsigned(bytes, offset, i.size)
            return integerText(raw, i)
        case let .float(_, size):
            let raw = ValueBytes.unsigned(bytes, offset, size)
            if format != .natural, format != .radixDecimal { return numberText(raw, size: size, signed: true) }
            if size == 4 { return shortestFloat(Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw)))) }
            if size == 8 { return shortestFloat(Double(bitPattern: raw)) }
            return hex(raw)
        case let .enumeration(e):
            let raw = ValueBytes.unsigned(bytes, offset, e.size)
            let v = e.isSigned ? signExtend(raw, e.size) : raw
            if format != .natural { return numberText(v, size: e.size, signed: e.isSigned) }
            return enumText(Int64(bitPattern: v), e)
        case let .pointer(target):
            let p = ValueBytes.unsigned(bytes, offset, 8)
            if format != .natural { return numberText(p, size: 8, signed: false) }
            var s = hex(p) + symbolSuffix(p)
            if p != 0, case let .integer(i) = target.resolved, i.isCharacter {
                s += " " + pointedString(p)
            }
            return s
        case let .array(element, count):
            guard let count, count > 0 else {
                // A flexible array: gdb shows where it starts (and the string there for chars).
                let a = address ?? 0
                var s = hex(a) + symbolSuffix(a)
                if case let .integer(i) = element.resolved, i.isCharacter, format == .natural { s += " " + pointedString(a) }
                return s
            }
            guard let es = element.size, es > 0 else { return "{}" }
            let shown = min(count, printElementLimit)
            if case let .integer(i) = element.resolved, i.isCharacter, format == .natural {
                // A member offset from damaged type information can lie past the bytes read.
                let start = max(0, min(offset, bytes.count))
                var n = min(count, bytes.count - start)
                // gdb drops one trailing NUL of a whole char array (the terminator).
                if n == count, n > 0, bytes[start + n - 1] == 0 { n -= 1 }
                // gdb counts a run of one character against the limit as it goes and prints
                // every run it started: 4096 NULs print whole, 300 letters stop at 256.
                var end = 0, counted = 0
                while end < n, counted < printElementLimit {
                    let c = bytes[start + end]
                    var runEnd = end + 1
                    while runEnd < n, bytes[start + runEnd] == c { runEnd += 1 }
                    counted += runEnd - end
                    end = runEnd
                }
                let truncated = end < n || bytes.count - start < count
                n = end
                return "\"" + escaped(bytes[start..<start + n], quote: "\"") + "\"" + (truncated ? "..." : "")
            }
            var parts: [String] = []
            for k in 0..<shown {
                guard let (at, skip) = elementOffset(offset, k, es, in: bytes) else { break }
                parts.append(text(element, bytes, at, address: address.map { $0 &+ UInt64(skip) }, level: level + 1))
            }
            return "{" + parts.joined(separator: ", ") + (shown < count ? "..." : "") + "}"
        case let .record(r):
            let members = source.members(of: r)
            if members.isEmpty { return "{<No data fields>}" }
            let pad = String(repeating: "  ", count: level + 1)
            var lines: [String] = []
            for m in members {
                let v = memberValueText(m, bytes, offset, address: address, level: level + 1)
                lines.append(pad + (m.name.map { $0 + " = " } ?? "") + v)
            }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + String(repeating: "  ", count: level) + "}"
        case .function:
            return "{\(formatter.name(of: type))} " + hex(address ?? 0)
        case .typedef, .qualified:
            return "?"
        }
    }

    /// Where element `k` of `es`-byte elements starting at `offset` lies in `bytes`, and its distance
    /// from the first; nil when it does not lie wholly inside (or the arithmetic overflows: sizes come
    /// from type information).
    func elementOffset(_ offset: Int, _ k: Int, _ es: Int, in bytes: [UInt8]) -> (at: Int, skip: Int)? {
        let (skip, o1) = k.multipliedReportingOverflow(by: es)
        let (at, o2) = offset.addingReportingOverflow(skip)
        guard !o1, !o2, at >= 0, at <= bytes.count - es else { return nil }
        return (at, skip)
    }

    func memberValueText(_ m: CMember, _ bytes: [UInt8], _ offset: Int, address: UInt64?, level: Int) -> String {
        let at = offset &+ m.byteOffset
        if let bits = m.bitSize {
            let v = bitFieldValue(m, bits: bits, bytes, offset)
            // A bit field holds at most 64 bits, whatever size its (possibly damaged) type claims.
            let size = max(0, min(m.type.size ?? 8, 8))
            let b = (0..<size).map { UInt8(truncatingIfNeeded: v >> UInt64($0 * 8)) }
            return text(m.type, b, 0, address: nil, level: level)
        }
        return text(m.type, bytes, at, address: address.map { $0 &+ UInt64(m.byteOffset) }, level: level)
    }

    func bitFieldValue(_ m: CMember, bits: Int, _ bytes: [UInt8], _ offset: Int) -> UInt64 {
        let first = offset &+ m.bitOffset / 8
        let shift = m.bitOffset % 8
        let span = min(8, (shift + bits + 7) / 8)
        var v = ValueBytes.unsigned(bytes, first, span) >> UInt64(shift)
        if bits < 64 { v &= (1 << UInt64(bits)) - 1 }
        if m.type.isSignedInteger, bits < 64, bits > 0, v & (1 << UInt64(bits - 1)) != 0 { v |= ~((1 << UInt64(bits)) - 1) }
        return v
    }

    func integerText(_ raw: UInt64, _ i: CInteger) -> String {
        let v = i.isSigned ? signExtend(raw, i.size) : raw
        switch format {
        case .hex, .decimal, .octal, .binary, .character, .radixDecimal: return numberText(raw, size: i.size, signed: i.isSigned)
        case .natural:
            if i.isBool {
                if raw == 0 { return "false" }
                if raw == 1 { return "true" }
                return String(raw)
            }
            let number = i.isSigned ? String(Int64(bitPattern: v)) : String(v)
            if i.isCharacter { return number + " '" + escaped([UInt8(truncatingIfNeeded: raw)][...], quote: "'") + "'" }
            return number
        }
    }

    /// An integer of `size` bytes in the chosen format, as gdb's print_scalar_formatted: /x, /o
    /// and /t show the bits of the type's width, /d reads them signed, /c the low byte as a
    /// char of the value's signedness with its character.
    func numberText(_ v: UInt64, size: Int, signed: Bool) -> String {
        let width = max(1, min(size, 8))
        let bits = width >= 8 ? v : v & ((1 << UInt64(width * 8)) - 1)
        switch format {
        case .hex: return hex(bits)
        case .octal: return bits == 0 ? "0" : "0" + String(bits, radix: 8)
        case .binary: return String(bits, radix: 2)
        case .decimal: return String(Int64(bitPattern: signExtend(bits, width)))
        case .character:
            // The low byte as a char of the value's signedness.
            let byte = UInt8(truncatingIfNeeded: v)
            return (signed ? String(Int8(bitPattern: byte)) : String(byte)) + " '" + escaped([byte][...], quote: "'") + "'"
        case .natural, .radixDecimal: return signed ? String(Int64(bitPattern: signExtend(bits, width))) : String(bits)
        }
    }

    /// An enum value by name; flag enums as "(A | B)", gdb's way; else the number.
    func enumText(_ v: Int64, _ e: CEnum) -> String {
        if let hit = e.enumerators.first(where: { $0.value == v }) { return hit.name }
        let isFlags = !e.enumerators.isEmpty && e.enumerators.allSatisfy { $0.value > 0 && ($0.value & ($0.value - 1)) == 0 }
        if isFlags, v > 0 {
            var rest = v
            var names: [String] = []
            for en in e.enumerators where rest & en.value != 0 {
                names.append(en.name)
                rest &= ~en.value
            }
            if !names.isEmpty {
                if rest != 0 { names.append("unknown: 0x" + String(rest, radix: 16)) }
                return "(" + names.joined(separator: " | ") + ")"
            }
        }
        return String(v)
    }

    func signExtend(_ raw: UInt64, _ size: Int) -> UInt64 {
        guard size > 0, size < 8 else { return raw }
        let bits = UInt64(size * 8)
        return raw & (1 << (bits - 1)) != 0 ? raw | ~((1 << bits) - 1) : raw
    }

    func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    func shortestFloat(_ d: Double) -> String {
        if d.isNaN { return "nan(0x\(String(d.bitPattern & 0xf_ffff_ffff_ffff, radix: 16)))" }
        if d == d.rounded(), abs(d) < 1e16 { return String(Int64(d)) }
        return String(d)
    }

    /// " <sym+off>" for an address inside a kernel symbol, as gdb's `print symbol on` shows it.
    func symbolSuffix(_ address: UInt64) -> String {
        guard address != 0, let s = source.symbolName(for: address) else { return "" }
        return s.offset == 0 ? " <\(s.name)>" : " <\(s.name)+\(s.offset)>"
    }

    /// The quoted string at `address`, read up to a NUL within `maxStringBytes`; gdb's
    /// "<error: Cannot access memory at address 0x...>" when the first byte is unreadable.
    func pointedString(_ address: UInt64) -> String {
        var out: [UInt8] = []
        var at = address
        var complete = false
        while out.count < maxStringBytes {
            let pageEnd = (at | 0xfff) &+ 1
            let chunk = Int(min(UInt64(maxStringBytes - out.count), pageEnd &- at))
            guard chunk > 0, let b = try? memory.read(at, count: chunk) else {
                if out.isEmpty { return "<error: Cannot access memory at address \(hex(at))>" }
                break
            }
            if let nul = b.firstIndex(of: 0) {
                out += b[..<nul]
                complete = true
                break
            }
            out += b
            at = at &+ UInt64(chunk)
        }
        return "\"" + escaped(out[...], quote: "\"") + "\"" + (complete ? "" : "...")
    }

    /// gdb's C escapes: \a \b \f \n \r \t \v \033 \\ and the quote, octal for other
    /// non-printable bytes, and octal for a digit right after an octal escape ("\316\062", not
    /// "\3162", which would read back as one character).
    func escaped(_ bytes: ArraySlice<UInt8>, quote: Character) -> String {
        var s = ""
        s.reserveCapacity(bytes.count)
        var afterOctal = false
        for b in bytes {
            let wasAfterOctal = afterOctal
            afterOctal = false
            if wasAfterOctal, b >= 0x30, b <= 0x39 {
                s += "\\0" + String(b, radix: 8)
                afterOctal = true
                continue
            }
            switch b {
            case 7: s += "\\a"
            case 8: s += "\\b"
            case 9: s += "\\t"
            case 10: s += "\\n"
            case 11: s += "\\v"
            case 12: s += "\\f"
            case 13: s += "\\r"
            case 0x5c: s += "\\\\"
            default:
                if b == quote.asciiValue { s += "\\" + String(quote) }
                else if b >= 0x20 && b < 0x7f { s.unicodeScalars.append(Unicode.Scalar(b)) }
                else {
                    let o = String(b, radix: 8)
                    s += "\\" + String(repeating: "0", count: 3 - o.count) + o
                    afterOctal = true
                }
            }
        }
        return s
    }

    // MARK: JSON

    /// The value as JSON: members as objects (anonymous members' fields merged into their
    /// parent), arrays as arrays, char arrays as the string up to the first NUL, numbers as
    /// numbers, pointers and addresses as "0x..." strings, enums by name.
    public func json(_ type: CType, bytes: [UInt8], address: UInt64?) -> JSONValue {
        json(type, bytes, 0, address: address, level: 0)
    }

    func json(_ type: CType, _ bytes: [UInt8], _ offset: Int, address: UInt64?, level: Int) -> JSONValue {
        guard level < maxDepth, spend() else { return .null }
        switch type.resolved {
        case .void: return .null
        case let .integer(i):
            let raw = ValueBytes.unsigned(bytes, offset, i.size)
            if i.isBool { return .bool(raw != 0) }
            // A 64-bit type is a string whatever its value, so its JSON type never depends on
            // its magnitude (docs/json.md).
            if i.size >= 8 { return i.isSigned ? .wide(Int64(bitPattern: raw)) : .wide(raw) }
            return i.isSigned ? .int(Int64(bitPattern: signExtend(raw, i.size))) : .uint(raw)
        case let .float(_, size):
            let raw = ValueBytes.unsigned(bytes, offset, size)
            return .double(size == 4 ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw))) : Double(bitPattern: raw))
        case let .enumeration(e):
            let raw = ValueBytes.unsigned(bytes, offset, e.size)
            let v = Int64(bitPattern: e.isSigned ? signExtend(raw, e.size) : raw)
            if let hit = e.enumerators.first(where: { $0.value == v }) { return .string(hit.name) }
            return e.size >= 8 ? .wide(v) : .int(v)
        case .pointer:
            return .address(ValueBytes.unsigned(bytes, offset, 8))
        case let .array(element, count):
            guard let count, count > 0, let es = element.size, es > 0 else { return .address(address ?? 0) }
            let shown = min(count, maxElements)
            if case let .integer(i) = element.resolved, i.isCharacter {
                let start = max(0, min(offset, bytes.count))
                let slice = bytes[start..<start + min(shown, bytes.count - start)]
                let text = slice.prefix { $0 != 0 }
                return .string(String(decoding: text, as: UTF8.self))
            }
            var items: [JSONValue] = []
            for k in 0..<shown {
                guard let (at, skip) = elementOffset(offset, k, es, in: bytes) else { break }
                items.append(json(element, bytes, at, address: address.map { $0 &+ UInt64(skip) }, level: level + 1))
            }
            return .array(items)
        case let .record(r):
            var pairs: [(String, JSONValue)] = []
            for m in source.members(of: r) {
                let v: JSONValue
                if let bits = m.bitSize {
                    let raw = bitFieldValue(m, bits: bits, bytes, offset)
                    let size = max(0, min(m.type.size ?? 8, 8))
                    v = json(m.type, (0..<size).map { UInt8(truncatingIfNeeded: raw >> UInt64($0 * 8)) }, 0, address: nil, level: level + 1)
                } else {
                    v = json(m.type, bytes, offset &+ m.byteOffset, address: address.map { $0 &+ UInt64(m.byteOffset) }, level: level + 1)
                }
                if let name = m.name {
                    pairs.append((name, v))
                } else if case let .object(inner) = v {
                    pairs += inner
                }
            }
            return .object(pairs)
        case .function:
            return .address(address ?? 0)
        case .typedef, .qualified:
            return .null
        }
    }
}

extension CType {
    /// The type with const/volatile peeled off, typedef names kept.
    var unqualified: CType {
        var t = self
        for _ in 0..<64 {
            guard case let .qualified(inner, _, _) = t else { return t }
            t = inner
        }
        return t
    }
}

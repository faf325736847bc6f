/// A JSON document built by a command's result, with object keys kept in the order given
/// (so output is stable and reads like the text form).
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.rendered() == b.rendered() }

    /// The value of `key` in an object, or nil.
    public subscript(key: String) -> JSONValue? {
        if case let .object(pairs) = self { return pairs.first(where: { $0.0 == key })?.1 }
        return nil
    }

    /// Compact (one line) or pretty (two-space indent) JSON text.
    public func rendered(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    private func write(into out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        // JSON readers keep integers exactly only up to 2^53 (IEEE doubles): anything larger
        // is written as a decimal string, never as a number that silently loses bits.
        case let .int(i): out += i.magnitude <= JSONValue.exactIntegerLimit ? String(i) : "\"\(i)\""
        case let .uint(u): out += u <= JSONValue.exactIntegerLimit ? String(u) : "\"\(u)\""
        case let .double(d): out += d.isFinite ? String(d) : "null"
        case let .string(s): JSONValue.quote(s, into: &out)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                item.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case let .object(pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                JSONValue.quote(k, into: &out)
                out += pretty ? ": " : ":"
                v.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

extension JSONValue {
    /// The largest integer magnitude every JSON reader keeps exactly (2^53).
    public static let exactIntegerLimit: UInt64 = 1 << 53

    /// Addresses are written as "0x..." strings in JSON: 64-bit values do not survive JavaScript numbers.
    public static func address(_ v: UInt64) -> JSONValue { .string("0x" + String(v, radix: 16)) }

    /// An address that may be absent (null).
    public static func address(_ v: UInt64?) -> JSONValue { v.map { .address($0) } ?? .null }

    /// A value of a 64-bit kernel quantity whose range passes 2^53 (a C `unsigned long`, a
    /// counter): always a decimal string, so its JSON type does not depend on its value.
    public static func wide(_ v: UInt64) -> JSONValue { .string(String(v)) }

    /// The same for a signed 64-bit quantity.
    public static func wide(_ v: Int64) -> JSONValue { .string(String(v)) }

    /// One line of crashsh's JSON Lines output: `{"command": LINE, "result": RESULT}`.
    public static func resultLine(command: String, result: JSONValue) -> String {
        JSONValue.object([("command", .string(command)), ("result", result)]).rendered() + "\n"
    }

    /// One line for a command that failed: `{"command": LINE, "error": MESSAGE}`.
    public static func errorLine(command: String, message: String) -> String {
        JSONValue.object([("command", .string(command)), ("error", .string(message))]).rendered() + "\n"
    }
}

/// The C expressions crash users hand to `p` (which crash passes to gdb): symbols, member
/// chains, array indexes, `*`, `&`, casts to struct/union/typedef/base types and pointers to
/// them, integer literals, `sizeof`, unary minus and `+ - * /` on integers and pointers.
public indirect enum Expression: Sendable, Equatable, CustomStringConvertible {
    case identifier(String)
    case number(UInt64)
    /// `base.member`
    case member(Expression, String)
    /// `base->member`
    case arrow(Expression, String)
    /// `base[index]`
    case index(Expression, Expression)
    /// `*operand`
    case dereference(Expression)
    /// `&operand`
    case addressOf(Expression)
    /// `(type)operand`
    case cast(TypeName, Expression)
    case sizeofType(TypeName)
    case sizeofExpression(Expression)
    case negate(Expression)
    case binary(BinaryOperator, Expression, Expression)

    public enum BinaryOperator: String, Sendable { case add = "+", subtract = "-", multiply = "*", divide = "/" }

    public var description: String {
        switch self {
        case let .identifier(n): return n
        case let .number(v): return "0x" + String(v, radix: 16)
        case let .member(b, m): return "\(b).\(m)"
        case let .arrow(b, m): return "\(b)->\(m)"
        case let .index(b, i): return "\(b)[\(i)]"
        case let .dereference(e): return "*\(e)"
        case let .addressOf(e): return "&\(e)"
        case let .cast(t, e): return "(\(t))\(e)"
        case let .sizeofType(t): return "sizeof(\(t))"
        case let .sizeofExpression(e): return "sizeof(\(e))"
        case let .negate(e): return "-\(e)"
        case let .binary(op, a, b): return "(\(a) \(op.rawValue) \(b))"
        }
    }
}

/// A type written in an expression: a base name ("struct task_struct", "unsigned long",
/// "pid_t") with pointer stars and array dimensions ("(char (*)[16])" is not supported).
public struct TypeName: Sendable, Equatable, CustomStringConvertible {
    public var base: String
    public var pointerDepth: Int
    public var arrayDimensions: [Int]
    public init(base: String, pointerDepth: Int = 0, arrayDimensions: [Int] = []) {
        self.base = base
        self.pointerDepth = pointerDepth
        self.arrayDimensions = arrayDimensions
    }
    public var description: String {
        base + (pointerDepth > 0 ? " " + String(repeating: "*", count: pointerDepth) : "")
            + arrayDimensions.map { "[\($0)]" }.joined()
    }
}

/// A syntax error with the column it was found at.
public struct ExpressionSyntaxError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Tokens of the expression language.
enum ExpressionToken: Equatable {
    case identifier(String)
    case number(UInt64)
    case punctuation(String)
    case end
}

/// Splits expression text into tokens.
struct ExpressionLexer {
    static func tokens(_ text: String) throws -> [ExpressionToken] {
        let chars = Array(text.unicodeScalars)
        var out: [ExpressionToken] = []
        var i = 0
        func isIdentStart(_ c: Unicode.Scalar) -> Bool { c == "_" || c == "$" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        func isIdent(_ c: Unicode.Scalar) -> Bool { isIdentStart(c) || ("0"..."9").contains(c) }
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" { i += 1; continue }
            if ("0"..."9").contains(c) {
                var j = i
                while j < chars.count, isIdent(chars[j]) { j += 1 }
                var word = String(String.UnicodeScalarView(chars[i..<j])).lowercased()
                // C integer suffixes: 10UL, 0x10ull
                while let last = word.last, last == "u" || last == "l", !(word.hasPrefix("0x") && word.count > 2 && last.isHexDigit) {
                    word.removeLast()
                }
                let value: UInt64?
                if word.hasPrefix("0x") {
                    value = UInt64(word.dropFirst(2), radix: 16)
                } else if word.count > 1, word.hasPrefix("0") {
                    value = UInt64(word.dropFirst(), radix: 8)
                } else {
                    value = UInt64(word, radix: 10)
                }
                guard let value else {
                    throw ExpressionSyntaxError(message: "invalid number \"\(String(String.UnicodeScalarView(chars[i..<j])))\"")
                }
                out.append(.number(value))
                i = j
                continue
            }
            if isIdentStart(c) {
                var j = i
                while j < chars.count, isIdent(chars[j]) { j += 1 }
                out.append(.identifier(String(String.UnicodeScalarView(chars[i..<j]))))
                i = j
                continue
            }
            if c == "-", i + 1 < chars.count, chars[i + 1] == ">" {
                out.append(.punctuation("->"))
                i += 2
                continue
            }
            if "().[]*&-+/,".unicodeScalars.contains(c) {
                out.append(.punctuation(String(c)))
                i += 1
                continue
            }
            throw ExpressionSyntaxError(message: "invalid character '\(c)' in expression")
        }
        out.append(.end)
        return out
    }
}

/// Recursive-descent parser for `Expression`. `isTypeName` tells a typedef name from a variable,
/// which C needs to parse `(pid_t)x` versus `(x)`.
public struct ExpressionParser {
    private var tokens: [ExpressionToken]
    private var at = 0
    private let isTypeName: (String) -> Bool
    /// Nesting limit so that "((((...))))" of any length cannot overflow the stack.
    private let maxDepth = 200
    private var depth = 0

    static let baseTypeWords: Set<String> = ["unsigned", "signed", "char", "short", "int", "long", "void", "_Bool", "float", "double"]
    static let qualifierWords: Set<String> = ["const", "volatile"]

    /// Parses `text` whole. `isTypeName` answers whether a bare identifier names a type.
    public static func parse(_ text: String, isTypeName: @escaping (String) -> Bool = { _ in false }) throws -> Expression {
        var p = ExpressionParser(tokens: try ExpressionLexer.tokens(text), isTypeName: isTypeName)
        let e = try p.expression()
        guard p.peek == .end else { throw ExpressionSyntaxError(message: "A syntax error in expression, near `\(p.rest)'.") }
        return e
    }

    private init(tokens: [ExpressionToken], isTypeName: @escaping (String) -> Bool) {
        self.tokens = tokens
        self.isTypeName = isTypeName
    }

    private var peek: ExpressionToken { tokens[at] }
    private func peek(_ n: Int) -> ExpressionToken { at + n < tokens.count ? tokens[at + n] : .end }
    private mutating func advance() { if at < tokens.count - 1 { at += 1 } }
    private var rest: String {
        tokens[at...].compactMap { t -> String? in
            switch t {
            case let .identifier(s): return s
            case let .number(v): return String(v)
            case let .punctuation(p): return p
            case .end: return nil
            }
        }.joined()
    }

    private mutating func expect(_ p: String) throws {
        guard peek == .punctuation(p) else {
            throw ExpressionSyntaxError(message: "A syntax error in expression, near `\(rest)'.")
        }
        advance()
    }

    private mutating func expression() throws -> Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth < maxDepth else { throw ExpressionSyntaxError(message: "expression nested too deeply") }
        var lhs = try term()
        while case let .punctuation(p) = peek, p == "+" || p == "-" {
            advance()
            let rhs = try term()
            lhs = .binary(p == "+" ? .add : .subtract, lhs, rhs)
        }
        return lhs
    }

    private mutating func term() throws -> Expression {
        var lhs = try unary()
        while case let .punctuation(p) = peek, p == "*" || p == "/" {
            advance()
            let rhs = try unary()
            lhs = .binary(p == "*" ? .multiply : .divide, lhs, rhs)
        }
        return lhs
    }

    private mutating func unary() throws -> Expression {
        depth += 1
        defer { depth -= 1 }
        guard depth < maxDepth else { throw ExpressionSyntaxError(message: "expression nested too deeply") }
        switch peek {
        case .punctuation("*"):
            advance()
            return .dereference(try unary())
        case .punctuation("&"):
            advance()
            return .addressOf(try unary())
        case .punctuation("-"):
            advance()
            return .negate(try unary())
        case .punctuation("+"):
            advance()
            return try unary()
        case .identifier("sizeof"):
            advance()
            if peek == .punctuation("("), startsTypeName(peek(1)) {
                advance()
                let t = try typeName()
                try expect(")")
                return .sizeofType(t)
            }
            return .sizeofExpression(try unary())
        case .punctuation("("):
            if startsTypeName(peek(1)) {
                advance()
                let t = try typeName()
                try expect(")")
                return .cast(t, try unary())
            }
            return try postfix()
        default:
            return try postfix()
        }
    }

    private func startsTypeName(_ t: ExpressionToken) -> Bool {
        guard case let .identifier(w) = t else { return false }
        return ["struct", "union", "enum"].contains(w) || Self.baseTypeWords.contains(w)
            || Self.qualifierWords.contains(w) || isTypeName(w)
    }

    private mutating func typeName() throws -> TypeName {
        var words: [String] = []
        while case let .identifier(w) = peek {
            if Self.qualifierWords.contains(w) { advance(); continue }
            if w == "struct" || w == "union" || w == "enum" {
                advance()
                guard case let .identifier(tag) = peek else {
                    throw ExpressionSyntaxError(message: "A syntax error in expression, near `\(rest)'.")
                }
                advance()
                words = [w, tag]
                break
            }
            if Self.baseTypeWords.contains(w) { words.append(w); advance(); continue }
            if words.isEmpty, isTypeName(w) { words = [w]; advance(); break }
            break
        }
        guard !words.isEmpty else { throw ExpressionSyntaxError(message: "A syntax error in expression, near `\(rest)'.") }
        var stars = 0
        while true {
            if peek == .punctuation("*") { stars += 1; advance(); continue }
            if case let .identifier(w) = peek, Self.qualifierWords.contains(w) { advance(); continue }
            break
        }
        var dims: [Int] = []
        while peek == .punctuation("[") {
            advance()
            guard case let .number(n) = peek, n <= UInt64(Int32.max) else {
                throw ExpressionSyntaxError(message: "A syntax error in expression, near `\(rest)'.")
            }
            advance()
            try expect("]")
            dims.append(Int(n))
        }
        return TypeName(base: Self.normalizedBase(words), pointerDepth: stars, arrayDimensions: dims)
    }

    /// "long unsigned int" and "unsigned long" name one type; gdb spells it "unsigned long".
    static func normalizedBase(_ words: [String]) -> String {
        if words.first == "struct" || words.first == "union" || words.first == "enum" { return words.joined(separator: " ") }
        guard words.allSatisfy(baseTypeWords.contains) else { return words.joined(separator: " ") }
        let unsigned = words.contains("unsigned")
        let signed = words.contains("signed")
        let longs = words.filter { $0 == "long" }.count
        var core: String
        if words.contains("char") { core = "char" }
        else if words.contains("short") { core = "short" }
        else if longs >= 2 { core = "long long" }
        else if longs == 1 { core = words.contains("double") ? "long double" : "long" }
        else if words.contains("void") { return "void" }
        else if words.contains("_Bool") { return "_Bool" }
        else if words.contains("float") { return "float" }
        else if words.contains("double") { return "double" }
        else { core = "int" }
        if unsigned { return "unsigned " + core }
        if signed && core == "char" { return "signed char" }
        return core
    }

    private mutating func postfix() throws -> Expression {
        var e = try primary()
        var steps = 0
        while true {
            steps += 1
            guard steps < 10_000 else { throw ExpressionSyntaxError(message: "expression too long") }
            switch peek {
            case .punctuation("."):
                advance()
                guard case let .identifier(m) = peek else {
                    throw ExpressionSyntaxError(message: "A syntax error in expression, near `\(rest)'.")
                }
                advance()
                e = .member(e, m)
            case .punctuation("->"):
                advance()
                guard case let .identifier(m) = peek else {
                    throw ExpressionSyntaxError(message: "A syntax error in expression, near `\(rest)'.")
                }
                advance()
                e = .arrow(e, m)
            case .punctuation("["):
                advance()
                let i = try expression()
                try expect("]")
                e = .index(e, i)
            default:
                return e
            }
        }
    }

    private mutating func primary() throws -> Expression {
        switch peek {
        case let .identifier(n):
            advance()
            return .identifier(n)
        case let .number(v):
            advance()
            return .number(v)
        case .punctuation("("):
            advance()
            let e = try expression()
            try expect(")")
            return e
        case .end:
            throw ExpressionSyntaxError(message: "A syntax error in expression, near `'.")
        default:
            throw ExpressionSyntaxError(message: "A syntax error in expression, near `\(rest)'.")
        }
    }
}

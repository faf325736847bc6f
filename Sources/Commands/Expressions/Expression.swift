/// The C expressions crash users hand to `p` (which crash passes to gdb): symbols, member
/// chains, array indexes, casts, literals, `sizeof`, and C's unary, binary and conditional
/// operators.
///
/// The tree is a flat array of nodes that name their operands by index (an operand always has a
/// smaller index than the node using it), never a recursive value: `1+1+...+1` with a million
/// operands is a million-element array, which is built, walked and freed without recursion.
public struct Expression: Sendable, Equatable, CustomStringConvertible {
    public var nodes: [Node]
    /// The index of the outermost node.
    public var root: Int

    public enum Node: Sendable, Equatable {
        case identifier(String)
        case integer(IntegerLiteral)
        /// `'A'`, `'\n'`: a `char`.
        case character(UInt8)
        /// `base.member`
        case member(Int, String)
        /// `base->member`
        case arrow(Int, String)
        /// `base[index]`
        case index(Int, Int)
        case unary(UnaryOperator, Int)
        /// `(type)operand`
        case cast(TypeName, Int)
        case sizeofType(TypeName)
        case sizeofExpression(Int)
        case binary(BinaryOperator, Int, Int)
        /// `condition ? then : else`
        case conditional(Int, Int, Int)
    }

    /// An integer literal with what its suffix says (`10UL`: unsigned, one `l`).
    public struct IntegerLiteral: Sendable, Equatable {
        public var value: UInt64
        public var isUnsigned: Bool
        /// 0, 1 (`l`) or 2 (`ll`).
        public var longCount: Int
        public init(_ value: UInt64, isUnsigned: Bool = false, longCount: Int = 0) {
            self.value = value
            self.isUnsigned = isUnsigned
            self.longCount = longCount
        }
    }

    public enum UnaryOperator: String, Sendable {
        case negate = "-", plus = "+", logicalNot = "!", complement = "~"
        case dereference = "*", addressOf = "&"
        case preIncrement = "++", preDecrement = "--", postIncrement = "++ ", postDecrement = "-- "
    }

    public enum BinaryOperator: String, Sendable {
        case multiply = "*", divide = "/", remainder = "%"
        case add = "+", subtract = "-"
        case shiftLeft = "<<", shiftRight = ">>"
        case less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
        case equal = "==", notEqual = "!="
        case bitAnd = "&", bitXor = "^", bitOr = "|"
        case logicalAnd = "&&", logicalOr = "||"
        /// `a, b`
        case comma = ","
        /// gdb's `object@count`: `count` objects like `object` from its address on, as an array.
        case repeated = "@"

        /// C's precedence, higher binds tighter.
        var precedence: Int {
            switch self {
            case .multiply, .divide, .remainder: return 11
            case .add, .subtract: return 10
            case .repeated: return 9
            case .shiftLeft, .shiftRight: return 8
            case .less, .lessEqual, .greater, .greaterEqual: return 7
            case .equal, .notEqual: return 6
            case .bitAnd: return 5
            case .bitXor: return 4
            case .bitOr: return 3
            case .logicalAnd: return 2
            case .logicalOr: return 1
            case .comma: return 0
            }
        }
    }

    public var rootNode: Node { nodes[root] }

    /// The symbol name when the whole expression is one identifier.
    public var plainIdentifier: String? {
        if case let .identifier(n) = rootNode { return n }
        return nil
    }

    /// The expression written back, fully parenthesized (for diagnostics and tests). Built bottom
    /// up over the array; very large trees are summarized rather than written out.
    public var description: String {
        guard nodes.count <= 512 else { return "<expression of \(nodes.count) nodes>" }
        var text: [String] = []
        text.reserveCapacity(nodes.count)
        for node in nodes {
            switch node {
            case let .identifier(n): text.append(n)
            case let .integer(l): text.append(String(l.value) + (l.isUnsigned ? "U" : "") + String(repeating: "L", count: l.longCount))
            case let .character(c): text.append("'\\\(String(c, radix: 8))'")
            case let .member(b, m): text.append("\(text[b]).\(m)")
            case let .arrow(b, m): text.append("\(text[b])->\(m)")
            case let .index(b, i): text.append("\(text[b])[\(text[i])]")
            case let .unary(op, e):
                switch op {
                case .postIncrement, .postDecrement: text.append("(\(text[e])\(op.rawValue.dropLast()))")
                default: text.append("\(op.rawValue)\(text[e])")
                }
            case let .cast(t, e): text.append("(\(t))\(text[e])")
            case let .sizeofType(t): text.append("sizeof(\(t))")
            case let .sizeofExpression(e): text.append("sizeof(\(text[e]))")
            case let .binary(op, a, b): text.append("(\(text[a]) \(op.rawValue) \(text[b]))")
            case let .conditional(c, a, b): text.append("(\(text[c]) ? \(text[a]) : \(text[b]))")
            }
        }
        return text[root]
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
    case number(Expression.IntegerLiteral, text: String)
    case character(UInt8, text: String)
    case punctuation(String)
    case end
}

/// Splits expression text into tokens.
struct ExpressionLexer {
    /// Operators of two characters, tried before single characters (C's longest match:
    /// `x--1` is `x-- 1`).
    static let twoCharacterOperators: Set<String> = ["->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||"]
    static let oneCharacterOperators = "().[]*&-+/%,<>=!~^|?:@".unicodeScalars

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
                let written = String(String.UnicodeScalarView(chars[i..<j]))
                out.append(.number(try integerLiteral(written), text: written))
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
            if c == "'" {
                let (value, end) = try characterLiteral(chars, from: i)
                out.append(.character(value, text: String(String.UnicodeScalarView(chars[i..<end]))))
                i = end
                continue
            }
            if i + 1 < chars.count {
                let pair = String(String.UnicodeScalarView([c, chars[i + 1]]))
                if twoCharacterOperators.contains(pair) {
                    out.append(.punctuation(pair))
                    i += 2
                    continue
                }
            }
            if oneCharacterOperators.contains(c) {
                out.append(.punctuation(String(c)))
                i += 1
                continue
            }
            throw ExpressionSyntaxError(message: "Invalid character '\(c)' in expression.")
        }
        out.append(.end)
        return out
    }

    /// A C integer literal: decimal, 0x hexadecimal or 0 octal, with u/l/ul/ll/ull suffixes in
    /// any case. Digits beyond 64 bits wrap, as gdb lets them.
    static func integerLiteral(_ written: String) throws -> Expression.IntegerLiteral {
        var word = Substring(written.lowercased())
        var isUnsigned = false
        var longCount = 0
        let isHex = word.hasPrefix("0x")
        while let last = word.last, last == "u" || last == "l", word.count > (isHex ? 3 : 1) {
            if last == "u" { if isUnsigned { break }; isUnsigned = true } else { longCount += 1 }
            word.removeLast()
        }
        guard longCount <= 2 else { throw ExpressionSyntaxError(message: "Invalid number \"\(written)\".") }
        let radix: UInt64
        if isHex { word = word.dropFirst(2); radix = 16 }
        else if word.count > 1, word.hasPrefix("0") { word = word.dropFirst(); radix = 8 }
        else { radix = 10 }
        guard !word.isEmpty else { throw ExpressionSyntaxError(message: "Invalid number \"\(written)\".") }
        var value: UInt64 = 0
        for ch in word {
            guard let d = ch.hexDigitValue, UInt64(d) < radix else {
                throw ExpressionSyntaxError(message: "Invalid number \"\(written)\".")
            }
            value = value &* radix &+ UInt64(d)
        }
        return Expression.IntegerLiteral(value, isUnsigned: isUnsigned, longCount: longCount)
    }

    /// `'c'`, `'\n'`, `'\0'`, `'\101'`, `'\x41'` starting at `start` (the quote): the byte and
    /// the index after the closing quote.
    static func characterLiteral(_ chars: [Unicode.Scalar], from start: Int) throws -> (UInt8, Int) {
        let bad = ExpressionSyntaxError(message: "Unmatched single quote.")
        var i = start + 1
        guard i < chars.count else { throw bad }
        var value: UInt32
        if chars[i] == "\\" {
            i += 1
            guard i < chars.count else { throw bad }
            let e = chars[i]
            i += 1
            switch e {
            case "n": value = 10
            case "t": value = 9
            case "r": value = 13
            case "a": value = 7
            case "b": value = 8
            case "f": value = 12
            case "v": value = 11
            case "e": value = 27
            case "x":
                value = 0
                var digits = 0
                while i < chars.count, let d = Character(chars[i]).hexDigitValue { value = (value &* 16 &+ UInt32(d)) & 0xff; i += 1; digits += 1 }
                guard digits > 0 else { throw ExpressionSyntaxError(message: "\\x escape without a following hex digit") }
            case "0"..."7":
                value = e.value - 48
                var digits = 1
                while digits < 3, i < chars.count, ("0"..."7").contains(chars[i]) { value = value * 8 + chars[i].value - 48; i += 1; digits += 1 }
            default: value = e.value
            }
        } else {
            guard chars[i] != "'" else { throw ExpressionSyntaxError(message: "Empty character constant.") }
            value = chars[i].value
            i += 1
        }
        guard i < chars.count, chars[i] == "'" else { throw bad }
        return (UInt8(truncatingIfNeeded: value), i + 1)
    }
}

/// Parser for `Expression`: binary operators by precedence climbing over explicit stacks,
/// prefix operators collected in a list, so only parentheses, subscripts and `?:` nest on the
/// call stack, and those at most `maxNesting` deep. `isTypeName` tells a typedef name from a
/// variable, which C needs to parse `(pid_t)x` versus `(x)`.
public struct ExpressionParser {
    private var tokens: [ExpressionToken]
    private var at = 0
    private let isTypeName: (String) -> Bool
    private var nodes: [Expression.Node] = []
    /// How deep parentheses, subscripts and `?:` may nest: "((((...))))" of any length ends in
    /// one error instead of overflowing the stack.
    public static let maxNesting = 256
    private var nesting = 0

    static let baseTypeWords: Set<String> = ["unsigned", "signed", "char", "short", "int", "long", "void", "_Bool", "float", "double"]
    static let qualifierWords: Set<String> = ["const", "volatile"]

    /// Parses `text` whole. `isTypeName` answers whether a bare identifier names a type.
    public static func parse(_ text: String, isTypeName: @escaping (String) -> Bool = { _ in false }) throws -> Expression {
        var p = ExpressionParser(tokens: try ExpressionLexer.tokens(text), isTypeName: isTypeName)
        let root = try p.expression()
        guard p.peek == .end else { throw p.syntaxError() }
        return Expression(nodes: p.nodes, root: root)
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
            case let .number(_, text): return text
            case let .character(_, text): return text
            case let .punctuation(p): return p
            case .end: return nil
            }
        }.joined(separator: " ")
    }

    private func syntaxError() -> ExpressionSyntaxError {
        ExpressionSyntaxError(message: "A syntax error in expression, near `\(rest)'.")
    }

    private mutating func add(_ node: Expression.Node) -> Int {
        nodes.append(node)
        return nodes.count - 1
    }

    private mutating func expect(_ p: String) throws {
        guard peek == .punctuation(p) else { throw syntaxError() }
        advance()
    }

    private mutating func nest() throws {
        nesting += 1
        guard nesting <= Self.maxNesting else {
            throw ExpressionSyntaxError(message: "Expression nested more than \(Self.maxNesting) levels deep.")
        }
    }

    /// A full expression, commas included.
    private mutating func expression() throws -> Int {
        try nest()
        defer { nesting -= 1 }
        return try binaryChain(minimumPrecedence: 0)
    }

    /// A conditional expression (no top-level comma): what a subscript or `?:` branch holds.
    private mutating func conditional() throws -> Int {
        try nest()
        defer { nesting -= 1 }
        return try binaryChain(minimumPrecedence: 1)
    }

    private func binaryOperator(_ t: ExpressionToken) -> Expression.BinaryOperator? {
        guard case let .punctuation(p) = t else { return nil }
        return Expression.BinaryOperator(rawValue: p)
    }

    /// Operands and binary operators, reduced by precedence with two stacks; a `?` after them
    /// makes a conditional (right associative: its else branch is another conditional).
    private mutating func binaryChain(minimumPrecedence: Int) throws -> Int {
        var operands: [Int] = [try unary()]
        var operators: [Expression.BinaryOperator] = []
        func reduce(_ operands: inout [Int], _ operators: inout [Expression.BinaryOperator], _ nodes: inout [Expression.Node]) {
            let op = operators.removeLast()
            let rhs = operands.removeLast(), lhs = operands.removeLast()
            nodes.append(.binary(op, lhs, rhs))
            operands.append(nodes.count - 1)
        }
        while let op = binaryOperator(peek), op.precedence >= minimumPrecedence {
            advance()
            // Left associative: reduce everything that binds at least as tightly.
            while let top = operators.last, top.precedence >= op.precedence { reduce(&operands, &operators, &nodes) }
            operators.append(op)
            operands.append(try unary())
        }
        while !operators.isEmpty { reduce(&operands, &operators, &nodes) }
        var result = operands[0]
        if peek == .punctuation("?"), minimumPrecedence <= 1 {
            advance()
            let then = try expression()
            try expect(":")
            let otherwise = try conditional()
            result = add(.conditional(result, then, otherwise))
            // a ? b : c , d
            if minimumPrecedence == 0, peek == .punctuation(",") {
                advance()
                let rhs = try expression()
                result = add(.binary(.comma, result, rhs))
            }
        }
        return result
    }

    /// Prefix operators and casts, collected and applied innermost first around a postfix
    /// expression.
    private enum Prefix { case op(Expression.UnaryOperator), cast(TypeName), sizeof }

    private mutating func unary() throws -> Int {
        var prefixes: [Prefix] = []
        var operand: Int?
        loop: while true {
            switch peek {
            case .punctuation("*"): advance(); prefixes.append(.op(.dereference))
            case .punctuation("&"): advance(); prefixes.append(.op(.addressOf))
            case .punctuation("-"): advance(); prefixes.append(.op(.negate))
            case .punctuation("+"): advance(); prefixes.append(.op(.plus))
            case .punctuation("!"): advance(); prefixes.append(.op(.logicalNot))
            case .punctuation("~"): advance(); prefixes.append(.op(.complement))
            case .punctuation("++"): advance(); prefixes.append(.op(.preIncrement))
            case .punctuation("--"): advance(); prefixes.append(.op(.preDecrement))
            case .identifier("sizeof"):
                advance()
                if peek == .punctuation("("), startsTypeName(peek(1)) {
                    advance()
                    let t = try typeName()
                    try expect(")")
                    operand = add(.sizeofType(t))
                    break loop
                }
                prefixes.append(.sizeof)
            case .punctuation("("):
                if startsTypeName(peek(1)) {
                    advance()
                    let t = try typeName()
                    try expect(")")
                    prefixes.append(.cast(t))
                    continue
                }
                break loop
            default:
                break loop
            }
        }
        var e = try operand ?? postfix()
        for prefix in prefixes.reversed() {
            switch prefix {
            case let .op(op): e = add(.unary(op, e))
            case let .cast(t): e = add(.cast(t, e))
            case .sizeof: e = add(.sizeofExpression(e))
            }
        }
        return e
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
                guard case let .identifier(tag) = peek else { throw syntaxError() }
                advance()
                words = [w, tag]
                break
            }
            if Self.baseTypeWords.contains(w) { words.append(w); advance(); continue }
            if words.isEmpty, isTypeName(w) { words = [w]; advance(); break }
            break
        }
        guard !words.isEmpty else { throw syntaxError() }
        var stars = 0
        while true {
            if peek == .punctuation("*") { stars += 1; advance(); continue }
            if case let .identifier(w) = peek, Self.qualifierWords.contains(w) { advance(); continue }
            break
        }
        var dims: [Int] = []
        while peek == .punctuation("[") {
            advance()
            guard case let .number(n, _) = peek, n.value <= UInt64(Int32.max) else { throw syntaxError() }
            advance()
            try expect("]")
            dims.append(Int(n.value))
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

    private mutating func postfix() throws -> Int {
        var e = try primary()
        while true {
            switch peek {
            case .punctuation("."), .punctuation("->"):
                let arrow = peek == .punctuation("->")
                advance()
                guard case let .identifier(m) = peek else { throw syntaxError() }
                advance()
                e = add(arrow ? .arrow(e, m) : .member(e, m))
            case .punctuation("["):
                advance()
                let i = try expression()
                try expect("]")
                e = add(.index(e, i))
            case .punctuation("++"):
                advance()
                e = add(.unary(.postIncrement, e))
            case .punctuation("--"):
                advance()
                e = add(.unary(.postDecrement, e))
            default:
                return e
            }
        }
    }

    private mutating func primary() throws -> Int {
        switch peek {
        case let .identifier(n):
            guard n != "sizeof" else { throw syntaxError() }
            advance()
            return add(.identifier(n))
        case let .number(v, _):
            advance()
            return add(.integer(v))
        case let .character(c, _):
            advance()
            return add(.character(c))
        case .punctuation("("):
            advance()
            let e = try expression()
            try expect(")")
            return e
        default:
            throw syntaxError()
        }
    }
}

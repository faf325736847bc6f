/// A typed value produced by evaluating an expression: either an object in kernel memory (an
/// lvalue: a variable, a member, an array element, `*ptr`) or a computed value held as bytes.
public struct TypedValue: Sendable {
    public enum Storage: Sendable, Equatable {
        /// The object lives at this kernel virtual address.
        case memory(UInt64)
        /// A computed value, little-endian, `type.size` bytes long.
        case immediate([UInt8])
    }
    public var type: CType
    public var storage: Storage

    public init(type: CType, storage: Storage) {
        self.type = type
        self.storage = storage
    }

    public var address: UInt64? { if case let .memory(a) = storage { return a }; return nil }
}

/// Why an expression could not be evaluated, in gdb's words where gdb has them.
public struct EvaluationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Evaluates `Expression`s against a type source and kernel memory.
///
/// Pointers are only followed where the expression says so (`*`, `->`, `[]` on a pointer);
/// every read names its address when it fails.
public struct ExpressionEvaluator {
    public let source: any TypeSource
    public let memory: any MemoryReader

    /// The values `$N`, `$`, `$$` and `$$K` name (nil: no history).
    public var history: ValueHistory?

    public init(source: any TypeSource, memory: any MemoryReader, history: ValueHistory? = nil) {
        self.source = source
        self.memory = memory
        self.history = history
    }

    static let intType = CType.integer(CInteger(name: "int", size: 4, isSigned: true))
    static let longType = CType.integer(CInteger(name: "long", size: 8, isSigned: true))
    static let unsignedIntType = CType.integer(CInteger(name: "unsigned int", size: 4, isSigned: false))
    static let unsignedLongType = CType.integer(CInteger(name: "unsigned long", size: 8, isSigned: false))

    /// Parses and evaluates `text`.
    public func evaluate(_ text: String) throws -> (Expression, TypedValue) {
        let e = try ExpressionParser.parse(text, isTypeName: { [source] name in
            source.global(named: name) == nil && source.type(named: name) != nil
        })
        return (e, try evaluate(e))
    }

    public func evaluate(_ e: Expression) throws -> TypedValue {
        switch e {
        case let .identifier(name):
            if name.hasPrefix("$"), let history, let v = try history.value(named: name) { return v }
            guard let g = source.global(named: name) else {
                throw EvaluationError("No symbol \"\(name)\" in current context.")
            }
            guard let type = g.type else {
                throw EvaluationError("'\(name)' has unknown type; cast it to its declared type")
            }
            return TypedValue(type: type, storage: .memory(g.address))
        case let .number(v):
            let type: CType
            if v <= UInt64(Int32.max) { type = Self.intType }
            else if v <= UInt64(UInt32.max) { type = Self.unsignedIntType }
            else if v <= UInt64(Int64.max) { type = Self.longType }
            else { type = Self.unsignedLongType }
            return immediate(v, type)
        case let .member(base, name):
            let b = try evaluate(base)
            guard let record = b.type.record else {
                throw EvaluationError("Attempt to extract a component of a value that is not a structure.")
            }
            return try member(name, of: record, in: b)
        case let .arrow(base, name):
            let b = try evaluate(base)
            guard case let .pointer(target) = b.type.resolved else {
                if let record = b.type.record { return try member(name, of: record, in: b) }
                throw EvaluationError("The -> operator is applied to a non-pointer value.")
            }
            guard let record = target.record else {
                throw EvaluationError("Attempt to extract a component of a value that is not a structure pointer.")
            }
            let address = try scalar(b)
            return try member(name, of: record, in: TypedValue(type: target, storage: .memory(address)))
        case let .index(base, indexExpression):
            let b = try evaluate(base)
            let i = Int64(bitPattern: try scalar(try evaluate(indexExpression)))
            let element: CType
            let start: UInt64
            switch b.type.resolved {
            case let .array(e, _):
                element = e
                guard let a = b.address else {
                    throw EvaluationError("cannot index an array that is not in memory")
                }
                start = a
            case let .pointer(e):
                element = e
                start = try scalar(b)
            default:
                throw EvaluationError("cannot subscript something of type `\(DeclarationFormatter(source: source).name(of: b.type))'")
            }
            guard let size = element.size, size > 0 else {
                throw EvaluationError("cannot subscript an array of elements of unknown size")
            }
            return TypedValue(type: element, storage: .memory(start &+ UInt64(bitPattern: i &* Int64(size))))
        case let .dereference(operand):
            let v = try evaluate(operand)
            switch v.type.resolved {
            case let .pointer(target):
                if case .void = target.resolved { throw EvaluationError("Attempt to take contents of a non-pointer value.") }
                return TypedValue(type: target, storage: .memory(try scalar(v)))
            case let .array(e, _):
                guard let a = v.address else { throw EvaluationError("Attempt to take contents of a non-pointer value.") }
                return TypedValue(type: e, storage: .memory(a))
            case .function:
                return v
            default:
                throw EvaluationError("Attempt to take contents of a non-pointer value.")
            }
        case let .addressOf(operand):
            let v = try evaluate(operand)
            guard let a = v.address else { throw EvaluationError("Attempt to take address of value not located in memory.") }
            return immediate(a, .pointer(v.type))
        case let .cast(typeName, operand):
            let target = try resolve(typeName)
            let v = try evaluate(operand)
            return try cast(v, to: target)
        case let .sizeofType(typeName):
            let t = try resolve(typeName)
            guard let s = t.size else { throw EvaluationError("sizeof applied to an incomplete type") }
            return immediate(UInt64(s), Self.unsignedLongType)
        case let .sizeofExpression(operand):
            let v = try evaluate(operand)
            guard let s = v.type.size else { throw EvaluationError("sizeof applied to an incomplete type") }
            return immediate(UInt64(s), Self.unsignedLongType)
        case let .negate(operand):
            let v = try evaluate(operand)
            let t = promoted(v.type)
            return immediate(0 &- (try scalar(v)), t)
        case let .binary(op, lhs, rhs):
            return try binary(op, try evaluate(lhs), try evaluate(rhs))
        }
    }

    /// The CType for a written type name (with its stars and array dimensions).
    public func resolve(_ name: TypeName) throws -> CType {
        guard var t = source.type(named: name.base) ?? Self.builtin(name.base) else {
            if name.base.hasPrefix("struct ") || name.base.hasPrefix("union ") || name.base.hasPrefix("enum ") {
                let parts = name.base.split(separator: " ", maxSplits: 1)
                throw EvaluationError("No \(parts[0]) type named \(parts.count > 1 ? String(parts[1]) : "")." )
            }
            throw EvaluationError("No symbol \"\(name.base)\" in current context.")
        }
        for _ in 0..<name.pointerDepth { t = .pointer(t) }
        for d in name.arrayDimensions.reversed() { t = .array(t, count: d) }
        return t
    }

    /// C's base types, for when the debuginfo has no entry under the normalized name.
    static func builtin(_ name: String) -> CType? {
        switch name {
        case "void": return .void
        case "char": return .integer(CInteger(name: "char", size: 1, isSigned: true))
        case "signed char": return .integer(CInteger(name: "signed char", size: 1, isSigned: true))
        case "unsigned char": return .integer(CInteger(name: "unsigned char", size: 1, isSigned: false))
        case "short": return .integer(CInteger(name: "short", size: 2, isSigned: true))
        case "unsigned short": return .integer(CInteger(name: "unsigned short", size: 2, isSigned: false))
        case "int": return intType
        case "unsigned int": return unsignedIntType
        case "long": return longType
        case "unsigned long": return unsignedLongType
        case "long long": return .integer(CInteger(name: "long long", size: 8, isSigned: true))
        case "unsigned long long": return .integer(CInteger(name: "unsigned long long", size: 8, isSigned: false))
        case "_Bool": return .integer(CInteger(name: "_Bool", size: 1, isSigned: false))
        default: return nil
        }
    }

    /// `TypeSource.findMember`: `name` among `record`'s members, anonymous members included.
    public func findMember(_ name: String, in record: CRecord) -> (member: CMember, bitOffset: Int)? {
        source.findMember(name, in: record)
    }

    func member(_ name: String, of record: CRecord, in value: TypedValue) throws -> TypedValue {
        guard let (m, bitOffset) = findMember(name, in: record) else {
            throw EvaluationError("There is no member named \(name).")
        }
        let byteOffset = bitOffset / 8
        if let bits = m.bitSize {
            let size = m.type.size ?? 8
            let spanBits = bitOffset % 8 + bits
            let spanBytes = min(8, (spanBits + 7) / 8)
            let bytes: [UInt8]
            switch value.storage {
            case let .memory(a): bytes = try memory.read(a &+ UInt64(bitPattern: Int64(byteOffset)), count: spanBytes)
            case let .immediate(all):
                guard byteOffset >= 0, spanBytes <= all.count - byteOffset else { throw EvaluationError("bit field outside its value") }
                bytes = Array(all[byteOffset..<byteOffset + spanBytes])
            }
            let raw = ValueBytes.unsigned(bytes, 0, spanBytes) >> UInt64(bitOffset % 8)
            var v = bits >= 64 ? raw : raw & ((1 << UInt64(bits)) - 1)
            if case let .integer(i) = m.type.resolved, i.isSigned, bits < 64, v & (1 << UInt64(bits - 1)) != 0 {
                v |= ~((1 << UInt64(bits)) - 1)
            }
            return immediate(v, m.type, size: size)
        }
        switch value.storage {
        case let .memory(a):
            // Offsets from damaged type information may wrap; so does the address, as in C.
            return TypedValue(type: m.type, storage: .memory(a &+ UInt64(bitPattern: Int64(byteOffset))))
        case let .immediate(all):
            let size = m.type.size ?? 0
            guard byteOffset >= 0, size >= 0, size <= all.count - byteOffset else {
                throw EvaluationError("member \(name) lies outside the value")
            }
            return TypedValue(type: m.type, storage: .immediate(Array(all[byteOffset..<byteOffset + size])))
        }
    }

    func immediate(_ v: UInt64, _ type: CType, size: Int? = nil) -> TypedValue {
        let n = max(1, min(8, size ?? type.size ?? 8))
        return TypedValue(type: type, storage: .immediate((0..<n).map { UInt8(truncatingIfNeeded: v >> UInt64($0 * 8)) }))
    }

    /// The bytes of `value` (reading memory for lvalues), at most `limit` bytes.
    public func bytes(of value: TypedValue, limit: Int = 1 << 20) throws -> [UInt8] {
        switch value.storage {
        case let .immediate(b): return b
        case let .memory(a):
            guard let size = value.type.size else {
                // Only flexible arrays and functions have no size; anything else overflowed.
                switch value.type.resolved {
                case .array(_, nil), .function, .void: return []
                default: throw EvaluationError("value of type with no valid size (damaged type information)")
                }
            }
            guard size <= limit else {
                throw EvaluationError("value requires \(size) bytes, which is more than the \(limit) bytes crashsh prints")
            }
            return try memory.read(a, count: size)
        }
    }

    /// The value as a 64-bit scalar (sign-extended for signed types). Arrays and functions decay
    /// to their address as in C.
    public func scalar(_ v: TypedValue) throws -> UInt64 {
        switch v.type.resolved {
        case .array, .function:
            guard let a = v.address else { throw EvaluationError("value is not in memory") }
            return a
        case .record:
            throw EvaluationError("Invalid cast.")
        case .void:
            throw EvaluationError("Attempt to use a type name as an expression")
        default:
            let b = try bytes(of: v)
            guard !b.isEmpty else { throw EvaluationError("value has no size") }
            let n = min(8, b.count)
            let raw = ValueBytes.unsigned(b, 0, n)
            if n < 8, v.type.isSignedInteger, raw & (1 << UInt64(n * 8 - 1)) != 0 {
                return raw | ~((1 << UInt64(n * 8)) - 1)
            }
            return raw
        }
    }

    func cast(_ v: TypedValue, to target: CType) throws -> TypedValue {
        switch target.resolved {
        case .record, .array:
            guard let a = v.address else { throw EvaluationError("Invalid cast.") }
            return TypedValue(type: target, storage: .memory(a))
        case .void:
            return TypedValue(type: target, storage: .immediate([]))
        default:
            return immediate(try scalar(v), target)
        }
    }

    /// The C "usual arithmetic conversions", reduced to what matters here: int, long and their
    /// unsigned forms.
    func promoted(_ t: CType) -> CType {
        switch t.resolved {
        case let .integer(i):
            if i.size < 4 { return Self.intType }
            return t
        case .enumeration: return Self.intType
        case .pointer: return t
        default: return Self.longType
        }
    }

    func binary(_ op: Expression.BinaryOperator, _ a: TypedValue, _ b: TypedValue) throws -> TypedValue {
        let x = try scalar(a), y = try scalar(b)
        // Pointer arithmetic: scaled by the pointed-to size (1 for void *).
        if case let .pointer(target) = a.type.resolved, op == .add || op == .subtract {
            if case .pointer = b.type.resolved, op == .subtract {
                let s = Int64(max(1, target.size ?? 1))
                return immediate(UInt64(bitPattern: Int64(bitPattern: x &- y) / s), Self.longType)
            }
            let s = UInt64(max(1, target.size ?? 1))
            return immediate(op == .add ? x &+ y &* s : x &- y &* s, a.type)
        }
        if case let .pointer(target) = b.type.resolved, op == .add {
            return immediate(y &+ x &* UInt64(max(1, target.size ?? 1)), b.type)
        }
        let ta = promoted(a.type), tb = promoted(b.type)
        let sa = ta.size ?? 8, sb = tb.size ?? 8
        let result: CType
        if sa != sb { result = sa > sb ? ta : tb }
        else { result = ta.isSignedInteger ? tb : ta }
        let signed = result.isSignedInteger
        let value: UInt64
        switch op {
        case .add: value = x &+ y
        case .subtract: value = x &- y
        case .multiply: value = x &* y
        case .divide:
            guard y != 0 else { throw EvaluationError("Division by zero") }
            if signed {
                let (q, o) = Int64(bitPattern: x).dividedReportingOverflow(by: Int64(bitPattern: y))
                value = o ? x : UInt64(bitPattern: q)
            } else {
                value = x / y
            }
        }
        return immediate(value, result)
    }
}

extension CType {
    var isSignedInteger: Bool {
        switch resolved {
        case let .integer(i): return i.isSigned
        case let .enumeration(e): return e.isSigned
        default: return false
        }
    }
}

/// Little-endian loads from byte arrays, bounds-checked.
enum ValueBytes {
    static func unsigned(_ b: [UInt8], _ at: Int, _ count: Int) -> UInt64 {
        var v: UInt64 = 0
        var i = min(count, 8) - 1
        while i >= 0 {
            let k = at &+ i
            v = v << 8 | (k >= 0 && k < b.count ? UInt64(b[k]) : 0)
            i -= 1
        }
        return v
    }
}

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
    static let longLongType = CType.integer(CInteger(name: "long long", size: 8, isSigned: true))
    static let unsignedLongLongType = CType.integer(CInteger(name: "unsigned long long", size: 8, isSigned: false))
    static let charType = CType.integer(CInteger(name: "char", size: 1, isSigned: true))

    /// Parses and evaluates `text`.
    public func evaluate(_ text: String) throws -> (Expression, TypedValue) {
        let e = try ExpressionParser.parse(text, isTypeName: { [source] name in
            source.global(named: name) == nil && source.type(named: name) != nil
        })
        return (e, try evaluate(e))
    }

    /// Evaluates `e` without recursion: a stack of node indices, each node evaluated once its
    /// operands are. Only the operands C evaluates are evaluated (`&&`, `||` and `?:` skip the
    /// other side), so a branch not taken cannot fail the expression.
    public func evaluate(_ e: Expression) throws -> TypedValue {
        var values = [TypedValue?](repeating: nil, count: e.nodes.count)
        var stack: [Int] = [e.root]
        while let i = stack.last {
            // The operand still needed, if any; else the node's value.
            func need(_ k: Int) -> TypedValue? {
                if let v = values[k] { return v }
                stack.append(k)
                return nil
            }
            let value: TypedValue
            switch e.nodes[i] {
            case let .identifier(name):
                value = try identifier(name)
            case let .integer(literal):
                value = integerLiteral(literal)
            case let .character(c):
                value = immediate(UInt64(c), Self.charType)
            case let .member(base, name):
                guard let b = need(base) else { continue }
                guard let record = b.type.record else {
                    throw EvaluationError("Attempt to extract a component of a value that is not a structure.")
                }
                value = try member(name, of: record, in: b)
            case let .arrow(base, name):
                guard let b = need(base) else { continue }
                guard case let .pointer(target) = b.type.resolved else {
                    if let record = b.type.record { value = try member(name, of: record, in: b); break }
                    throw EvaluationError("The -> operator is applied to a non-pointer value.")
                }
                guard let record = target.record else {
                    throw EvaluationError("Attempt to extract a component of a value that is not a structure pointer.")
                }
                let address = try scalar(b)
                value = try member(name, of: record, in: TypedValue(type: target, storage: .memory(address)))
            case let .index(base, indexNode):
                guard let b = need(base), let x = need(indexNode) else { continue }
                value = try subscripted(b, x)
            case let .unary(op, operand):
                if op == .addressOf, let address = untypedData(e.nodes[operand]) {
                    value = immediate(address, .pointer(Self.dataWithoutDebugInfo))
                    break
                }
                guard let v = need(operand) else { continue }
                value = try unary(op, v)
            case let .cast(typeName, operand):
                if let address = untypedData(e.nodes[operand]) {
                    // gdb's "cast it to its declared type": the object at the symbol, read as that type.
                    let target = try resolve(typeName)
                    if case .void = target.resolved { value = TypedValue(type: target, storage: .immediate([])); break }
                    value = TypedValue(type: target, storage: .memory(address))
                    break
                }
                guard let v = need(operand) else { continue }
                value = try cast(v, to: try resolve(typeName))
            case let .sizeofType(typeName):
                let t = try resolve(typeName)
                guard let s = t.size else { throw EvaluationError("sizeof applied to an incomplete type") }
                // gdb gives sizeof the type int.
                value = immediate(UInt64(s), Self.intType)
            case let .sizeofExpression(operand):
                guard let v = need(operand) else { continue }
                guard let s = v.type.size else { throw EvaluationError("sizeof applied to an incomplete type") }
                value = immediate(UInt64(s), Self.intType)
            case let .binary(op, lhs, rhs):
                guard let a = need(lhs) else { continue }
                switch op {
                case .logicalAnd, .logicalOr:
                    let left = try truth(a)
                    if left == (op == .logicalOr) { value = immediate(left ? 1 : 0, Self.intType); break }
                    guard let b = need(rhs) else { continue }
                    value = immediate(try truth(b) ? 1 : 0, Self.intType)
                case .comma:
                    guard let b = need(rhs) else { continue }
                    value = b
                case .repeated:
                    guard let b = need(rhs) else { continue }
                    value = try repeated(a, b)
                default:
                    guard let b = need(rhs) else { continue }
                    value = try binary(op, a, b)
                }
            case let .conditional(condition, then, otherwise):
                guard let c = need(condition) else { continue }
                guard let v = need(try truth(c) ? then : otherwise) else { continue }
                value = v
            }
            values[i] = value
            stack.removeLast()
        }
        guard let result = values[e.root] else { throw EvaluationError("expression has no value") }
        return result
    }

    func identifier(_ name: String) throws -> TypedValue {
        if name.hasPrefix("$"), let history, let v = try history.value(named: name) { return v }
        guard let g = source.global(named: name) else {
            if !name.hasPrefix("$"), let constant = source.enumerator(named: name) {
                return immediate(UInt64(bitPattern: constant.value), constant.type)
            }
            throw EvaluationError("No symbol \"\(name)\" in current context.")
        }
        guard let type = g.type ?? source.guessedType(named: name) else {
            throw EvaluationError("'\(name)' has unknown type; cast it to its declared type")
        }
        return TypedValue(type: type, storage: .memory(g.address))
    }

    /// The address of a data symbol the debuginfo gives no type (a kernel global with no vmlinux:
    /// BTF types only per-cpu variables): it cannot be read as a value, but `&sym` and
    /// `(type)sym` work, as gdb allows for a minimal symbol.
    func untypedData(_ node: Expression.Node) -> UInt64? {
        guard case let .identifier(name) = node, !name.hasPrefix("$"),
              let g = source.global(named: name), g.type == nil else { return nil }
        return g.address
    }

    /// What `&sym` points to for such a symbol (`ptype &sym` in gdb: `<data variable, no debug
    /// info> *`); void underneath, so it cannot be dereferenced without a cast.
    static let dataWithoutDebugInfo = CType.typedef(name: "<data variable, no debug info>", .void)

    /// gdb's rule for a literal's type: the smallest of int, long, long long (at least what the
    /// `l` suffixes ask) whose width holds it, unsigned when the suffix says so or the value
    /// sets that type's sign bit.
    func integerLiteral(_ l: Expression.IntegerLiteral) -> TypedValue {
        let v = l.value
        let width: Int
        if l.longCount == 0, v >> 32 == 0 { width = 4 } else { width = 8 }
        let signBit: UInt64 = width == 4 ? 1 << 31 : 1 << 63
        let unsigned = l.isUnsigned || v & signBit != 0
        let type: CType
        if width == 4 { type = unsigned ? Self.unsignedIntType : Self.intType }
        else if l.longCount == 2 { type = unsigned ? Self.unsignedLongLongType : Self.longLongType }
        else { type = unsigned ? Self.unsignedLongType : Self.longType }
        return immediate(v, type)
    }

    func subscripted(_ b: TypedValue, _ x: TypedValue) throws -> TypedValue {
        // a[i] is *(a + i): either side may be the pointer.
        if isIntegral(b.type), !isIntegral(x.type) { return try subscripted(x, b) }
        guard isIntegral(x.type) else { throw EvaluationError("Argument to arithmetic operation not a number or boolean.") }
        let i = Int64(bitPattern: try scalar(x))
        let element: CType
        let start: UInt64
        switch b.type.resolved {
        case let .array(e, _):
            element = e
            guard let a = b.address else { throw EvaluationError("cannot index an array that is not in memory") }
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
    }

    func unary(_ op: Expression.UnaryOperator, _ v: TypedValue) throws -> TypedValue {
        switch op {
        case .dereference:
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
        case .addressOf:
            guard let a = v.address else { throw EvaluationError("Attempt to take address of value not located in memory.") }
            return immediate(a, .pointer(v.type))
        case .logicalNot:
            return immediate(try truth(v) ? 0 : 1, Self.intType)
        case .plus, .negate, .complement:
            let operand = try rvalue(v)
            guard let (x, type) = try arithmetic(operand) else {
                throw EvaluationError("Argument to arithmetic operation not a number or boolean.")
            }
            let r = op == .plus ? x : op == .negate ? 0 &- x : ~x
            return immediate(r, type)
        case .preIncrement, .preDecrement, .postIncrement, .postDecrement:
            throw EvaluationError("Left operand of assignment is not a modifiable lvalue: crashsh does not write to the dump.")
        }
    }

    /// `object@count`: an array of `count` objects starting at `object`'s address.
    func repeated(_ object: TypedValue, _ count: TypedValue) throws -> TypedValue {
        guard isIntegral(count.type) else { throw EvaluationError("Non-integral right operand for \"@\" operator.") }
        guard let a = object.address else { throw EvaluationError("Only values in memory can be extended with '@'.") }
        let n = Int64(bitPattern: try scalar(count))
        guard n > 0, n <= Int64(Int32.max) else { throw EvaluationError("Invalid number \(n) of repetitions.") }
        return TypedValue(type: .array(object.type, count: Int(n)), storage: .memory(a))
    }

    /// C's truth of a scalar: nonzero.
    func truth(_ v: TypedValue) throws -> Bool {
        switch v.type.resolved {
        case .integer, .enumeration, .pointer, .array, .function: return try scalar(v) != 0
        case .float: return try scalar(v) << 1 != 0
        default: throw EvaluationError("Argument to logical operation not a number or boolean.")
        }
    }

    /// Arrays and functions decay to pointers (to their first element, to the function).
    func rvalue(_ v: TypedValue) throws -> TypedValue {
        switch v.type.resolved {
        case let .array(e, _):
            guard let a = v.address else { throw EvaluationError("Attempt to take address of value not located in memory.") }
            return immediate(a, .pointer(e))
        case .function:
            guard let a = v.address else { throw EvaluationError("Attempt to take address of value not located in memory.") }
            return immediate(a, .pointer(v.type))
        default:
            return v
        }
    }

    func isIntegral(_ t: CType) -> Bool {
        switch t.resolved {
        case .integer, .enumeration: return true
        default: return false
        }
    }

    /// An integer operand after C's integer promotion (types narrower than int become int):
    /// its value sign- or zero-extended to 64 bits and its promoted type; nil for non-integers.
    func arithmetic(_ v: TypedValue) throws -> (UInt64, CType)? {
        guard let (size, signed) = integerShape(v.type) else { return nil }
        let x = try scalar(v)
        if size < 4 { return (x, Self.intType) }
        return (x, Self.integerType(size: size, signed: signed, like: v.type))
    }

    /// Width and signedness of an integer or enum type.
    func integerShape(_ t: CType) -> (Int, Bool)? {
        switch t.resolved {
        case let .integer(i): return (i.size, i.isSigned)
        case let .enumeration(e): return (e.size, e.isSigned)
        default: return nil
        }
    }

    /// The type of an arithmetic result: gdb's builtin int, unsigned int, long or unsigned long
    /// by width and signedness (`whatis jiffies+1` is "unsigned long" whatever the typedef).
    static func integerType(size: Int, signed: Bool, like t: CType) -> CType {
        switch (size, signed) {
        case (..<5, true): return intType
        case (..<5, false): return unsignedIntType
        case (_, true): return longType
        default: return unsignedLongType
        }
    }

    static func truncated(_ v: UInt64, size: Int, signed: Bool) -> UInt64 {
        guard size < 8 else { return v }
        let bits = UInt64(size * 8)
        let low = v & ((1 << bits) - 1)
        return signed && low & (1 << (bits - 1)) != 0 ? low | ~((1 << bits) - 1) : low
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
        case let .integer(i) where i.isBool:
            // Any nonzero value is true: (_Bool)5 is 1.
            return immediate(try truth(v) ? 1 : 0, target)
        default:
            return immediate(try scalar(v), target)
        }
    }

    func binary(_ op: Expression.BinaryOperator, _ left: TypedValue, _ right: TypedValue) throws -> TypedValue {
        let a = try rvalue(left), b = try rvalue(right)
        let pa: CType? = { if case let .pointer(t) = a.type.resolved { return t }; return nil }()
        let pb: CType? = { if case let .pointer(t) = b.type.resolved { return t }; return nil }()
        if pa != nil || pb != nil {
            return try pointerBinary(op, a, pa, b, pb)
        }
        guard let (x0, ta) = try arithmetic(a), let (y0, tb) = try arithmetic(b) else {
            throw EvaluationError("Argument to arithmetic operation not a number or boolean.")
        }
        // The usual arithmetic conversions: the wider type wins; of equal widths, unsigned wins.
        let (sa, signedA) = integerShape(ta) ?? (4, true), (sb, signedB) = integerShape(tb) ?? (4, true)
        let size: Int, signed: Bool, resultType: CType
        if sa != sb {
            (size, signed, resultType) = sa > sb ? (sa, signedA, ta) : (sb, signedB, tb)
        } else {
            size = sa
            signed = signedA && signedB
            resultType = signed == signedA ? ta : tb
        }
        let x = Self.truncated(x0, size: size, signed: signed), y = Self.truncated(y0, size: size, signed: signed)
        let sx = Int64(bitPattern: x), sy = Int64(bitPattern: y)
        func compare(_ r: Bool) -> TypedValue { immediate(r ? 1 : 0, Self.intType) }
        let value: UInt64
        switch op {
        case .add: value = x &+ y
        case .subtract: value = x &- y
        case .multiply: value = x &* y
        case .divide, .remainder:
            guard y != 0 else { throw EvaluationError("Division by zero") }
            if signed {
                let (q, o) = op == .divide ? sx.dividedReportingOverflow(by: sy) : sx.remainderReportingOverflow(dividingBy: sy)
                value = o ? (op == .divide ? x : 0) : UInt64(bitPattern: q)
            } else {
                let ux = Self.truncated(x, size: size, signed: false), uy = Self.truncated(y, size: size, signed: false)
                value = op == .divide ? ux / uy : ux % uy
            }
        case .shiftLeft, .shiftRight:
            // gdb shifts in 64 bits and truncates; counts outside 0..<64 are C's undefined behavior.
            guard y < 64 else { throw EvaluationError("shift count \(sy) is outside 0..63") }
            if op == .shiftLeft { value = x << y }
            else { value = signed ? UInt64(bitPattern: sx >> Int64(y)) : Self.truncated(x, size: size, signed: false) >> y }
        case .bitAnd: value = x & y
        case .bitOr: value = x | y
        case .bitXor: value = x ^ y
        case .less: return compare(signed ? sx < sy : x < y)
        case .lessEqual: return compare(signed ? sx <= sy : x <= y)
        case .greater: return compare(signed ? sx > sy : x > y)
        case .greaterEqual: return compare(signed ? sx >= sy : x >= y)
        case .equal: return compare(x == y)
        case .notEqual: return compare(x != y)
        case .logicalAnd, .logicalOr, .comma, .repeated: throw EvaluationError("internal: \(op.rawValue) handled by evaluate")
        }
        // gdb promotes only types narrower than int, so a shifted enum stays that enum
        // (`p PG_lru << 2` prints an enumerator name).
        if op == .shiftLeft || op == .shiftRight, case .enumeration = a.type.resolved, let s = a.type.size, s >= 4 {
            return immediate(value, a.type)
        }
        return immediate(value, resultType)
    }

    /// Pointer arithmetic and comparison: pointer ± integer scaled by the pointed-to size
    /// (1 for void and functions, as gdb has it), pointer − pointer of one element size in
    /// elements, comparisons of addresses; anything else is an error.
    func pointerBinary(_ op: Expression.BinaryOperator, _ a: TypedValue, _ pa: CType?, _ b: TypedValue, _ pb: CType?) throws -> TypedValue {
        func scale(_ t: CType) -> UInt64 {
            switch t.resolved {
            case .void, .function: return 1
            default: return UInt64(max(1, t.size ?? 1))
            }
        }
        let x = try scalar(a), y = try scalar(b)
        func compare(_ r: Bool) -> TypedValue { immediate(r ? 1 : 0, Self.intType) }
        switch op {
        case .add:
            if let pa, pb == nil, isIntegral(b.type) { return immediate(x &+ y &* scale(pa), a.type) }
            if let pb, pa == nil, isIntegral(a.type) { return immediate(y &+ x &* scale(pb), b.type) }
        case .subtract:
            if let pa, pb == nil, isIntegral(b.type) { return immediate(x &- y &* scale(pa), a.type) }
            if let pa, let pb {
                let s = scale(pa)
                guard s == scale(pb) else {
                    throw EvaluationError("First argument of `-' is a pointer and second argument is neither\nan integer nor a pointer of the same type.")
                }
                return immediate(UInt64(bitPattern: Int64(bitPattern: x &- y) / Int64(s)), Self.longType)
            }
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
            let okA = pa != nil || isIntegral(a.type), okB = pb != nil || isIntegral(b.type)
            guard okA, okB else { break }
            switch op {
            case .equal: return compare(x == y)
            case .notEqual: return compare(x != y)
            case .less: return compare(x < y)
            case .lessEqual: return compare(x <= y)
            case .greater: return compare(x > y)
            default: return compare(x >= y)
            }
        default:
            break
        }
        throw EvaluationError("Argument to arithmetic operation not a number or boolean.")
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

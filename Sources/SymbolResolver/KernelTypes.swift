/// Every type of the kernel: the .BTF section parsed in place (all types, milliseconds), plus
/// types built from DWARF for what BTF lacks (global variables' declarations, a vmlinux
/// without BTF). One model for both, so commands never see where a type came from.
///
/// Not thread-safe (lookups grow the table of DWARF-built types).
public final class KernelTypes {
    let btf: BTFTable?
    /// Types built in this process (from DWARF, or pointer types spelled by the user), numbered
    /// from `firstExtraID`.
    private var extra: [KType] = []
    private var extraIndex: [KType: TypeID] = [:]
    /// `enumerator(named:)` answers so far.
    private var enumeratorCache: [String: Int64?] = [:]
    /// Named struct/union/enum/typedef/base types that came from DWARF (no BTF, or missing there).
    private var extraNames: [String: [TypeID]] = [:]
    let firstExtraID: UInt32
    /// DWARF type DIE offset -> the type built for it in this table.
    var fromDWARF: [UInt64: TypeID] = [:]
    /// `alignment(of:)` answers so far.
    private var alignments: [TypeID: UInt64] = [:]
    /// For a file without .BTF: finds a named type's DWARF definition and builds it here.
    var dwarfDefinition: ((String, NameSpace) -> TypeID?)?
    /// Names whose DWARF definition is being built (building a struct looks its own name up).
    private var definitionsInProgress: Set<String> = []
    /// The loaded modules' BTF, once `useModuleBTF` gave it (see KernelTypes+ModuleBTF.swift).
    var moduleBTF: ModuleBTFLayer?
    /// For a vmlinux with both .BTF and DWARF: the members of a struct/union (name, is a union,
    /// size) that DWARF declares `x[0]` rather than `x[]` (see `compositeAsDeclared`).
    var dwarfZeroLengthArrays: ((String, Bool, UInt64) -> Set<String>?)?
    /// `compositeAsDeclared` answers for BTF structs with a 0-element array member.
    private var declaredComposites: [TypeID: Composite] = [:]

    init(btf: BTFTable?) {
        self.btf = btf
        firstExtraID = UInt32(max(1, btf?.count ?? 1))
    }

    /// The types of a .BTF section given as bytes (copied), without DWARF behind them; nil when
    /// the bytes are not a BTF section crashsh reads. For sections not read from a vmlinux file:
    /// hand-made or mutated ones in tests, a section extracted elsewhere.
    public convenience init?(btfSection bytes: [UInt8]) {
        let owned = OwnedBytes(bytes)
        guard let table = BTFTable(section: owned.view, owner: owned) else { return nil }
        self.init(btf: table)
    }

    /// Number of BTF types (ids 1 ..< btfTypeCount), 0 without .BTF.
    public var btfTypeCount: Int { btf?.count ?? 0 }

    // MARK: decoding

    /// The type `id` stands for, one level deep. Unknown ids decode as void.
    public func type(_ id: TypeID) -> KType {
        let raw = Int(id.rawValue)
        if id.rawValue >= firstExtraID {
            let i = raw - Int(firstExtraID)
            return i < extra.count ? extra[i] : .void
        }
        guard let btf, raw > 0, raw < btf.count else { return .void }
        return decode(btf, raw) { TypeID(rawValue: $0) }
    }

    /// The record `raw` of `btf` as a `KType`, with each type id it refers to given by `map`
    /// (the identity for the kernel's own table; module BTF maps its ids into this table).
    @inline(__always)
    func decode(_ btf: BTFTable, _ raw: Int, _ map: (UInt32) -> TypeID) -> KType {
        let kind = btf.kind(raw)
        let target = map(btf.sizeOrType(raw))
        switch kind {
        case BTFTable.kindInt:
            let enc = btf.u32(raw, 0)
            let flags = (enc >> 24) & 0xf
            let size = UInt64(btf.sizeOrType(raw))
            let gccName = btf.name(raw) ?? "int"
            let encoding: BaseEncoding
            if flags & 4 != 0 { encoding = .bool }
            else if flags & 2 != 0 { encoding = flags & 1 != 0 ? .signedChar : (gccName == "char" ? .signedChar : .unsignedChar) }
            else { encoding = flags & 1 != 0 ? .signed : .unsigned }
            return .base(name: KernelTypes.cSpelling(gccName), size: size, encoding: encoding)
        case BTFTable.kindFloat:
            return .base(name: btf.name(raw) ?? "double", size: UInt64(btf.sizeOrType(raw)), encoding: .float)
        case BTFTable.kindPtr:
            return .pointer(to: target)
        case BTFTable.kindArray:
            let n = btf.u32(raw, 8)
            return .array(of: map(btf.u32(raw, 0)), count: n == 0 ? nil : UInt64(n))
        case BTFTable.kindStruct, BTFTable.kindUnion:
            let bitfieldEncoding = btf.kindFlag(raw)
            var members: [Member] = []
            let n = btf.vlen(raw)
            members.reserveCapacity(n)
            for i in 0..<n {
                let nameOff = Int(btf.u32(raw, i * 12))
                let mtype = btf.u32(raw, i * 12 + 4)
                let off = btf.u32(raw, i * 12 + 8)
                let bitOffset = bitfieldEncoding ? UInt64(off & 0xff_ffff) : UInt64(off)
                let bitSize = bitfieldEncoding ? off >> 24 : 0
                members.append(Member(name: btf.string(nameOff), type: map(mtype),
                                      bitOffset: bitOffset, bitSize: bitSize))
            }
            let c = Composite(name: btf.name(raw), size: UInt64(btf.sizeOrType(raw)), members: members)
            return kind == BTFTable.kindStruct ? .structure(c) : .union(c)
        case BTFTable.kindEnum, BTFTable.kindEnum64:
            var values: [Enumerator] = []
            let n = btf.vlen(raw)
            let signed = btf.kindFlag(raw)
            for i in 0..<n {
                let value: Int64
                let nameOff: Int
                if kind == BTFTable.kindEnum {
                    nameOff = Int(btf.u32(raw, i * 8))
                    let v = btf.u32(raw, i * 8 + 4)
                    value = signed ? Int64(Int32(bitPattern: v)) : Int64(v)
                } else {
                    nameOff = Int(btf.u32(raw, i * 12))
                    value = Int64(bitPattern: UInt64(btf.u32(raw, i * 12 + 8)) << 32 | UInt64(btf.u32(raw, i * 12 + 4)))
                }
                values.append(Enumerator(name: btf.string(nameOff) ?? "", value: value))
            }
            return .enumeration(name: btf.name(raw), size: UInt64(btf.sizeOrType(raw)), isSigned: signed, values: values)
        case BTFTable.kindFwd:
            return .forward(name: btf.name(raw) ?? "", isUnion: btf.kindFlag(raw))
        case BTFTable.kindTypedef:
            return .typedef(name: btf.name(raw) ?? "", target: target)
        case BTFTable.kindVolatile: return .qualified(.volatile, target)
        case BTFTable.kindConst: return .qualified(.const, target)
        case BTFTable.kindRestrict: return .qualified(.restrict, target)
        case BTFTable.kindTypeTag, BTFTable.kindFunc, BTFTable.kindVar:
            // Tags are annotations, FUNC and VAR name an object: all stand for their target type.
            // Followed in a bounded loop: in a corrupt .BTF the chain can be a cycle.
            var next = target
            for _ in 0..<64 {
                let k = btf.kind(Int(next.rawValue))
                guard k == BTFTable.kindTypeTag || k == BTFTable.kindFunc || k == BTFTable.kindVar else { return type(next) }
                next = TypeID(rawValue: btf.sizeOrType(Int(next.rawValue)))
            }
            return .void
        case BTFTable.kindFuncProto:
            var params: [Parameter] = []
            var variadic = false
            for i in 0..<btf.vlen(raw) {
                let ptype = btf.u32(raw, i * 8 + 4)
                if ptype == 0 { variadic = true; continue }
                params.append(Parameter(name: btf.string(Int(btf.u32(raw, i * 8))), type: map(ptype)))
            }
            return .function(returns: target, parameters: params, isVariadic: variadic)
        default:
            return .void
        }
    }

    /// gcc's base type names as C programmers (and gdb, and crash) spell them.
    static func cSpelling(_ gcc: String) -> String {
        switch gcc {
        case "long unsigned int": return "unsigned long"
        case "long int": return "long"
        case "short unsigned int": return "unsigned short"
        case "short int": return "short"
        case "long long unsigned int": return "unsigned long long"
        case "long long int": return "long long"
        default: return gcc
        }
    }

    /// The reverse of `cSpelling`, with C's shorthand ("unsigned" is "unsigned int").
    static func gccSpelling(_ c: String) -> String {
        switch c {
        case "unsigned long", "unsigned long int", "long unsigned": return "long unsigned int"
        case "long", "signed long", "long signed int", "signed long int": return "long int"
        case "unsigned short", "unsigned short int": return "short unsigned int"
        case "short", "signed short", "short signed int", "signed short int": return "short int"
        case "unsigned long long", "unsigned long long int": return "long long unsigned int"
        case "long long", "signed long long", "long long signed int": return "long long int"
        case "unsigned", "unsigned int": return "unsigned int"
        case "signed", "signed int": return "int"
        case "bool": return "_Bool"
        default: return c
        }
    }

    // MARK: building (for DWARF-sourced types)

    /// Returns the id of `t`, adding it to the process-local table when it is new.
    public func intern(_ t: KType) -> TypeID {
        if t == .void { return .void }
        if let id = extraIndex[t] { return id }
        let id = TypeID(rawValue: firstExtraID + UInt32(extra.count))
        extra.append(t)
        extraIndex[t] = id
        registerName(of: t, as: id)
        return id
    }

    /// Makes a named struct/union/enum/typedef/base type built here findable by `type(named:in:)`.
    private func registerName(of t: KType, as id: TypeID) {
        switch t {
        case let .structure(c), let .union(c): if let n = c.name { extraNames[n, default: []].append(id) }
        case let .enumeration(name?, _, _, _): extraNames[name, default: []].append(id)
        case let .typedef(name, _), let .base(name, _, _): extraNames[name, default: []].append(id)
        default: break
        }
    }

    /// Reserves an id for a type whose body refers back to it (a DWARF struct with a pointer
    /// to itself); `define` fills it in.
    func reserve() -> TypeID {
        let id = TypeID(rawValue: firstExtraID + UInt32(extra.count))
        extra.append(.void)
        return id
    }

    func define(_ id: TypeID, as t: KType) {
        let i = Int(id.rawValue) - Int(firstExtraID)
        guard i >= 0, i < extra.count else { return }
        extra[i] = t
        if extraIndex[t] == nil { extraIndex[t] = id }
        registerName(of: t, as: id)
    }

    // MARK: lookup by name

    /// Which kinds a name lookup accepts.
    public enum NameSpace: Sendable {
        case structure, union, enumeration, typedef, base
    }

    /// The type called `name` in one name space (a defined struct wins over a declaration).
    public func type(named name: String, in space: NameSpace) -> TypeID? {
        var best: TypeID?
        let key = space == .base ? KernelTypes.gccSpelling(name) : name
        if let btf, let found = KernelTypes.record(named: key, in: space, of: btf) {
            if !found.isDeclaration { return TypeID(rawValue: UInt32(found.id)) }
            best = TypeID(rawValue: UInt32(found.id))
        }
        for id in extraNames[space == .base ? KernelTypes.cSpelling(key) : name] ?? [] {
            switch (space, type(id)) {
            case (.structure, .structure), (.union, .union), (.enumeration, .enumeration),
                 (.typedef, .typedef), (.base, .base):
                return id
            default: continue
            }
        }
        if best == nil, let dwarfDefinition {
            let key = "\(space):\(name)"
            guard !definitionsInProgress.contains(key) else { return nil }
            definitionsInProgress.insert(key)
            defer { definitionsInProgress.remove(key) }
            return dwarfDefinition(name, space)
        }
        return best
    }

    /// The record of `btf` called `key` in `space`: the first definition, else the first
    /// declaration (a FWD record) of a struct or union.
    static func record(named key: String, in space: NameSpace, of btf: BTFTable) -> (id: Int, isDeclaration: Bool)? {
        var declaration: Int?
        for id in btf.ids(named: key) {
            let k = btf.kind(id)
            let ok: Bool
            switch space {
            case .structure: ok = k == BTFTable.kindStruct || (k == BTFTable.kindFwd && !btf.kindFlag(id))
            case .union: ok = k == BTFTable.kindUnion || (k == BTFTable.kindFwd && btf.kindFlag(id))
            case .enumeration: ok = k == BTFTable.kindEnum || k == BTFTable.kindEnum64
            case .typedef: ok = k == BTFTable.kindTypedef
            case .base: ok = k == BTFTable.kindInt || k == BTFTable.kindFloat
            }
            guard ok else { continue }
            if k != BTFTable.kindFwd { return (id, false) }
            if declaration == nil { declaration = id }
        }
        return declaration.map { ($0, true) }
    }

    /// The type a user spells: "struct task_struct", "union rcu_special", "enum pid_type",
    /// "pid_t", "unsigned long", "list_head" (a bare name tries typedef, base type, struct,
    /// union, enum in that order), optionally followed by `*`s.
    public func type(named spelled: String) throws -> TypeID {
        try type(spelled: spelled) { type(named: $0, in: $1) }
    }

    /// `type(named:)` with each name looked up by `lookup`.
    func type(spelled: String, lookup: (String, NameSpace) -> TypeID?) throws -> TypeID {
        var text = spelled.trimmingSpaces
        var pointers = 0
        while text.hasSuffix("*") {
            pointers += 1
            text = String(text.dropLast()).trimmingSpaces
        }
        var found: TypeID?
        if text == "void" {
            found = .void
        } else if let rest = text.dropPrefixWord("struct") {
            found = lookup(rest, .structure)
        } else if let rest = text.dropPrefixWord("union") {
            found = lookup(rest, .union)
        } else if let rest = text.dropPrefixWord("enum") {
            found = lookup(rest, .enumeration)
        } else {
            let collapsed = text.split(separator: " ").joined(separator: " ")
            for space in [NameSpace.typedef, .base, .structure, .union, .enumeration] {
                if let id = lookup(collapsed, space) { found = id; break }
            }
        }
        guard var id = found else { throw SymbolError.typeNotFound(name: spelled) }
        for _ in 0..<pointers { id = pointer(to: id) }
        return id
    }

    /// The prototype of the function `name` from .BTF (a FUNC record names its FUNC_PROTO):
    /// a `.function` type. nil when BTF has no such function (no BTF, an inlined or assembly
    /// function); `KernelImage.functionType(named:)` then asks DWARF. Of several static
    /// functions with one name, BTF keeps those whose prototypes agree: the first is taken.
    public func function(named name: String) -> TypeID? {
        guard let btf else { return nil }
        for id in btf.ids(named: name) where btf.kind(id) == BTFTable.kindFunc {
            let proto = Int(btf.sizeOrType(id))
            if btf.kind(proto) == BTFTable.kindFuncProto { return TypeID(rawValue: UInt32(proto)) }
        }
        return nil
    }

    /// The value of the enumerator `name` of any enum (named or anonymous: the kernel keeps
    /// many constants such as MM_FILEPAGES in anonymous enums). The first enum declaring it wins.
    /// Each name is looked up once (a pass over the BTF records) and remembered.
    public func enumerator(named name: String) -> Int64? {
        if let known = enumeratorCache[name] { return known }
        var value = btf?.enumeratorValue(named: name)
        if value == nil { value = extraEnumerator(named: name)?.value }
        enumeratorCache[name] = value
        return value
    }

    /// The enum type that declares the enumerator `name`, and its value, for expressions
    /// (`p PG_lru`, `p MM_FILEPAGES + 1`): the kernel's BTF, then enums built from DWARF, then
    /// the loaded modules' BTF. The first enum declaring it wins.
    public func enumeratorConstant(named name: String) -> (type: TypeID, value: Int64)? {
        if let (id, value) = btf?.enumeratorRecord(named: name) { return (TypeID(rawValue: UInt32(id)), value) }
        if let found = extraEnumerator(named: name) { return found }
        return moduleEnumerator(named: name)
    }

    /// An enumerator of an enum built in this process (from DWARF).
    private func extraEnumerator(named name: String) -> (type: TypeID, value: Int64)? {
        for (i, t) in extra.enumerated() {
            if case let .enumeration(_, _, _, values) = t, let v = values.first(where: { $0.name == name }) {
                return (TypeID(rawValue: firstExtraID + UInt32(i)), v.value)
            }
        }
        return nil
    }

    /// A pointer to `target` (BTF usually has it; otherwise one is built).
    public func pointer(to target: TypeID) -> TypeID { intern(.pointer(to: target)) }

    // MARK: properties

    /// `id` without typedefs and qualifiers: what the bytes really are.
    public func resolved(_ id: TypeID) -> TypeID {
        var cur = id
        for _ in 0..<64 {
            // A kernel BTF record's kind says whether it is a typedef or qualifier without
            // decoding it (decoding task_struct builds all its members).
            if let btf, cur.rawValue > 0, cur.rawValue < firstExtraID, Int(cur.rawValue) < btf.count {
                switch btf.kind(Int(cur.rawValue)) {
                case BTFTable.kindTypedef, BTFTable.kindVolatile, BTFTable.kindConst, BTFTable.kindRestrict:
                    cur = TypeID(rawValue: btf.sizeOrType(Int(cur.rawValue)))
                    continue
                case BTFTable.kindStruct, BTFTable.kindUnion, BTFTable.kindInt, BTFTable.kindPtr, BTFTable.kindArray,
                     BTFTable.kindEnum, BTFTable.kindEnum64, BTFTable.kindFwd, BTFTable.kindFloat:
                    return cur
                default:
                    break
                }
            }
            switch type(cur) {
            case let .typedef(_, t), let .qualified(_, t): cur = t
            default: return cur
            }
        }
        return cur
    }

    /// Size in bytes; nil for void, functions and undefined (forward) types. A flexible array is 0.
    public func size(of id: TypeID) -> UInt64? {
        var cur = id
        var multiplier: UInt64 = 1
        for _ in 0..<64 {
            // A kernel BTF struct or union records its size: no need to decode its members.
            if let btf, cur.rawValue > 0, cur.rawValue < firstExtraID, Int(cur.rawValue) < btf.count,
               btf.kind(Int(cur.rawValue)) == BTFTable.kindStruct || btf.kind(Int(cur.rawValue)) == BTFTable.kindUnion {
                return UInt64(btf.sizeOrType(Int(cur.rawValue))).multipliedReportingOverflow(by: multiplier).partialValue
            }
            switch type(cur) {
            case .void, .function, .forward: return nil
            case let .base(_, size, _): return size.multipliedReportingOverflow(by: multiplier).partialValue
            case .pointer: return 8 &* multiplier
            case let .structure(c), let .union(c): return c.size.multipliedReportingOverflow(by: multiplier).partialValue
            case let .enumeration(_, size, _, _): return size &* multiplier
            case let .typedef(_, t), let .qualified(_, t): cur = t
            case let .array(elem, count):
                let (m, o) = multiplier.multipliedReportingOverflow(by: count ?? 0)
                if o { return nil }
                multiplier = m
                cur = elem
            }
        }
        return nil
    }

    /// Alignment in bytes as the x86_64 ABI lays the type out (BTF does not record it: taken
    /// from the largest member; packed structs report their natural alignment).
    public func alignment(of id: TypeID) -> UInt64 {
        alignment(of: id, depth: 0)
    }

    private func alignment(of id: TypeID, depth: Int) -> UInt64 {
        if let known = alignments[id] { return known }
        guard depth < 64 else { return 1 }
        // Memoized, and 1 while in progress: a corrupt .BTF can nest a struct in itself, and
        // without the memo a struct of n members nested k deep costs n^k.
        alignments[id] = 1
        let a: UInt64
        switch type(id) {
        case .void, .function, .forward: a = 1
        case let .base(_, size, _): a = max(1, min(size, 16))
        case .pointer: a = 8
        case let .enumeration(_, size, _, _): a = max(1, size)
        case let .typedef(_, t), let .qualified(_, t), let .array(t, _): a = alignment(of: t, depth: depth + 1)
        case let .structure(c), let .union(c):
            a = c.members.reduce(1) { max($0, alignment(of: $1.type, depth: depth + 1)) }
        }
        alignments[id] = a
        return a
    }

    /// The name of a struct/union/enum/typedef/base type as C spells it ("struct list_head",
    /// "pid_t"), or nil for anonymous and derived types.
    public func name(of id: TypeID) -> String? {
        switch type(id) {
        case .void: return "void"
        case let .base(n, _, _), let .typedef(n, _): return n
        case let .structure(c): return c.name.map { "struct \($0)" }
        case let .union(c): return c.name.map { "union \($0)" }
        case let .enumeration(n?, _, _, _): return "enum \(n)"
        case let .forward(n, isUnion): return (isUnion ? "union " : "struct ") + n
        default: return nil
        }
    }

    // MARK: members

    /// The members of a struct or union (through typedefs and qualifiers), or nil for other types.
    public func composite(_ id: TypeID) -> Composite? {
        switch type(resolved(id)) {
        case let .structure(c), let .union(c): return c
        default: return nil
        }
    }

    /// `composite(id)` with its arrays of 0 elements as the source declares them, for printing
    /// declarations and values as gdb does: `u8 x[0]` (count 0) or `T x[]` (count nil). BTF
    /// records both as 0 elements and `type(_:)` gives nil (`[]`); here a BTF struct or union
    /// that has such a member asks DWARF, once per struct, when the file has DWARF. Without
    /// DWARF (a kernel read from memory, a vmlinux stripped of debuginfo) BTF's answer stays:
    /// every such member prints `[]`. Other structs cost one look at their member types.
    public func compositeAsDeclared(_ id: TypeID) -> Composite? {
        let rid = resolved(id)
        guard let c = composite(rid) else { return nil }
        guard let btf, rid.rawValue < firstExtraID, let dwarfZeroLengthArrays, let name = c.name else { return c }
        if let known = declaredComposites[rid] { return known }
        guard c.members.contains(where: { emptyArray($0.type) != nil }) else { return c }
        let isUnion = btf.kind(Int(rid.rawValue)) == BTFTable.kindUnion
        var result = c
        if let zeroLength = dwarfZeroLengthArrays(name, isUnion, c.size), !zeroLength.isEmpty {
            let members = c.members.map { m -> Member in
                guard let n = m.name, zeroLength.contains(n), let (qualifiers, element) = emptyArray(m.type) else { return m }
                var t = intern(.array(of: element, count: 0))
                for q in qualifiers.reversed() { t = intern(.qualified(q, t)) }
                return Member(name: n, type: t, bitOffset: m.bitOffset, bitSize: m.bitSize)
            }
            result = Composite(name: c.name, size: c.size, members: members)
        }
        declaredComposites[rid] = result
        return result
    }

    /// For a member type that is an array without element count (`const char x[]` is a const
    /// array in BTF, as gcc writes it): its qualifiers, outermost first, and its element type.
    private func emptyArray(_ id: TypeID) -> (qualifiers: [Qualifier], element: TypeID)? {
        var qualifiers: [Qualifier] = []
        var current = id
        for _ in 0..<8 {
            switch type(current) {
            case let .qualified(q, inner): qualifiers.append(q); current = inner
            case let .array(element, nil): return (qualifiers, element)
            default: return nil
            }
        }
        return nil
    }

    /// Resolves `path` ("se.vruntime", "pid_links[1].next", "rcu") inside `id`, looking through
    /// anonymous struct and union members; the offset is from the start of `id`.
    public func member(_ path: String, in id: TypeID) throws -> MemberPath {
        var cur = id
        var bitOffset: UInt64 = 0
        var bitSize: UInt32 = 0
        var lastName = ""
        // For errors only (naming a struct decodes it).
        var typeName: String { name(of: id) ?? "type" }
        for component in path.split(separator: ".", omittingEmptySubsequences: false) {
            // "name[2][3]": the member, then array indexes.
            var part = Substring(component)
            var indexes: [UInt64] = []
            while part.hasSuffix("]"), let open = part.lastIndex(of: "[") {
                let inner = part[part.index(after: open)..<part.index(before: part.endIndex)]
                guard let n = parseNumber(String(inner)) else { throw SymbolError.memberNotFound(type: typeName, member: path) }
                indexes.insert(n, at: 0)
                part = part[..<open]
            }
            let memberName = String(part)
            var searched = Set<TypeID>()
            guard !memberName.isEmpty,
                  let (m, off) = findMember(memberName, in: cur, depth: 0, searched: &searched) else {
                throw SymbolError.memberNotFound(type: name(of: cur) ?? typeName, member: memberName)
            }
            bitOffset &+= off
            bitSize = m.bitSize
            cur = m.type
            lastName = memberName
            for index in indexes {
                guard case let .array(elem, _) = type(resolved(cur)), let elemSize = size(of: elem) else {
                    throw SymbolError.memberNotFound(type: typeName, member: "\(memberName)[\(index)]")
                }
                bitOffset &+= index &* elemSize &* 8
                cur = elem
                bitSize = 0
            }
        }
        return MemberPath(path: path, name: lastName, type: cur, bitOffset: bitOffset, bitSize: bitSize)
    }

    /// Finds `name` among the members of `id`, descending into anonymous members; returns the
    /// member and its bit offset from the start of `id`.
    /// `searched` holds the composites already looked through: one that did not hold the name
    /// will not the second time, and a corrupt .BTF can make anonymous members a cycle (or a DAG
    /// that is exponential to walk as a tree).
    private func findMember(_ name: String, in id: TypeID, depth: Int, searched: inout Set<TypeID>) -> (Member, UInt64)? {
        let rid = resolved(id)
        guard depth < 32, searched.insert(rid).inserted else { return nil }
        if let btf, rid.rawValue > 0, rid.rawValue < firstExtraID, Int(rid.rawValue) < btf.count,
           btf.kind(Int(rid.rawValue)) == BTFTable.kindStruct || btf.kind(Int(rid.rawValue)) == BTFTable.kindUnion {
            return findBTFMember(name, in: btf, Int(rid.rawValue), depth: depth, searched: &searched)
        }
        guard let c = composite(id) else { return nil }
        for m in c.members where m.name == name { return (m, m.bitOffset) }
        for m in c.members where m.name == nil {
            if let (inner, off) = findMember(name, in: m.type, depth: depth + 1, searched: &searched) {
                return (inner, m.bitOffset &+ off)
            }
        }
        return nil
    }

    /// `findMember` over a kernel BTF struct or union record, comparing member names in place
    /// (the same order: named members first, then into anonymous ones), so that finding
    /// `task_struct.pid` does not decode task_struct's hundreds of members.
    private func findBTFMember(_ name: String, in btf: BTFTable, _ raw: Int, depth: Int,
                               searched: inout Set<TypeID>) -> (Member, UInt64)? {
        let n = btf.vlen(raw)
        let bitfieldEncoding = btf.kindFlag(raw)
        func member(_ i: Int) -> Member {
            let off = btf.u32(raw, i * 12 + 8)
            return Member(name: btf.string(Int(btf.u32(raw, i * 12))), type: TypeID(rawValue: btf.u32(raw, i * 12 + 4)),
                          bitOffset: bitfieldEncoding ? UInt64(off & 0xff_ffff) : UInt64(off),
                          bitSize: bitfieldEncoding ? off >> 24 : 0)
        }
        let named: Int? = name.withBytes { key in
            guard key.count > 0 else { return nil }
            for i in 0..<n where btf.stringEquals(Int(btf.u32(raw, i * 12)), key) { return i }
            return nil
        }
        if let named {
            let m = member(named)
            return (m, m.bitOffset)
        }
        for i in 0..<n where btf.string(Int(btf.u32(raw, i * 12))) == nil {
            let m = member(i)
            if let (inner, off) = findMember(name, in: m.type, depth: depth + 1, searched: &searched) {
                return (inner, m.bitOffset &+ off)
            }
        }
        return nil
    }

    /// Names of struct, union, enum and typedef types starting with `prefix` (completion).
    public func typeNames(withPrefix prefix: String) -> [String] {
        var out = Set<String>()
        if let btf { Self.typeNames(in: btf, withPrefix: prefix, into: &out) }
        for n in extraNames.keys where n.hasPrefix(prefix) { out.insert(n) }
        moduleTypeNames(withPrefix: prefix, into: &out)
        return out.sorted()
    }

    /// The struct, union, typedef and enum names of one BTF table starting with `prefix`.
    static func typeNames(in btf: BTFTable, withPrefix prefix: String, into out: inout Set<String>) {
        for id in 1..<max(1, btf.count) {
            let k = btf.kind(id)
            guard k == BTFTable.kindStruct || k == BTFTable.kindUnion || k == BTFTable.kindTypedef
                    || k == BTFTable.kindEnum || k == BTFTable.kindEnum64,
                  let n = btf.name(id), n.hasPrefix(prefix) else { continue }
            out.insert(n)
        }
    }
}

/// Parses "12", "0x1f".
func parseNumber(_ s: String) -> UInt64? {
    let t = s.trimmingSpaces
    if t.hasPrefix("0x") || t.hasPrefix("0X") { return UInt64(t.dropFirst(2), radix: 16) }
    return UInt64(t)
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }

    /// "struct foo" with word "struct" gives "foo"; nil when the string does not start with the word.
    func dropPrefixWord(_ word: String) -> String? {
        guard hasPrefix(word + " ") else { return nil }
        let rest = String(dropFirst(word.count)).trimmingSpaces
        return rest.isEmpty ? nil : rest
    }
}

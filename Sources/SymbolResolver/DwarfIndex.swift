import CDwarf
#if canImport(Glibc)
import Glibc
#endif

/// A source position from the DWARF line table.
public struct SourceLine: Sendable, Hashable, CustomStringConvertible {
    /// The file as the line table names it ("debian/build/.../kernel/sched/core.c").
    public let file: String
    public let line: Int
    public let column: Int
    /// crash's form: "FILE: LINE".
    public var description: String { "\(file): \(line)" }
}

/// One address range of .debug_aranges: which compile unit holds the code at `start ..< end`.
struct AddressRange {
    var start: UInt64
    var end: UInt64
    var unit: UInt64
}

/// libdw over the vmlinux, used only for what BTF and .symtab cannot answer: line numbers and
/// global variables' declarations. Nothing here walks all of DWARF unless a question needs it.
final class DwarfIndex {
    let image: ELFImage
    let dwarf: OpaquePointer
    /// The dwz common file (`.gnu_debugaltlink`) and its libdw handle, when the file has one:
    /// libdw follows DW_FORM_*_sup/GNU_*_alt references into it.
    private let alternate: (image: ELFImage, dwarf: OpaquePointer)?
    /// DIEs the current top-level `translate` may still build (see there).
    private var translationBudget = 0
    /// Added to DIE offsets in `KernelTypes.fromDWARF`, so that files translated into one
    /// `KernelTypes` (the vmlinux, modules) keep apart: 0 for the vmlinux, distinct per module.
    var typeKeyBase: UInt64 = 0

    init?(image: ELFImage, debugRoots: [String] = []) {
        guard image.section(named: ".debug_info") != nil else { return nil }
        image.inflateDebugSectionsForLibdw()
        guard let d = dwarf_begin_elf(image.elf, DWARF_C_READ, nil) else { return nil }
        self.image = image
        dwarf = d
        if let alt = SeparateDebugInfo(roots: debugRoots).findAlternate(for: image) {
            alt.inflateDebugSectionsForLibdw()
            if let altDwarf = dwarf_begin_elf(alt.elf, DWARF_C_READ, nil) {
                dwarf_setalt(d, altDwarf)
                alternate = (alt, altDwarf)
            } else {
                alternate = nil
            }
        } else {
            alternate = nil
        }
    }

    /// Whether DWARF the file refers to in a dwz common file is reachable.
    var hasAlternate: Bool { alternate != nil }

    deinit {
        dwarf_end(dwarf)
        if let alternate { dwarf_end(alternate.dwarf) }
    }

    /// .debug_aranges parsed directly (libdw's dwarf_getaranges also reads every unit header,
    /// which costs 2-10x more), sorted by start address.
    private(set) lazy var ranges: [AddressRange] = {
        guard let s = image.section(named: ".debug_aranges"), let b = image.bytes(of: s) else { return [] }
        var out: [AddressRange] = []
        out.reserveCapacity(b.count / 16)
        var at = 0
        while at < b.count {
            guard var length = b.u32(at).map(UInt64.init) else { break }
            var headerAt = at + 4
            var offsetSize = 4
            if length == 0xffff_ffff {
                guard let l = b.u64(at + 4) else { break }
                length = l
                headerAt = at + 12
                offsetSize = 8
            }
            guard length <= UInt64(b.count - headerAt) else { break }
            let setEnd = headerAt + Int(length)
            guard let unit = offsetSize == 4 ? b.u32(headerAt + 2).map(UInt64.init) : b.u64(headerAt + 2),
                  let addressSize = b.u8(headerAt + 2 + offsetSize), addressSize == 8 else {
                at = setEnd
                continue
            }
            // Tuples start at the first multiple of twice the address size from the set start.
            var t = headerAt + 2 + offsetSize + 2
            let align = 16
            let rel = t - at
            t = at + (rel + align - 1) / align * align
            while t + 16 <= setEnd, let start = b.u64(t), let len = b.u64(t + 8) {
                t += 16
                if start == 0 && len == 0 { break }
                if len == 0 { continue }
                out.append(AddressRange(start: start, end: start &+ len, unit: unit))
            }
            at = setEnd
        }
        out.sort { $0.start < $1.start }
        return out
    }()

    /// The compile unit (offset of its header in .debug_info) whose code covers `address`.
    func unit(containing address: UInt64) -> UInt64? {
        let r = ranges
        var lo = 0, hi = r.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if r[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        // Ranges may nest or overlap slightly; look back a few for one that contains it.
        var i = lo - 1
        var tries = 0
        while i >= 0, tries < 8 {
            if address >= r[i].start && address < r[i].end { return r[i].unit }
            i -= 1
            tries += 1
        }
        return nil
    }

    /// The unit DIE of the unit whose header is at `offset`, and the next unit's offset.
    func unitDIE(at offset: UInt64) -> (die: Dwarf_Die, next: UInt64)? {
        var next: Dwarf_Off = 0
        var headerSize = 0
        var version: Dwarf_Half = 0
        var abbrev: Dwarf_Off = 0
        var addressSize: UInt8 = 0, offsetSize: UInt8 = 0
        guard dwarf_next_unit(dwarf, offset, &next, &headerSize, &version, &abbrev, &addressSize,
                              &offsetSize, nil, nil) == 0 else { return nil }
        var die = Dwarf_Die()
        guard dwarf_offdie(dwarf, offset &+ UInt64(headerSize), &die) != nil else { return nil }
        return (die, next)
    }

    /// Line tables of the units asked about, gdb-style (see `UnitLineTable`); a few are kept.
    private var lineTables: [UInt64: UnitLineTable] = [:]

    /// File and line of the code at link-time `address`, chosen among the line table's rows as
    /// gdb chooses them (what crash prints), not the last row at the address.
    func sourceLine(at address: UInt64) -> SourceLine? {
        guard let unit = unit(containing: address), var cu = unitDIE(at: unit)?.die else { return nil }
        let table: UnitLineTable
        if let t = lineTables[unit] {
            table = t
        } else {
            table = lineTable(unit: &cu) ?? UnitLineTable()
            if lineTables.count >= 16 { lineTables.removeAll(keepingCapacity: true) }
            lineTables[unit] = table
        }
        guard let (file, entry) = table.lookup(address) else { return nil }
        var path = file
        // Relative names are relative to the unit's compilation directory (what addr2line prints).
        if !path.hasPrefix("/") {
            var attr = Dwarf_Attribute()
            if dwarf_attr(&cu, UInt32(DW_AT_comp_dir), &attr) != nil, let dir = dwarf_formstring(&attr) {
                let d = String(cString: dir)
                if !d.isEmpty && d != "." { path = d.hasSuffix("/") ? d + path : d + "/" + path }
            }
        }
        return SourceLine(file: path, line: Int(entry.line), column: Int(entry.column))
    }

    // MARK: variables

    /// Calls `body` with each top-level child DIE of the unit whose header is at `unitOffset`;
    /// `body` returns false to stop. Returns the next unit's offset.
    @discardableResult
    func forEachTopLevelDIE(unitOffset: UInt64, _ body: (inout Dwarf_Die) -> Bool) -> UInt64? {
        guard let unit = unitDIE(at: unitOffset) else { return nil }
        var cu = unit.die
        let next = unit.next
        var child = Dwarf_Die()
        guard dwarf_child(&cu, &child) == 0 else { return next }
        var guardCount = 0
        while guardCount < 10_000_000 {
            guardCount += 1
            if !body(&child) { return next }
            var sibling = Dwarf_Die()
            let r = withUnsafeMutablePointer(to: &child) { dwarf_siblingof($0, &sibling) }
            if r != 0 { break }
            child = sibling
        }
        return next
    }

    /// A top-level DW_TAG_variable called `name` (a definition preferred over a declaration)
    /// in the units from `first` up to and including `last`; with `address`, a variable whose
    /// location is that address also matches (a linker alias like jiffies = jiffies_64).
    func findVariable(named name: String, address: UInt64?, units first: UInt64, through last: UInt64,
                      stopAtDeclaration: Bool) -> Dwarf_Die? {
        var definition: Dwarf_Die?
        var declaration: Dwarf_Die?
        var byAddress: Dwarf_Die?
        var offset = first
        var visited = 0
        name.withCString { key in
            while offset <= last, visited < 100_000 {
                visited += 1
                guard let next = forEachTopLevelDIE(unitOffset: offset, { die in
                    guard dwarf_tag(&die) == Int32(DW_TAG_variable) else { return true }
                    if let n = dwarf_diename(&die), strcmp(n, key) == 0 {
                        if isDeclaration(&die) {
                            if declaration == nil { declaration = die }
                        } else {
                            definition = die
                            return false
                        }
                    } else if byAddress == nil, let address, locationAddress(&die) == address {
                        byAddress = die
                    }
                    return true
                }) else { break }
                if definition != nil || (stopAtDeclaration && declaration != nil) { break }
                if next <= offset { break }
                offset = next
            }
        }
        return definition ?? declaration ?? byAddress
    }

    /// The DW_TAG_subprogram defining `name` among the top-level DIEs of the unit whose code
    /// covers `address`: the one starting at `address` when several share the name.
    func findFunction(named name: String, address: UInt64) -> Dwarf_Die? {
        guard let unit = unit(containing: address) else { return nil }
        var byName: Dwarf_Die?
        var atAddress: Dwarf_Die?
        // The walk's result (the next unit's offset) is not needed: the DIEs found are.
        _ = name.withCString { key in
            forEachTopLevelDIE(unitOffset: unit) { die in
                guard dwarf_tag(&die) == Int32(DW_TAG_subprogram), let n = dwarf_diename(&die), strcmp(n, key) == 0,
                      !isDeclaration(&die) else { return true }
                var low: Dwarf_Addr = 0
                if dwarf_lowpc(&die, &low) == 0, low == address {
                    atAddress = die
                    return false
                }
                if byName == nil { byName = die }
                return true
            }
        }
        return atAddress ?? byName
    }

    func isDeclaration(_ die: inout Dwarf_Die) -> Bool {
        var attr = Dwarf_Attribute()
        var flag = false
        guard dwarf_attr(&die, UInt32(DW_AT_declaration), &attr) != nil else { return false }
        return dwarf_formflag(&attr, &flag) == 0 && flag
    }

    /// The address of a variable whose location is a single DW_OP_addr.
    func locationAddress(_ die: inout Dwarf_Die) -> UInt64? {
        var attr = Dwarf_Attribute()
        guard dwarf_attr(&die, UInt32(DW_AT_location), &attr) != nil else { return nil }
        var ops: UnsafeMutablePointer<Dwarf_Op>? = nil
        var count = 0
        guard dwarf_getlocation(&attr, &ops, &count) == 0, count == 1, let op = ops?.pointee,
              op.atom == UInt8(DW_OP_addr) else { return nil }
        return op.number
    }

    // MARK: types

    /// The type of `die` (a variable or member): its DW_AT_type translated into `types`.
    func typeOf(_ die: inout Dwarf_Die, into types: KernelTypes) -> TypeID {
        var attr = Dwarf_Attribute()
        var target = Dwarf_Die()
        guard dwarf_attr_integrate(&die, UInt32(DW_AT_type), &attr) != nil,
              dwarf_formref_die(&attr, &target) != nil else { return .void }
        return translate(&target, into: types, depth: 0)
    }

    private func udata(_ die: inout Dwarf_Die, _ at: Int) -> UInt64? {
        var attr = Dwarf_Attribute()
        var v: Dwarf_Word = 0
        guard dwarf_attr_integrate(&die, UInt32(at), &attr) != nil, dwarf_formudata(&attr, &v) == 0 else { return nil }
        return v
    }

    /// Builds the model type for a DWARF type DIE. Named structs, unions, enums, typedefs and
    /// base types map to the BTF type of the same name (and size) when there is one.
    func translate(_ die: inout Dwarf_Die, into types: KernelTypes, depth: Int) -> TypeID {
        let key = typeKey(&die)
        if let id = types.fromDWARF[key] { return id }
        // Only structs are memoized before their parts are built, so corrupt DWARF (a subroutine
        // type whose parameters refer back to it) could rebuild a type params^48 times: each
        // top-level translation may build a bounded number of DIEs (real ones need thousands).
        if depth == 0 { translationBudget = 1 << 20 }
        guard depth < 48, translationBudget > 0 else { return .void }
        translationBudget -= 1
        let tag = Int(dwarf_tag(&die))
        let name = dwarf_diename(&die).map { String(cString: $0) }
        let size = udata(&die, DW_AT_byte_size)
        var result: TypeID
        switch tag {
        case DW_TAG_base_type:
            if let name, let id = types.type(named: KernelTypes.cSpelling(name), in: .base), types.size(of: id) == size {
                result = id
            } else {
                let enc = udata(&die, DW_AT_encoding) ?? 0
                let encoding: BaseEncoding
                switch Int(enc) {
                case DW_ATE_boolean: encoding = .bool
                case DW_ATE_float: encoding = .float
                case DW_ATE_signed_char: encoding = .signedChar
                case DW_ATE_unsigned_char: encoding = .unsignedChar
                case DW_ATE_signed: encoding = .signed
                default: encoding = .unsigned
                }
                result = types.intern(.base(name: KernelTypes.cSpelling(name ?? "?"), size: size ?? 0, encoding: encoding))
            }
        case DW_TAG_pointer_type:
            result = types.intern(.pointer(to: typeOf(&die, into: types, depth: depth)))
        case DW_TAG_const_type, DW_TAG_volatile_type, DW_TAG_restrict_type:
            let q: Qualifier = tag == DW_TAG_const_type ? .const : tag == DW_TAG_volatile_type ? .volatile : .restrict
            result = types.intern(.qualified(q, typeOf(&die, into: types, depth: depth)))
        case DW_TAG_typedef:
            if let name, let id = types.type(named: name, in: .typedef) {
                result = id
            } else {
                result = types.intern(.typedef(name: name ?? "?", target: typeOf(&die, into: types, depth: depth)))
            }
        case DW_TAG_structure_type, DW_TAG_union_type, DW_TAG_class_type:
            let isUnion = tag == DW_TAG_union_type
            if let name, let id = types.type(named: name, in: isUnion ? .union : .structure),
               size == nil || types.size(of: id) == size {
                result = id
            } else if let name, size == nil || isDeclaration(&die) {
                result = types.intern(.forward(name: name, isUnion: isUnion))
            } else {
                let id = types.reserve()
                types.fromDWARF[key] = id
                var members: [Member] = []
                forEachChild(&die) { m in
                    guard dwarf_tag(&m) == Int32(DW_TAG_member) else { return }
                    let mname = dwarf_diename(&m).map { String(cString: $0) }
                    let mtype = typeOf(&m, into: types, depth: depth + 1)
                    var bitOffset = (udata(&m, DW_AT_data_member_location) ?? 0) &* 8
                    if let dbo = udata(&m, DW_AT_data_bit_offset) { bitOffset = dbo }
                    let bitSize = UInt32(truncatingIfNeeded: udata(&m, DW_AT_bit_size) ?? 0)
                    members.append(Member(name: mname, type: mtype, bitOffset: bitOffset, bitSize: bitSize))
                }
                let c = Composite(name: name, size: size ?? 0, members: members)
                types.define(id, as: isUnion ? .union(c) : .structure(c))
                result = id
            }
        case DW_TAG_enumeration_type:
            if let name, let id = types.type(named: name, in: .enumeration) {
                result = id
            } else {
                var values: [Enumerator] = []
                var signed = false
                forEachChild(&die) { e in
                    guard dwarf_tag(&e) == Int32(DW_TAG_enumerator) else { return }
                    var attr = Dwarf_Attribute()
                    var v: Dwarf_Sword = 0
                    if dwarf_attr(&e, UInt32(DW_AT_const_value), &attr) != nil, dwarf_formsdata(&attr, &v) == 0 {
                        if v < 0 { signed = true }
                    }
                    values.append(Enumerator(name: dwarf_diename(&e).map { String(cString: $0) } ?? "", value: Int64(v)))
                }
                result = types.intern(.enumeration(name: name, size: size ?? 4, isSigned: signed, values: values))
            }
        case DW_TAG_array_type:
            let elem = typeOf(&die, into: types, depth: depth)
            var counts: [UInt64?] = []
            forEachChild(&die) { s in
                guard dwarf_tag(&s) == Int32(DW_TAG_subrange_type) else { return }
                if let c = udata(&s, DW_AT_count) { counts.append(c) }
                else if let u = udata(&s, DW_AT_upper_bound) { counts.append(u &+ 1) }
                else { counts.append(nil) }
            }
            if counts.isEmpty { counts = [nil] }
            var t = elem
            for c in counts.reversed() { t = types.intern(.array(of: t, count: c)) }
            result = t
        case DW_TAG_subroutine_type, DW_TAG_subprogram:
            // A subprogram (a function's definition) has the shape of its type: the return type
            // and formal parameters, among other children that are skipped here.
            let ret = typeOf(&die, into: types, depth: depth)
            var params: [Parameter] = []
            var variadic = false
            forEachChild(&die) { p in
                let t = Int(dwarf_tag(&p))
                if t == DW_TAG_unspecified_parameters { variadic = true }
                if t == DW_TAG_formal_parameter {
                    params.append(Parameter(name: dwarf_diename(&p).map { String(cString: $0) },
                                            type: typeOf(&p, into: types, depth: depth + 1)))
                }
            }
            result = types.intern(.function(returns: ret, parameters: params, isVariadic: variadic))
        default:
            result = .void
        }
        types.fromDWARF[key] = result
        return result
    }

    /// The `fromDWARF` key of a DIE: its offset, marked when it lives in the dwz common file
    /// (whose offsets overlap the file's own), plus this file's `typeKeyBase`.
    private func typeKey(_ die: inout Dwarf_Die) -> UInt64 {
        var key = dwarf_dieoffset(&die) & ((1 << 40) - 1)
        if let alternate, let cu = die.cu, dwarf_cu_getdwarf(cu) == alternate.dwarf { key |= 1 << 40 }
        return key | typeKeyBase
    }

    /// The type `spelled` ("struct virtio_blk", "union u", "enum e", a typedef name) defined at
    /// the top level of any unit, translated into `types`; nil when no unit defines it. Walks
    /// every unit's top-level DIEs: meant for module objects, which have a few units.
    func findType(spelled: String, into types: KernelTypes) -> TypeID? {
        var tag = DW_TAG_typedef
        var name = Substring(spelled)
        for (prefix, t) in [("struct ", DW_TAG_structure_type), ("union ", DW_TAG_union_type), ("enum ", DW_TAG_enumeration_type)]
        where spelled.hasPrefix(prefix) {
            tag = t
            name = spelled.dropFirst(prefix.count)
        }
        guard var die = firstTopLevelDefinition(tag: tag, named: String(name)) else { return nil }
        return translate(&die, into: types, depth: 0)
    }

    /// The first definition (not a declaration) of a type DIE with this tag and name at the top
    /// level of a unit, in unit order; the walk stops there, so a type that most units define
    /// (through a common header) is found in the first few.
    private func firstTopLevelDefinition(tag: Int, named name: String) -> Dwarf_Die? {
        var found: Dwarf_Die?
        var offset: UInt64 = 0
        var units = 0
        name.withCString { key in
            while found == nil, units < 1_000_000 {
                units += 1
                guard let next = forEachTopLevelDIE(unitOffset: offset, { die in
                    guard dwarf_tag(&die) == Int32(tag), let n = dwarf_diename(&die), strcmp(n, key) == 0,
                          !isDeclaration(&die) else { return true }
                    found = die
                    return false
                }), next > offset else { break }
                offset = next
            }
        }
        return found
    }

    /// Named type definitions at the top level of every unit ("s:task_struct", "t:pid_t"):
    /// one pass over all units' top-level DIEs, made on the first lookup of a file without .BTF.
    private(set) lazy var typeDefinitions: [String: UInt64] = {
        var out: [String: UInt64] = [:]
        var offset: UInt64 = 0
        var units = 0
        while units < 1_000_000 {
            units += 1
            guard let next = forEachTopLevelDIE(unitOffset: offset, { die in
                let space: KernelTypes.NameSpace
                switch Int(dwarf_tag(&die)) {
                case DW_TAG_structure_type: space = .structure
                case DW_TAG_union_type: space = .union
                case DW_TAG_enumeration_type: space = .enumeration
                case DW_TAG_typedef: space = .typedef
                case DW_TAG_base_type: space = .base
                default: return true
                }
                guard let n = dwarf_diename(&die), !isDeclaration(&die) else { return true }
                let key = "\(space):" + String(cString: n)
                if out[key] == nil { out[key] = dwarf_dieoffset(&die) }
                return true
            }), next > offset else { break }
            offset = next
        }
        return out
    }()

    /// The type `name` of name space `space` as DWARF defines it, built into `types`.
    func definedType(named name: String, in space: KernelTypes.NameSpace, into types: KernelTypes) -> TypeID? {
        let spelled = space == .base ? KernelTypes.gccSpelling(name) : name
        guard let offset = typeDefinitions["\(space):\(spelled)"] else { return nil }
        var die = Dwarf_Die()
        guard dwarf_offdie(dwarf, offset, &die) != nil else { return nil }
        return translate(&die, into: types, depth: 0)
    }

    /// The members of the struct or union `name` (of `byteSize` bytes) that DWARF declares as
    /// zero-length arrays, `x[0]` (DW_AT_count 0, or an upper bound of -1 from older gcc), as
    /// opposed to flexible arrays `x[]` (a subrange without bounds): BTF gives both 0 elements.
    /// nil when DWARF has no definition of that name and size. Takes the first unit defining
    /// the name: indexing all units' types (`typeDefinitions`) costs seconds on a vmlinux, and
    /// kernel structs with such members are declared in headers most units include.
    func zeroLengthArrayMembers(ofComposite name: String, isUnion: Bool, byteSize: UInt64) -> Set<String>? {
        guard var die = firstTopLevelDefinition(tag: isUnion ? DW_TAG_union_type : DW_TAG_structure_type, named: name),
              udata(&die, DW_AT_byte_size) == byteSize else { return nil }
        var found: Set<String> = []
        forEachChild(&die) { m in
            guard dwarf_tag(&m) == Int32(DW_TAG_member), let mname = dwarf_diename(&m) else { return }
            // gcc writes `const char x[]` as a const array; BTF keeps that order.
            guard var array = referencedType(&m, skippingQualifiers: true), dwarf_tag(&array) == Int32(DW_TAG_array_type) else { return }
            // The first subrange is the outermost dimension, the one BTF's member type counts.
            var subrange = Dwarf_Die()
            guard dwarf_child(&array, &subrange) == 0, dwarf_tag(&subrange) == Int32(DW_TAG_subrange_type) else { return }
            let zero: Bool
            if let count = udata(&subrange, DW_AT_count) { zero = count == 0 }
            else if let upper = udata(&subrange, DW_AT_upper_bound) { zero = upper &+ 1 == 0 }
            else { zero = false }
            if zero { found.insert(String(cString: mname)) }
        }
        return found
    }

    /// The DIE that `die`'s DW_AT_type names, past const/volatile/restrict when asked (a bounded
    /// number of them: damaged DWARF can chain them in a cycle).
    private func referencedType(_ die: inout Dwarf_Die, skippingQualifiers: Bool) -> Dwarf_Die? {
        var current = die
        for _ in 0..<8 {
            var attr = Dwarf_Attribute()
            var target = Dwarf_Die()
            guard dwarf_attr_integrate(&current, UInt32(DW_AT_type), &attr) != nil,
                  dwarf_formref_die(&attr, &target) != nil else { return nil }
            let tag = Int(dwarf_tag(&target))
            guard skippingQualifiers, tag == DW_TAG_const_type || tag == DW_TAG_volatile_type || tag == DW_TAG_restrict_type else {
                return target
            }
            current = target
        }
        return nil
    }

    private func typeOf(_ die: inout Dwarf_Die, into types: KernelTypes, depth: Int) -> TypeID {
        var attr = Dwarf_Attribute()
        var target = Dwarf_Die()
        guard dwarf_attr_integrate(&die, UInt32(DW_AT_type), &attr) != nil,
              dwarf_formref_die(&attr, &target) != nil else { return .void }
        return translate(&target, into: types, depth: depth + 1)
    }

    private func forEachChild(_ die: inout Dwarf_Die, _ body: (inout Dwarf_Die) -> Void) {
        var child = Dwarf_Die()
        guard dwarf_child(&die, &child) == 0 else { return }
        for _ in 0..<1_000_000 {
            body(&child)
            var sibling = Dwarf_Die()
            let r = withUnsafeMutablePointer(to: &child) { dwarf_siblingof($0, &sibling) }
            if r != 0 { return }
            child = sibling
        }
    }
}

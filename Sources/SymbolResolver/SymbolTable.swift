import CDwarf
#if canImport(Glibc)
import Glibc
#endif

/// What an ELF symbol names (STT_*).
public enum SymbolKind: String, Sendable, Hashable {
    case function, object, noType = "notype", threadLocal = "tls", indirectFunction = "ifunc", common, other
}

/// ELF symbol binding (STB_*).
public enum SymbolBinding: String, Sendable, Hashable {
    case local, global, weak, unique
}

/// One symbol of the vmlinux's .symtab, at its run-time address when read through a relocated
/// `SymbolTable` (link-time address plus the KASLR slide).
public struct Symbol: Sendable, Hashable, CustomStringConvertible {
    /// The name as crash shows it: the .symtab name without a compiler clone suffix
    /// (`free_ext_idx` for `free_ext_idx.isra.0`; see `crashDisplayLength`).
    public let name: String
    /// The name exactly as .symtab spells it (`free_ext_idx.isra.0`); equal to `name` for most.
    public let elfName: String
    /// The address: run-time for relocatable symbols of a relocated table, else link-time.
    public let address: UInt64
    /// st_size: 0 for labels and linker-script symbols.
    public let size: UInt64
    public let kind: SymbolKind
    public let binding: SymbolBinding
    /// nm's letter: T/t text, D/d data, B/b bss, R/r read-only, A/a absolute, W/w weak, V/v weak
    /// object, U undefined, C common, u unique, i ifunc, N debugging, ? unknown.
    public let typeLetter: Character
    /// The section that defines it (empty for absolute symbols).
    public let section: String
    /// True when the symbol moves with KASLR (defined in a loaded section at a kernel address);
    /// false for absolute symbols and per-cpu offsets (.data..percpu is linked at 0).
    public let isRelocatable: Bool

    /// crash's one-line form without source info: "ffffffffb10114f0 (T) schedule".
    public var description: String {
        let hex = String(address, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + " (\(typeLetter)) \(name)"
    }
}

/// A symbol found for an address: the symbol and how far past its start the address lies.
public struct SymbolLocation: Sendable, Hashable {
    public let symbol: Symbol
    public let offset: UInt64
    /// True when the address lies inside the symbol's st_size (always false for size 0).
    public var isInside: Bool { offset < symbol.size }
}

/// Raw, link-time facts of one .symtab entry, packed; names stay in .strtab until asked for.
struct RawSymbol {
    var nameOffset: UInt32
    var sectionIndex: UInt32
    var info: UInt8
    var letter: UInt8
    var relocatable: Bool
    var value: UInt64
    var size: UInt64
}

/// The parsed .symtab, shared by every relocated view. Indexes are built on first use.
final class SymbolStore {
    /// The vmlinux the symbols come from; nil for a table built from the kernel's kallsyms.
    let image: ELFImage?
    /// What keeps `strtab` alive when it is not in the mapped vmlinux (kallsyms names).
    let nameOwner: OwnedBytes?
    let strtab: Bytes
    let raw: [RawSymbol]
    /// The STT_SECTION entries (named after their section), which only `sym -l` lists.
    let sectionSymbols: [RawSymbol]
    /// Link-time values crash relocates in its listing (see `SymbolTable.crashListing`).
    let crashRelocationRange: ClosedRange<UInt64>?
    /// For each entry of `raw`: the number of the STT_FILE group it follows in .symtab (local
    /// symbols are listed object file by object file, in link order), or UInt32.max for global
    /// and weak symbols, which come after all groups.
    let fileGroup: [UInt32]
    /// Link-time ranges of loaded sections at kernel addresses: an address outside all of them
    /// has no symbol (module space, user space, direct map).
    let loadedRanges: [(start: UInt64, end: UInt64)]

    init(image: ELFImage) throws {
        self.image = image
        nameOwner = nil
        guard let symtab = image.sections.first(where: { $0.type == UInt32(SHT_SYMTAB) }) else {
            throw SymbolError.noSymbolTable(path: image.path)
        }
        guard let symBytes = image.bytes(of: symtab),
              let strSection = image.section(index: Int(symtab.link)),
              let strBytes = image.bytes(of: strSection) else {
            throw SymbolError.malformed(path: image.path, what: ".symtab or its string table lies outside the file")
        }
        strtab = strBytes
        // Per-section facts used for every symbol: nm letter class and whether it relocates.
        let maxIndex = image.sections.map(\.index).max() ?? 0
        var sectionLetter = [UInt8](repeating: UInt8(ascii: "?"), count: maxIndex + 1)
        var sectionRelocates = [Bool](repeating: false, count: maxIndex + 1)
        for s in image.sections {
            let letter: Character
            if s.isExecutable { letter = "t" }
            else if s.isAllocated && s.hasFileBytes { letter = s.isWritable ? "d" : "r" }
            else if s.isAllocated { letter = "b" }
            else if s.name.hasPrefix(".debug") { letter = "N" }
            else if s.hasFileBytes && !s.isWritable { letter = "n" }
            else { letter = "?" }
            sectionLetter[s.index] = letter.asciiValue ?? 63
            sectionRelocates[s.index] = s.isAllocated && s.address != 0
        }
        let count = symBytes.count / 24
        var list: [RawSymbol] = []
        list.reserveCapacity(count)
        var groups: [UInt32] = []
        groups.reserveCapacity(count)
        var group: UInt32 = 0
        var sections: [RawSymbol] = []
        // crash moves a symbol with KASLR when its value lies from the start of .text to the end
        // of the last section that follows .text in the section headers.
        var crashRange: ClosedRange<UInt64>?
        if let text = image.sections.first(where: { $0.name == ".text" }) {
            var end = text.address
            for s in image.sections where s.index >= text.index {
                let (e, o) = s.address.addingReportingOverflow(s.size)
                if !o, e > end { end = e }
            }
            crashRange = text.address...end
        }
        let loaded = image.sections.filter { $0.isAllocated && $0.address != 0 && $0.size > 0 }
            .map { (start: $0.address, end: $0.address &+ $0.size) }
        for i in 1..<max(1, count) {
            let at = i * 24
            let nameOff = symBytes.u32u(at)
            let info = symBytes.base.load(fromByteOffset: at + 4, as: UInt8.self)
            let shndx = UInt32(symBytes.base.loadUnaligned(fromByteOffset: at + 6, as: UInt16.self))
            let value = symBytes.u64u(at + 8)
            let size = symBytes.u64u(at + 16)
            let type = Int32(info & 0xf), bind = Int32(info >> 4)
            if type == STT_FILE { group &+= 1 }
            if type == STT_SECTION, shndx > 0, shndx < UInt32(SHN_LORESERVE), Int(shndx) < sectionLetter.count {
                sections.append(RawSymbol(nameOffset: 0, sectionIndex: shndx, info: info, letter: sectionLetter[Int(shndx)],
                                          relocatable: sectionRelocates[Int(shndx)], value: value, size: 0))
            }
            if type == STT_SECTION || type == STT_FILE { continue }
            if nameOff == 0 || Int(nameOff) >= strBytes.count { continue }
            var letter: UInt8
            var relocatable = false
            if shndx == UInt32(SHN_UNDEF) {
                continue
            } else if shndx == UInt32(SHN_COMMON) {
                letter = UInt8(ascii: "C")
            } else if type == STT_GNU_IFUNC {
                letter = UInt8(ascii: "i")
            } else if bind == STB_WEAK {
                letter = type == STT_OBJECT ? UInt8(ascii: "V") : UInt8(ascii: "W")
            } else if bind == STB_GNU_UNIQUE {
                letter = UInt8(ascii: "u")
            } else if shndx == UInt32(SHN_ABS) {
                letter = bind == STB_GLOBAL ? UInt8(ascii: "A") : UInt8(ascii: "a")
            } else {
                letter = Int(shndx) < sectionLetter.count ? sectionLetter[Int(shndx)] : UInt8(ascii: "?")
                if bind == STB_GLOBAL, letter >= 97, letter <= 122 { letter -= 32 }
            }
            if shndx != UInt32(SHN_ABS), shndx != UInt32(SHN_COMMON), shndx < UInt32(SHN_LORESERVE) {
                relocatable = Int(shndx) < sectionRelocates.count && sectionRelocates[Int(shndx)]
                // A linker-script symbol assigned to a section linked at 0 (.data..percpu) whose
                // value is a kernel address (__per_cpu_load, __init_begin) moves with the image.
                if !relocatable, value != 0, crashRange?.contains(value) == true {
                    relocatable = true
                }
            }
            list.append(RawSymbol(nameOffset: nameOff, sectionIndex: shndx, info: info, letter: letter,
                                  relocatable: relocatable, value: value, size: size))
            groups.append(bind == STB_LOCAL ? group : UInt32.max)
        }
        raw = list
        sectionSymbols = sections
        fileGroup = groups
        crashRelocationRange = crashRange
        loadedRanges = loaded
    }

    /// Sections a kallsyms symbol is put in by its type letter and address (kallsyms has no
    /// section headers): what `Symbol.section` says and `sym -s` shows.
    static let kallsymsSections = ["", ".text", ".data", ".bss", ".rodata", ".data..percpu"]

    /// The symbols of a kernel's kallsyms table: `names` holds each name followed by a NUL and
    /// `nameStarts` where each begins; `typeLetters` are nm's letters and `addresses` run-time
    /// addresses (the table is read from the running kernel: no slide applies). kallsyms knows
    /// no sizes: a symbol extends to the next higher address among its kind (image or per-cpu),
    /// as drgn sizes kallsyms symbols. Symbols from `_text` to `_end` are the image's
    /// (relocatable, found by address); per-cpu offsets and absolute values are not.
    init(kallsymsNames names: [UInt8], nameStarts: [UInt32], typeLetters: [UInt8], addresses: [UInt64]) {
        image = nil
        let owner = OwnedBytes(names + [0])
        nameOwner = owner
        strtab = owner.view
        let n = min(nameStarts.count, typeLetters.count, addresses.count)
        func address(named name: String) -> UInt64? {
            let key = Array(name.utf8)
            for i in 0..<n {
                let s = Int(nameStarts[i])
                if s + key.count < names.count, names[s + key.count] == 0, names[s..<(s + key.count)].elementsEqual(key) {
                    return addresses[i]
                }
            }
            return nil
        }
        let values = addresses.prefix(n)
        let lowestHigh: UInt64 = values.filter({ $0 >> 63 == 1 }).min() ?? 0
        let start: UInt64 = address(named: "_text") ?? address(named: "_stext") ?? lowestHigh
        let highest: UInt64 = values.max().map { $0 &+ 1 } ?? 0
        let end: UInt64 = address(named: "_end") ?? highest
        let perCPUEnd: UInt64? = address(named: "__per_cpu_start") == 0 ? address(named: "__per_cpu_end") : nil
        var list = [RawSymbol](repeating: RawSymbol(nameOffset: 0, sectionIndex: 0, info: 0, letter: 0, relocatable: false,
                                                    value: 0, size: 0), count: n)
        list.withUnsafeMutableBufferPointer { l in
            for i in 0..<n {
                let letter = typeLetters[i]
                let value = addresses[i]
                let inImage = value >= start && value < end
                let lower = letter | 0x20
                var type: Int32
                switch lower {
                case UInt8(ascii: "t"), UInt8(ascii: "w"): type = STT_FUNC
                case UInt8(ascii: "d"), UInt8(ascii: "b"), UInt8(ascii: "r"), UInt8(ascii: "v"): type = STT_OBJECT
                default: type = STT_NOTYPE
                }
                let bind: Int32
                if lower == UInt8(ascii: "w") || lower == UInt8(ascii: "v") { bind = STB_WEAK }
                else if letter != lower { bind = STB_GLOBAL }
                else { bind = STB_LOCAL }
                var section: UInt32
                switch lower {
                case UInt8(ascii: "t"), UInt8(ascii: "w"): section = 1
                case UInt8(ascii: "d"), UInt8(ascii: "v"): section = 2
                case UInt8(ascii: "b"): section = 3
                case UInt8(ascii: "r"): section = 4
                default: section = UInt32(SHN_ABS)
                }
                // With absolute per-cpu kallsyms the kernel writes every per-cpu symbol as 'A'.
                if !inImage, let perCPUEnd, value < perCPUEnd, section == 2 || section == 3 || lower == UInt8(ascii: "a") {
                    section = 5
                    if type == STT_NOTYPE { type = STT_OBJECT }
                }
                let info = UInt8(truncatingIfNeeded: bind << 4 | type)
                l[i] = RawSymbol(nameOffset: nameStarts[i], sectionIndex: section, info: info, letter: letter,
                                 relocatable: inImage, value: value, size: 0)
            }
            // Sizes: the distance to the next higher address among the image's symbols, or among
            // the per-cpu ones.
            var group: [Int] = []
            group.reserveCapacity(n)
            for perCPU in [false, true] {
                group.removeAll(keepingCapacity: true)
                for i in 0..<n where perCPU ? l[i].sectionIndex == 5 : l[i].relocatable { group.append(i) }
                // kallsyms is written in address order: sort only a table that is not.
                var ordered = true
                for k in group.indices.dropFirst() where l[group[k - 1]].value > l[group[k]].value {
                    ordered = false
                    break
                }
                if !ordered { group.sort { l[$0].value < l[$1].value } }
                var k = 0
                while k < group.count {
                    let value = l[group[k]].value
                    var j = k
                    while j < group.count, l[group[j]].value == value { j += 1 }
                    if j < group.count {
                        let size = l[group[j]].value - value
                        for m in k..<j { l[group[m]].size = size }
                    }
                    k = j
                }
            }
        }
        raw = list
        sectionSymbols = []
        fileGroup = [UInt32](repeating: UInt32.max, count: n)
        crashRelocationRange = nil
        loadedRanges = start < end ? [(start, end)] : []
    }

    /// The section name of section index `index` (empty for none or a special index).
    func sectionName(_ index: UInt32) -> String {
        guard index < UInt32(SHN_LORESERVE) else { return "" }
        guard let image else { return Int(index) < SymbolStore.kallsymsSections.count ? SymbolStore.kallsymsSections[Int(index)] : "" }
        return image.section(index: Int(index))?.name ?? ""
    }

    /// The name bytes of entry `i` (no NUL), in the mapped .strtab.
    @inline(__always) func nameBytes(_ i: Int) -> UnsafeRawBufferPointer {
        let off = Int(raw[i].nameOffset)
        let n = strtab.cStringLength(at: off) ?? 0
        return UnsafeRawBufferPointer(start: strtab.base + off, count: n)
    }

    func name(_ i: Int) -> String { String(decoding: nameBytes(i), as: UTF8.self) }

    /// The name bytes of entry `i` as crash shows them (clone suffix cut off).
    @inline(__always) func displayBytes(_ i: Int) -> UnsafeRawBufferPointer {
        let n = nameBytes(i)
        return UnsafeRawBufferPointer(start: n.baseAddress, count: crashDisplayLength(n))
    }

    /// Entries whose displayed name is `key` and whose .symtab name is longer (gcc/clang clones:
    /// a name lookup finds `foo.isra.0` when asked for `foo`, as crash does), from the clone
    /// index built with the name index.
    func cloneMatches(_ key: UnsafeRawBufferPointer) -> [Int] {
        let c = nameIndex
        var out: [Int] = []
        c.clones.forEachMatch(key, equals: { j, k in
            let d = displayBytes(c.cloneEntries[j])
            return d.count == k.count && (k.count == 0 || memcmp(d.baseAddress!, k.baseAddress!, k.count) == 0)
        }) { out.append(c.cloneEntries[$0]) }
        return out
    }

    /// Preference among symbols at one address or with one name: sized functions and objects,
    /// then global over weak over local, then anything else. Lower is better.
    @inline(__always) func rank(_ r: RawSymbol) -> Int {
        let type = Int32(r.info & 0xf), bind = Int32(r.info >> 4)
        var score = 0
        if !((type == STT_FUNC || type == STT_OBJECT) && r.size > 0) { score += 4 }
        if bind == STB_WEAK { score += 1 } else if bind == STB_LOCAL { score += 2 }
        return score
    }

    /// Index in `raw` of the first symbol of each STT_FILE group (groups without symbols
    /// point at the next group's first).
    private(set) lazy var groupStarts: [Int] = {
        var starts: [Int] = []
        for (i, g) in fileGroup.enumerated() where g != UInt32.max {
            while starts.count <= Int(g) { starts.append(i) }
        }
        return starts
    }()

    /// Lookups answered so far without an index: the first few scan .symtab linearly (well
    /// under a millisecond each), which is cheaper than building an index a short session
    /// would hardly use.
    var nameScans = 0
    var addressScans = 0
    static let scansBeforeIndexing = 6

    /// The name index over every entry, and the index of clones by displayed name (entries
    /// whose displayed name is shorter than their .symtab name).
    struct NameIndexes {
        var names: NameHashIndex
        var cloneEntries: [Int]
        var clones: NameHashIndex
    }
    private var nameIndexStorage: NameIndexes?
    var hasNameIndex: Bool { nameIndexStorage != nil }
    /// Built in one pass that finds each name's end and whether it has a '.' eight bytes at a
    /// time (only names with a '.' can be clones).
    var nameIndex: NameIndexes {
        if let nameIndexStorage { return nameIndexStorage }
        var lengths = [UInt32](repeating: 0, count: raw.count)
        var cloneEntries: [Int] = []
        let base = strtab.base
        raw.withUnsafeBufferPointer { r in
            lengths.withUnsafeMutableBufferPointer { l in
                for i in r.indices {
                    let off = Int(r[i].nameOffset)
                    let (n, dot) = strtab.cStringLengthAndDot(at: off)
                    l[i] = UInt32(truncatingIfNeeded: n)
                    if dot, crashDisplayLength(UnsafeRawBufferPointer(start: base + off, count: n)) < n { cloneEntries.append(i) }
                }
            }
        }
        let names = lengths.withUnsafeBufferPointer { l in
            raw.withUnsafeBufferPointer { r in
                NameHashIndex(count: r.count) { UnsafeRawBufferPointer(start: base + Int(r[$0].nameOffset), count: Int(l[$0])) }
            }
        }
        let clones = NameHashIndex(count: cloneEntries.count) { displayBytes(cloneEntries[$0]) }
        let built = NameIndexes(names: names, cloneEntries: cloneEntries, clones: clones)
        nameIndexStorage = built
        return built
    }

    private var byAddressStorage: [UInt32]?
    var hasAddressIndex: Bool { byAddressStorage != nil }
    /// Relocatable symbols sorted by (address, rank, .symtab index): what address lookups bisect.
    var byAddress: [UInt32] {
        if let byAddressStorage { return byAddressStorage }
        let built = sortedByAddress(raw.indices.filter { raw[$0].relocatable })
        byAddressStorage = built
        return built
    }

    /// Entries called `key` and the clones displayed as `key` (`key` then a clone marker), by a
    /// linear pass over .symtab.
    func scanNames(_ key: UnsafeRawBufferPointer) -> [Int] {
        var out: [Int] = []
        guard let k = key.baseAddress, key.count > 0 else { return out }
        let first = key[0]
        let base = strtab.base
        let limit = strtab.count
        raw.withUnsafeBufferPointer { r in
            for i in r.indices {
                let off = Int(r[i].nameOffset)
                guard off < limit - key.count, base.load(fromByteOffset: off, as: UInt8.self) == first else { continue }
                guard memcmp(base + off, k, key.count) == 0 else { continue }
                let after = base.load(fromByteOffset: off + key.count, as: UInt8.self)
                if after == 0 {
                    out.append(i)
                } else if after == UInt8(ascii: "."), crashDisplayLength(nameBytes(i)) == key.count {
                    out.append(i)
                }
            }
        }
        return out
    }

    /// Comes-first order among symbols at one address: rank, then .symtab order (fixed for a
    /// given file, so aliases resolve the same way on every run).
    func precedes(_ a: Int, _ b: Int) -> Bool {
        let ra = min(7, rank(raw[a])), rb = min(7, rank(raw[b]))
        return ra != rb ? ra < rb : a < b
    }

    /// The preferred relocatable symbol with the greatest address <= `link`, by a linear pass.
    func scanAddress(_ link: UInt64) -> Int? {
        var best = -1
        var bestValue: UInt64 = 0
        raw.withUnsafeBufferPointer { r in
            for i in r.indices where r[i].relocatable && r[i].value <= link {
                if best < 0 || r[i].value > bestValue {
                    best = i
                    bestValue = r[i].value
                } else if r[i].value == bestValue, precedes(i, best) {
                    best = i
                }
            }
        }
        return best < 0 ? nil : best
    }

    /// All symbols sorted like `byAddress`, absolute and per-cpu ones included (for `sym -l`).
    private(set) lazy var allByAddress: [UInt32] = sortedByAddress(Array(raw.indices))

    private func sortedByAddress(_ indices: [Int]) -> [UInt32] {
        // Order by rank (counting sort), then stable LSD radix passes on the address, 16 bits a
        // pass, skipping digits all addresses share: (address, rank, .symtab index) order in a
        // few linear passes, where a comparison sort of 100k entries costs 15-30 ms.
        let n = indices.count
        var order = [UInt32](repeating: 0, count: n)
        var scratch = [UInt32](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 65537)
        raw.withUnsafeBufferPointer { r in
            order.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { t in
                    counts.withUnsafeMutableBufferPointer { c in
                        var rankStart = [Int](repeating: 0, count: 9)
                        for i in indices { rankStart[min(7, rank(r[i])) + 1] += 1 }
                        for k in 1..<9 { rankStart[k] += rankStart[k - 1] }
                        for i in indices {
                            let k = min(7, rank(r[i]))
                            o[rankStart[k]] = UInt32(truncatingIfNeeded: i)
                            rankStart[k] += 1
                        }
                        var src = o, dst = t
                        var inOrder = true   // whether the sorted data is in `o`
                        for shift in stride(from: UInt64(0), to: 64, by: 16) {
                            for d in 0..<c.count { c[d] = 0 }
                            for j in 0..<n { c[Int((r[Int(src[j])].value >> shift) & 0xffff) + 1] += 1 }
                            var single = false
                            for d in 1..<c.count where c[d] == n { single = true; break }
                            if single { continue }
                            for d in 1..<c.count { c[d] += c[d - 1] }
                            for j in 0..<n {
                                let d = Int((r[Int(src[j])].value >> shift) & 0xffff)
                                dst[c[d]] = src[j]
                                c[d] += 1
                            }
                            swap(&src, &dst)
                            inOrder.toggle()
                        }
                        if !inOrder { for j in 0..<n { o[j] = t[j] } }
                    }
                }
            }
        }
        return order
    }
}

/// The kernel's ELF symbols, seen at link-time addresses (`slide` 0) or relocated by a KASLR
/// slide: every address given to or returned by a relocated table is a run-time address.
/// Cheap to copy; all views share one parsed .symtab and its lazily built indexes.
///
/// Not thread-safe (the indexes are built on first use).
public struct SymbolTable {
    let store: SymbolStore
    /// Added to the link-time address of every relocatable symbol (KERNELOFFSET from VMCOREINFO).
    public let slide: UInt64

    init(store: SymbolStore, slide: UInt64) {
        self.store = store
        self.slide = slide
    }

    /// The same symbols, moved by `slide` (replacing this table's slide, not adding to it).
    public func relocated(by slide: UInt64) -> SymbolTable { SymbolTable(store: store, slide: slide) }

    /// Number of symbols (functions, objects, labels; not section or file symbols).
    public var count: Int { store.raw.count }

    func symbol(_ i: Int) -> Symbol {
        let r = store.raw[i]
        let type = Int32(r.info & 0xf), bind = Int32(r.info >> 4)
        let kind: SymbolKind
        switch type {
        case STT_FUNC: kind = .function
        case STT_OBJECT: kind = .object
        case STT_NOTYPE: kind = .noType
        case STT_TLS: kind = .threadLocal
        case STT_GNU_IFUNC: kind = .indirectFunction
        case STT_COMMON: kind = .common
        default: kind = .other
        }
        let binding: SymbolBinding
        switch bind {
        case STB_GLOBAL: binding = .global
        case STB_WEAK: binding = .weak
        case STB_GNU_UNIQUE: binding = .unique
        default: binding = .local
        }
        let section = store.sectionName(r.sectionIndex)
        let elfName = store.name(i)
        let shown = store.displayBytes(i)
        let name = shown.count == elfName.utf8.count ? elfName : String(decoding: shown, as: UTF8.self)
        return Symbol(name: name, elfName: elfName, address: r.relocatable ? r.value &+ slide : r.value, size: r.size,
                      kind: kind, binding: binding, typeLetter: Character(Unicode.Scalar(r.letter)),
                      section: section, isRelocatable: r.relocatable)
    }

    /// Entries whose .symtab name is `name`, then the clones crash shows as `name`.
    private func matches(_ name: String) -> [Int] {
        var found: [Int] = []
        let s = store
        if !s.hasNameIndex, s.nameScans < SymbolStore.scansBeforeIndexing {
            s.nameScans += 1
            found = name.withBytes { s.scanNames($0) }
        } else {
            name.withBytes { key in
                s.nameIndex.names.forEachMatch(key, equals: { i, k in s.strtab.cStringEquals(at: Int(s.raw[i].nameOffset), k) }) {
                    found.append($0)
                }
            }
            found += name.withBytes { s.cloneMatches($0) }
        }
        return found
    }

    /// Preference among the entries a name lookup found: an exact .symtab name before a clone,
    /// then sized function/object, global before weak before local, then by address.
    private func lookupOrder(_ name: String) -> (Int, Int) -> Bool {
        let s = store
        return { a, b in
            let ea = s.nameBytes(a).count == name.utf8.count ? 0 : 1, eb = s.nameBytes(b).count == name.utf8.count ? 0 : 1
            return (ea, s.rank(s.raw[a]), s.raw[a].value, a) < (eb, s.rank(s.raw[b]), s.raw[b].value, b)
        }
    }

    /// Every symbol called `name` (its .symtab name, or the name crash shows for a clone such as
    /// `foo.isra.0`), the preferred first (exact .symtab name, sized function/object, global
    /// before weak before local), then by address.
    public func symbols(named name: String) -> [Symbol] {
        matches(name).sorted(by: lookupOrder(name)).map(symbol)
    }

    /// The symbol a user means by `name`: the preferred one of `symbols(named:)`.
    public func symbol(named name: String) -> Symbol? { symbols(named: name).first }

    /// The symbol at or before `address` (a run-time address for a relocated table), with the
    /// offset into it. Among aliases at one address the sized function/object, then the global,
    /// then the first by name wins. Nil when the address is outside the kernel image's loaded
    /// sections (or before its first symbol).
    public func symbol(at address: UInt64) -> SymbolLocation? {
        let link = address &- slide
        guard store.loadedRanges.contains(where: { link >= $0.start && link < $0.end }) else { return nil }
        if !store.hasAddressIndex, store.addressScans < SymbolStore.scansBeforeIndexing {
            store.addressScans += 1
            guard let i = store.scanAddress(link) else { return nil }
            return SymbolLocation(symbol: symbol(i), offset: link - store.raw[i].value)
        }
        let order = store.byAddress
        let raw = store.raw
        var lo = 0, hi = order.count   // first index with value > link
        while lo < hi {
            let mid = (lo + hi) / 2
            if raw[Int(order[mid])].value <= link { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        var at = lo - 1
        let value = raw[Int(order[at])].value
        while at > 0, raw[Int(order[at - 1])].value == value { at -= 1 }
        return SymbolLocation(symbol: symbol(Int(order[at])), offset: link - value)
    }

    /// Every relocatable symbol whose address is exactly `address` (aliases), in no set order.
    public func symbols(atExactly address: UInt64) -> [Symbol] {
        let link = address &- slide
        let order = store.byAddress
        let raw = store.raw
        var lo = 0, hi = order.count   // first index with value >= link
        while lo < hi {
            let mid = (lo + hi) / 2
            if raw[Int(order[mid])].value < link { lo = mid + 1 } else { hi = mid }
        }
        var out: [Symbol] = []
        while lo < order.count, raw[Int(order[lo])].value == link, out.count < 256 {
            out.append(symbol(Int(order[lo])))
            lo += 1
        }
        return out
    }

    /// The symbol gdb names after a pointer value (`<sym+off>`): scanning back from the last
    /// symbol at or below `address`, zero-sized labels are passed over until a sized symbol; that
    /// one is the answer when it contains the address, else the highest zero-sized label passed
    /// (nil when there was none). The scan is bounded (64 symbols).
    public func gdbSymbol(at address: UInt64) -> SymbolLocation? {
        let link = address &- slide
        guard store.loadedRanges.contains(where: { link >= $0.start && link < $0.end }) else { return nil }
        let order = store.byAddress
        let raw = store.raw
        var lo = 0, hi = order.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if raw[Int(order[mid])].value <= link { lo = mid + 1 } else { hi = mid }
        }
        var zeroSized: Int?
        var at = lo - 1
        var steps = 0
        while at >= 0, steps < 64 {
            let i = Int(order[at])
            let r = raw[i]
            if r.size == 0 {
                if zeroSized == nil { zeroSized = i }
            } else {
                let (end, overflow) = r.value.addingReportingOverflow(r.size)
                if overflow || link < end { return SymbolLocation(symbol: symbol(i), offset: link - r.value) }
                break
            }
            at -= 1
            steps += 1
        }
        guard let z = zeroSized else { return nil }
        return SymbolLocation(symbol: symbol(z), offset: link - raw[z].value)
    }

    /// Every symbol in address order (aliases in preference order), absolute and per-cpu
    /// symbols included: what `sym -l` lists.
    public func allSymbolsByAddress() -> [Symbol] { store.allByAddress.map { symbol(Int($0)) } }

    /// The first symbol of `allSymbolsByAddress()` whose address is above `address` (bisected in
    /// that order): the next symbol `sym -n` shows. Only that one `Symbol` is built.
    public func firstSymbol(after address: UInt64) -> Symbol? {
        let order = store.allByAddress
        let raw = store.raw
        func runtimeAddress(_ k: Int) -> UInt64 {
            let r = raw[Int(order[k])]
            return r.relocatable ? r.value &+ slide : r.value
        }
        var lo = 0, hi = order.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if runtimeAddress(mid) <= address { lo = mid + 1 } else { hi = mid }
        }
        return lo < order.count ? symbol(Int(order[lo])) : nil
    }

    /// The kernel symbols crash 8.0.6 lists with `sym -l`, in its order and at its addresses:
    /// every .symtab entry and section symbol sorted by link-time value, then by .symtab name
    /// (byte order); before the first `_text`/`_stext` only `__per_cpu_start` and, after it, the
    /// per-cpu names (`per_cpu*`, `__per_cpu_end`) and data symbols (d, D, V) are kept, since what
    /// sorts before the kernel text is per-cpu offsets, constants and file-local noise. A value
    /// from the start of .text to the end of the last section after it moves by the slide; others
    /// (per-cpu offsets, constants) stay. Names are the displayed ones.
    public func crashListing() -> [Symbol] {
        let s = store
        // Entries: indexes into `raw`, then -(k+1) for section symbol k.
        var entries: [Int] = s.allByAddress.map { Int($0) }
        entries.reserveCapacity(entries.count + s.sectionSymbols.count)
        for k in s.sectionSymbols.indices { entries.append(-(k + 1)) }
        // Section names, concatenated, so that they compare as bytes like .symtab names.
        var sectionNameStore: [UInt8] = []
        var sectionNameAt: [(start: Int, count: Int)] = []
        var sectionNames: [String] = []
        for r in s.sectionSymbols {
            let name = s.sectionName(r.sectionIndex)
            sectionNameAt.append((sectionNameStore.count, name.utf8.count))
            sectionNameStore += Array(name.utf8)
            sectionNames.append(name)
        }
        func value(_ e: Int) -> UInt64 { e >= 0 ? s.raw[e].value : s.sectionSymbols[-e - 1].value }
        sectionNameStore.withUnsafeBytes { store in
        func nameBytes(_ e: Int) -> UnsafeRawBufferPointer {
            if e >= 0 { return s.nameBytes(e) }
            let at = sectionNameAt[-e - 1]
            return UnsafeRawBufferPointer(rebasing: store[at.start..<(at.start + at.count)])
        }
        entries.sort { a, b in
            let va = value(a), vb = value(b)
            if va != vb { return va < vb }
            let na = nameBytes(a), nb = nameBytes(b)
            let common = min(na.count, nb.count)
            if common > 0, let pa = na.baseAddress, let pb = nb.baseAddress {
                let c = memcmp(pa, pb, common)
                if c != 0 { return c < 0 }
            }
            return na.count != nb.count ? na.count < nb.count : a < b
        }
        }
        var out: [Symbol] = []
        out.reserveCapacity(entries.count)
        var textSeen = false, perCPUSeen = false
        for e in entries {
            var sym: Symbol
            if e >= 0 {
                sym = symbol(e)
            } else {
                let r = s.sectionSymbols[-e - 1]
                let name = sectionNames[-e - 1]
                sym = Symbol(name: name, elfName: name, address: r.relocatable ? r.value &+ slide : r.value, size: 0,
                             kind: .other, binding: .local, typeLetter: Character(Unicode.Scalar(r.letter)),
                             section: name, isRelocatable: r.relocatable)
            }
            if sym.name.isEmpty { continue }
            if !textSeen {
                if sym.name == "_text" || sym.name == "_stext" {
                    textSeen = true
                } else if sym.name == "__per_cpu_start" {
                    perCPUSeen = true
                } else if !(perCPUSeen && (sym.name.hasPrefix("per_cpu") || sym.name == "__per_cpu_end"
                                           || sym.typeLetter == "V" || sym.typeLetter == "d" || sym.typeLetter == "D")) {
                    continue
                }
            }
            let link = value(e)
            let moved = s.crashRelocationRange?.contains(link) == true ? link &+ slide : link
            if moved != sym.address {
                sym = Symbol(name: sym.name, elfName: sym.elfName, address: moved, size: sym.size, kind: sym.kind,
                             binding: sym.binding, typeLetter: sym.typeLetter, section: sym.section,
                             isRelocatable: sym.isRelocatable)
            }
            out.append(sym)
        }
        return out
    }

    /// Raw index of the preferred symbol called `name`.
    func index(named name: String) -> Int? {
        matches(name).min(by: lookupOrder(name))
    }

    /// Symbols whose displayed name contains `substring`, sorted by address (`sym -q`).
    public func symbols(containing substring: String) -> [Symbol] {
        let s = store
        var hits: [Int] = []
        substring.withBytes { key in
            for i in s.raw.indices {
                let n = s.displayBytes(i)
                if key.count == 0 || (n.count >= key.count && contains(n, key)) {
                    hits.append(i)
                }
            }
        }
        return sorted(hits)
    }

    /// Distinct displayed symbol names starting with `prefix`, sorted (tab completion).
    public func names(withPrefix prefix: String) -> [String] {
        let s = store
        var out = Set<String>()
        prefix.withBytes { key in
            for i in s.raw.indices {
                let n = s.displayBytes(i)
                if n.count >= key.count, key.count == 0 || memcmp(n.baseAddress!, key.baseAddress!, key.count) == 0 {
                    out.insert(String(decoding: n, as: UTF8.self))
                }
            }
        }
        return out.sorted()
    }

    /// `hits` in crash's symbol-table order: by address, then by .symtab name (byte order), as
    /// `sym -q` walks it.
    private func sorted(_ hits: [Int]) -> [Symbol] {
        let s = store
        return hits.sorted { a, b in
            let x = s.raw[a], y = s.raw[b]
            let ax = x.relocatable ? x.value &+ slide : x.value, bx = y.relocatable ? y.value &+ slide : y.value
            if ax != bx { return ax < bx }
            let na = s.nameBytes(a), nb = s.nameBytes(b)
            let common = min(na.count, nb.count)
            if common > 0, let pa = na.baseAddress, let pb = nb.baseAddress {
                let c = memcmp(pa, pb, common)
                if c != 0 { return c < 0 }
            }
            return na.count != nb.count ? na.count < nb.count : a < b
        }.map(symbol)
    }
}

/// True when `needle` (non-empty) occurs in `hay` (glibc's memmem needs _GNU_SOURCE, which the
/// Swift Glibc module does not define).
@inline(__always)
func contains(_ hay: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer) -> Bool {
    guard needle.count <= hay.count, let h = hay.baseAddress, let n = needle.baseAddress else { return false }
    let first = needle[0]
    var at = 0
    let last = hay.count - needle.count
    while at <= last {
        guard let p = memchr(h + at, Int32(first), last - at + 1) else { return false }
        let i = UnsafeRawPointer(p) - h
        if memcmp(h + i, n, needle.count) == 0 { return true }
        at = i + 1
    }
    return false
}

/// The suffixes gcc and clang append to a function they cloned or split (interprocedural SRA,
/// partial inlining, LTO-promoted locals), in the order crash tries them.
private let cloneMarkers: [[UInt8]] = [Array(".isra.".utf8), Array(".part.".utf8), Array(".llvm.".utf8)]

/// How many leading bytes of the .symtab name `name` crash keeps: it cuts the name at the first
/// ".isra.", else the first ".part.", else the first ".llvm." (only the first marker in that order
/// that occurs counts: `f.part.0.isra.0` shows as `f.part.0`). `.constprop.N` and `.cold` stay.
public func crashDisplayLength(_ name: UnsafeRawBufferPointer) -> Int {
    guard name.count >= 6, let base = name.baseAddress, memchr(base, Int32(UInt8(ascii: ".")), name.count) != nil else {
        return name.count
    }
    for marker in cloneMarkers {
        let found: Int? = marker.withUnsafeBytes { m in
            var at = 0
            let last = name.count - m.count
            while at <= last {
                guard let p = memchr(base + at, Int32(UInt8(ascii: ".")), last - at + 1) else { return nil }
                let i = UnsafeRawPointer(p) - base
                if memcmp(base + i, m.baseAddress!, m.count) == 0 { return i }
                at = i + 1
            }
            return nil
        }
        if let found { return found }
    }
    return name.count
}

/// The name crash shows for the .symtab name `name` (see `crashDisplayLength`).
public func crashDisplayName(_ name: String) -> String {
    var copy = name
    return copy.withUTF8 { String(decoding: UnsafeRawBufferPointer(start: $0.baseAddress, count: crashDisplayLength(UnsafeRawBufferPointer($0))), as: UTF8.self) }
}

import CDwarf
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's symbols, types and unwind tables, from one of two sources: the vmlinux (ELF
/// symbols, BTF and DWARF types, global variables, line info, CFI), or, without one, the
/// crashed kernel's own memory (`init(memory:)`: kallsyms, the kernel's BTF, its ORC tables).
/// Commands ask the same questions of both; what only DWARF knows (source lines, inlined
/// functions, CFI) is absent from the second.
///
/// Opening a vmlinux validates the file and reads only section headers (milliseconds); the
/// symbol indexes, the BTF type index and libdw are set up on first use. Addresses are
/// link-time unless a method says otherwise; `symbols.relocated(by:)` gives run-time addresses.
/// A kernel read from memory has run-time addresses throughout (its slide is 0).
///
/// Not thread-safe: the shell asks one question at a time.
public final class KernelImage {
    public let path: String
    /// The file with .symtab and DWARF: the vmlinux itself, or its separate debug file; nil for
    /// a kernel read from the dump's memory.
    let image: ELFImage?
    /// The file given, whose allocated sections (.BTF, .rodata, .orc_unwind) have their bytes:
    /// the same as `image` unless the debuginfo was split off; nil for a kernel read from memory.
    let loadedImage: ELFImage?
    /// Where separate debug files are looked for (build-id tree, debuglink mirrors).
    let debugRoots: [String]
    /// Where a kernel read from memory gets what is not its symbols.
    let memorySource: InMemoryKernel?
    private var symbolStore: SymbolStore?
    private var symbolError: SymbolError?
    private var typesCache: KernelTypes?
    private var typesError: Error?
    var dwarfCache: DwarfIndex??

    /// Opens and validates `path` as an x86_64 vmlinux (ET_EXEC). When the file has no DWARF
    /// (stripped, or debuginfo split off), its debug file is looked for by build-id under each
    /// of `debugRoots` and through `.gnu_debuglink` (see `SeparateDebugInfo`). Throws
    /// `SymbolError`: `.notELF`, `.emptyFile`, `.notVmlinux` (a core file, a module...),
    /// `.noSymbolTable` (stripped and no debug file found), `.cannotOpen`.
    public init(path: String, debugRoots: [String] = ["/usr/lib/debug"]) throws {
        self.path = path
        self.debugRoots = debugRoots
        memorySource = nil
        let given = try ELFImage(path: path)
        loadedImage = given
        let hasSymbols = { (i: ELFImage) in i.sections.contains(where: { $0.type == UInt32(SHT_SYMTAB) }) }
        let chosen: ELFImage
        if given.section(named: ".debug_info") == nil,
           let debug = SeparateDebugInfo(roots: debugRoots).find(for: given, role: .kernel), hasSymbols(debug) {
            chosen = debug
        } else {
            chosen = given
        }
        image = chosen
        // A stripped vmlinux cannot resolve anything: say so at open, not at the first command.
        if !hasSymbols(chosen) {
            throw SymbolError.noSymbolTable(path: path)
        }
    }

    /// The kernel as its own memory describes it: `memory.kallsyms*` are the decoded kallsyms
    /// table (names each followed by a NUL, where each starts, nm letters, run-time
    /// addresses); BTF and ORC tables are read through `memory.read` between the symbols
    /// that bound them. `path` names the source in messages ("kernel memory of DUMP").
    public init(memory: InMemoryKernel, path: String) {
        self.path = path
        image = nil
        loadedImage = nil
        debugRoots = []
        memorySource = memory
        symbolStore = SymbolStore(kallsymsNames: memory.kallsymsNames, nameStarts: memory.kallsymsNameStarts,
                                  typeLetters: memory.kallsymsTypeLetters, addresses: memory.kallsymsAddresses)
    }

    /// True when this kernel was read from the dump's memory rather than a vmlinux.
    public var isFromMemory: Bool { image == nil }

    /// The separate debug file in use, when the debuginfo was not in the file given.
    public var debugFilePath: String? {
        guard let image, image !== loadedImage else { return nil }
        return image.path
    }

    /// Section `name` and its bytes from whichever file stores them (a debug file has the
    /// allocated sections as NOBITS).
    func contents(ofSection name: String) -> (file: ELFImage, section: ELFSection, bytes: Bytes)? {
        for i in [loadedImage, image].compactMap({ $0 }) {
            if let s = i.section(named: name), let b = i.bytes(of: s) { return (i, s, b) }
            if loadedImage === image { break }
        }
        return nil
    }

    /// The .symtab at link-time addresses (slide 0); `relocated(by:)` applies KASLR.
    public func symbols() throws -> SymbolTable {
        if let symbolStore { return SymbolTable(store: symbolStore, slide: 0) }
        if let symbolError { throw symbolError }
        guard let image else { throw SymbolError.noSymbolTable(path: path) }
        do {
            let s = try SymbolStore(image: image)
            symbolStore = s
            return SymbolTable(store: s, slide: 0)
        } catch let e as SymbolError {
            symbolError = e
            throw e
        }
    }

    /// The kernel's types: .BTF parsed on first use (all types in milliseconds), with DWARF
    /// behind it for what BTF lacks. Throws `.noDebugInfo` when the file has neither.
    public func types() throws -> KernelTypes {
        if let typesCache { return typesCache }
        if let typesError { throw typesError }
        var btf: BTFTable?
        if let (file, _, b) = contents(ofSection: ".BTF") {
            btf = BTFTable(section: b, owner: file)
        }
        if image == nil {
            do {
                btf = try memoryBTF()
            } catch {
                typesError = error
                throw error
            }
        }
        guard btf != nil || hasDWARF else { throw SymbolError.noDebugInfo(path: path) }
        let t = KernelTypes(btf: btf)
        if btf == nil {
            // A debug file without .BTF (its allocated sections are NOBITS): named types come
            // from DWARF definitions.
            t.dwarfDefinition = { [weak self, unowned t] name, space in
                self?.dwarfIndex()?.definedType(named: name, in: space, into: t)
            }
        } else if hasDWARF {
            // BTF cannot tell `x[0]` from `x[]`; DWARF can, asked only when printing a struct
            // with such a member.
            t.dwarfZeroLengthArrays = { [weak self] name, isUnion, size in
                self?.dwarfIndex()?.zeroLengthArrayMembers(ofComposite: name, isUnion: isUnion, byteSize: size)
            }
        }
        typesCache = t
        return t
    }

    /// The GNU build-id from .note.gnu.build-id as lowercase hex (VMCOREINFO's BUILD-ID form),
    /// or nil when the file has none (or the kernel was read from memory).
    public lazy var buildID: String? = loadedImage?.buildIDHex ?? image?.buildIDHex

    /// The `linux_banner` string as stored in the file ("Linux version 6.1.0-56-cloud-amd64
    /// (...) #1 SMP ...\n"), or nil when the symbol or its bytes are missing.
    public lazy var linuxBanner: String? = {
        guard let table = try? symbols(), let sym = table.symbol(named: "linux_banner") else { return nil }
        let length = sym.size > 0 ? Int(min(sym.size, 1024)) : 512
        if image == nil {
            guard let b = memorySource?.bytesIfPresent(sym.address, length) ?? memorySource?.bytesIfPresent(sym.address, 256) else { return nil }
            return String(decoding: b.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        guard let b = [loadedImage, image].compactMap({ $0 }).lazy.compactMap({
            $0.bytes(atAddress: sym.address, count: length) ?? $0.bytes(atAddress: sym.address, count: 1)
        }).first else {
            return nil
        }
        let n = b.cStringLength(at: 0) ?? b.count
        return String(decoding: UnsafeRawBufferPointer(start: b.base, count: n), as: UTF8.self)
    }()

    /// The kernel release from the banner ("6.1.0-56-cloud-amd64"): VMCOREINFO's OSRELEASE.
    public var osRelease: String? {
        guard let banner = linuxBanner, banner.hasPrefix("Linux version ") else { return nil }
        return banner.dropFirst("Linux version ".count).split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    /// The bytes of section `name` as stored in the file, with its link-time address: what the
    /// stack unwinder reads the kernel's ORC tables from (`.orc_unwind_ip`, `.orc_unwind`,
    /// `.orc_header`). Nil when the section is absent, has no file bytes, or is larger than
    /// `maxSize` (a damaged header never allocates gigabytes). A kernel read from memory reads
    /// them between the symbols that bound them.
    public func sectionContents(named name: String, maxSize: Int = 1 << 28) -> (address: UInt64, bytes: [UInt8])? {
        if image == nil { return memorySectionContents(named: name, maxSize: maxSize) }
        guard let (_, s, b) = contents(ofSection: name), b.count <= maxSize else { return nil }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: b.base, count: b.count))
        return (s.address, bytes)
    }

    /// Whether the file has DWARF (.debug_info): line numbers and what BTF lacks.
    public var hasDWARF: Bool { image?.section(named: ".debug_info") != nil }
}

import CDwarf
#if canImport(Glibc)
import Glibc
#endif

/// The vmlinux: ELF symbols, BTF and DWARF types, global variables and line info.
///
/// Opening validates the file and reads only section headers (milliseconds); the symbol
/// indexes, the BTF type index and libdw are set up on first use. Addresses are link-time
/// unless a method says otherwise; `symbols.relocated(by:)` gives run-time addresses.
///
/// Not thread-safe: the shell asks one question at a time.
public final class KernelImage {
    public let path: String
    /// The file with .symtab and DWARF: the vmlinux itself, or its separate debug file.
    let image: ELFImage
    /// The file given, whose allocated sections (.BTF, .rodata, .orc_unwind) have their bytes:
    /// the same as `image` unless the debuginfo was split off.
    let loadedImage: ELFImage
    /// Where separate debug files are looked for (build-id tree, debuglink mirrors).
    let debugRoots: [String]
    private var symbolStore: SymbolStore?
    private var symbolError: SymbolError?
    private var typesCache: KernelTypes?
    var dwarfCache: DwarfIndex??

    /// Opens and validates `path` as an x86_64 vmlinux (ET_EXEC). When the file has no DWARF
    /// (stripped, or debuginfo split off), its debug file is looked for by build-id under each
    /// of `debugRoots` and through `.gnu_debuglink` (see `SeparateDebugInfo`). Throws
    /// `SymbolError`: `.notELF`, `.emptyFile`, `.notVmlinux` (a core file, a module...),
    /// `.noSymbolTable` (stripped and no debug file found), `.cannotOpen`.
    public init(path: String, debugRoots: [String] = ["/usr/lib/debug"]) throws {
        self.path = path
        self.debugRoots = debugRoots
        let given = try ELFImage(path: path)
        loadedImage = given
        let hasSymbols = { (i: ELFImage) in i.sections.contains(where: { $0.type == UInt32(SHT_SYMTAB) }) }
        if given.section(named: ".debug_info") == nil,
           let debug = SeparateDebugInfo(roots: debugRoots).find(for: given, role: .kernel), hasSymbols(debug) {
            image = debug
        } else {
            image = given
        }
        // A stripped vmlinux cannot resolve anything: say so at open, not at the first command.
        if !hasSymbols(image) {
            throw SymbolError.noSymbolTable(path: path)
        }
    }

    /// The separate debug file in use, when the debuginfo was not in the file given.
    public var debugFilePath: String? { image === loadedImage ? nil : image.path }

    /// Section `name` and its bytes from whichever file stores them (a debug file has the
    /// allocated sections as NOBITS).
    func contents(ofSection name: String) -> (file: ELFImage, section: ELFSection, bytes: Bytes)? {
        for i in [loadedImage, image] {
            if let s = i.section(named: name), let b = i.bytes(of: s) { return (i, s, b) }
            if loadedImage === image { break }
        }
        return nil
    }

    /// The .symtab at link-time addresses (slide 0); `relocated(by:)` applies KASLR.
    public func symbols() throws -> SymbolTable {
        if let symbolStore { return SymbolTable(store: symbolStore, slide: 0) }
        if let symbolError { throw symbolError }
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
        var btf: BTFTable?
        if let (file, _, b) = contents(ofSection: ".BTF") {
            btf = BTFTable(section: b, owner: file)
        }
        guard btf != nil || hasDWARF else { throw SymbolError.noDebugInfo(path: path) }
        let t = KernelTypes(btf: btf)
        if btf == nil {
            // A debug file without .BTF (its allocated sections are NOBITS): named types come
            // from DWARF definitions.
            t.dwarfDefinition = { [weak self, unowned t] name, space in
                self?.dwarfIndex()?.definedType(named: name, in: space, into: t)
            }
        }
        typesCache = t
        return t
    }

    /// The GNU build-id from .note.gnu.build-id as lowercase hex (VMCOREINFO's BUILD-ID form),
    /// or nil when the file has none.
    public lazy var buildID: String? = loadedImage.buildIDHex ?? image.buildIDHex

    /// The `linux_banner` string as stored in the file ("Linux version 6.1.0-56-cloud-amd64
    /// (...) #1 SMP ...\n"), or nil when the symbol or its bytes are missing.
    public lazy var linuxBanner: String? = {
        guard let table = try? symbols(), let sym = table.symbol(named: "linux_banner") else { return nil }
        let length = sym.size > 0 ? Int(min(sym.size, 1024)) : 512
        guard let b = [loadedImage, image].lazy.compactMap({
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
    /// `maxSize` (a damaged header never allocates gigabytes).
    public func sectionContents(named name: String, maxSize: Int = 1 << 28) -> (address: UInt64, bytes: [UInt8])? {
        guard let (_, s, b) = contents(ofSection: name), b.count <= maxSize else { return nil }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: b.base, count: b.count))
        return (s.address, bytes)
    }

    /// Whether the file has DWARF (.debug_info): line numbers and what BTF lacks.
    public var hasDWARF: Bool { image.section(named: ".debug_info") != nil }
}

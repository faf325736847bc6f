import CDwarf
#if canImport(Glibc)
import Glibc
#endif

/// A loaded module's debuginfo: its .ko (or .ko.debug) file, an ET_REL object whose sections
/// all start at address 0 and whose DWARF holds relocations instead of addresses. Opening it
/// applies the .rela.debug_* relocations with the run-time address of each section (from the
/// dump's `module.sect_attrs`), so libdw and crashsh then read DWARF in run-time addresses:
/// file:line and inline frames of module code, as for the vmlinux.
///
/// Not thread-safe, like `KernelImage`.
public final class ModuleDebugInfo {
    public let path: String
    let image: ELFImage
    let dwarf: DwarfIndex

    /// Opens `path` as a module object and relocates its debug sections with `sectionAddresses`
    /// (run-time address by section name; sections not named stay at 0). Throws `SymbolError`:
    /// the open errors of `KernelImage`, `.noDebugInfo` when the file has no DWARF (a stripped
    /// .ko: its debug file is looked for by build-id and .gnu_debuglink under `debugRoots`).
    /// - Parameter typeKeySpace: a number distinct for each module translated into one
    ///   `KernelTypes` (1, 2, ...), keeping their DWARF apart from each other's and the vmlinux's.
    public init(path: String, sectionAddresses: [String: UInt64], debugRoots: [String] = [], typeKeySpace: UInt64 = 1) throws {
        self.path = path
        var file = try ELFImage(path: path, role: .module)
        if file.section(named: ".debug_info") == nil,
           let separate = SeparateDebugInfo(roots: debugRoots).find(for: file, role: .module) {
            file = separate
        }
        guard file.section(named: ".debug_info") != nil else { throw SymbolError.noDebugInfo(path: path) }
        try ModuleDebugInfo.relocateDebugSections(of: file, sectionAddresses: sectionAddresses)
        guard let d = DwarfIndex(image: file, debugRoots: debugRoots) else { throw SymbolError.noDebugInfo(path: path) }
        d.typeKeyBase = (typeKeySpace & 0x7fff) << 41
        image = file
        dwarf = d
    }

    /// The file the DWARF came from (the .ko, or its separate debug file).
    public var debugFilePath: String { image.path }

    /// The GNU build-id of the module object, as hex.
    public var buildID: String? { image.buildIDHex }

    /// A type the module defines ("struct virtio_blk", a typedef name), translated into the
    /// kernel's `types` (types the vmlinux's BTF has by the same name and size are shared);
    /// nil when the module's DWARF has no definition of it.
    public func type(named spelled: String, into types: KernelTypes) -> TypeID? {
        dwarf.findType(spelled: spelled, into: types)
    }

    /// The prototype (a `.function` type) of the module function `name` at run-time `address`.
    public func functionType(named name: String, address: UInt64, into types: KernelTypes) -> TypeID? {
        guard var die = dwarf.findFunction(named: name, address: address) else { return nil }
        return dwarf.translate(&die, into: types, depth: 0)
    }

    /// The declared type of the module variable `name` (at run-time `address`).
    public func variableType(named name: String, address: UInt64, into types: KernelTypes) -> TypeID? {
        guard var die = dwarf.findVariable(named: name, address: address, units: 0, through: .max,
                                           stopAtDeclaration: false) else { return nil }
        return dwarf.typeOf(&die, into: types)
    }

    /// File and line of the module code at the run-time `address`.
    public func sourceLine(at address: UInt64) -> SourceLine? { dwarf.sourceLine(at: address) }

    /// The functions inlined at the run-time `address`, innermost first.
    public func inlinedFunctions(at address: UInt64, limit: Int = 32) -> [String] {
        dwarf.inlinedFunctions(at: address, limit: limit)
    }

    // MARK: relocation

    /// Applies every SHT_RELA section that targets a non-allocated section (.debug_*) to a
    /// private copy of its target, handed to libelf in place of the file's bytes. Symbols resolve
    /// to their section's run-time address plus their value; x86_64 debug sections use absolute
    /// 64- and 32-bit relocations (and PC-relative ones in .debug_frame of some compilers).
    static func relocateDebugSections(of image: ELFImage, sectionAddresses: [String: UInt64]) throws {
        var sectionAddress: [Int: UInt64] = [:]
        for s in image.sections { sectionAddress[s.index] = sectionAddresses[s.name] ?? 0 }
        for rela in image.sections where rela.type == UInt32(SHT_RELA) {
            guard let infoIndex = relaTarget(of: rela, in: image), let target = image.section(index: infoIndex),
                  !target.isAllocated, target.name.hasPrefix(".debug"),
                  let relocations = image.bytes(of: rela), let symtab = image.section(index: Int(rela.link)),
                  symtab.type == UInt32(SHT_SYMTAB), let symbols = image.bytes(of: symtab),
                  let contents = image.bytes(of: target), contents.count > 0 else { continue }
            let buffer: UnsafeMutableRawBufferPointer
            if let own = image.inflated[target.index] {
                buffer = own
            } else {
                buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: contents.count, alignment: 16)
                buffer.copyMemory(from: UnsafeRawBufferPointer(start: contents.base, count: contents.count))
                image.replaceContents(of: target, with: buffer, alignment: 8)
            }
            let count = relocations.count / 24
            for i in 0..<count {
                let at = i * 24
                guard let offset = relocations.u64(at), let info = relocations.u64(at + 8),
                      let addendBits = relocations.u64(at + 16) else { break }
                let type = UInt32(truncatingIfNeeded: info)
                let symbolIndex = Int(info >> 32)
                guard symbolIndex >= 0, symbolIndex < symbols.count / 24,
                      let value = symbols.u64(symbolIndex * 24 + 8), let shndx = symbols.u16(symbolIndex * 24 + 6) else { continue }
                let base: UInt64
                switch Int32(shndx) {
                case SHN_UNDEF: base = 0
                case SHN_ABS: base = 0
                default: base = sectionAddress[Int(shndx)] ?? 0
                }
                let result = base &+ value &+ addendBits
                guard offset < UInt64(buffer.count) else { continue }
                let o = Int(offset)
                switch type {
                case UInt32(R_X86_64_64):
                    guard o <= buffer.count - 8 else { continue }
                    buffer.storeBytes(of: result.littleEndian, toByteOffset: o, as: UInt64.self)
                case UInt32(R_X86_64_32), UInt32(R_X86_64_32S):
                    guard o <= buffer.count - 4 else { continue }
                    buffer.storeBytes(of: UInt32(truncatingIfNeeded: result).littleEndian, toByteOffset: o, as: UInt32.self)
                case UInt32(R_X86_64_PC32):
                    guard o <= buffer.count - 4 else { continue }
                    let place = (sectionAddress[target.index] ?? 0) &+ offset
                    buffer.storeBytes(of: UInt32(truncatingIfNeeded: result &- place).littleEndian, toByteOffset: o, as: UInt32.self)
                case UInt32(R_X86_64_PC64):
                    guard o <= buffer.count - 8 else { continue }
                    let place = (sectionAddress[target.index] ?? 0) &+ offset
                    buffer.storeBytes(of: (result &- place).littleEndian, toByteOffset: o, as: UInt64.self)
                default:
                    continue
                }
            }
        }
    }

    /// The section a relocation section applies to (its sh_info).
    static func relaTarget(of rela: ELFSection, in image: ELFImage) -> Int? {
        guard let scn = elf_getscn(image.elf, rela.index) else { return nil }
        var shdr = GElf_Shdr()
        guard gelf_getshdr(scn, &shdr) != nil, shdr.sh_info > 0 else { return nil }
        return Int(shdr.sh_info)
    }
}

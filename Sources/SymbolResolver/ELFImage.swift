import CDwarf
import CDecompress
#if canImport(Glibc)
import Glibc
#endif

/// One section header of the vmlinux, in plain Swift values.
struct ELFSection: Sendable {
    var index: Int
    var name: String
    var type: UInt32
    var flags: UInt64
    var address: UInt64
    var offset: UInt64
    var size: UInt64
    var link: UInt32
    var entrySize: UInt64

    var isAllocated: Bool { flags & UInt64(SHF_ALLOC) != 0 }
    var isWritable: Bool { flags & UInt64(SHF_WRITE) != 0 }
    var isExecutable: Bool { flags & UInt64(SHF_EXECINSTR) != 0 }
    var hasFileBytes: Bool { type != UInt32(SHT_NOBITS) && type != UInt32(SHT_NULL) }
    /// The file holds an ELF compression header and compressed bytes (SHF_COMPRESSED).
    var isCompressed: Bool { flags & UInt64(SHF_COMPRESSED) != 0 }
}

/// A read-only view of bytes inside the mapped file. The mapping outlives every view because
/// the `ELFImage` that made it keeps it until deinit and views are only used through it.
struct Bytes: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int

    @inline(__always) func u8(_ at: Int) -> UInt8? {
        at >= 0 && at < count ? base.load(fromByteOffset: at, as: UInt8.self) : nil
    }
    @inline(__always) func u16(_ at: Int) -> UInt16? {
        at >= 0 && at <= count &- 2 ? base.loadUnaligned(fromByteOffset: at, as: UInt16.self) : nil
    }
    @inline(__always) func u32(_ at: Int) -> UInt32? {
        at >= 0 && at <= count &- 4 ? base.loadUnaligned(fromByteOffset: at, as: UInt32.self) : nil
    }
    @inline(__always) func u64(_ at: Int) -> UInt64? {
        at >= 0 && at <= count &- 8 ? base.loadUnaligned(fromByteOffset: at, as: UInt64.self) : nil
    }
    /// Unchecked loads for hot loops whose bounds were checked once for the whole record.
    @inline(__always) func u32u(_ at: Int) -> UInt32 { base.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
    @inline(__always) func u64u(_ at: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: at, as: UInt64.self) }

    /// The sub-range `offset ..< offset+length`, or nil when it is not all inside.
    func slice(_ offset: Int, _ length: Int) -> Bytes? {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else { return nil }
        return Bytes(base: base + offset, count: length)
    }

    /// Length of the NUL-terminated string at `offset` (bounded by the view), or nil when
    /// `offset` is outside or no NUL ends it.
    @inline(__always) func cStringLength(at offset: Int) -> Int? {
        guard offset >= 0, offset < count else { return nil }
        let p = base + offset
        guard let nul = memchr(p, 0, count - offset) else { return nil }
        return UnsafeRawPointer(nul) - p
    }

    /// `cStringLength(at:)` (0 where it is nil) and whether the string holds a '.', found
    /// reading eight bytes at a time (a NUL or '.' in a word shows as a set high bit of its byte
    /// in `(w - 0x01..) & ~w & 0x80..`; bits above the first true one may be false, which
    /// neither the first NUL nor "a '.' before it" depends on).
    @inline(__always) func cStringLengthAndDot(at offset: Int) -> (length: Int, dot: Bool) {
        guard offset >= 0, offset < count else { return (0, false) }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let dots: UInt64 = 0x2e2e_2e2e_2e2e_2e2e
        var at = offset
        var dot = false
        while at + 8 <= count {
            let w = base.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            let zero = (w &- ones) & ~w & highs
            let d = w ^ dots
            let dotBits = (d &- ones) & ~d & highs
            if zero != 0 {
                let below = (zero & (0 &- zero)) &- 1   // the bits under the first NUL's
                return (at - offset + zero.trailingZeroBitCount / 8, dot || dotBits & below != 0)
            }
            if dotBits != 0 { dot = true }
            at += 8
        }
        while at < count {
            let b = base.load(fromByteOffset: at, as: UInt8.self)
            if b == 0 { return (at - offset, dot) }
            if b == UInt8(ascii: ".") { dot = true }
            at += 1
        }
        return (0, false)
    }

    /// The NUL-terminated string at `offset` decoded as UTF-8 (invalid bytes repaired).
    func cString(at offset: Int) -> String? {
        guard let n = cStringLength(at: offset) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: base + offset, count: n), as: UTF8.self)
    }

    /// True when the NUL-terminated string at `offset` equals `key` byte for byte.
    @inline(__always) func cStringEquals(at offset: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        guard offset >= 0, key.count < count - offset else { return false }
        let p = base + offset
        if key.count > 0, memcmp(p, key.baseAddress!, key.count) != 0 { return false }
        return p.load(fromByteOffset: key.count, as: UInt8.self) == 0
    }
}

/// Which ELF files an `ELFImage` accepts.
enum ELFRole {
    /// A vmlinux or its separate debug file: ET_EXEC.
    case kernel
    /// A kernel module's object or debug file: ET_REL.
    case module
    /// A dwz common file (`.gnu_debugaltlink` target): whatever type dwz gave it.
    case supplementary
}

/// An x86_64 ELF file (the vmlinux, its debug file, a module) opened through libelf with
/// ELF_C_READ_MMAP: section headers and the mapped bytes. libelf and libdw handles stay inside
/// this module.
final class ELFImage {
    let path: String
    let fd: Int32
    let elf: OpaquePointer
    let file: Bytes
    let sections: [ELFSection]
    let elfType: UInt16
    let machine: UInt16
    /// Contents that replace what the file stores, by section index: SHF_COMPRESSED sections
    /// inflated, a module's debug sections relocated. Allocated here and freed at deinit (after
    /// libelf, which is handed them too: see `replaceContents`).
    var inflated: [Int: UnsafeMutableRawBufferPointer] = [:]

    init(path: String, role: ELFRole = .kernel) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SymbolError.cannotOpen(path: path, errno: errno) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            close(fd)
            throw SymbolError.cannotOpen(path: path, errno: e)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw SymbolError.notRegularFile(path: path)
        }
        guard st.st_size > 0 else {
            close(fd)
            throw SymbolError.emptyFile(path: path)
        }
        _ = elf_version(UInt32(EV_CURRENT))
        guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else {
            close(fd)
            throw SymbolError.notELF(path: path)
        }
        // From here on, `cleanup` releases what was opened when validation fails.
        func fail(_ e: SymbolError) -> SymbolError {
            elf_end(elf)
            close(fd)
            return e
        }
        guard elf_kind(elf) == ELF_K_ELF else { throw fail(.notELF(path: path)) }
        guard gelf_getclass(elf) == ELFCLASS64 else {
            throw fail(.notVmlinux(path: path, reason: "32-bit ELF; crashsh reads x86_64 kernels"))
        }
        var ehdr = GElf_Ehdr()
        guard gelf_getehdr(elf, &ehdr) != nil else {
            throw fail(.malformed(path: path, what: "unreadable ELF header"))
        }
        switch Int32(ehdr.e_type) {
        case _ where role == .supplementary: break
        case ET_EXEC where role == .kernel: break
        case ET_REL where role == .module: break
        case ET_EXEC:
            throw fail(.malformed(path: path, what: "an executable (vmlinux?), not a kernel module"))
        case ET_CORE:
            throw fail(.notVmlinux(path: path, reason: "an ELF core file (a dump), not a kernel image"))
        case ET_REL:
            throw fail(.notVmlinux(path: path, reason: "a relocatable object (a module?), not vmlinux"))
        case ET_DYN:
            throw fail(.notVmlinux(path: path, reason: "a shared object or PIE, not vmlinux"))
        default:
            throw fail(.notVmlinux(path: path, reason: "ELF type \(ehdr.e_type)"))
        }
        guard Int32(ehdr.e_machine) == EM_X86_64 else {
            throw fail(.notVmlinux(path: path, reason: "machine \(ehdr.e_machine), not x86_64"))
        }
        var rawSize = 0
        guard let raw = elf_rawfile(elf, &rawSize), rawSize > 0 else {
            throw fail(.malformed(path: path, what: "cannot map the file"))
        }
        let file = Bytes(base: UnsafeRawPointer(raw), count: rawSize)
        var shstrndx = 0
        guard elf_getshdrstrndx(elf, &shstrndx) == 0 else {
            throw fail(.malformed(path: path, what: "no section name table"))
        }
        var list: [ELFSection] = []
        var scn: OpaquePointer? = nil
        while let s = elf_nextscn(elf, scn) {
            scn = s
            var shdr = GElf_Shdr()
            guard gelf_getshdr(s, &shdr) != nil else {
                throw fail(.malformed(path: path, what: "unreadable section header"))
            }
            let name = elf_strptr(elf, shstrndx, Int(shdr.sh_name)).map { String(cString: $0) } ?? ""
            list.append(ELFSection(index: elf_ndxscn(s), name: name, type: shdr.sh_type,
                                   flags: shdr.sh_flags, address: shdr.sh_addr, offset: shdr.sh_offset,
                                   size: shdr.sh_size, link: shdr.sh_link, entrySize: shdr.sh_entsize))
        }
        self.fd = fd
        self.elf = elf
        self.file = file
        self.sections = list
        self.elfType = ehdr.e_type
        self.machine = ehdr.e_machine
    }

    deinit {
        elf_end(elf)
        close(fd)
        for buffer in inflated.values { buffer.deallocate() }
    }

    func section(named name: String) -> ELFSection? { sections.first { $0.name == name } }

    func section(index: Int) -> ELFSection? {
        // Section indexes are dense and start at 1 (0 is the NULL section libelf does not list).
        if index >= 1, index <= sections.count, sections[index - 1].index == index { return sections[index - 1] }
        return sections.first { $0.index == index }
    }

    /// The bytes of a section (decompressed when the file stores it compressed), or nil for
    /// NOBITS, a section that runs past the file, or one that does not decompress.
    func bytes(of section: ELFSection) -> Bytes? {
        if let replaced = inflated[section.index] { return Bytes(base: UnsafeRawPointer(replaced.baseAddress!), count: replaced.count) }
        if section.isCompressed { return decompressed(section) }
        return storedBytes(of: section)
    }

    /// The section's bytes as stored in the file.
    func storedBytes(of section: ELFSection) -> Bytes? {
        guard section.hasFileBytes,
              let off = Int(exactly: section.offset), let len = Int(exactly: section.size) else { return nil }
        return file.slice(off, len)
    }

    /// The file bytes backing the link-time address range `address ..< address+count`, from the
    /// allocated PROGBITS section that holds it.
    func bytes(atAddress address: UInt64, count: Int) -> Bytes? {
        for s in sections where s.isAllocated && s.hasFileBytes && s.address != 0 {
            guard address >= s.address, address - s.address < s.size else { continue }
            let rel = address - s.address
            guard UInt64(count) <= s.size - rel, let b = bytes(of: s) else { return nil }
            return b.slice(Int(rel), count)
        }
        return nil
    }
}

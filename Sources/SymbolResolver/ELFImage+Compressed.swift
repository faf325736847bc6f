import CDwarf
import CDecompress
#if canImport(Glibc)
import Glibc
#endif

/// SHF_COMPRESSED sections (`objcopy --compress-debug-sections`, `ld --compress-debug-sections`):
/// an Elf64_Chdr (type, uncompressed size, alignment) followed by a zlib or zstd stream.
extension ELFImage {
    /// The largest section crashsh inflates: far above any kernel's (.debug_info of a distribution
    /// vmlinux is a few hundred MiB), far below what a forged header could make it allocate.
    static let maxInflatedSection: UInt64 = 4 << 30

    /// The section's uncompressed bytes, inflated once. They are also handed to libelf in place
    /// of the compressed data (and the section's header loses SHF_COMPRESSED), so that libdw,
    /// which reads sections through libelf, sees plain DWARF: elfutils before 0.189 cannot
    /// inflate zstd itself, and inflating here once serves both readers.
    func decompressed(_ section: ELFSection) -> Bytes? {
        if let done = inflated[section.index] { return Bytes(base: UnsafeRawPointer(done.baseAddress!), count: done.count) }
        guard let stored = storedBytes(of: section), let kind = stored.u32(0), let size64 = stored.u64(8),
              let align = stored.u64(16), size64 > 0, size64 <= Self.maxInflatedSection, let size = Int(exactly: size64),
              let payload = stored.slice(24, stored.count - 24) else { return nil }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        var ok = false
        switch kind {
        case UInt32(ELFCOMPRESS_ZLIB):
            var produced = uLongf(size)
            let rc = uncompress(buffer.baseAddress!.assumingMemoryBound(to: Bytef.self), &produced,
                                payload.base.assumingMemoryBound(to: Bytef.self), uLong(payload.count))
            ok = rc == Z_OK && produced == uLongf(size)
        case Self.compressZstd:
            let produced = ZSTD_decompress(buffer.baseAddress!, size, payload.base, payload.count)
            ok = ZSTD_isError(produced) == 0 && produced == size
        default:
            ok = false
        }
        guard ok else {
            buffer.deallocate()
            return nil
        }
        replaceContents(of: section, with: buffer, alignment: align)
        return Bytes(base: UnsafeRawPointer(buffer.baseAddress!), count: size)
    }

    /// ELFCOMPRESS_ZSTD, which glibc's <elf.h> before 2.37 does not define.
    static let compressZstd: UInt32 = 2

    /// Inflates every compressed debug section before libdw opens the file (libdw would inflate
    /// them all at dwarf_begin_elf anyway). Sections that do not inflate are left as they are:
    /// libdw then reports what it cannot read.
    func inflateDebugSectionsForLibdw() {
        for s in sections where s.isCompressed && s.name.hasPrefix(".debug") { _ = decompressed(s) }
    }

    /// Makes `buffer` the section's contents for crashsh and libelf: records it, points the
    /// section's libelf data at it and clears SHF_COMPRESSED in libelf's copy of the header
    /// (ELF_C_READ_MMAP keeps section headers in writable memory of its own). The buffer outlives
    /// libelf: deinit frees it after elf_end, which frees only its own buffers.
    func replaceContents(of section: ELFSection, with buffer: UnsafeMutableRawBufferPointer, alignment: UInt64) {
        if let old = inflated[section.index], old.baseAddress != buffer.baseAddress { old.deallocate() }
        inflated[section.index] = buffer
        guard let scn = elf_getscn(elf, section.index), let data = elf_getdata(scn, nil),
              let shdr = elf64_getshdr(scn) else { return }
        data.pointee.d_buf = buffer.baseAddress
        data.pointee.d_size = buffer.count
        data.pointee.d_type = ELF_T_BYTE
        data.pointee.d_align = alignment > 0 && alignment <= 4096 ? Int(alignment) : 1
        shdr.pointee.sh_flags &= ~UInt64(SHF_COMPRESSED)
        shdr.pointee.sh_size = UInt64(buffer.count)
    }
}

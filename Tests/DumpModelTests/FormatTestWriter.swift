import CDecompress
@testable import DumpModel

/// Test-only writers of small dump files, byte by byte from the format descriptions, so the
/// parser tests control every field (and can break any of them).
enum TestWriter {
    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func be<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    static func put<T: FixedWidthInteger>(_ v: T, at offset: Int, in bytes: inout [UInt8]) {
        let b = le(v)
        if bytes.count < offset + b.count { bytes += [UInt8](repeating: 0, count: offset + b.count - bytes.count) }
        bytes.replaceSubrange(offset ..< offset + b.count, with: b)
    }

    static func pad4(_ n: Int) -> Int { (n + 3) & ~3 }

    /// One ELF note, 4-byte aligned.
    static func note(name: String, type: UInt32, desc: [UInt8]) -> [UInt8] {
        let n = Array(name.utf8) + [0]
        var out = le(UInt32(n.count)) + le(UInt32(desc.count)) + le(type)
        out += n + [UInt8](repeating: 0, count: pad4(n.count) - n.count)
        out += desc + [UInt8](repeating: 0, count: pad4(desc.count) - desc.count)
        return out
    }

    /// An x86_64 `struct elf_prstatus` with the given pid and registers 1...27 scaled by `seed`.
    static func prstatus(pid: Int32, seed: UInt64) -> [UInt8] {
        var d = [UInt8](repeating: 0, count: 336)
        put(Int32(11), at: 0, in: &d)          // si_signo
        put(Int16(6), at: 12, in: &d)          // cursig
        put(pid, at: 32, in: &d)
        put(Int32(1), at: 36, in: &d)
        put(Int64(5), at: 48, in: &d)          // utime.tv_sec
        put(Int64(250), at: 56, in: &d)        // utime.tv_usec
        for i in 0..<27 { put(seed &* 0x1_0000 &+ UInt64(i), at: 112 + 8 * i, in: &d) }
        put(Int32(1), at: 328, in: &d)         // fpvalid
        return d
    }

    struct Load { var paddr: UInt64; var data: [UInt8]; var memsz: UInt64 }

    /// An ELF64 little-endian ET_CORE with one PT_NOTE and the given PT_LOADs, data in order.
    static func elfCore(notes: [UInt8], loads: [Load], type: UInt16 = 4, machine: UInt16 = 62) -> [UInt8] {
        let phnum = 1 + loads.count
        var out = [UInt8](repeating: 0, count: 64)
        out.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
        out[4] = 2; out[5] = 1; out[6] = 1
        put(type, at: 16, in: &out); put(machine, at: 18, in: &out); put(UInt32(1), at: 20, in: &out)
        put(UInt64(64), at: 32, in: &out)                        // e_phoff
        put(UInt16(64), at: 52, in: &out); put(UInt16(56), at: 54, in: &out); put(UInt16(phnum), at: 56, in: &out)
        var dataOffset = 64 + 56 * phnum
        var phdrs: [UInt8] = []
        func phdr(_ t: UInt32, _ off: Int, _ paddr: UInt64, _ filesz: Int, _ memsz: UInt64) -> [UInt8] {
            le(t) + le(UInt32(7)) + le(UInt64(off)) + le(paddr | 0xffff_8880_0000_0000) + le(paddr)
                + le(UInt64(filesz)) + le(memsz) + le(UInt64(0))
        }
        phdrs += phdr(4, dataOffset, 0, notes.count, UInt64(notes.count))
        dataOffset += notes.count
        for l in loads {
            phdrs += phdr(1, dataOffset, l.paddr, l.data.count, l.memsz)
            dataOffset += l.data.count
        }
        out += phdrs + notes
        for l in loads { out += l.data }
        return out
    }

    enum Compression { case raw, zlib, lzo, snappy, zstd }

    static func compress(_ page: [UInt8], _ c: Compression) -> (bytes: [UInt8], flags: UInt32) {
        switch c {
        case .raw:
            return (page, 0)
        case .zlib:
            var out = [UInt8](repeating: 0, count: Int(compressBound(uLong(page.count))))
            var len = uLongf(out.count)
            _ = compress2(&out, &len, page, uLong(page.count), 6)
            return (Array(out[0..<Int(len)]), 1)
        case .lzo:
            var out = [UInt8](repeating: 0, count: page.count + page.count / 16 + 64 + 3)
            var work = [UInt8](repeating: 0, count: 16384 * 8)
            var len = lzo_uint(0)
            _ = crashsh_lzo_init()
            _ = lzo1x_1_compress(page, lzo_uint(page.count), &out, &len, &work)
            return (Array(out[0..<Int(len)]), 2)
        case .snappy:
            var out = [CChar](repeating: 0, count: snappy_max_compressed_length(page.count))
            var len = out.count
            _ = page.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { snappy_compress($0.baseAddress, page.count, &out, &len) }
            }
            return (out[0..<len].map { UInt8(bitPattern: $0) }, 4)
        case .zstd:
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(page.count))
            let n = ZSTD_compress(&out, out.count, page, page.count, 1)
            return (Array(out[0..<n]), 0x20)
        }
    }

    /// A page whose every 8-byte word says which pfn it is (and where in the page).
    static func stampedPage(pfn: UInt64, size: Int = 4096) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: size)
        for w in stride(from: 0, to: size, by: 8) { put(pfn << 16 | UInt64(w), at: w, in: &p) }
        return p
    }

    struct Kdump {
        var headerVersion: Int32 = 6
        var blockSize: Int32 = 4096
        var maxMapnr: UInt64 = 2048
        /// pfn -> stored compression; these are in both bitmaps.
        var pages: [UInt64: Compression] = [:]
        /// In the 1st bitmap only (RAM left out of the dump).
        var excluded: Set<UInt64> = []
        var vmcoreinfo = "OSRELEASE=6.1.0-test\nPAGESIZE=4096\nCRASHTIME=1700000000\n"
        var prstatusPIDs: [Int32] = [1, 42]
        var dumpLevel: Int32 = 31
        var status: UInt32 = 1
        /// One part of a makedumpfile --split set: the pfns whose page_descs and data this file
        /// holds (the bitmaps, as makedumpfile writes them, describe every pfn).
        var split: Range<UInt64>? = nil
        /// utsname.machine.
        var machine = "x86_64"
        /// No bitmap blocks at all (an empty dump: max_mapnr 0).
        var noBitmapBlocks = false
        /// sub_hdr_size in the header. The sub-header, notes and VMCOREINFO go in block 1 on
        /// whatever it says (libkdumpfile's empty test dumps say 0 and still have them there).
        var subHeaderBlocks = 2

        /// The file, and where the page_desc table starts.
        func build() -> (bytes: [UInt8], dataOffset: Int) {
            let bs = Int(blockSize)
            let bitmapBytes = Int((maxMapnr + 7) / 8)
            // Each bitmap rounded up to whole blocks (the two halves are equal).
            let halfBlocks = noBitmapBlocks ? 0 : max(1, (bitmapBytes + bs - 1) / bs)
            let subHdrBlocks = subHeaderBlocks
            var out = [UInt8](repeating: 0, count: bs * (1 + max(subHdrBlocks, 1) + 2 * halfBlocks))
            out.replaceSubrange(0..<8, with: Array("KDUMP   ".utf8))
            put(headerVersion, at: 8, in: &out)
            for (k, s) in ["Linux", "testhost", "6.1.0-test", "#1 SMP", machine, "(none)"].enumerated() {
                out.replaceSubrange(12 + 65 * k ..< 12 + 65 * k + s.utf8.count, with: Array(s.utf8))
            }
            put(Int64(0x6000_0000), at: 408, in: &out)
            put(status, at: 424, in: &out)
            put(blockSize, at: 428, in: &out)
            put(Int32(subHdrBlocks), at: 432, in: &out)
            put(UInt32(2 * halfBlocks), at: 436, in: &out)
            put(UInt32(truncatingIfNeeded: min(maxMapnr, UInt64(UInt32.max))), at: 440, in: &out)
            put(UInt32(1), at: 456, in: &out)
            put(Int32(prstatusPIDs.count), at: 460, in: &out)
            // Sub-header in block 1; notes and VMCOREINFO right after it, still within the sub-header blocks.
            let sub = bs
            put(UInt64(0x1000000), at: sub, in: &out)
            put(dumpLevel, at: sub + 8, in: &out)
            var notes: [UInt8] = []
            for (i, pid) in prstatusPIDs.enumerated() {
                notes += note(name: "CORE", type: 1, desc: prstatus(pid: pid, seed: UInt64(i + 1)))
            }
            let vmci = Array(vmcoreinfo.utf8)
            notes += note(name: "VMCOREINFO", type: 0, desc: vmci)
            let noteOffset = sub + 128
            out.replaceSubrange(noteOffset ..< noteOffset + notes.count, with: notes)
            let vmciOffset = noteOffset + notes.count - pad4(vmci.count)
            if headerVersion >= 3 {
                put(UInt64(vmciOffset), at: sub + 32, in: &out); put(UInt64(vmci.count), at: sub + 40, in: &out)
            }
            if headerVersion >= 4 {
                put(UInt64(noteOffset), at: sub + 48, in: &out); put(UInt64(notes.count), at: sub + 56, in: &out)
            }
            if headerVersion >= 6 { put(maxMapnr, at: sub + 96, in: &out) }
            if let split, headerVersion >= 2 {
                put(Int32(1), at: sub + 12, in: &out)
                put(split.lowerBound, at: sub + 16, in: &out); put(split.upperBound, at: sub + 24, in: &out)
                if headerVersion >= 6 { put(split.lowerBound, at: sub + 80, in: &out); put(split.upperBound, at: sub + 88, in: &out) }
            }
            // Bitmaps.
            let bm1 = bs * (1 + subHdrBlocks), bm2 = bm1 + halfBlocks * bs
            for pfn in pages.keys { out[bm1 + Int(pfn / 8)] |= 1 << (pfn % 8); out[bm2 + Int(pfn / 8)] |= 1 << (pfn % 8) }
            for pfn in excluded { out[bm1 + Int(pfn / 8)] |= 1 << (pfn % 8) }
            // page_desc table, then data.
            let dataOffset = out.count
            let sorted = pages.keys.sorted().filter { split?.contains($0) ?? true }
            var data: [UInt8] = []
            var table: [UInt8] = []
            let dataStart = dataOffset + 24 * sorted.count
            for pfn in sorted {
                let (stored, flags) = compress(stampedPage(pfn: pfn, size: bs), pages[pfn]!)
                table += le(UInt64(dataStart + data.count)) + le(UInt32(stored.count)) + le(flags) + le(UInt64(0))
                data += stored
            }
            out += table + data
            return (out, dataOffset)
        }
    }

    /// The first block of a kdump-compressed file of another machine's layout: a 32-bit one
    /// (4-byte timestamps: status at 412, block_size at 416) and/or big-endian fields.
    static func foreignKdumpHeader(machine: String, bits32: Bool, bigEndian: Bool) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 4096)
        out.replaceSubrange(0..<8, with: Array("KDUMP   ".utf8))
        func field(_ v: Int32, at offset: Int) {
            out.replaceSubrange(offset ..< offset + 4, with: bigEndian ? be(v) : le(v))
        }
        field(6, at: 8)
        for (k, s) in ["Linux", "host", "6.1.0", "#1", machine, "(none)"].enumerated() {
            out.replaceSubrange(12 + 65 * k ..< 12 + 65 * k + s.utf8.count, with: Array(s.utf8))
        }
        let blockSize = bits32 ? 416 : 428
        field(4096, at: blockSize)
        field(1, at: blockSize + 4)       // sub_hdr_size
        field(2, at: blockSize + 8)       // bitmap_blocks
        field(0x100, at: blockSize + 12)  // max_mapnr
        return out
    }

    /// An ELF core with a 32-bit (ELFCLASS32) header for `machine`.
    static func elf32Core(machine: UInt16, bigEndian: Bool = false) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 52)
        out.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
        out[4] = 1; out[5] = bigEndian ? 2 : 1; out[6] = 1
        out.replaceSubrange(16..<18, with: bigEndian ? be(UInt16(4)) : le(UInt16(4)))
        out.replaceSubrange(18..<20, with: bigEndian ? be(machine) : le(machine))
        return out
    }

    /// The flattened form of `logical`: records of `chunk` bytes, written in `order`, plus stale
    /// garbage records first that the real records overwrite.
    static func flatten(_ logical: [UInt8], chunk: Int, reversed: Bool = false, staleRecords: Bool = false) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 4096)
        out.replaceSubrange(0..<12, with: Array("makedumpfile".utf8))
        out.replaceSubrange(16..<24, with: be(Int64(1)))
        out.replaceSubrange(24..<32, with: be(Int64(1)))
        var starts = Array(stride(from: 0, to: logical.count, by: chunk))
        if reversed { starts.reverse() }
        if staleRecords {
            for s in starts.prefix(8) {
                let n = min(chunk, logical.count - s)
                out += be(Int64(s)) + be(Int64(n)) + [UInt8](repeating: 0xee, count: n)
            }
        }
        for s in starts {
            let n = min(chunk, logical.count - s)
            out += be(Int64(s)) + be(Int64(n)) + Array(logical[s ..< s + n])
        }
        out += be(Int64(-1)) + be(Int64(-1))
        return out
    }
}

/// `disk_dump_header` of a kdump-compressed file (block 0).
public struct KdumpHeader: Sendable, Equatable {
    public var signature: String
    public var headerVersion: Int32
    /// sysname, nodename, release, version, machine, domainname.
    public var utsname: [String]
    public var timestampSec: Int64, timestampUsec: Int64
    public var status: UInt32
    public var blockSize: Int32
    public var subHeaderBlocks: Int32
    public var bitmapBlocks: UInt32
    public var maxMapnr32: UInt32
    public var totalRAMBlocks: UInt32, deviceBlocks: UInt32, writtenBlocks: UInt32
    public var currentCPU: UInt32
    public var nrCPUs: Int32
    /// The crashed kernel's task pointers per CPU, as far as the header block holds them.
    public var tasks: [UInt64]

    public static let utsnameFields = ["sysname", "nodename", "release", "version", "machine", "domainname"]
    /// Offsets in the x86_64 (LP64) layout.
    static let size: UInt64 = 464
}

/// `kdump_sub_header` (block 1): which fields exist depends on `header_version`.
public struct KdumpSubHeader: Sendable, Equatable {
    public var physBase: UInt64 = 0
    public var dumpLevel: Int32 = 0
    public var split: Int32 = 0
    public var startPFN: UInt64 = 0, endPFN: UInt64 = 0
    public var offsetVmcoreinfo: UInt64 = 0, sizeVmcoreinfo: UInt64 = 0
    public var offsetNote: UInt64 = 0, sizeNote: UInt64 = 0
    public var offsetEraseinfo: UInt64 = 0, sizeEraseinfo: UInt64 = 0
    public var startPFN64: UInt64 = 0, endPFN64: UInt64 = 0, maxMapnr64: UInt64 = 0
}

/// makedumpfile's kdump-compressed format ("KDUMP   "), which QEMU's dump-guest-memory -z/-l/-s
/// also writes: header, sub-header, two bitmaps (1st: the RAM pages the machine had; 2nd: the pages
/// in the dump), then one `page_desc` per dumped page, in pfn order, and the page data.
///
/// Open cost is the two header blocks and the note block. The bitmaps are read in place from a
/// mapped file; for a reader that cannot point at them (a flattened file) they are copied once, on
/// first use (2 x 2 MiB for 64 GiB of RAM). The position of a pfn's `page_desc` is its rank among
/// the set bits of the 2nd bitmap; a prefix count per 512 bits, computed on first use (one pass
/// over the bitmap, 1/64 of its size), makes that O(1). Page reads allocate nothing.
/// Not thread-safe.
public final class KdumpCompressedFile: DumpFile {
    public let path: String
    public let format: DumpFormat
    public let pageSize: Int
    public let reader: any ByteReader
    public let header: KdumpHeader
    public let subHeader: KdumpSubHeader
    /// Page frames the bitmaps describe (`max_mapnr_64` from header version 6 on).
    public let maxMapnr: UInt64
    public let notes: [DumpNote]
    public let prstatus: [PRStatus]
    public let vmcoreinfo: VMCoreInfo?
    public let qemuCPUStates: [QEMUCPUState]
    /// File offsets of the bitmaps and the page_desc table.
    public let bitmapOffset: UInt64
    public let bitmapLength: UInt64
    public let dataOffset: UInt64
    /// For one part of a makedumpfile --split set: the pfns whose pages this file holds
    /// (`start_pfn ..< end_pfn` of the sub-header). The bitmaps describe every pfn, but the
    /// page_desc table has entries for this range only. nil for a whole dump.
    public let splitRange: Range<UInt64>?

    /// Status and page flags.
    public static let compressedZlib: UInt32 = 0x1
    public static let compressedLZO: UInt32 = 0x2
    public static let compressedSnappy: UInt32 = 0x4
    public static let incomplete: UInt32 = 0x8
    public static let excludedVmemmap: UInt32 = 0x10
    public static let compressedZstd: UInt32 = 0x20
    static let pageDescSize: UInt64 = 24
    static let signature: [UInt8] = Array("KDUMP   ".utf8)

    /// The 1st bitmap (the pfns that are RAM) and the 2nd (those whose page is in the dump), read
    /// in place from a mapped file, else copied on first use (each at most half of
    /// `bitmapCopyLimit`; past it words are fetched one at a time).
    private let ramBitmap: PageBitmap
    private let dumpedBitmap: PageBitmap
    /// The default `bitmapCopyLimit`: 2 x 128 MiB describe 8 TiB of 4 KiB pages; only a corrupt
    /// header asks for more.
    public static let defaultBitmapCopyLimit: UInt64 = 256 << 20
    /// `rank(splitRange.lowerBound)`, once computed.
    private var splitRankBase: UInt64?
    private let decoder = PageDecompressor()
    /// Holds a page's stored bytes when the reader cannot hand out a pointer to them.
    private let scratch: UnsafeMutableRawBufferPointer

    /// True when `reader` starts with the "KDUMP   " signature.
    public static func hasSignature(_ reader: any ByteReader) -> Bool {
        (try? reader.bytes(at: 0, count: 8)) == signature
    }

    /// Reads and checks the headers of the kdump-compressed file in `reader` (a mapped file, or
    /// the logical file of a flattened one). `bitmapCopyLimit` bounds the copy of the bitmaps made
    /// for a reader that cannot point at them.
    public init(reader: any ByteReader, path: String? = nil,
                bitmapCopyLimit: UInt64 = KdumpCompressedFile.defaultBitmapCopyLimit) throws {
        let path = path ?? reader.name
        self.path = path
        self.reader = reader
        format = reader is FlattenedFile ? .flattened : .kdumpCompressed
        func bad(_ field: String, _ value: CustomStringConvertible, _ reason: String) -> DumpError {
            .badHeader(path: path, field: field, value: value.description, reason: reason)
        }
        guard reader.size >= KdumpHeader.size else {
            throw reader.truncated("disk_dump_header", at: 0, length: KdumpHeader.size)
        }
        guard KdumpCompressedFile.hasSignature(reader) else {
            throw DumpError.unknownFormat(path: path, detail: "no KDUMP signature")
        }
        func i32(_ o: UInt64) throws -> Int32 { try reader.load(Int32.self, at: o, what: "disk_dump_header") }
        func u32(_ o: UInt64) throws -> UInt32 { try reader.load(UInt32.self, at: o, what: "disk_dump_header") }
        var uts: [String] = []
        for k in 0..<6 { uts.append(try reader.fixedString(at: 12 + 65 * UInt64(k), count: 65, what: "utsname")) }
        var h = KdumpHeader(signature: "KDUMP   ", headerVersion: try i32(8), utsname: uts,
                            timestampSec: try reader.load(Int64.self, at: 408), timestampUsec: try reader.load(Int64.self, at: 416),
                            status: try u32(424), blockSize: try i32(428), subHeaderBlocks: try i32(432),
                            bitmapBlocks: try u32(436), maxMapnr32: try u32(440), totalRAMBlocks: try u32(444),
                            deviceBlocks: try u32(448), writtenBlocks: try u32(452), currentCPU: try u32(456),
                            nrCPUs: try i32(460), tasks: [])

        let bs = h.blockSize
        if let other = try KdumpCompressedFile.otherLayout(reader, machine: uts.count > 4 ? uts[4] : "") {
            throw DumpError.unsupported(path: path, what: "\(other); crashsh reads x86_64 dumps")
        }
        guard bs >= 512, bs <= 1 << 16, bs & (bs - 1) == 0 else {
            throw bad("block_size", bs, "must be a power of two from 512 to 65536")
        }
        let block = UInt64(bs)
        guard h.subHeaderBlocks >= 0 else { throw bad("sub_hdr_size", h.subHeaderBlocks, "negative") }
        guard h.headerVersion >= 0 else { throw bad("header_version", h.headerVersion, "negative") }
        guard h.nrCPUs >= 0 else { throw bad("nr_cpus", h.nrCPUs, "negative") }
        let taskRoom = Int((block - KdumpHeader.size) / 8)
        for k in 0 ..< min(Int(h.nrCPUs), taskRoom, 8192) {
            h.tasks.append(try reader.load(UInt64.self, at: KdumpHeader.size + 8 * UInt64(k), what: "tasks[]"))
        }
        header = h
        pageSize = Int(bs)

        // Layout: header block, sub-header blocks, bitmap blocks, then page_desc table.
        let subBlocks = UInt64(h.subHeaderBlocks), bmBlocks = UInt64(h.bitmapBlocks)
        let (bmOff, o1) = (1 + subBlocks).multipliedReportingOverflow(by: block)
        let (bmLen, o2) = bmBlocks.multipliedReportingOverflow(by: block)
        let (dataOff, o3) = bmOff.addingReportingOverflow(bmLen)
        guard !o1, !o2, !o3 else { throw bad("bitmap_blocks", h.bitmapBlocks, "layout overflows") }
        guard dataOff <= reader.size else {
            throw reader.truncated("bitmaps (\(h.bitmapBlocks) blocks)", at: bmOff, length: bmLen)
        }
        // No bitmap blocks is a dump of no pages (max_mapnr 0, checked below): it opens, empty.
        // A flattened file's logical size is only what its records claim (one tiny record far out
        // makes it huge); the bitmaps themselves must be in the file, or max_mapnr could size the
        // rank index and the bitmap scans by a number no file backs.
        if let flat = reader as? FlattenedFile, bmLen > flat.base.size {
            throw bad("bitmap_blocks", h.bitmapBlocks, "bitmaps of \(bmLen) bytes in a \(flat.base.size)-byte file")
        }
        bitmapOffset = bmOff
        bitmapLength = bmLen
        dataOffset = dataOff

        // Sub-header: each header version adds fields.
        var s = KdumpSubHeader()
        let sub = block
        let v = h.headerVersion
        let subNeeded: UInt64 = v >= 6 ? 104 : v >= 5 ? 80 : v >= 4 ? 64 : v >= 3 ? 48 : v >= 2 ? 32 : v >= 1 ? 12 : 0
        // makedumpfile gives the sub-header its blocks. A file with no bitmaps (no pages) may
        // leave sub_hdr_size 0 and still hold the sub-header in block 1, past the empty bitmap
        // area: libkdumpfile reads it there (its test generator writes such empty dumps). With
        // bitmaps, block 1 is the 1st bitmap's, and a too small sub_hdr_size is refused.
        let (subEnd, o4) = sub.addingReportingOverflow(subNeeded)
        guard subNeeded <= subBlocks * block || (bmLen == 0 && !o4 && subEnd <= reader.size) else {
            throw bad("sub_hdr_size", h.subHeaderBlocks, "too small for a version \(v) kdump_sub_header")
        }
        func u64(_ o: UInt64) throws -> UInt64 { try reader.load(UInt64.self, at: sub + o, what: "kdump_sub_header") }
        if v >= 1 {
            s.physBase = try u64(0)
            s.dumpLevel = try reader.load(Int32.self, at: sub + 8, what: "kdump_sub_header")
        }
        if v >= 2 {
            s.split = try reader.load(Int32.self, at: sub + 12, what: "kdump_sub_header")
            s.startPFN = try u64(16); s.endPFN = try u64(24)
        }
        if v >= 3 { s.offsetVmcoreinfo = try u64(32); s.sizeVmcoreinfo = try u64(40) }
        if v >= 4 { s.offsetNote = try u64(48); s.sizeNote = try u64(56) }
        if v >= 5 { s.offsetEraseinfo = try u64(64); s.sizeEraseinfo = try u64(72) }
        if v >= 6 { s.startPFN64 = try u64(80); s.endPFN64 = try u64(88); s.maxMapnr64 = try u64(96) }
        subHeader = s

        maxMapnr = v >= 6 ? s.maxMapnr64 : UInt64(h.maxMapnr32)
        // Each bitmap is half of the bitmap blocks and must hold a bit per pfn.
        guard maxMapnr <= (bmLen / 2) * 8 else {
            throw bad(v >= 6 ? "max_mapnr_64" : "max_mapnr", maxMapnr,
                      "more pages than the bitmaps (\(bmLen / 2) bytes each) describe")
        }
        if v >= 2, s.split != 0 {
            // From version 6 on the 64-bit fields are the ones to read (the 32-bit ones are
            // clamped to UINT_MAX); crash does the same.
            let start = v >= 6 ? s.startPFN64 : s.startPFN, end = v >= 6 ? s.endPFN64 : s.endPFN
            guard start < end, end <= maxMapnr else {
                throw bad(v >= 6 ? "start_pfn_64/end_pfn_64" : "start_pfn/end_pfn", "\(start)-\(end)",
                          "not a page range within max_mapnr \(maxMapnr)")
            }
            splitRange = start ..< end
        } else {
            splitRange = nil
        }

        var notes: [DumpNote] = []
        if v >= 4, s.sizeNote > 0 {
            try ElfNotes.parse(reader, offset: s.offsetNote, size: s.sizeNote, into: &notes)
        }
        self.notes = notes
        // The PRSTATUS layout crashsh reads is x86_64's (QEMU leaves utsname empty but for machine).
        let machine = h.utsname.count > 4 ? h.utsname[4] : ""
        prstatus = machine == "x86_64" || machine.isEmpty ? ElfNotes.prstatus(in: notes) : []
        qemuCPUStates = ElfNotes.qemuCPUStates(in: notes)
        if v >= 3, s.sizeVmcoreinfo > 0 {
            guard s.sizeVmcoreinfo <= 1 << 20 else {
                throw bad("size_vmcoreinfo", s.sizeVmcoreinfo, "larger than 1 MiB")
            }
            let raw = try reader.bytes(at: s.offsetVmcoreinfo, count: Int(s.sizeVmcoreinfo), what: "VMCOREINFO")
            vmcoreinfo = VMCoreInfo(raw: String(decoding: raw, as: UTF8.self))
        } else {
            vmcoreinfo = ElfNotes.vmcoreinfo(in: notes).map(VMCoreInfo.init(raw:))
        }
        ramBitmap = PageBitmap(reader: reader, offset: bmOff, bitCount: maxMapnr, order: .lowestFirst,
                               copyLimit: bitmapCopyLimit / 2)
        dumpedBitmap = PageBitmap(reader: reader, offset: bmOff + bmLen / 2, bitCount: maxMapnr, order: .lowestFirst,
                                  copyLimit: bitmapCopyLimit / 2)
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(bs), alignment: 16)
    }

    /// What the header says this file is when it is not a little-endian 64-bit kdump file of an
    /// x86_64 machine: makedumpfile writes the header in the dumped machine's byte order and C
    /// layout, so a 32-bit machine's header has 4-byte timestamps (block_size at 416, not 428) and
    /// a big-endian machine's fields are byte-swapped. The byte order is told by header_version
    /// (a small number), the word size by utsname.machine when it names a known architecture, else
    /// by where a plausible block_size is. nil when it is x86_64's layout.
    static func otherLayout(_ reader: any ByteReader, machine: String) throws -> String? {
        func plausibleBlockSize(_ v: Int32) -> Bool { v >= 512 && v <= 1 << 16 && v & (v - 1) == 0 }
        func field(_ offset: UInt64, _ order: ByteOrder) throws -> Int32 {
            try reader.load(Int32.self, at: offset, order: order, what: "disk_dump_header")
        }
        func smallVersion(_ v: Int32) -> Bool { v >= 0 && v < 256 }
        let littleVersion = smallVersion(try field(8, .little)), bigVersion = smallVersion(try field(8, .big))
        let big: Bool
        if littleVersion != bigVersion {
            big = bigVersion
        } else {
            big = try !plausibleBlockSize(field(428, .little)) && !plausibleBlockSize(field(416, .little))
                && (plausibleBlockSize(field(428, .big)) || plausibleBlockSize(field(416, .big)))
        }
        let order: ByteOrder = big ? .big : .little
        let bits32: Bool
        if machines32Bit.contains(machine) || machine.hasPrefix("armv") {
            bits32 = true
        } else if machines64Bit.contains(machine) {
            bits32 = false
        } else {
            bits32 = try !plausibleBlockSize(field(428, order)) && plausibleBlockSize(field(416, order))
        }
        let named = machine.isEmpty ? "" : " (machine \(machine))"
        switch (big, bits32) {
        case (false, false):
            return machine.isEmpty || machine == "x86_64" ? nil : "kdump-compressed file for \(machine)"
        case (true, false): return "big-endian 64-bit kdump-compressed file\(named)"
        case (false, true): return "32-bit kdump-compressed file\(named)"
        case (true, true): return "big-endian 32-bit kdump-compressed file\(named)"
        }
    }

    /// `uname -m` names of 32-bit and 64-bit Linux architectures (utsname.machine in the header).
    static let machines32Bit: Set<String> = ["i386", "i486", "i586", "i686", "arm", "ppc", "s390", "mips", "mipsel",
                                             "sh4", "sparc", "m68k", "riscv32", "parisc"]
    static let machines64Bit: Set<String> = ["x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "riscv64",
                                             "loongarch64", "mips64", "sparc64", "ia64", "parisc64", "alpha"]

    deinit {
        scratch.deallocate()
    }

    // MARK: bitmaps

    /// The index of `pfn`'s page_desc: the set bits of the 2nd bitmap before it, counted from the
    /// start of the part's range in a split dump.
    private func pageDescIndex(_ pfn: UInt64) -> UInt64 {
        guard let first = splitRange?.lowerBound, first > 0 else { return dumpedBitmap.rank(pfn) }
        let base = splitRankBase ?? dumpedBitmap.rank(first)
        splitRankBase = base
        return dumpedBitmap.rank(pfn) &- base
    }

    /// The pfns this file has pages for: all below `maxMapnr`, or a split part's range.
    private var ownRange: Range<UInt64> { splitRange ?? 0 ..< maxMapnr }

    /// Mask of the pfns of word `w` that are in `ownRange` (the bitmaps' words hold no bits past
    /// `maxMapnr`).
    @inline(__always)
    private func ownMask(_ w: UInt64) -> UInt64 {
        var mask: UInt64 = ~0
        guard let r = splitRange else { return mask }
        let first = w * 64
        if r.lowerBound > first { mask &= r.lowerBound >= first + 64 ? 0 : ~((1 << (r.lowerBound - first)) - 1) }
        if r.upperBound < first + 64 { mask &= r.upperBound <= first ? 0 : (1 << (r.upperBound - first)) - 1 }
        return mask
    }

    /// Pages whose bytes are in this file (set bits of the 2nd bitmap in `ownRange`).
    public var pagesPresent: UInt64 {
        var n: UInt64 = 0
        let r = ownRange
        guard !r.isEmpty else { return 0 }
        for w in r.lowerBound / 64 ... (r.upperBound - 1) / 64 { n += UInt64((dumpedBitmap.word(w) & ownMask(w)).nonzeroBitCount) }
        return n
    }

    /// RAM pages left out of the dump (in the 1st bitmap, not the 2nd), in `ownRange`.
    public var pagesExcluded: UInt64 {
        var n: UInt64 = 0
        let r = ownRange
        guard !r.isEmpty else { return 0 }
        for w in r.lowerBound / 64 ... (r.upperBound - 1) / 64 {
            n += UInt64((ramBitmap.word(w) & ~dumpedBitmap.word(w) & ownMask(w)).nonzeroBitCount)
        }
        return n
    }

    /// A pfn outside a split part's range is `.notInDump` here: its page is in another part.
    public func pageState(pfn: UInt64) -> PageState {
        guard ownRange.contains(pfn) else { return .notInDump }
        if dumpedBitmap.contains(pfn) { return .present }
        return ramBitmap.contains(pfn) ? .excluded : .notInDump
    }

    public func presentPages() -> AnySequence<UInt64> {
        AnySequence { () -> AnyIterator<UInt64> in
            let range = self.ownRange
            // Words up to the one holding the range's last pfn (ownMask clears the bits past it).
            let end = min(self.dumpedBitmap.wordCount, range.upperBound / 64 + (range.upperBound % 64 == 0 ? 0 : 1))
            return PageBitmap.setBits(words: range.lowerBound / 64, to: end) { w in
                self.dumpedBitmap.word(w) & self.ownMask(w)
            }
        }
    }

    // MARK: pages

    /// The page_desc of a present pfn: where its bytes are and how they are stored.
    public struct PageDescriptor: Sendable, Equatable {
        public var offset: UInt64
        public var size: UInt32
        public var flags: UInt32
        public var pageFlags: UInt64

        /// How the page's bytes are stored: the compression its flags name, else raw when the
        /// stored size is a whole page; nil for an uncompressed page of another size (corrupt).
        public func compression(pageSize: Int) -> PageCompression? {
            if let kind = KdumpCompressedFile.compression(flags: flags) { return kind }
            return UInt64(size) == UInt64(pageSize) ? PageCompression.none : nil
        }
    }

    /// The compression that page_desc or header status `flags` name (makedumpfile sets at most
    /// one; zlib, lzo, snappy, zstd is the order they are tested in), nil when none is set.
    static func compression(flags: UInt32) -> PageCompression? {
        if flags & compressedZlib != 0 { return .zlib }
        if flags & compressedLZO != 0 { return .lzo }
        if flags & compressedSnappy != 0 { return .snappy }
        if flags & compressedZstd != 0 { return .zstd }
        return nil
    }

    /// The page_desc of `pfn`; throws `.excludedPage` / `.notInDump` when it has none.
    public func pageDescriptor(pfn: UInt64) throws -> PageDescriptor {
        let paddr = pfn &* UInt64(pageSize)
        switch pageState(pfn: pfn) {
        case .notInDump: throw DumpError.notInDump(paddr: paddr)
        case .excluded: throw DumpError.excludedPage(paddr: paddr)
        case .present: break
        }
        let at = dataOffset &+ pageDescIndex(pfn) &* KdumpCompressedFile.pageDescSize
        var raw = (UInt64(0), UInt32(0), UInt32(0), UInt64(0))
        try withUnsafeMutableBytes(of: &raw) { buf in
            try reader.fetch(from: at, into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<24]),
                             what: "page_desc")
        }
        let load = { (o: Int) -> UInt64 in
            withUnsafeBytes(of: &raw) { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        }
        let sf = load(8)
        return PageDescriptor(offset: load(0), size: UInt32(truncatingIfNeeded: sf),
                              flags: UInt32(truncatingIfNeeded: sf >> 32), pageFlags: load(16))
    }

    public func readPage(pfn: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let d = try pageDescriptor(pfn: pfn)
        func corrupt(_ why: String) -> DumpError { .corruptPage(path: path, pfn: pfn, offset: d.offset, reason: why) }
        guard buffer.count >= pageSize else { throw corrupt("destination smaller than a page") }
        let dest = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<pageSize])
        let size = UInt64(d.size)
        guard size > 0 else { throw corrupt("stored size 0") }
        guard size <= UInt64(pageSize) else { throw corrupt("stored size \(size) larger than a page") }
        guard let kind = d.compression(pageSize: pageSize) else { throw corrupt("uncompressed page of \(size) bytes") }
        let (end, overflow) = d.offset.addingReportingOverflow(size)
        guard !overflow, end <= reader.size else {
            throw reader.truncated("data of page \(hex(pfn)) (pfn)", at: d.offset, length: size)
        }
        let source: UnsafeRawBufferPointer
        if let p = reader.directPointer(at: d.offset, count: size) {
            source = UnsafeRawBufferPointer(start: p, count: Int(size))
        } else {
            let window = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<Int(size)])
            try reader.fetch(from: d.offset, into: window, what: "page data")
            source = UnsafeRawBufferPointer(window)
        }
        if let why = decoder.decompress(kind, source: source, into: dest) { throw corrupt(why) }
    }

    /// phys_base from the sub-header (header version 1 and later).
    public var headerPhysBase: UInt64? { header.headerVersion >= 1 ? subHeader.physBase : nil }

    /// The compression of the pages: the one the header's status names; where it names none
    /// (QEMU's dump-guest-memory and older makedumpfile leave status 0), the one the pages' own
    /// flags name, looked for in the first `pagesLookedAt` present pages (a page that did not
    /// shrink is stored raw, so the first pages alone can be raw). "none" when no page says one.
    public var compressionName: String {
        if let named = KdumpCompressedFile.compression(flags: header.status) { return named.rawValue }
        for pfn in presentPages().prefix(KdumpCompressedFile.pagesLookedAt) {
            if let d = try? pageDescriptor(pfn: pfn), let kind = KdumpCompressedFile.compression(flags: d.flags) {
                return kind.rawValue
            }
        }
        return PageCompression.none.rawValue
    }

    /// How many pages `compressionName` looks at when the header does not say.
    static let pagesLookedAt = 4096

    public func summary() -> DumpSummary {
        var s = DumpSummary(path: path, format: format, pageSize: pageSize)
        s.compression = compressionName
        s.dumpLevel = header.headerVersion >= 1 ? Int(subHeader.dumpLevel) : nil
        s.maxMapnr = maxMapnr
        s.pagesPresent = pagesPresent
        s.pagesExcluded = pagesExcluded
        var uts: [String: String] = [:]
        for (k, name) in KdumpHeader.utsnameFields.enumerated() where k < header.utsname.count {
            uts[name] = header.utsname[k]
        }
        s.utsname = uts
        s.crashTime = header.timestampSec != 0 ? header.timestampSec
            : vmcoreinfo?.crashTime
        s.nrCPUs = Int(header.nrCPUs)
        // makedumpfile and QEMU leave current_cpu at 0 whichever CPU crashed, so it is not a panic CPU.
        s.panicCPU = nil
        s.prstatus = prstatus
        s.sections = kdumpSections(pagesPresent: s.pagesPresent)
        return s
    }
}

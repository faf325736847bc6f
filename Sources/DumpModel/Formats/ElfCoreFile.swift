/// The ELF64 file header fields crashsh reads (and `dumpinfo` shows).
public struct ElfHeader: Sendable, Equatable {
    public var osabi: UInt8, abiVersion: UInt8, identVersion: UInt8
    public var type: UInt16, machine: UInt16
    public var version: UInt32
    public var entry: UInt64, phoff: UInt64, shoff: UInt64
    public var flags: UInt32
    public var ehsize: UInt16, phentsize: UInt16, phnum: UInt16
    public var shentsize: UInt16, shnum: UInt16, shstrndx: UInt16
}

/// One ELF64 program header.
public struct ElfProgramHeader: Sendable, Equatable {
    public var type: UInt32, flags: UInt32
    public var offset: UInt64, vaddr: UInt64, paddr: UInt64
    public var filesz: UInt64, memsz: UInt64, align: UInt64

    public static let load: UInt32 = 1
    public static let note: UInt32 = 4
}

/// ELF constants crashsh needs, with names for `dumpinfo`.
enum ElfConst {
    static let magic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]
    static let etCore: UInt16 = 4
    static let etExec: UInt16 = 2
    static let etDyn: UInt16 = 3
    static let emX86_64: UInt16 = 62
    static let pnXNum: UInt16 = 0xffff
    static let ehdrSize: UInt64 = 64
    static let phdrSize: UInt64 = 56

    /// e_machine values of the architectures Linux dumps come from: (constant name, the name
    /// `uname -m` gives).
    static let machines: [UInt16: (constant: String, arch: String)] = [
        3: ("EM_386", "i386"), 8: ("EM_MIPS", "mips"), 20: ("EM_PPC", "ppc"), 21: ("EM_PPC64", "ppc64"),
        22: ("EM_S390", "s390"), 40: ("EM_ARM", "arm"), 42: ("EM_SH", "sh"), 43: ("EM_SPARCV9", "sparc64"),
        50: ("EM_IA_64", "ia64"), 62: ("EM_X86_64", "x86_64"), 183: ("EM_AARCH64", "aarch64"),
        243: ("EM_RISCV", "riscv"), 258: ("EM_LOONGARCH", "loongarch"),
    ]

    /// "aarch64 (e_machine 183, EM_AARCH64)", or "e_machine N" for a value not in the table.
    static func describeMachine(_ machine: UInt16) -> String {
        guard let m = machines[machine] else { return "e_machine \(machine)" }
        return "\(m.arch) (e_machine \(machine), \(m.constant))"
    }
}

/// An ELF64 little-endian core: /proc/vmcore as kdump writes it, makedumpfile -E, or QEMU's
/// dump-guest-memory ELF. Physical memory comes from the PT_LOAD segments by p_paddr; the notes
/// (PRSTATUS per CPU, VMCOREINFO, QEMU CPU state) from the PT_NOTE segments.
///
/// The bytes in `[p_filesz, p_memsz)` of a segment (its tail) are RAM the dump left out, not zeros.
/// The ELF format calls them zero-initialised, but the one crash-dump writer that makes such tails,
/// makedumpfile -E, puts there the pages it filtered out: it ends a segment's file data where a run
/// of at least 256 excluded pages starts, and writes shorter runs with their real contents. On the
/// fixtures 39% of the tail pages of dump.elf are not zero in the full vmcore. So a page in a tail
/// is `.excluded` and reading it throws `DumpError.excludedPage`, as in a kdump-compressed file.
/// (crash 8.0.6 returns zeros there: netdump.c treats the tail as its "zero_fill" range. crashsh
/// does not, because a zero read as data is a wrong answer that looks right.)
///
/// Pages, where segments need not be page-aligned:
/// - a page no byte of any segment's file data lies in, but some tail does, is excluded;
/// - a page with any byte in file data is present: the bytes in the file are real and read as
///   stored; its bytes in a tail, or outside every segment, read as zeros. That is what crash
///   (netdump.c's zero_fill) and libkdumpfile (elfdump.c fills a page's rest past p_filesz with
///   zeros) do for the whole tail; crashsh does it only where the page also holds file bytes, since
///   a page cannot be half excluded. (Bytes outside every segment are not RAM by the dump's
///   account, e.g. the firmware area after 0x9fc00 in the first page frames, and the kernel does
///   not read them as memory.)
/// - a page no segment touches is not in the dump.
/// Where segments overlap, file data wins over a tail, then the earlier program header wins.
/// Open cost: the program headers and notes only.
public final class ElfCoreFile: DumpFile {
    public let path: String
    public let format = DumpFormat.elfCore
    public let pageSize: Int
    public let reader: any ByteReader
    public let header: ElfHeader
    public let programHeaders: [ElfProgramHeader]
    public let notes: [DumpNote]
    public let prstatus: [PRStatus]
    public let vmcoreinfo: VMCoreInfo?
    /// QEMU dump-guest-memory's per-CPU notes (empty for kdump's cores).
    public let qemuCPUStates: [QEMUCPUState]

    /// Physical address ranges, resolved so that they do not overlap.
    private let map: IntervalMap
    /// Per piece (indexed by `map.owners`): its physical start and the file offset of that start
    /// (nil: a segment's tail, `[p_filesz, p_memsz)`, excluded from the dump).
    private let pieceStart: [UInt64]
    private let pieceFileOffset: [UInt64?]
    /// The excluded pages: every pfn a tail piece touches, as sorted, disjoint, non-adjacent
    /// inclusive ranges (`first...last`), one per run at most, so their size is bounded by the
    /// number of PT_LOAD headers.
    private let excludedFirst: [UInt64]
    private let excludedLast: [UInt64]

    /// Reads the headers and notes of the ELF core in `reader`.
    public init(reader: any ByteReader, path: String? = nil) throws {
        let path = path ?? reader.name
        self.path = path
        self.reader = reader
        let ident = try reader.bytes(at: 0, count: 16, what: "ELF identification")
        guard Array(ident[0..<4]) == ElfConst.magic else {
            throw DumpError.unknownFormat(path: path, detail: "no ELF magic")
        }
        // Only x86_64 cores are read: name what else this is (e_machine is at 18 in both classes).
        if ident[4] != 2 || ident[5] != 1 {
            let machine = (try? reader.load(UInt16.self, at: 18, order: ident[5] == 2 ? .big : .little)) ?? 0
            let kind = [ident[4] == 1 ? "32-bit" : ident[4] == 2 ? nil : "ELF class \(ident[4])",
                        ident[5] == 2 ? "big-endian" : ident[5] == 1 ? nil : "ELF data encoding \(ident[5])"]
                .compactMap { $0 }.joined(separator: " ")
            throw DumpError.unsupported(path: path, what: "\(kind) ELF core for \(ElfConst.describeMachine(machine)); crashsh reads x86_64 dumps")
        }
        func u16(_ o: UInt64) throws -> UInt16 { try reader.load(UInt16.self, at: o, what: "ELF header") }
        func u32(_ o: UInt64) throws -> UInt32 { try reader.load(UInt32.self, at: o, what: "ELF header") }
        func u64(_ o: UInt64) throws -> UInt64 { try reader.load(UInt64.self, at: o, what: "ELF header") }
        var h = ElfHeader(osabi: ident[7], abiVersion: ident[8], identVersion: ident[6],
                          type: try u16(16), machine: try u16(18), version: try u32(20),
                          entry: try u64(24), phoff: try u64(32), shoff: try u64(40), flags: try u32(48),
                          ehsize: try u16(52), phentsize: try u16(54), phnum: try u16(56),
                          shentsize: try u16(58), shnum: try u16(60), shstrndx: try u16(62))
        guard h.type == ElfConst.etCore else {
            throw DumpError.unknownFormat(path: path, detail: "ELF file of type \(h.type), not a core file (ET_CORE)")
        }
        guard h.machine == ElfConst.emX86_64 else {
            throw DumpError.unsupported(path: path, what: "ELF core for \(ElfConst.describeMachine(h.machine)); crashsh reads x86_64 dumps")
        }
        guard UInt64(h.phentsize) == ElfConst.phdrSize else {
            throw DumpError.badHeader(path: path, field: "e_phentsize", value: String(h.phentsize),
                                      reason: "an ELF64 program header is 56 bytes")
        }
        // More than 65534 program headers: the real count is in section header 0's sh_info.
        var phnum = UInt64(h.phnum)
        if h.phnum == ElfConst.pnXNum {
            phnum = UInt64(try reader.load(UInt32.self, at: h.shoff &+ 44, what: "section header 0 (e_phnum extension)"))
        }
        let (tableSize, o1) = phnum.multipliedReportingOverflow(by: ElfConst.phdrSize)
        let (tableEnd, o2) = h.phoff.addingReportingOverflow(tableSize)
        guard !o1, !o2, tableEnd <= reader.size else {
            throw reader.truncated("program header table (\(phnum) entries)", at: h.phoff, length: tableSize)
        }
        h.phnum = UInt16(truncatingIfNeeded: phnum)
        header = h

        var phdrs: [ElfProgramHeader] = []
        phdrs.reserveCapacity(Int(phnum))
        var notes: [DumpNote] = []
        // Every PT_NOTE may name the same block: bound their total like one block, or a few
        // thousand headers would copy one block into gigabytes of notes.
        var noteBytes: UInt64 = 0
        for i in 0..<phnum {
            let o = h.phoff + i * ElfConst.phdrSize
            let ph = ElfProgramHeader(type: try u32(o), flags: try u32(o + 4), offset: try u64(o + 8),
                                      vaddr: try u64(o + 16), paddr: try u64(o + 24), filesz: try u64(o + 32),
                                      memsz: try u64(o + 40), align: try u64(o + 48))
            phdrs.append(ph)
            if ph.type == ElfProgramHeader.note {
                let (total, overflow) = noteBytes.addingReportingOverflow(ph.filesz)
                guard !overflow, total <= ElfNotes.maxBlockSize || ph.filesz > ElfNotes.maxBlockSize else {
                    throw DumpError.badHeader(path: path, field: "PT_NOTE[\(i)] p_filesz", value: String(ph.filesz),
                                              reason: "the note segments hold more than \(ElfNotes.maxBlockSize) bytes in all")
                }
                noteBytes = total
                try ElfNotes.parse(reader, offset: ph.offset, size: ph.filesz, into: &notes)
            }
        }
        programHeaders = phdrs
        self.notes = notes
        prstatus = h.machine == ElfConst.emX86_64 ? ElfNotes.prstatus(in: notes) : []
        vmcoreinfo = ElfNotes.vmcoreinfo(in: notes).map(VMCoreInfo.init(raw:))
        qemuCPUStates = ElfNotes.qemuCPUStates(in: notes)
        pageSize = ElfCoreFile.pageSize(fromVMCoreInfo: vmcoreinfo)

        // Each PT_LOAD gives a file-backed piece and a tail piece; file data outranks any tail.
        let loads = phdrs.filter { $0.type == ElfProgramHeader.load }
        var pieces: [(start: UInt64, end: UInt64, rank: Int)] = []
        var starts: [UInt64] = [], offsets: [UInt64?] = []
        for (i, ph) in loads.enumerated() {
            let covered = max(ph.filesz, ph.memsz)
            let (end, overflow) = ph.paddr.addingReportingOverflow(covered)
            guard !overflow else {
                throw DumpError.badHeader(path: path, field: "PT_LOAD[\(i)] p_paddr + p_memsz",
                                          value: "\(hex(ph.paddr)) + \(hex(covered))", reason: "past the end of the address space")
            }
            let dataEnd = ph.paddr + ph.filesz
            pieces.append((ph.paddr, dataEnd, i)); starts.append(ph.paddr); offsets.append(ph.offset)
            pieces.append((dataEnd, end, loads.count + i)); starts.append(dataEnd); offsets.append(nil)
        }
        let map = IntervalMap(pieces: pieces)
        self.map = map
        pieceStart = starts
        pieceFileOffset = offsets

        // The tail pieces that survived overlap resolution, as page ranges (sorted, since the
        // map is), less the pages at either end that also hold file data. Runs that share or
        // abut a page merge into one.
        let shift = UInt64(pageSize.trailingZeroBitCount)
        /// True when some file-data piece has a byte in page `pfn`.
        func holdsFileData(_ pfn: UInt64) -> Bool {
            let start = pfn << shift, end = start &+ (1 << shift)
            var k = map.firstIndex(endingAfter: start)
            while k < map.count, end == 0 || map.starts[k] < end {
                if offsets[map.owners[k]] != nil { return true }
                k += 1
            }
            return false
        }
        var first: [UInt64] = [], last: [UInt64] = []
        for i in 0..<map.count where offsets[map.owners[i]] == nil {
            var f = map.starts[i] >> shift, l = (map.ends[i] - 1) >> shift
            if holdsFileData(f) { f &+= 1 }
            if l >= f, holdsFileData(l) { l &-= 1 }
            guard f <= l else { continue }
            if let previous = last.last, f <= previous &+ 1 {
                last[last.count - 1] = max(previous, l)
            } else {
                first.append(f); last.append(l)
            }
        }
        excludedFirst = first
        excludedLast = last
    }

    /// Index of the excluded range holding `pfn`, if any (binary search).
    private func excludedRange(containing pfn: UInt64) -> Int? {
        var lo = 0, hi = excludedLast.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if excludedLast[mid] < pfn { lo = mid + 1 } else { hi = mid }
        }
        return lo < excludedFirst.count && excludedFirst[lo] <= pfn ? lo : nil
    }

    static func pageSize(fromVMCoreInfo info: VMCoreInfo?) -> Int {
        if let ps = info?.pageSize, ps >= 512, ps <= 1 << 20, ps & (ps - 1) == 0 {
            return ps
        }
        return 4096
    }

    /// The physical ranges the segments cover, sorted and disjoint, as (start, end, file offset), the
    /// file offset nil for a tail (`[p_filesz, p_memsz)`: RAM excluded from the dump).
    public var physicalRanges: [(start: UInt64, end: UInt64, fileOffset: UInt64?)] {
        (0..<map.count).map { i in
            let owner = map.owners[i]
            let off = pieceFileOffset[owner].map { $0 &+ (map.starts[i] - pieceStart[owner]) }
            return (map.starts[i], map.ends[i], off)
        }
    }

    /// phys_base from the segment kdump's /proc/vmcore writes for the kernel image: its virtual
    /// address is in the image mapping at `__START_KERNEL_map`, so physical minus (virtual minus
    /// `__START_KERNEL_map`) is phys_base (what kernels before 4.10, which export only the address
    /// of `phys_base` in VMCOREINFO, leave to the reader). Nil for dumps without virtual addresses
    /// (QEMU's without paging).
    public var headerPhysBase: UInt64? {
        let start = KernelAddressSpace.startKernelMap
        let segment = programHeaders.first {
            $0.type == ElfProgramHeader.load && $0.vaddr >= start && $0.vaddr &- start < 1 << 30
        }
        return segment.map { $0.paddr &- ($0.vaddr &- start) }
    }

    public func readPage(pfn: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let size = UInt64(pageSize)
        let (start, o1) = pfn.multipliedReportingOverflow(by: size)
        let (end, o2) = start.addingReportingOverflow(size)
        guard !o1, !o2, buffer.count >= pageSize, let dst = buffer.baseAddress else {
            throw DumpError.notInDump(paddr: start)
        }
        if excludedRange(containing: pfn) != nil { throw DumpError.excludedPage(paddr: start) }
        var i = map.firstIndex(endingAfter: start)
        var pos = start
        var covered = false
        while i < map.count, map.starts[i] < end {
            let s = max(start, map.starts[i]), e = min(end, map.ends[i])
            if s > pos { (dst + Int(pos - start)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(s - pos)) }
            let owner = map.owners[i]
            let window = UnsafeMutableRawBufferPointer(start: dst + Int(s - start), count: Int(e - s))
            if let fileOffset = pieceFileOffset[owner] {
                try reader.fetch(from: fileOffset &+ (s - pieceStart[owner]), into: window, what: "PT_LOAD data")
                covered = true
            } else {
                // A tail in a page that also holds file data (else the page was excluded above).
                window.initializeMemory(as: UInt8.self, repeating: 0)
            }
            pos = e
            i += 1
        }
        guard covered else { throw DumpError.notInDump(paddr: start) }
        // A page only partly inside the segments (they need not be page-aligned): the bytes outside
        // every segment are not RAM by the dump's account; they read as zeros (see the type's doc).
        if pos < end { (dst + Int(pos - start)).initializeMemory(as: UInt8.self, repeating: 0, count: Int(end - pos)) }
    }

    public func pageState(pfn: UInt64) -> PageState {
        let size = UInt64(pageSize)
        let (start, o1) = pfn.multipliedReportingOverflow(by: size)
        guard !o1 else { return .notInDump }
        if excludedRange(containing: pfn) != nil { return .excluded }
        let end = start.addingReportingOverflow(size).partialValue
        let i = map.firstIndex(endingAfter: start)
        return i < map.count && map.starts[i] < (end == 0 ? UInt64.max : end) ? .present : .notInDump
    }

    /// Every pfn with bytes in the file, in increasing order: the pages the file-data ranges touch,
    /// less the excluded ones.
    public func presentPages() -> AnySequence<UInt64> {
        let map = self.map
        let fileOffsets = pieceFileOffset
        let excludedFirst = self.excludedFirst, excludedLast = self.excludedLast
        let shift = UInt64(pageSize.trailingZeroBitCount)
        return AnySequence { () -> AnyIterator<UInt64> in
            var i = 0
            var next: UInt64 = 0     // every pfn below this was already returned or skipped
            var x = 0                // first excluded range that may still hold `next` or later
            return AnyIterator {
                while i < map.count {
                    guard fileOffsets[map.owners[i]] != nil else { i += 1; continue }
                    var first = max(next, map.starts[i] >> shift)
                    let last = (map.ends[i] - 1) >> shift
                    // Skip the excluded pfns (the ranges are sorted; `x` only moves forward).
                    while x < excludedLast.count, excludedLast[x] < first { x += 1 }
                    if x < excludedFirst.count, excludedFirst[x] <= first {
                        first = excludedLast[x] &+ 1
                        if first == 0 { return nil }    // excluded up to the last pfn
                        next = first
                        continue
                    }
                    if first <= last {
                        next = first + 1
                        return first
                    }
                    i += 1
                }
                return nil
            }
        }
    }

    /// Number of distinct pages the segments touch (file data or tail).
    public var pageCount: UInt64 {
        let shift = UInt64(pageSize.trailingZeroBitCount)
        var total: UInt64 = 0
        var lastCounted: UInt64? = nil
        for i in 0..<map.count {
            var first = map.starts[i] >> shift
            let last = (map.ends[i] - 1) >> shift
            if let lc = lastCounted, first <= lc { first = lc + 1 }
            if first <= last { total += last - first + 1; lastCounted = last }
        }
        return total
    }

    /// Number of pages in a tail (`[p_filesz, p_memsz)` not covered by any file data): RAM the
    /// dump tool left out.
    public var pagesExcluded: UInt64 {
        var total: UInt64 = 0
        for k in excludedFirst.indices { total &+= excludedLast[k] - excludedFirst[k] + 1 }
        return total
    }

    public func summary() -> DumpSummary {
        var s = DumpSummary(path: path, format: .elfCore, pageSize: pageSize)
        s.compression = nil
        let shift = UInt64(pageSize.trailingZeroBitCount)
        s.maxMapnr = map.count > 0 ? ((map.ends[map.count - 1] - 1) >> shift) + 1 : 0
        // Every excluded page is one the segments touch.
        let excluded = pagesExcluded
        s.pagesPresent = pageCount - excluded
        s.pagesExcluded = excluded
        s.crashTime = vmcoreinfo?.crashTime
        s.nrCPUs = prstatus.count
        s.prstatus = prstatus
        s.sections = elfSections()
        return s
    }
}

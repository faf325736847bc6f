/// The kinds of file crashsh reads, told apart by their content.
public enum DumpFormat: String, Sendable, Codable {
    /// ELF64 core: /proc/vmcore, makedumpfile -E, QEMU dump-guest-memory (ELF).
    case elfCore = "ELF"
    /// makedumpfile's kdump-compressed format ("KDUMP   "), also QEMU's -z/-l/-s output.
    case kdumpCompressed = "KDUMP"
    /// makedumpfile -F: the kdump-compressed file cut into big-endian (offset, size) records.
    case flattened = "FLATTENED"
    /// Fujitsu's sadump: single partition, disk set or media backup.
    case sadump = "SADUMP"
}

/// Where one physical page frame stands in a dump.
public enum PageState: Sendable, Equatable {
    /// Its bytes are in the dump.
    case present
    /// The machine had it, but the dump tool left it out (dump level filtering).
    case excluded
    /// The dump says nothing of it (not RAM, or outside every segment).
    case notInDump
}

/// x86_64 general registers as the kernel saves them in an ELF PRSTATUS note (`struct user_regs_struct`).
public struct X86Registers: Sendable, Equatable, Codable {
    public var r15: UInt64 = 0, r14: UInt64 = 0, r13: UInt64 = 0, r12: UInt64 = 0
    public var rbp: UInt64 = 0, rbx: UInt64 = 0, r11: UInt64 = 0, r10: UInt64 = 0
    public var r9: UInt64 = 0, r8: UInt64 = 0, rax: UInt64 = 0, rcx: UInt64 = 0
    public var rdx: UInt64 = 0, rsi: UInt64 = 0, rdi: UInt64 = 0, origRax: UInt64 = 0
    public var rip: UInt64 = 0, cs: UInt64 = 0, rflags: UInt64 = 0, rsp: UInt64 = 0
    public var ss: UInt64 = 0, fsBase: UInt64 = 0, gsBase: UInt64 = 0, ds: UInt64 = 0
    public var es: UInt64 = 0, fs: UInt64 = 0, gs: UInt64 = 0

    /// Names in the kernel's order (the order of the 27 words in the note).
    public static let names = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                               "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
                               "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"]

    public init() {}

    /// Builds the registers from the 27 words in the kernel's order; nil if fewer are given.
    public init?(words w: [UInt64]) {
        guard w.count >= 27 else { return nil }
        r15 = w[0]; r14 = w[1]; r13 = w[2]; r12 = w[3]; rbp = w[4]; rbx = w[5]; r11 = w[6]; r10 = w[7]
        r9 = w[8]; r8 = w[9]; rax = w[10]; rcx = w[11]; rdx = w[12]; rsi = w[13]; rdi = w[14]
        origRax = w[15]; rip = w[16]; cs = w[17]; rflags = w[18]; rsp = w[19]; ss = w[20]
        fsBase = w[21]; gsBase = w[22]; ds = w[23]; es = w[24]; fs = w[25]; gs = w[26]
    }

    /// The 27 words in the kernel's order.
    public var words: [UInt64] {
        [r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, origRax, rip, cs,
         rflags, rsp, ss, fsBase, gsBase, ds, es, fs, gs]
    }
}

/// One NT_PRSTATUS note: the state of one CPU when the dump was taken (`struct elf_prstatus`).
public struct PRStatus: Sendable, Equatable {
    /// Index of the note in the dump (crash numbers CPUs by note order).
    public var index: Int
    public var signo: Int32 = 0, code: Int32 = 0, errno: Int32 = 0
    public var cursig: Int16 = 0
    public var sigpend: UInt64 = 0, sighold: UInt64 = 0
    public var pid: Int32 = 0, ppid: Int32 = 0, pgrp: Int32 = 0, sid: Int32 = 0
    /// utime, stime, cutime, cstime as (seconds, microseconds).
    public var times: [(sec: Int64, usec: Int64)] = []
    public var registers = X86Registers()
    public var fpvalid: Int32 = 0

    public init(index: Int) { self.index = index }

    public static func == (a: PRStatus, b: PRStatus) -> Bool {
        a.index == b.index && a.pid == b.pid && a.registers == b.registers && a.signo == b.signo
            && a.cursig == b.cursig && a.fpvalid == b.fpvalid
    }
}

/// An ELF note as found in the dump (owner name, type, descriptor bytes) and where it was.
public struct DumpNote: Sendable {
    public var name: String
    public var type: UInt32
    public var desc: [UInt8]
    /// File offset of the note header (in the logical file for the flattened format).
    public var fileOffset: UInt64

    public init(name: String, type: UInt32, desc: [UInt8], fileOffset: UInt64) {
        self.name = name; self.type = type; self.desc = desc; self.fileOffset = fileOffset
    }
}

/// One labelled fact from a dump's header, in file order, for `dumpinfo` (crash's `help -D`):
/// crash's name for it and its typed value (`dumpinfo` renders crash's text and the JSON).
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: HeaderValue
    /// Nesting depth under the previous fields (0 = top level of its section).
    public var depth: Int
    public init(_ name: String, _ value: HeaderValue, depth: Int = 0) {
        self.name = name; self.value = value; self.depth = depth
    }
}

/// What a header field holds, with the meaning crash gives it (how crash shows each kind is
/// `dumpinfo`'s business).
public enum HeaderValue: Sendable, Equatable {
    /// A heading: the deeper fields that follow belong to it (utsname, timestamp).
    case heading
    /// Text from the file, or a fixed spelling crash uses (`\177ELF`).
    case text(String)
    /// A string crash shows between double quotes (a signature).
    case quoted(String)
    /// A count, size or number.
    case decimal(Int64)
    /// An address, offset or mask crash shows in hex, zero-padded to `digits` (0: no padding).
    case hex(UInt64, digits: Int)
    /// A size or offset crash shows in decimal and hex ("0x" before the hex when `prefixed`).
    case decimalAndHex(UInt64, prefixed: Bool)
    /// A number and what it stands for: an enumerated code's name ("?" when unknown), or the
    /// names of the flags set.
    case named(UInt64, names: [String])
    /// A name's size and the name (an ELF note's n_namesz).
    case nameSize(UInt64, name: String)
    /// The kdump header's status bits and their names.
    case statusBits(UInt64, names: [String])
    /// makedumpfile's dump level and the names of its bits.
    case dumpLevel(Int64, names: [String])
    /// Hex values, one per line (the kdump header's tasks[nr_cpus]).
    case hexList([UInt64])
    /// The header version has no such field.
    case unknown
    /// The field is there but not in use (a split dump's pfn range when not split).
    case unused
    /// The size of the VMCOREINFO data, and its text.
    case vmcoreinfoSize(UInt64, text: String?)
    /// A note: its type or file offset, what it holds decoded, and its descriptor's words.
    case note(NoteSummary)
    /// Where each PRSTATUS and QEMU note starts in the file.
    case noteOffsets([NoteOffset])
    /// A date and time (seconds since the epoch), nil when the stored one is not a valid date.
    case time(Int64?)
    /// A UUID as crash spells it.
    case uuid(String)
    /// One CPU's saved state (sadump's sub-header entry: APIC id and SMRAM state).
    case cpuState(SadumpCPUState)
}

/// A note as `dumpinfo` shows it under a header field.
public struct NoteSummary: Sendable, Equatable {
    /// The note's type (ELF notes), or its file offset (kdump's notes[i]).
    public enum Lead: Sendable, Equatable {
        case type(UInt32)
        case offset(UInt64)
    }
    public var lead: Lead
    /// What the type means ("NT_PRSTATUS", "QEMUCPUState", "unused"), when known.
    public var kind: String?
    public var prstatus: PRStatus?
    public var qemu: QEMUCPUState?
    /// The VMCOREINFO text of a VMCOREINFO note.
    public var text: String?
    /// The descriptor as 64-bit words (ELF notes).
    public var words: [UInt64]?
    public init(lead: Lead, kind: String?, prstatus: PRStatus? = nil, qemu: QEMUCPUState? = nil,
                text: String? = nil, words: [UInt64]? = nil) {
        self.lead = lead; self.kind = kind; self.prstatus = prstatus; self.qemu = qemu; self.text = text; self.words = words
    }

    /// A descriptor's bytes as little-endian 64-bit words (a short last word zero-filled).
    public static func words(of desc: [UInt8]) -> [UInt64] {
        stride(from: 0, to: desc.count, by: 8).map { i in
            var w: UInt64 = 0
            for k in 0..<8 where i + k < desc.count { w |= UInt64(desc[i + k]) << (8 * UInt64(k)) }
            return w
        }
    }
}

/// Where a note starts in the file, and its kind ("NT_PRSTATUS", "QEMU").
public struct NoteOffset: Sendable, Equatable {
    public var offset: UInt64
    public var kind: String
    public init(offset: UInt64, kind: String) { self.offset = offset; self.kind = kind }
}

/// A group of header fields ("header", "sub_header_kdump", "ELF header", "PT_LOAD segments" ...).
///
/// Text layout (crash's `help -D`): the title on its own line (none when empty), then each field's
/// name right-aligned to `nameWidth + 2 * depth` columns, ": ", and the value; the further lines of a
/// multi-line value start at the value column.
public struct HeaderSection: Sendable, Equatable {
    public var title: String
    public var fields: [HeaderField]
    /// Column where field names end (crash aligns each block to its own width).
    public var nameWidth: Int
    public init(title: String, fields: [HeaderField], nameWidth: Int = 20) {
        self.title = title; self.fields = fields; self.nameWidth = nameWidth
    }

    /// The value of the first field called `name` (at any depth).
    public func value(_ name: String) -> HeaderValue? { fields.first { $0.name == name }?.value }
}

/// What `dumpinfo` reports: the facts every format has, plus the format's own header sections.
public struct DumpSummary: Sendable {
    public var path: String
    public var format: DumpFormat
    /// "zlib", "lzo", "snappy", "zstd", "none" (raw pages), or nil for ELF.
    public var compression: String?
    /// makedumpfile's dump level (0-31), where the header says it.
    public var dumpLevel: Int?
    public var pageSize: Int
    /// Highest page frame number + 1 the dump describes.
    public var maxMapnr: UInt64
    /// Pages whose bytes are in the dump.
    public var pagesPresent: UInt64
    /// Pages of RAM left out by filtering: in a kdump file's 1st bitmap but not its 2nd; in an ELF
    /// core, the pages of the `[p_filesz, p_memsz)` tails (makedumpfile -E). nil where the format cannot tell.
    public var pagesExcluded: UInt64?
    public var utsname: [String: String]?
    /// Crash time (seconds since the epoch) from the header or VMCOREINFO CRASHTIME.
    public var crashTime: Int64?
    /// The CPU that crashed, where the header says it.
    public var panicCPU: Int?
    public var nrCPUs: Int?
    public var sections: [HeaderSection]
    public var prstatus: [PRStatus]

    public init(path: String, format: DumpFormat, pageSize: Int) {
        self.path = path; self.format = format; self.pageSize = pageSize
        maxMapnr = 0; pagesPresent = 0; sections = []; prstatus = []
    }
}

/// An opened crash dump: page-granular physical memory plus the notes and header facts.
///
/// Implementations: `ElfCoreFile`, `KdumpCompressedFile` (over a mapped file, or over a
/// `FlattenedFile` for makedumpfile -F), `SplitKdumpFile`, `SadumpFile`. Open one with `DumpOpener.open(path:)`.
public protocol DumpFile: AnyObject {
    var path: String { get }
    var format: DumpFormat { get }
    var pageSize: Int { get }
    /// Copies page frame `pfn` into `buffer` (exactly `pageSize` bytes).
    /// Throws `.excludedPage`, `.notInDump` or `.corruptPage`; never fills zeros for a missing page.
    func readPage(pfn: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws
    func pageState(pfn: UInt64) -> PageState
    /// Every page frame whose bytes are present, in increasing order (for benchmarks and `dumpinfo`).
    func presentPages() -> AnySequence<UInt64>
    /// The VMCOREINFO note, parsed once when the dump is opened; nil if the dump carries none.
    var vmcoreinfo: VMCoreInfo? { get }
    /// Every ELF note in the dump, in file order.
    var notes: [DumpNote] { get }
    /// The NT_PRSTATUS notes, in order (one per CPU that was online).
    var prstatus: [PRStatus] { get }
    /// Header facts for `dumpinfo`.
    func summary() -> DumpSummary
    /// phys_base as the dump header states it (kdump sub-header); nil where the format has none
    /// (then VMCOREINFO's NUMBER(phys_base) is the source).
    var headerPhysBase: UInt64? { get }
    /// Per-CPU state with control registers and segment bases, in CPU order: QEMU's CPU notes, or
    /// sadump's SMRAM states in QEMU's shape; empty for kdump's own dumps.
    var qemuCPUStates: [QEMUCPUState] { get }
}

extension DumpFile {
    /// The raw VMCOREINFO text (KEY=VALUE lines) exactly as found, if the dump carries it.
    public var vmcoreinfoText: String? { vmcoreinfo?.raw }
    public var headerPhysBase: UInt64? { nil }
    public var qemuCPUStates: [QEMUCPUState] { [] }
}

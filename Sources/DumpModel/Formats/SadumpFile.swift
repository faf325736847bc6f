/// EFI_TIME as sadump's headers store it (16 bytes).
public struct EFITime: Sendable, Equatable {
    public var year: UInt16 = 0
    public var month: UInt8 = 0, day: UInt8 = 0, hour: UInt8 = 0, minute: UInt8 = 0, second: UInt8 = 0
    public var nanosecond: UInt32 = 0
    /// Minutes from UTC, or `unspecifiedTimeZone`.
    public var timeZone: Int16 = 0
    public var daylight: UInt8 = 0

    public static let unspecifiedTimeZone: Int16 = 2047
    static let size: UInt64 = 16

    public init() {}

    init(_ r: any ByteReader, at o: UInt64) throws {
        func u8(_ k: UInt64) throws -> UInt8 { try r.load(UInt8.self, at: o + k, what: "EFI time") }
        year = try r.load(UInt16.self, at: o, what: "EFI time")
        month = try u8(2); day = try u8(3); hour = try u8(4); minute = try u8(5); second = try u8(6)
        nanosecond = try r.load(UInt32.self, at: o + 8, what: "EFI time")
        timeZone = try r.load(Int16.self, at: o + 12, what: "EFI time")
        daylight = try u8(14)
    }

    /// Seconds since the epoch; nil when a field is out of its range. The time is taken as UTC
    /// when the zone is unspecified (the firmware clock), else corrected by the zone (UEFI 2.x:
    /// local time = UTC + TimeZone minutes).
    public var secondsSinceEpoch: Int64? {
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        // Days from 1970-01-01 of a civil date (proleptic Gregorian).
        let y = Int64(year) - (month <= 2 ? 1 : 0)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        var t = days * 86_400 + Int64(hour) * 3600 + Int64(minute) * 60 + Int64(second)
        if timeZone != EFITime.unspecifiedTimeZone, (-1440...1440).contains(timeZone) { t -= Int64(timeZone) * 60 }
        return t
    }
}

/// `sadump_part_header`: the first block of each disk (after the media header of a media backup).
public struct SadumpPartitionHeader: Sendable, Equatable {
    public var enable: UInt32 = 0, reboot: UInt32 = 0, compress: UInt32 = 0, recycle: UInt32 = 0
    /// System, disk-set and volume (this disk) UUIDs, 16 bytes each as stored.
    public var sadumpID: [UInt8] = [], diskSetID: [UInt8] = [], volumeID: [UInt8] = []
    public var timeStamp = EFITime()
    /// 0: single partition; k >= 1: disk k of a disk set.
    public var setDiskSet: UInt32 = 0
    /// Bytes of the disk in use (the end of its page data).
    public var usedDevice: UInt64 = 0

    /// "sadu" "mp\0\0" as two little-endian words.
    static let signature: [UInt8] = Array("sadump".utf8) + [0, 0]
    static let size: UInt64 = 4096
    /// Words of the check sequence that ends the header (each is 11 x (the previous + 7)).
    static let magicWords = 982
    static let magicOffset: UInt64 = 168

    /// Reads the header at `o`; throws `.badHeader` unless its signature and check sequence are there.
    init(_ r: any ByteReader, at o: UInt64, path: String) throws {
        guard try r.bytes(at: o, count: 8, what: "sadump_part_header") == SadumpPartitionHeader.signature else {
            throw DumpError.badHeader(path: path, field: "sadump_part_header.signature", value: "not \"sadump\"",
                                      reason: "no sadump partition header at offset \(hex(o))")
        }
        let words = try r.bytes(at: o + SadumpPartitionHeader.magicOffset, count: SadumpPartitionHeader.magicWords * 4,
                                what: "sadump_part_header.magicnum")
        var previous: UInt32 = 0
        for i in 0 ..< SadumpPartitionHeader.magicWords {
            let b = 4 * i
            let w = UInt32(words[b]) | UInt32(words[b + 1]) << 8 | UInt32(words[b + 2]) << 16 | UInt32(words[b + 3]) << 24
            if i > 0, w != (previous &+ 7) &* 11 {
                throw DumpError.badHeader(path: path, field: "sadump_part_header.magicnum[\(i)]", value: hex(UInt64(w)),
                                          reason: "breaks the check sequence (expected \(hex(UInt64((previous &+ 7) &* 11))))")
            }
            previous = w
        }
        func u32(_ k: UInt64) throws -> UInt32 { try r.load(UInt32.self, at: o + k, what: "sadump_part_header") }
        enable = try u32(8); reboot = try u32(12); compress = try u32(16); recycle = try u32(20)
        sadumpID = try r.bytes(at: o + 88, count: 16, what: "sadump_part_header")
        diskSetID = try r.bytes(at: o + 104, count: 16, what: "sadump_part_header")
        volumeID = try r.bytes(at: o + 120, count: 16, what: "sadump_part_header")
        timeStamp = try EFITime(r, at: o + 136)
        setDiskSet = try u32(152)
        usedDevice = try r.load(UInt64.self, at: o + 160, what: "sadump_part_header")
    }

    /// A UUID as crash prints it: the stored bytes in hex, grouped 4-2-2-2-6.
    public static func uuidText(_ id: [UInt8]) -> String {
        let digits = id.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }
        guard digits.count == 16 else { return digits.joined() }
        return [0 ..< 4, 4 ..< 6, 6 ..< 8, 8 ..< 10, 10 ..< 16].map { digits[$0].joined() }.joined(separator: "-")
    }
}

/// `sadump_disk_set_header` (disk 1 of a disk set, after its partition header).
public struct SadumpDiskSetHeader: Sendable, Equatable {
    public struct Volume: Sendable, Equatable {
        public var id: [UInt8]
        public var size: UInt64
        public var status: UInt32
        public var cacheSize: UInt32
    }
    /// Size of this header in blocks.
    public var headerBlocks: UInt32
    public var diskCount: UInt32
    public var diskSetSize: UInt64
    /// Disks 2 ... diskCount.
    public var volumes: [Volume]

    static let maxDisks: UInt32 = 16
}

/// `sadump_media_header`: the first block of a media backup, before the partition header.
public struct SadumpMediaHeader: Sendable, Equatable {
    public var sadumpID: [UInt8], diskSetID: [UInt8]
    public var timeStamp: EFITime
    public var sequentialNumber: Int8, terminationCord: Int8, diskSetHeaderSize: Int8, disksInUse: Int8
}

/// `sadump_header`: the dump header, in the block after the partition (and disk-set) header.
public struct SadumpDumpHeader: Sendable, Equatable {
    public var headerVersion: UInt32 = 0
    public var timestamp = EFITime()
    public var status: UInt32 = 0, compress: UInt32 = 0
    public var blockSize: UInt32 = 0
    public var extraHeaderBlocks: UInt32 = 0
    /// Blocks of the sub-header (APIC ids and SMRAM CPU states).
    public var subHeaderBlocks: UInt32 = 0
    public var bitmapBlocks: UInt32 = 0, dumpableBitmapBlocks: UInt32 = 0
    public var maxMapnr32: UInt32 = 0
    public var totalRAMBlocks32: UInt32 = 0, deviceBlocks32: UInt32 = 0, writtenBlocks32: UInt32 = 0
    public var currentCPU: UInt32 = 0
    public var nrCPUs: UInt32 = 0
    /// Header version 1 and later.
    public var maxMapnr64: UInt64 = 0, totalRAMBlocks64: UInt64 = 0, deviceBlocks64: UInt64 = 0, writtenBlocks64: UInt64 = 0

    static let signature: [UInt8] = Array("sadump".utf8) + [0, 0]
    static let size: UInt64 = 120
}

/// One CPU's state as sadump saved it: its local APIC id and the processor's SMRAM state-save
/// area (the top 1 KiB of the x86_64 SMRAM map): registers, CR0/CR3/CR4, the GDT/IDT/LDT.
public struct SadumpCPUState: Sendable, Equatable {
    /// Index of the entry in the sub-header (crash and makedumpfile call it the APIC index).
    public var index: Int
    public var apicID: UInt64, logicalDestination: UInt64
    /// General registers, rip, rflags and segment selectors (no fs/gs base, no orig_rax).
    public var registers = X86Registers()
    public var cr0: UInt64 = 0, cr3: UInt64 = 0, cr4: UInt64 = 0
    public var gdtBase: UInt64 = 0, gdtLimit: UInt32 = 0
    public var idtBase: UInt64 = 0, idtLimit: UInt32 = 0
    public var ldtBase: UInt64 = 0, ldtLimit: UInt32 = 0, ldtInfo: UInt32 = 0
    public var ldtr: UInt32 = 0, tr: UInt32 = 0
    public var efer: UInt64 = 0, dr6: UInt64 = 0, dr7: UInt64 = 0
    public var eptp: UInt64 = 0, eptpSetting: UInt32 = 0
    public var smbase: UInt32 = 0, smmRevision: UInt32 = 0
    public var ioEip: UInt64 = 0, ioMemAddress: UInt64 = 0, ioMisc: UInt32 = 0
    public var ioInstructionRestart: UInt16 = 0, autoHaltRestart: UInt16 = 0
    /// False when every field but the reserved ones is zero: sadump clears the state of an APIC
    /// the machine does not use.
    public var inUse: Bool = false

    public static let smramSize = 1024
    /// Byte ranges of the SMRAM state that hold fields (the rest is reserved and may be non-zero
    /// for an unused APIC).
    static let fieldRanges: [Range<Int>] = [464 ..< 476, 488 ..< 496, 576 ..< 580, 652 ..< 680, 728 ..< 740,
                                            760 ..< 772, 796 ..< 1024]

    /// Decodes the 1024 bytes of `smram`.
    init(index: Int, apicID: UInt64, logicalDestination: UInt64, smram b: [UInt8]) {
        self.index = index
        self.apicID = apicID
        self.logicalDestination = logicalDestination
        func u16(_ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        inUse = SadumpCPUState.fieldRanges.contains { r in b[r].contains { $0 != 0 } }
        gdtBase = UInt64(u32(464)) << 32 | UInt64(u32(652)); gdtLimit = u32(656)
        ldtBase = UInt64(u32(468)) << 32 | UInt64(u32(668)); ldtLimit = u32(672); ldtInfo = u32(676)
        idtBase = UInt64(u32(472)) << 32 | UInt64(u32(660)); idtLimit = u32(664)
        ioEip = u64(488)
        cr4 = UInt64(u32(576))
        eptp = u64(728); eptpSetting = u32(736)
        smbase = u32(760); smmRevision = u32(764)
        ioInstructionRestart = u16(768); autoHaltRestart = u16(770)
        // R15 ... RDI as (lower, upper) halves from 796, in the SMRAM map's order.
        let gpr = (0 ..< 16).map { k in u64(796 + 8 * k) }
        var r = X86Registers()
        r.r15 = gpr[0]; r.r14 = gpr[1]; r.r13 = gpr[2]; r.r12 = gpr[3]
        r.r11 = gpr[4]; r.r10 = gpr[5]; r.r9 = gpr[6]; r.r8 = gpr[7]
        r.rax = gpr[8]; r.rcx = gpr[9]; r.rdx = gpr[10]; r.rbx = gpr[11]
        r.rsp = gpr[12]; r.rbp = gpr[13]; r.rsi = gpr[14]; r.rdi = gpr[15]
        ioMemAddress = u64(924)
        ioMisc = u32(932)
        r.es = UInt64(u32(936)); r.cs = UInt64(u32(940)); r.ss = UInt64(u32(944))
        r.ds = UInt64(u32(948)); r.fs = UInt64(u32(952)); r.gs = UInt64(u32(956))
        ldtr = u32(960); tr = u32(964)
        dr7 = u64(968); dr6 = u64(976)
        r.rip = u64(984)
        efer = u64(992)
        r.rflags = u64(1000)
        cr3 = u64(1008); cr0 = u64(1016)
        registers = r
    }

    /// The state in the shape of QEMU's CPU note (what the kernel-image search and the
    /// backtracer read): general registers, selectors, GDT/IDT/LDT bases and limits, CR0-CR4
    /// (sadump saves no CR2: 0).
    public var cpuState: QEMUCPUState {
        let r = registers
        func segment(_ selector: UInt64, base: UInt64 = 0, limit: UInt32 = 0) -> QEMUSegment {
            QEMUSegment(selector: UInt32(truncatingIfNeeded: selector), limit: limit, flags: 0, pad: 0, base: base)
        }
        return QEMUCPUState(
            version: 0, size: 0,
            generalRegisters: [r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8, r.r9,
                               r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags],
            segments: [segment(r.cs), segment(r.ds), segment(r.es), segment(r.fs), segment(r.gs), segment(r.ss),
                       segment(UInt64(ldtr), base: ldtBase, limit: ldtLimit), segment(UInt64(tr)),
                       segment(0, base: gdtBase, limit: gdtLimit), segment(0, base: idtBase, limit: idtLimit)],
            controlRegisters: [cr0, 0, 0, cr3, cr4], kernelGSBase: nil)
    }
}

/// Fujitsu's sadump format (a stand-alone dump taken by the firmware): a partition header, the
/// dump header, a sub-header with each CPU's APIC id and SMRAM state, a bitmap of the RAM pages and
/// a bitmap of the dumped ones (bit 7 of byte 0 is pfn 0), then the dumped pages back to back in
/// pfn order, uncompressed: a page's place is its rank among the dumped pages. Three layouts:
/// a single partition; a media backup (a media header block first); a disk set, whose page data
/// continues from disk to disk (each disk's partition header says how much of it is used, disk 1
/// also holds the disk-set header and all the other headers). Read from crash's sadump.c and
/// makedumpfile's sadump_info.c.
///
/// Pages in the RAM bitmap but not the dumped one are excluded (crash reads them as zeros by
/// default; crashsh reports them). sadump carries no VMCOREINFO and no phys_base: the kernel is
/// placed from the CPU states (CR3, IDT). `prstatus` and `qemuCPUStates` list the used SMRAM states
/// in order; the backtracer maps kernel CPU ids to entries by APIC id (`registers(apicIDs:)`),
/// as crash does through x86_bios_cpu_apicid. Not handled: the kdump backup region (a dump taken
/// while a kdump kernel ran). Open cost is the header blocks; the bitmaps are read in place (see
/// `PageBitmap`). Not thread-safe.
public final class SadumpFile: DumpFile {
    public enum Layout: String, Sendable {
        case singlePartition = "single partition"
        case diskSet = "disk set"
        case mediaBackup = "media backup"
    }

    /// One file of the dump and the page data on it.
    public struct Disk {
        public let path: String
        public let reader: any ByteReader
        public let partitionHeader: SadumpPartitionHeader
        /// Where the page data starts on this disk.
        public let dataOffset: UInt64
        /// Bytes of page data on this disk (the file's rest for a single partition).
        public let dataBytes: UInt64
    }

    public let path: String
    public var format: DumpFormat { .sadump }
    public let pageSize: Int
    public let layout: Layout
    /// Disk 1 first.
    public let disks: [Disk]
    public var partitionHeader: SadumpPartitionHeader { disks[0].partitionHeader }
    public let diskSetHeader: SadumpDiskSetHeader?
    public let mediaHeader: SadumpMediaHeader?
    public let header: SadumpDumpHeader
    public let maxMapnr: UInt64
    /// Every entry of the sub-header, used or not, in file order.
    public let cpuEntries: [SadumpCPUState]
    public let dumpHeaderOffset: UInt64
    public let subHeaderOffset: UInt64
    public let bitmapOffset: UInt64
    public let dumpableBitmapOffset: UInt64
    public let dataOffset: UInt64
    /// The sub-header's size field: bytes of all the SMRAM states (0 without a sub-header).
    public let cpuStatesSize: UInt64
    /// Bytes per SMRAM state: `cpuStatesSize / nr_cpus`.
    public let cpuStateSize: UInt64

    public let notes: [DumpNote] = []
    public let vmcoreinfo: VMCoreInfo? = nil
    public let prstatus: [PRStatus]
    public let qemuCPUStates: [QEMUCPUState]

    private let ram: PageBitmap
    private let dumpable: PageBitmap

    /// Most sub-header entries read (the kernel's NR_CPUS limit).
    static let maxCPUs: UInt32 = 8192

    /// True when `reader` starts with a sadump partition header, or holds one after a 4 KiB
    /// media header (a media backup).
    public static func hasSignature(_ reader: any ByteReader) -> Bool {
        (try? reader.bytes(at: 0, count: 8)) == SadumpPartitionHeader.signature
            || (try? reader.bytes(at: SadumpPartitionHeader.size, count: 8)) == SadumpPartitionHeader.signature
    }

    /// Opens a single-partition or media-backup file.
    public convenience init(reader: any ByteReader, path: String? = nil) throws {
        try self.init(disks: [(reader, path ?? reader.name)])
    }

    /// The default bound on the copy of each bitmap made for a reader that cannot point at it
    /// (128 MiB describe 4 TiB of 4 KiB pages); past it, bitmap words are fetched one by one.
    public static let defaultBitmapCopyLimit: UInt64 = PageBitmap.defaultCopyLimit

    /// Opens a dump from its files: one file, or every disk of a disk set in any order.
    public init(disks given: [(reader: any ByteReader, path: String)],
                bitmapCopyLimit: UInt64 = SadumpFile.defaultBitmapCopyLimit) throws {
        guard !given.isEmpty else { throw DumpError.missing(what: "the sadump dump file") }
        // Disk 1 holds the dump header; the others only a partition header and page data.
        var firstIndex = 0
        if given.count > 1 {
            var found: Int?
            for (k, disk) in given.enumerated() {
                let ph = try SadumpPartitionHeader(disk.reader, at: 0, path: disk.path)
                if ph.setDiskSet == 1 {
                    if let other = found {
                        throw DumpError.badHeader(path: disk.path, field: "set_disk_set", value: "1",
                                                  reason: "\(given[other].path) is disk 1 too; the same disk given twice?")
                    }
                    found = k
                }
            }
            guard let k = found else {
                throw DumpError.missing(what: "disk 1 of the sadump disk set (it holds the dump header): none of \(given.map(\.path).joined(separator: ", ")) is")
            }
            firstIndex = k
        }
        let (reader, path) = given[firstIndex]
        func bad(_ field: String, _ value: CustomStringConvertible, _ reason: String) -> DumpError {
            .badHeader(path: path, field: field, value: value.description, reason: reason)
        }
        guard reader.size >= SadumpPartitionHeader.size else {
            throw reader.truncated("sadump_part_header", at: 0, length: SadumpPartitionHeader.size)
        }
        let media = (try reader.bytes(at: 0, count: 8)) != SadumpPartitionHeader.signature
        // The headers are one block each; the block size is the dump header's, found by reading it
        // with 4 KiB blocks first (crash and makedumpfile restart the same way).
        var block: UInt64 = 4096
        var found = try SadumpFile.headerBlocks(reader, path: path, media: media, block: block)
        if found.blockSize != block {
            block = found.blockSize
            found = try SadumpFile.headerBlocks(reader, path: path, media: media, block: block)
            guard found.blockSize == block else {
                throw bad("block_size", found.blockSize, "differs from the block size the headers are laid out in")
            }
        }
        let (part, diskSet, dumpHeaderAt) = (found.partition, found.diskSet, found.dumpHeaderAt)
        pageSize = Int(block)

        var h = SadumpDumpHeader()
        func u32(_ k: UInt64) throws -> UInt32 { try reader.load(UInt32.self, at: dumpHeaderAt + k, what: "sadump_header") }
        func u64(_ k: UInt64) throws -> UInt64 { try reader.load(UInt64.self, at: dumpHeaderAt + k, what: "sadump_header") }
        h.headerVersion = try u32(8)
        h.timestamp = try EFITime(reader, at: dumpHeaderAt + 16)
        h.status = try u32(32); h.compress = try u32(36); h.blockSize = try u32(40)
        h.extraHeaderBlocks = try u32(44); h.subHeaderBlocks = try u32(48)
        h.bitmapBlocks = try u32(52); h.dumpableBitmapBlocks = try u32(56)
        h.maxMapnr32 = try u32(60); h.totalRAMBlocks32 = try u32(64); h.deviceBlocks32 = try u32(68)
        h.writtenBlocks32 = try u32(72); h.currentCPU = try u32(76); h.nrCPUs = try u32(80)
        if h.headerVersion >= 1 {
            h.maxMapnr64 = try u64(88); h.totalRAMBlocks64 = try u64(96)
            h.deviceBlocks64 = try u64(104); h.writtenBlocks64 = try u64(112)
        }
        header = h
        // crash and makedumpfile take a version past 1 as 1.
        maxMapnr = h.headerVersion == 0 ? UInt64(h.maxMapnr32) : h.maxMapnr64

        // Layout after the dump header: sub-header, RAM bitmap, dumpable bitmap, page data.
        let sub = dumpHeaderAt + block
        let (bitmapAt, o1) = sub.addingReportingOverflow(UInt64(h.subHeaderBlocks) * block)
        let (dumpableAt, o2) = bitmapAt.addingReportingOverflow(UInt64(h.bitmapBlocks) * block)
        let (dataAt, o3) = dumpableAt.addingReportingOverflow(UInt64(h.dumpableBitmapBlocks) * block)
        guard !o1, !o2, !o3 else { throw bad("bitmap_blocks", h.bitmapBlocks, "layout overflows") }
        guard h.bitmapBlocks > 0 else { throw bad("bitmap_blocks", 0, "no RAM bitmap") }
        guard h.dumpableBitmapBlocks > 0 else { throw bad("dumpable_bitmap_blocks", 0, "no dumpable bitmap") }
        guard dataAt <= reader.size else {
            throw reader.truncated("bitmaps (\(h.bitmapBlocks) + \(h.dumpableBitmapBlocks) blocks)", at: bitmapAt, length: dataAt - bitmapAt)
        }
        let field = h.headerVersion == 0 ? "max_mapnr" : "max_mapnr_64"
        guard maxMapnr <= UInt64(h.bitmapBlocks) * block * 8 else {
            throw bad(field, maxMapnr, "more pages than the RAM bitmap (\(h.bitmapBlocks) blocks) describes")
        }
        guard maxMapnr <= UInt64(h.dumpableBitmapBlocks) * block * 8 else {
            throw bad(field, maxMapnr, "more pages than the dumpable bitmap (\(h.dumpableBitmapBlocks) blocks) describes")
        }
        dumpHeaderOffset = dumpHeaderAt
        subHeaderOffset = sub
        bitmapOffset = bitmapAt
        dumpableBitmapOffset = dumpableAt
        dataOffset = dataAt

        // Sub-header: the SMRAM states' total size, an (APIC id, LDR) pair per CPU, then the states.
        var entries: [SadumpCPUState] = []
        var stateSize: UInt64 = 0, statesSize: UInt64 = 0
        if h.subHeaderBlocks > 0, h.nrCPUs > 0 {
            guard h.nrCPUs <= SadumpFile.maxCPUs else { throw bad("nr_cpus", h.nrCPUs, "more than \(SadumpFile.maxCPUs) CPUs") }
            let n = UInt64(h.nrCPUs)
            let total = UInt64(try reader.load(UInt32.self, at: sub, what: "sub-header size"))
            stateSize = total / n
            statesSize = total
            let statesAt = sub + 4 + 16 * n
            guard stateSize >= UInt64(SadumpCPUState.smramSize) else {
                throw bad("sub-header size", total, "\(stateSize) bytes per CPU, an SMRAM state needs \(SadumpCPUState.smramSize)")
            }
            guard statesAt + n * stateSize <= bitmapAt else {
                throw bad("sub_hdr_size", h.subHeaderBlocks, "\(n) CPU states of \(stateSize) bytes do not fit")
            }
            for k in 0 ..< n {
                let smram = try reader.bytes(at: statesAt + k * stateSize, count: SadumpCPUState.smramSize, what: "SMRAM CPU state")
                entries.append(SadumpCPUState(index: Int(k),
                                              apicID: try reader.load(UInt64.self, at: sub + 4 + 16 * k, what: "APIC state"),
                                              logicalDestination: try reader.load(UInt64.self, at: sub + 12 + 16 * k, what: "APIC state"),
                                              smram: smram))
            }
        }
        cpuEntries = entries
        cpuStateSize = stateSize
        cpuStatesSize = statesSize
        let used = entries.filter(\.inUse)
        qemuCPUStates = used.map(\.cpuState)
        prstatus = used.enumerated().map { k, s in
            var p = PRStatus(index: k)
            p.registers = s.registers
            return p
        }

        // The media header, checked against the partition header as crash does.
        if media {
            let m = SadumpMediaHeader(sadumpID: try reader.bytes(at: 0, count: 16, what: "sadump_media_header"),
                                      diskSetID: try reader.bytes(at: 16, count: 16, what: "sadump_media_header"),
                                      timeStamp: try EFITime(reader, at: 32),
                                      sequentialNumber: try reader.load(Int8.self, at: 48), terminationCord: try reader.load(Int8.self, at: 49),
                                      diskSetHeaderSize: try reader.load(Int8.self, at: 50), disksInUse: try reader.load(Int8.self, at: 51))
            guard m.sadumpID == part.sadumpID else {
                throw bad("sadump_media_header.sadump_id", SadumpPartitionHeader.uuidText(m.sadumpID),
                          "differs from the partition header's \(SadumpPartitionHeader.uuidText(part.sadumpID))")
            }
            guard m.diskSetID == part.diskSetID else {
                throw bad("sadump_media_header.disk_set_id", SadumpPartitionHeader.uuidText(m.diskSetID),
                          "differs from the partition header's \(SadumpPartitionHeader.uuidText(part.diskSetID))")
            }
            // The first medium is 1; libkdumpfile's generator writes 0 there (its reader does not
            // look), which cannot be a later medium either.
            guard m.sequentialNumber <= 1 else {
                throw DumpError.unsupported(path: path, what: "medium \(m.sequentialNumber) of a sadump media backup; give the first")
            }
            mediaHeader = m
            layout = .mediaBackup
        } else {
            mediaHeader = nil
            layout = diskSet == nil ? .singlePartition : .diskSet
        }
        diskSetHeader = diskSet

        // The disks and how many bytes of page data each holds.
        var list: [Disk] = []
        if let set = diskSet {
            guard given.count == Int(set.diskCount) else {
                if given.count < Int(set.diskCount) {
                    throw DumpError.missing(what: "\(Int(set.diskCount) - given.count) disk(s) of the sadump disk set: \(path) is disk 1 of \(set.diskCount); give all its disks")
                }
                throw DumpError.unsupported(path: path, what: "\(given.count) files for a sadump disk set of \(set.diskCount) disks")
            }
            func disk(_ p: String, _ r: any ByteReader, _ ph: SadumpPartitionHeader, _ offset: UInt64) throws -> Disk {
                guard ph.usedDevice >= offset else {
                    throw DumpError.badHeader(path: p, field: "used_device", value: String(ph.usedDevice),
                                              reason: "ends before the page data starts at \(offset)")
                }
                return Disk(path: p, reader: r, partitionHeader: ph, dataOffset: offset, dataBytes: ph.usedDevice - offset)
            }
            var byNumber: [UInt32: Disk] = [1: try disk(path, reader, part, dataAt)]
            for (k, other) in given.enumerated() where k != firstIndex {
                let ph = try SadumpPartitionHeader(other.reader, at: 0, path: other.path)
                func mismatch(_ field: String, _ value: [UInt8], _ expected: [UInt8]) -> DumpError {
                    .badHeader(path: other.path, field: field, value: SadumpPartitionHeader.uuidText(value),
                               reason: "not \(path)'s \(SadumpPartitionHeader.uuidText(expected)): a disk of another dump")
                }
                guard ph.sadumpID == part.sadumpID else { throw mismatch("sadump_id", ph.sadumpID, part.sadumpID) }
                guard ph.diskSetID == part.diskSetID else { throw mismatch("disk_set_id", ph.diskSetID, part.diskSetID) }
                guard ph.setDiskSet >= 2, ph.setDiskSet <= set.diskCount else {
                    throw DumpError.badHeader(path: other.path, field: "set_disk_set", value: String(ph.setDiskSet),
                                              reason: "not a disk number from 2 to \(set.diskCount)")
                }
                guard byNumber[ph.setDiskSet] == nil else {
                    throw DumpError.badHeader(path: other.path, field: "set_disk_set", value: String(ph.setDiskSet),
                                              reason: "\(byNumber[ph.setDiskSet]?.path ?? "") is that disk too; the same disk given twice?")
                }
                let expected = set.volumes[Int(ph.setDiskSet) - 2].id
                guard ph.volumeID == expected else { throw mismatch("vol_id", ph.volumeID, expected) }
                byNumber[ph.setDiskSet] = try disk(other.path, other.reader, ph, block)
            }
            list = (1 ... set.diskCount).compactMap { byNumber[$0] }
        } else {
            guard given.count == 1 else {
                throw DumpError.unsupported(path: given[1].path, what: "several files given, but \(path) is a whole sadump dump (not a disk set)")
            }
            list = [Disk(path: path, reader: reader, partitionHeader: part, dataOffset: dataAt, dataBytes: reader.size - dataAt)]
        }
        disks = list
        self.path = list.map(\.path).joined(separator: " ")
        ram = PageBitmap(reader: reader, offset: bitmapAt, bitCount: maxMapnr, order: .highestFirst, copyLimit: bitmapCopyLimit)
        dumpable = PageBitmap(reader: reader, offset: dumpableAt, bitCount: maxMapnr, order: .highestFirst,
                              copyLimit: bitmapCopyLimit)
    }

    /// The partition header, the disk-set header and where the dump header is, for headers laid
    /// out in blocks of `block` bytes; and the block size the dump header states.
    private static func headerBlocks(_ reader: any ByteReader, path: String, media: Bool, block: UInt64) throws
        -> (partition: SadumpPartitionHeader, diskSet: SadumpDiskSetHeader?, dumpHeaderAt: UInt64, blockSize: UInt64) {
        func bad(_ field: String, _ value: CustomStringConvertible, _ reason: String) -> DumpError {
            .badHeader(path: path, field: field, value: value.description, reason: reason)
        }
        let part = try SadumpPartitionHeader(reader, at: media ? block : 0, path: path)
        var diskSet: SadumpDiskSetHeader?
        let dumpHeaderAt: UInt64
        if media {
            dumpHeaderAt = 2 * block
        } else if part.setDiskSet != 0 {
            guard part.setDiskSet == 1 else {
                throw DumpError.missing(what: "disk 1 of the sadump disk set: \(path) is disk \(part.setDiskSet); give all its disks")
            }
            let headerBlocks = try reader.load(UInt32.self, at: block, what: "sadump_disk_set_header")
            guard headerBlocks >= 1, headerBlocks <= 64 else {
                throw bad("disk_set_header_size", headerBlocks, "must be 1 to 64 blocks")
            }
            let count = try reader.load(UInt32.self, at: block + 4, what: "sadump_disk_set_header")
            // One disk is a set too (libkdumpfile's generator writes one; its reader takes it).
            guard count >= 1, count <= SadumpDiskSetHeader.maxDisks else {
                throw bad("disk_num", count, "a disk set has 1 to \(SadumpDiskSetHeader.maxDisks) disks")
            }
            var volumes: [SadumpDiskSetHeader.Volume] = []
            for v in 0 ..< UInt64(count - 1) {
                let at = block + 16 + 32 * v
                volumes.append(.init(id: try reader.bytes(at: at, count: 16, what: "vol_info"),
                                     size: try reader.load(UInt64.self, at: at + 16, what: "vol_info"),
                                     status: try reader.load(UInt32.self, at: at + 24, what: "vol_info"),
                                     cacheSize: try reader.load(UInt32.self, at: at + 28, what: "vol_info")))
            }
            diskSet = SadumpDiskSetHeader(headerBlocks: headerBlocks, diskCount: count,
                                          diskSetSize: try reader.load(UInt64.self, at: block + 8, what: "sadump_disk_set_header"),
                                          volumes: volumes)
            dumpHeaderAt = block + UInt64(headerBlocks) * block
        } else {
            dumpHeaderAt = block
        }
        guard try reader.bytes(at: dumpHeaderAt, count: 8, what: "sadump_header") == SadumpDumpHeader.signature else {
            throw bad("sadump_header.signature", "not \"sadump\"", "no dump header at offset \(hex(dumpHeaderAt))")
        }
        let size = try reader.load(UInt32.self, at: dumpHeaderAt + 40, what: "sadump_header")
        guard size >= 4096, size <= 1 << 16, size & (size - 1) == 0 else {
            throw bad("block_size", size, "must be a power of two from 4096 to 65536")
        }
        return (part, diskSet, dumpHeaderAt, UInt64(size))
    }

    /// The registers of each kernel CPU id, given each CPU id's APIC id (`PerCPU.apicIDs`): the
    /// sub-header entry at that APIC id, as crash and makedumpfile index it; nil where the entry is
    /// missing or unused. Without APIC ids (empty), the used entries in order.
    public func registers(apicIDs: [Int?]) -> [X86Registers?] {
        guard !apicIDs.isEmpty else { return prstatus.map(\.registers) }
        return apicIDs.map { id in
            guard let id, id >= 0, id < cpuEntries.count, cpuEntries[id].inUse else { return nil }
            return cpuEntries[id].registers
        }
    }

    // MARK: pages

    public func pageState(pfn: UInt64) -> PageState {
        guard ram.contains(pfn) else { return .notInDump }
        return dumpable.contains(pfn) ? .present : .excluded
    }

    /// Where the bytes of a dumped `pfn` are: the disk and the offset on it. The page data is one
    /// run of blocks, a dumpable pfn's block being its rank among the dumpable pfns (also those
    /// the RAM bitmap lacks, as crash counts them), continued from each disk to the next.
    public func pageLocation(pfn: UInt64) throws -> (disk: Disk, offset: UInt64) {
        let paddr = pfn &* UInt64(pageSize)
        switch pageState(pfn: pfn) {
        case .notInDump: throw DumpError.notInDump(paddr: paddr)
        case .excluded: throw DumpError.excludedPage(paddr: paddr)
        case .present: break
        }
        let (whole, overflow) = dumpable.rank(pfn).multipliedReportingOverflow(by: UInt64(pageSize))
        guard !overflow else { throw DumpError.corruptPage(path: path, pfn: pfn, offset: 0, reason: "page data offset overflows") }
        var rest = whole
        for disk in disks {
            if rest < disk.dataBytes { return (disk, disk.dataOffset &+ rest) }
            rest -= disk.dataBytes
        }
        throw DumpError.corruptPage(path: path, pfn: pfn, offset: whole,
                                    reason: "page data block \(whole / UInt64(pageSize)) is past the used part of every disk")
    }

    public func readPage(pfn: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let (disk, offset) = try pageLocation(pfn: pfn)
        guard buffer.count >= pageSize else {
            throw DumpError.corruptPage(path: disk.path, pfn: pfn, offset: offset, reason: "destination smaller than a page")
        }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(pageSize))
        guard !overflow, end <= disk.reader.size else {
            throw disk.reader.truncated("data of page \(hex(pfn)) (pfn)", at: offset, length: UInt64(pageSize))
        }
        try disk.reader.fetch(from: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< pageSize]), what: "page data")
    }

    public func presentPages() -> AnySequence<UInt64> {
        AnySequence { () -> AnyIterator<UInt64> in
            PageBitmap.setBits(words: 0, to: self.ram.wordCount) { w in self.ram.word(w) & self.dumpable.word(w) }
        }
    }

    /// Pages in both bitmaps, and RAM pages not dumped.
    public var pageCounts: (present: UInt64, excluded: UInt64) {
        var present: UInt64 = 0, excluded: UInt64 = 0
        var w: UInt64 = 0
        while w < ram.wordCount {
            let r = ram.word(w), d = dumpable.word(w)
            present += UInt64((r & d).nonzeroBitCount)
            excluded += UInt64((r & ~d).nonzeroBitCount)
            w += 1
        }
        return (present, excluded)
    }
}

import Foundation
import Testing
import TestSupport
@testable import DumpModel

/// sadump files made byte by byte (`SadumpWriter`): each layout reads every page, excluded and
/// absent pages report so, CPU states decode; damaged headers give one error line, never a trap.
@Suite struct SadumpFormatTests {
    static func writer() -> SadumpWriter {
        var w = SadumpWriter(maxMapnr: 1100, ram: [0 ..< 100, 150 ..< 700, 701 ..< 1100])
        w.excluded = [5, 63, 64, 200, 511, 512, 1099]
        var cpu = SadumpWriter.CPU()
        cpu.apicID = 0
        cpu.general = (0 ..< 16).map { 0x1000 + UInt64($0) }
        cpu.rip = 0xffff_ffff_8100_0000; cpu.rflags = 0x246
        cpu.cr0 = 0x8005_0033; cpu.cr3 = 0x1234_5000; cpu.cr4 = 0x3606f0
        cpu.gdtBase = 0xffff_fe00_0000_1000; cpu.gdtLimit = 0x7f
        cpu.idtBase = 0xffff_fe00_0000_0000; cpu.idtLimit = 0xfff
        cpu.cs = 0x10; cpu.ss = 0x18; cpu.tr = 0x40
        var second = cpu
        second.apicID = 2
        second.rip = 0xffff_ffff_8100_0100
        w.cpus = [cpu, second]
        w.unusedCPUEntries = 1
        return w
    }

    /// The bytes of page `pfn`: its number in every word (nil for the zero page 7).
    static func content(_ pfn: UInt64) -> [UInt8]? {
        pfn == 7 || pfn >= 1100 ? nil : pages[Int(pfn)]
    }
    static let pages: [[UInt8]] = (0 ..< 1100).map { pfn in
        var page = [UInt8](repeating: 0, count: 4096)
        for k in 0 ..< 512 { TestWriter.put(UInt64(pfn) << 16 | UInt64(k), at: 8 * k, in: &page) }
        return page
    }
    /// Each layout's files, made once.
    static let built: [String: [[UInt8]]] = Dictionary(uniqueKeysWithValues: layouts.map { ("\($0)", writer().build(layout: $0, page: content)) })
    static func files(_ layout: SadumpWriter.Layout) -> [[UInt8]] { built["\(layout)"] ?? [] }

    static func open(_ files: [[UInt8]]) throws -> SadumpFile {
        try SadumpFile(disks: files.enumerated().map { (ByteBuffer($1, name: "d\($0 + 1)"), "d\($0 + 1)") })
    }

    static func page(_ d: any DumpFile, _ pfn: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: d.pageSize)
        try out.withUnsafeMutableBytes { try d.readPage(pfn: pfn, into: $0) }
        return out
    }

    /// A set of one disk is what libkdumpfile's generator writes for its disk-set case.
    static let layouts: [SadumpWriter.Layout] = [.singlePartition, .mediaBackup, .diskSet(disks: 1), .diskSet(disks: 2),
                                                 .diskSet(disks: 3)]

    @Test(arguments: layouts)
    func everyPageReads(layout: SadumpWriter.Layout) throws {
        let w = Self.writer()
        let files = Self.files(layout)
        let d = try Self.open(files)
        #expect(d.format == .sadump)
        #expect(d.maxMapnr == 1100)
        #expect(d.disks.count == files.count)
        for pfn: UInt64 in 0 ..< 1200 {
            let inRAM = w.ram.contains { $0.contains(pfn) } && pfn < 1100
            if !inRAM {
                #expect(d.pageState(pfn: pfn) == .notInDump)
                #expect(throws: DumpError.notInDump(paddr: pfn * 4096)) { try Self.page(d, pfn) }
            } else if w.excluded.contains(pfn) {
                #expect(d.pageState(pfn: pfn) == .excluded)
                #expect(throws: DumpError.excludedPage(paddr: pfn * 4096)) { try Self.page(d, pfn) }
            } else {
                #expect(d.pageState(pfn: pfn) == .present)
                #expect(try Self.page(d, pfn) == (Self.content(pfn) ?? [UInt8](repeating: 0, count: 4096)), "pfn \(pfn)")
            }
        }
        #expect(Array(d.presentPages()) == w.dumpablePFNs)
        let s = d.summary()
        #expect(s.pagesPresent == UInt64(w.dumpablePFNs.count))
        #expect(s.pagesExcluded == UInt64(w.excluded.count))
        #expect(s.crashTime == 1_735_787_045)          // 2025-01-02 03:04:05 UTC
        #expect(s.nrCPUs == 3)
        #expect(d.vmcoreinfo == nil)
    }

    /// A media backup's first medium is numbered 1; libkdumpfile's generator leaves 0 there.
    /// A later medium alone is refused by name.
    @Test func mediaNumbers() throws {
        var files = Self.files(.mediaBackup)
        files[0][48] = 0
        #expect(try Self.open(files).maxMapnr == 1100)
        files[0][48] = 2
        #expect(throws: DumpError.self) { try Self.open(files) }
        do { _ = try Self.open(files) } catch { #expect("\(error)".contains("medium 2 of a sadump media backup")) }
    }

    /// The used SMRAM states become the CPU states (the unused third entry is skipped).
    @Test func cpuStatesDecode() throws {
        let d = try Self.open(Self.files(.singlePartition))
        #expect(d.cpuEntries.count == 3)
        #expect(d.cpuEntries.map(\.inUse) == [true, true, false])
        #expect(d.cpuEntries.map(\.apicID) == [0, 2, 0])
        #expect(d.prstatus.count == 2 && d.qemuCPUStates.count == 2)
        let r = d.prstatus[0].registers
        #expect([r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp, r.r8, r.r15] ==
                [0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1006, 0x1007, 0x1008, 0x100f])
        #expect(r.rip == 0xffff_ffff_8100_0000 && r.rflags == 0x246 && r.cs == 0x10 && r.ss == 0x18)
        #expect(d.prstatus[1].registers.rip == 0xffff_ffff_8100_0100)
        let q = d.qemuCPUStates[0]
        #expect(q.controlRegisters == [0x8005_0033, 0, 0, 0x1234_5000, 0x3606f0])
        #expect(q.segments[9].base == 0xffff_fe00_0000_0000 && q.segments[9].limit == 0xfff)
        #expect(q.segments[8].base == 0xffff_fe00_0000_1000 && q.segments[7].selector == 0x40)
        #expect(q.generalRegisters[16] == r.rip && q.generalRegisters[6] == r.rsp)
    }

    /// Kernel CPU ids map to sub-header entries by APIC id (the entry's index, as crash reads it).
    @Test func registersByAPICID() throws {
        let d = try Self.open(Self.files(.singlePartition))
        let (first, second) = (d.cpuEntries[0].registers, d.cpuEntries[1].registers)
        #expect(d.registers(apicIDs: [1, 0]) == [second, first])
        #expect(d.registers(apicIDs: [0, 2, 7, nil, -1]) == [first, nil, nil, nil, nil])
        #expect(d.registers(apicIDs: []) == [first, second])
    }

    /// The opener tells sadump by content, alone or as a disk set.
    @Test func openerAndClassify() throws {
        let files = Self.files(.singlePartition)
        #expect(DumpOpener.classify(reader: ByteBuffer(files[0])) == .dump(.sadump))
        let media = Self.files(.mediaBackup)
        #expect(DumpOpener.classify(reader: ByteBuffer(media[0])) == .dump(.sadump))
        let d = try DumpOpener.open(reader: ByteBuffer(media[0], name: "m"))
        #expect((d as? SadumpFile)?.layout == .mediaBackup)
        #expect(try Self.page(d, 150) == Self.content(150))
    }

    /// Read with pread (no mapping): the bitmaps copied once, or fetched a word at a time when
    /// the copy is not allowed; the same pages either way.
    @Test(arguments: [SadumpFile.defaultBitmapCopyLimit, 0])
    func unmappedFilesReadTheSamePages(copyLimit: UInt64) throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = Self.files(.diskSet(disks: 2))
        var disks: [(reader: any ByteReader, path: String)] = []
        for (k, bytes) in files.enumerated() {
            let path = dir + "/disk\(k + 1)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let file = try MappedFile(path: path, mapping: false)
            #expect(!file.isMapped)
            disks.append((file, path))
        }
        let unmapped = try SadumpFile(disks: disks, bitmapCopyLimit: copyLimit)
        let inMemory = try Self.open(files)
        #expect(Array(unmapped.presentPages()) == Self.writer().dumpablePFNs)
        for pfn: UInt64 in 0 ..< 1100 {
            #expect(unmapped.pageState(pfn: pfn) == inMemory.pageState(pfn: pfn))
            if inMemory.pageState(pfn: pfn) == .present { #expect(try Self.page(unmapped, pfn) == Self.page(inMemory, pfn)) }
        }
    }

    static func scratchDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/crashsh-sadump-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw DumpError.cannotOpen(path: "mkdtemp", errno: errno) }
        return String(cString: made)
    }

    // MARK: damaged headers

    /// What opening `files` says: "opened", or the error's one line.
    static func outcome(_ files: [[UInt8]]) -> String {
        do {
            let d = try open(files)
            // Reads of every page fail or succeed, never trap.
            for pfn in 0 ..< d.maxMapnr { _ = try? page(d, pfn) }
            return "opened"
        } catch {
            return "\(error)"
        }
    }

    static func patched(_ layout: SadumpWriter.Layout = .singlePartition, disk: Int = 0, at offset: Int, _ bytes: [UInt8]) -> [[UInt8]] {
        var files = Self.files(layout)
        files[disk].replaceSubrange(offset ..< offset + bytes.count, with: bytes)
        return files
    }

    @Test func damagedHeadersGiveOneLine() throws {
        let dh = 4096   // single partition: the dump header's block
        let cases: [([[UInt8]], String)] = [
            (Self.patched(at: 168 + 4 * 10, [1, 2, 3, 4]),
             "d1: bad header: sadump_part_header.magicnum[10] = 0x4030201: breaks the check sequence"),
            (Self.patched(at: dh, Array("nodump".utf8)),
             "d1: bad header: sadump_header.signature = not \"sadump\": no dump header at offset 0x1000"),
            (Self.patched(at: dh + 40, TestWriter.le(UInt32(1000))),
             "d1: bad header: block_size = 1000: must be a power of two from 4096 to 65536"),
            (Self.patched(at: dh + 40, TestWriter.le(UInt32(8192))),
             "d1: bad header: sadump_header.signature = not \"sadump\": no dump header at offset 0x2000"),
            (Self.patched(at: dh + 52, TestWriter.le(UInt32(0))),
             "d1: bad header: bitmap_blocks = 0: no RAM bitmap"),
            (Self.patched(at: dh + 56, TestWriter.le(UInt32(0))),
             "d1: bad header: dumpable_bitmap_blocks = 0: no dumpable bitmap"),
            (Self.patched(at: dh + 88, TestWriter.le(UInt64(40000))),
             "d1: bad header: max_mapnr_64 = 40000: more pages than the RAM bitmap (1 blocks) describes"),
            (Self.patched(at: dh + 52, TestWriter.le(UInt32(0xffff_ffff))),
             "d1: truncated: bitmaps (4294967295 + 1 blocks) at offset 0x3000 needs 17592186044416 bytes, file has"),
            (Self.patched(at: dh + 80, TestWriter.le(UInt32(100_000))),
             "d1: bad header: nr_cpus = 100000: more than 8192 CPUs"),
            (Self.patched(at: dh + 80, TestWriter.le(UInt32(40))),
             "d1: bad header: sub-header size = 3072: 76 bytes per CPU, an SMRAM state needs 1024"),
            (Self.patched(at: 2 * dh, TestWriter.le(UInt32(2))),
             "d1: bad header: sub-header size = 2: 0 bytes per CPU, an SMRAM state needs 1024"),
            // Media backup: the media header's system id and sequence number.
            (Self.patched(.mediaBackup, at: 0, [0xee]),
             "d1: bad header: sadump_media_header.sadump_id = ee020304-0506-0708-090a-0b0c0d0e0f10: differs from the partition header's"),
            (Self.patched(.mediaBackup, at: 48, [2]),
             "d1: unsupported: medium 2 of a sadump media backup; give the first"),
            // Disk sets: disk numbers, ids, the disk count.
            (Self.patched(.diskSet(disks: 2), disk: 1, at: 88, [0xee]),
             "d2: bad header: sadump_id = ee020304-0506-0708-090a-0b0c0d0e0f10: not d1's 01020304-0506-0708-090a-0b0c0d0e0f10: a disk of another dump"),
            (Self.patched(.diskSet(disks: 2), disk: 1, at: 120, [0xee]),
             "d2: bad header: vol_id = eea1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf: not d1's a0a1a2a3-a4a5"),
            (Self.patched(.diskSet(disks: 2), disk: 1, at: 152, TestWriter.le(UInt32(1))),
             "d2: bad header: set_disk_set = 1: d1 is disk 1 too; the same disk given twice?"),
            (Self.patched(.diskSet(disks: 2), disk: 0, at: 4096 + 4, TestWriter.le(UInt32(20))),
             "d1: bad header: disk_num = 20: a disk set has 1 to 16 disks"),
            (Self.patched(.diskSet(disks: 2), disk: 1, at: 160, TestWriter.le(UInt64(10))),
             "d2: bad header: used_device = 10: ends before the page data starts at 4096"),
            ([Self.files(.diskSet(disks: 2))[0]],
             "missing: 1 disk(s) of the sadump disk set: d1 is disk 1 of 2; give all its disks"),
            ([Self.files(.diskSet(disks: 2))[1]],
             "missing: disk 1 of the sadump disk set: d1 is disk 2; give all its disks"),
        ]
        for (files, expected) in cases {
            let line = Self.outcome(files)
            #expect(line.hasPrefix(expected), "\(expected)")
            #expect(!line.contains("\n"))
        }
        // Disks given in any order read the same.
        var swapped = Self.files(.diskSet(disks: 3))
        swapped.swapAt(0, 2)
        let d = try SadumpFile(disks: swapped.enumerated().map { (ByteBuffer($1, name: "d\($0 + 1)"), "d\($0 + 1)") })
        #expect(d.disks.map(\.path) == ["d3", "d2", "d1"])
        #expect(try Self.page(d, 1098) == Self.content(1098))
    }

    /// A page past what the disks hold, a file cut anywhere: an error line each, no trap.
    @Test func truncatedFilesFailCleanly() throws {
        let whole = Self.files(.singlePartition)[0]
        var opened = 0
        for length in stride(from: 0, to: whole.count, by: whole.count / 41 + 1) + [4095, 4097, 8191, 12289] {
            let line = Self.outcome([Array(whole.prefix(length))])
            if line == "opened" { opened += 1 } else { #expect(!line.contains("\n")) }
        }
        #expect(opened > 0)
        let cut = try Self.open([Array(whole.prefix(whole.count - 4096))])
        #expect(throws: DumpError.self) { try Self.page(cut, 1098) }
        var files = Self.files(.diskSet(disks: 2))
        Self.patchUsedDevice(&files[1], 4096 + 8192)
        let short = try Self.open(files)
        let line = Self.error { try Self.page(short, 1098) }
        #expect(line.hasPrefix("d1 d2: corrupt page 0x44a (pfn) at file offset"), "\(line)")
        #expect(line.hasSuffix("is past the used part of every disk"))
    }

    static func patchUsedDevice(_ file: inout [UInt8], _ value: UInt64) {
        file.replaceSubrange(160 ..< 168, with: TestWriter.le(value))
    }

    static func error(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }
}

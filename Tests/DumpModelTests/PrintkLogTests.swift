import Testing
@testable import DumpModel

/// The printk log readers on hand-made kernel memory: a lockless ring buffer with a small data
/// ring (so blocks wrap), and a log_buf of variable-length records. The layouts are made up
/// (other offsets and sizes than any real kernel's) and given through VMCOREINFO, as a dump
/// without vmlinux has them.
@Suite struct PrintkLogTests {
    /// Kernel image virtual address -> physical, in `syntheticKernel()`.
    static func phys(_ v: UInt64) -> UInt64 { v - 0xffff_ffff_8000_0000 + 0x0100_0000 }

    // MARK: - Lockless ring buffer

    static let prbVariable: UInt64 = 0xffff_ffff_8200_0000
    static let ring: UInt64 = 0xffff_ffff_8200_1000
    static let descs: UInt64 = 0xffff_ffff_8201_0000
    static let infos: UInt64 = 0xffff_ffff_8202_0000
    static let data: UInt64 = 0xffff_ffff_8203_0000
    static let countBits = 3, sizeBits = 7
    static var dataSize: UInt64 { 1 << UInt64(sizeBits) }

    /// A made-up layout: the rings swapped in printk_ringbuffer, padding in prb_desc, the info
    /// fields moved (text_len at 24, so facility 26 and flags/level 27), dev_info at 40.
    static let ringInfo = """
    SYMBOL(prb)=ffffffff82000000
    SIZE(printk_ringbuffer)=112
    OFFSET(printk_ringbuffer.desc_ring)=40
    OFFSET(printk_ringbuffer.text_data_ring)=0
    OFFSET(printk_ringbuffer.fail)=104
    OFFSET(prb_desc_ring.count_bits)=4
    OFFSET(prb_desc_ring.descs)=16
    OFFSET(prb_desc_ring.infos)=24
    OFFSET(prb_desc_ring.head_id)=32
    OFFSET(prb_desc_ring.tail_id)=48
    SIZE(prb_desc)=40
    OFFSET(prb_desc.state_var)=8
    OFFSET(prb_desc.text_blk_lpos)=24
    OFFSET(prb_data_blk_lpos.begin)=8
    OFFSET(prb_data_blk_lpos.next)=0
    OFFSET(prb_data_ring.size_bits)=0
    OFFSET(prb_data_ring.data)=16
    SIZE(printk_info)=120
    OFFSET(printk_info.seq)=8
    OFFSET(printk_info.ts_nsec)=16
    OFFSET(printk_info.text_len)=24
    OFFSET(printk_info.caller_id)=32
    OFFSET(printk_info.dev_info)=40
    OFFSET(dev_printk_info.subsystem)=8
    LENGTH(printk_info_subsystem)=16
    OFFSET(dev_printk_info.device)=24
    LENGTH(printk_info_device)=48
    OFFSET(atomic_long_t.counter)=0
    """

    /// Writes the ring's control structures: count_bits, size_bits, the three arrays, head and tail.
    static func writeRing(_ dump: SyntheticDump, head: UInt64, tail: UInt64, fail: UInt64 = 0, countBits: Int = countBits) {
        dump.write64(phys(prbVariable), ring)
        dump.write(phys(ring + 40 + 4), le(UInt32(countBits)))
        dump.write64(phys(ring + 40 + 16), descs)
        dump.write64(phys(ring + 40 + 24), infos)
        dump.write64(phys(ring + 40 + 32), head)
        dump.write64(phys(ring + 40 + 48), tail)
        dump.write(phys(ring + 0), le(UInt32(sizeBits)))
        dump.write64(phys(ring + 16), data)
        dump.write64(phys(ring + 104), fail)
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    enum State: UInt64 { case reserved = 0, committed = 1, finalized = 2, reusable = 3 }

    /// One descriptor, its info and (unless `lpos` is nil) its data block at logical position
    /// `lpos`, placed the way the kernel's data_alloc places it (at index 0 of the next wrap
    /// when it does not fit before the end). Returns the next free logical position.
    @discardableResult
    static func writeRecord(_ dump: SyntheticDump, id: UInt64, stateID: UInt64? = nil, state: State = .finalized,
                            seq: UInt64, ts: UInt64, text: [UInt8], textLen: Int? = nil, level: UInt8 = 6,
                            facility: UInt8 = 0, flags: UInt8 = 0, caller: UInt32 = 1, lpos: UInt64?,
                            blockOwner: UInt64? = nil, subsystem: String = "", device: String = "") -> UInt64 {
        let slot = id & ((1 << UInt64(countBits)) - 1)
        let desc = descs + slot * 40
        let info = infos + slot * 120
        dump.write64(phys(desc + 8), (state.rawValue << 62) | (stateID ?? id))
        var begin: UInt64 = 3, next: UInt64 = 3, after = lpos ?? 0
        if let lpos {
            let size = (8 + UInt64(text.count) + 7) & ~7
            begin = lpos
            next = lpos + size
            var at = lpos % dataSize
            if lpos / dataSize != next / dataSize {
                // Does not fit: the id stays at begin, the block goes to the start of the next wrap.
                dump.write64(phys(data + at), blockOwner ?? id)
                next = (next / dataSize) * dataSize + size
                at = 0
            }
            dump.write64(phys(data + at), blockOwner ?? id)
            dump.write(phys(data + at + 8), text)
            after = next
        }
        dump.write64(phys(desc + 24 + 8), begin)
        dump.write64(phys(desc + 24 + 0), next)
        dump.write64(phys(info + 8), seq)
        dump.write64(phys(info + 16), ts)
        dump.write(phys(info + 24), le(UInt16(textLen ?? text.count)))
        dump.write(phys(info + 26), [facility, (level << 5) | flags])
        dump.write(phys(info + 32), le(caller))
        dump.write(phys(info + 40 + 8), Array(subsystem.utf8) + [0])
        dump.write(phys(info + 40 + 24), Array(device.utf8) + [0])
        return after
    }

    static func records(_ log: PrintkLog) -> [PrintkRecord] {
        log.entries.compactMap { if case let .record(r) = $0 { return r } else { return nil } }
    }

    @Test func recordsWrapReusedAndUnfinishedDescriptorsAndTheOpenLastRecord() throws {
        let (dump, _) = syntheticKernel(extraInfo: Self.ringInfo)
        Self.writeRing(dump, head: 23, tail: 16, fail: 2)
        var lpos: UInt64 = 3 * Self.dataSize + 64
        lpos = Self.writeRecord(dump, id: 16, seq: 100, ts: 1_500_000_000, text: Array("first".utf8), level: 5,
                                caller: 0x8000_0001, lpos: lpos, subsystem: "pci", device: "+pci:0000:00:01.0")
        // A writer that reserved and never committed: not shown.
        lpos = Self.writeRecord(dump, id: 17, state: .reserved, seq: 101, ts: 1, text: Array("half".utf8), lpos: lpos)
        // Slot 2 still holds id 10 from the previous lap: its state is about another id.
        Self.writeRecord(dump, id: 18, stateID: 10, seq: 102, ts: 2, text: [], lpos: nil)
        // Recycled: not shown either.
        Self.writeRecord(dump, id: 19, state: .reusable, seq: 103, ts: 3, text: [], lpos: nil)
        // 20 bytes from index 96 need 32 bytes, up to the ring's end exactly: the kernel counts that
        // as not fitting (next would be in the next wrap), so the block goes to index 0.
        lpos = Self.writeRecord(dump, id: 20, seq: 104, ts: 12_345_678_901, text: Array("wrapped text\nline 2!".utf8),
                                facility: 3, flags: 2, caller: 42, lpos: lpos)
        #expect(lpos == 4 * Self.dataSize + 32)
        // An empty message has no data block.
        Self.writeRecord(dump, id: 21, seq: 105, ts: 13_000_000_000, text: [], lpos: nil)
        // text_len says more than the block holds: cut at the block's end.
        lpos = Self.writeRecord(dump, id: 22, seq: 106, ts: 14_000_000_000, text: [0x41, 0x01, 0xff, 0x42], textLen: 60, lpos: lpos)
        // The last record, still open for a continuation line (committed, not finalized).
        Self.writeRecord(dump, id: 23, state: .committed, seq: 107, ts: 15_000_000_000, text: Array("cont".utf8),
                         flags: RecordFlags.continuation, lpos: lpos)

        let log = try PrintkLog.read(space: space(dump))
        #expect(log.format == .lockless)
        #expect(log.skippedDescriptors == 3)
        #expect(log.droppedMessages == 2)
        #expect(log.problems.isEmpty)
        let r = Self.records(log)
        #expect(r.map(\.sequence) == [100, 104, 105, 106, 107])
        #expect(r[0].text == Array("first".utf8))
        #expect(r[0].level == 5 && r[0].callerID == 0x8000_0001 && r[0].timestampNanoseconds == 1_500_000_000)
        #expect(r[0].subsystem == Array("pci".utf8) && r[0].device == Array("+pci:0000:00:01.0".utf8))
        #expect(r[1].text == Array("wrapped text\nline 2!".utf8))
        #expect(r[1].facility == 3 && r[1].flags == 2 && r[1].level == 6 && r[1].callerID == 42)
        #expect(r[2].hasData == false && r[2].text.isEmpty)
        // The block holds 8 bytes of text room (4 bytes padded to 8), so 60 is cut to 8.
        #expect(r[3].textTruncated && r[3].text.count == 8 && Array(r[3].text.prefix(4)) == [0x41, 0x01, 0xff, 0x42])
        #expect(r[4].text == Array("cont".utf8) && r[4].isContinuation)
    }

    enum RecordFlags { static let continuation: UInt8 = 0x08 }

    @Test func aBadRecordIsReportedAndTheRestStillReads() throws {
        let (dump, _) = syntheticKernel(extraInfo: Self.ringInfo)
        Self.writeRing(dump, head: 2, tail: 0)
        var lpos = Self.writeRecord(dump, id: 0, seq: 0, ts: 0, text: Array("zero".utf8), lpos: 0)
        // The block at this position says it belongs to descriptor 9.
        lpos = Self.writeRecord(dump, id: 1, seq: 1, ts: 0, text: Array("one".utf8), lpos: lpos, blockOwner: 9)
        Self.writeRecord(dump, id: 2, seq: 2, ts: 0, text: Array("two".utf8), lpos: lpos)
        let log = try PrintkLog.read(space: space(dump))
        #expect(log.entries.count == 3)
        guard case let .unreadable(position, reason) = log.entries[1] else {
            Issue.record("entry 1 should be unreadable")
            return
        }
        #expect(position == 1 && reason.contains("belongs to descriptor 9"))
        #expect(Self.records(log).map(\.text) == [Array("zero".utf8), Array("two".utf8)])

        // Descriptors in a page missing from the dump: each record there is reported alone.
        dump.excluded.insert(Self.phys(Self.infos) >> 12)
        let missing = try PrintkLog.read(space: space(dump))
        #expect(missing.entries.count == 3)
        #expect(missing.entries.allSatisfy { if case .unreadable = $0 { return true } else { return false } })
    }

    @Test func aHeadTailRangeLongerThanTheRingIsCutToOneRing() throws {
        let (dump, _) = syntheticKernel(extraInfo: Self.ringInfo)
        // 1000 ids between tail and head, in a ring of 8: only the last 8 can be there.
        Self.writeRing(dump, head: 1007, tail: 8)
        for id in UInt64(1000)...1007 {
            Self.writeRecord(dump, id: id, seq: id, ts: 0, text: [], lpos: nil)
        }
        let log = try PrintkLog.read(space: space(dump))
        #expect(Self.records(log).map(\.sequence) == Array(UInt64(1000)...1007).map { Optional($0) })
        #expect(log.problems.count == 1)
    }

    @Test func corruptOrMissingLayoutsAreNamed() throws {
        // count_bits past any real kernel's.
        let (dump, _) = syntheticKernel(extraInfo: Self.ringInfo)
        Self.writeRing(dump, head: 0, tail: 0, countBits: 40)
        #expect(throws: DumpError.self) { try PrintkLog.read(space: space(dump)) }
        // A layout without printk_info.caller_id.
        let partial = Self.ringInfo.split(separator: "\n").filter { !$0.contains("caller_id") }.joined(separator: "\n")
        let (d2, _) = syntheticKernel(extraInfo: partial)
        #expect(throws: DumpError.missing(what: "printk_info.caller_id (in VMCOREINFO since Linux 5.10, or in the debuginfo)")) {
            try PrintkLog.read(space: space(d2))
        }
        // An offset outside its structure.
        let outside = Self.ringInfo.replacingOccurrences(of: "OFFSET(printk_info.caller_id)=32", with: "OFFSET(printk_info.caller_id)=118")
        let (d3, _) = syntheticKernel(extraInfo: outside)
        #expect(throws: DumpError.self) { try PrintkLog.read(space: space(d3)) }
        // Neither log format.
        let (d4, _) = syntheticKernel()
        #expect(throws: DumpError.self) { try PrintkLog.read(space: space(d4)) }
    }

    @Test func aStopRequestEndsTheWalk() throws {
        let (dump, _) = syntheticKernel(extraInfo: Self.ringInfo)
        // 256 ids: the walk asks after every 256 records.
        Self.writeRing(dump, head: 255, tail: 0, countBits: 8)
        #expect(throws: InterruptedByUser.self) { try PrintkLog.read(space: space(dump), interrupted: { true }) }
    }

    // MARK: - Variable-length log_buf records

    static let logBufVariable: UInt64 = 0xffff_ffff_8300_0000
    static let logBuf: UInt64 = 0xffff_ffff_8301_0000
    static let headerSize = 24

    /// `struct printk_log` as 4.x kernels have it, with caller_id (PRINTK_CALLER) from the debuginfo.
    static let logBufInfo = """
    SYMBOL(log_buf)=ffffffff83000000
    SYMBOL(log_buf_len)=ffffffff83000008
    SYMBOL(log_first_idx)=ffffffff83000010
    SYMBOL(log_next_idx)=ffffffff83000018
    SIZE(printk_log)=24
    OFFSET(printk_log.ts_nsec)=0
    OFFSET(printk_log.len)=8
    OFFSET(printk_log.text_len)=10
    OFFSET(printk_log.dict_len)=12
    """

    static func writeLogRecord(_ dump: SyntheticDump, at: UInt64, len: UInt16, ts: UInt64, text: String, dict: [UInt8] = [],
                               level: UInt8 = 6, flags: UInt8 = 0, caller: UInt32 = 0) {
        let p = phys(logBuf + at)
        dump.write64(p, ts)
        dump.write(p + 8, le(len) + le(UInt16(text.utf8.count)) + le(UInt16(dict.count)) + [0, (level << 5) | flags])
        dump.write(p + 16, le(caller))
        dump.write(p + UInt64(headerSize), Array(text.utf8) + dict)
    }

    @Test func variableLengthRecordsWrapAtTheZeroLengthMarker() throws {
        let (dump, _) = syntheticKernel(extraInfo: Self.logBufInfo)
        let layout = DictionaryLayout(symbols: ["log_first_seq": 0xffff_ffff_8300_0020],
                                      offsets: ["printk_log.caller_id": 16])
        dump.write64(Self.phys(Self.logBufVariable), Self.logBuf)
        dump.write(Self.phys(Self.logBufVariable + 8), Self.le(UInt32(512)))
        dump.write(Self.phys(Self.logBufVariable + 0x10), Self.le(UInt32(160)))
        dump.write(Self.phys(Self.logBufVariable + 0x18), Self.le(UInt32(48)))
        dump.write64(Self.phys(Self.logBufVariable + 0x20), 70)
        // Oldest at 160; then 208 with a dictionary; the zero length at 272 (the kernel leaves a
        // whole header of zeros there) sends the walk to 0, whose record ends at 48, the next to be written.
        Self.writeLogRecord(dump, at: 160, len: 48, ts: 5_000_000_000, text: "oldest", caller: 7)
        let dict = Array("SUBSYSTEM=pci".utf8) + [0] + Array("DEVICE=+pci:0".utf8)
        Self.writeLogRecord(dump, at: 208, len: 64, ts: 6_000_000_000, text: "dev", dict: dict, level: 3)
        dump.write(Self.phys(Self.logBuf + 272), [UInt8](repeating: 0, count: Self.headerSize))
        Self.writeLogRecord(dump, at: 0, len: 48, ts: 7_000_000_000, text: " continued", flags: 0x08, caller: 0x8000_0000)
        let log = try PrintkLog.read(space: space(dump, layout: layout))
        #expect(log.format == .variableLength)
        #expect(log.problems.isEmpty)
        let r = Self.records(log)
        #expect(r.map(\.text) == [Array("oldest".utf8), Array("dev".utf8), Array(" continued".utf8)])
        #expect(r.map(\.sequence) == [70, 71, 72])
        #expect(r.map(\.timestampNanoseconds) == [5_000_000_000, 6_000_000_000, 7_000_000_000])
        #expect(r.map(\.level) == [6, 3, 6])
        #expect(r.map(\.callerID) == [7, 0, 0x8000_0000])
        #expect(r[1].dictionary == dict)
        // A continuation record is its own record (crash shows it on its own line).
        #expect(r[2].isContinuation)

        // Without the debuginfo: no caller ids, no sequence numbers.
        let bare = try PrintkLog.read(space: space(dump))
        #expect(Self.records(bare).map(\.callerID) == [nil, nil, nil])
        #expect(Self.records(bare).map(\.sequence) == [nil, nil, nil])
    }

    @Test func aCorruptLogBufWalkStops() throws {
        let (dump, _) = syntheticKernel(extraInfo: Self.logBufInfo)
        dump.write64(Self.phys(Self.logBufVariable), Self.logBuf)
        dump.write(Self.phys(Self.logBufVariable + 8), Self.le(UInt32(256)))
        dump.write(Self.phys(Self.logBufVariable + 0x10), Self.le(UInt32(0)))
        dump.write(Self.phys(Self.logBufVariable + 0x18), Self.le(UInt32(200)))
        // 0 -> 32, whose length runs past the end of an unwrapped buffer: the walk stops there.
        Self.writeLogRecord(dump, at: 0, len: 32, ts: 1, text: "a")
        Self.writeLogRecord(dump, at: 32, len: 0xffe0, ts: 2, text: "b")
        let log = try PrintkLog.read(space: space(dump))
        #expect(Self.records(log).map(\.text) == [Array("a".utf8), Array("b".utf8)])
        #expect(log.problems.count == 1)
    }

    // MARK: - Clock

    @Test func bootTimeAsCrashComputesIt() {
        // HZ from tick_nsec, also when NTP has moved it a little.
        #expect(KernelClock.hz(tickNanoseconds: 4_000_000) == 250)
        #expect(KernelClock.hz(tickNanoseconds: 999_700) == 1000)
        #expect(KernelClock.hz(tickNanoseconds: 10_002_000) == 100)
        #expect(KernelClock.hz(tickNanoseconds: 0) == nil)
        // jiffies_64 starts at 2^32 - 300 * HZ: 2645 ticks at 250 Hz are 10 whole seconds.
        let clock = KernelClock(wallClockSeconds: 1_795_795_104, jiffies: 4_294_894_941, hz: 250)
        #expect(clock.uptimeSeconds == 10)
        #expect(clock.bootSeconds == 1_795_795_094)
        // After the 32-bit wrap.
        let later = KernelClock(wallClockSeconds: 2_000_000_000, jiffies: (1 << 32) + 1000 * 3600, hz: 1000)
        #expect(later.uptimeSeconds == 3600 + 300)
    }
}

/// The kallsyms reader on a hand-made table: tokens, names, absolute per-CPU offsets.
@Suite struct KallsymsTests {
    static func phys(_ v: UInt64) -> UInt64 { v - 0xffff_ffff_8000_0000 + 0x0100_0000 }
    static let base: UInt64 = 0xffff_ffff_8100_0000
    static let names: UInt64 = 0xffff_ffff_8400_0000, offsets: UInt64 = 0xffff_ffff_8401_0000
    static let tokenTable: UInt64 = 0xffff_ffff_8402_0000, tokenIndex: UInt64 = 0xffff_ffff_8403_0000
    static let numSyms: UInt64 = 0xffff_ffff_8404_0000, relativeBase: UInt64 = 0xffff_ffff_8404_0008

    static func table(stext: UInt64) -> SyntheticDump {
        let (dump, _) = syntheticKernel(extraInfo: """
        SYMBOL(_stext)=\(String(stext, radix: 16))
        SYMBOL(kallsyms_names)=\(String(names, radix: 16))
        SYMBOL(kallsyms_num_syms)=\(String(numSyms, radix: 16))
        SYMBOL(kallsyms_token_table)=\(String(tokenTable, radix: 16))
        SYMBOL(kallsyms_token_index)=\(String(tokenIndex, radix: 16))
        SYMBOL(kallsyms_offsets)=\(String(offsets, radix: 16))
        SYMBOL(kallsyms_relative_base)=\(String(relativeBase, radix: 16))
        """)
        let tokens = ["T_s", "text", "Dpid", "_max", "d", "tick_nsec", "Dcur", "rent_task", "", "_x"]
        var tableBytes: [UInt8] = [], index: [UInt8] = []
        for t in tokens {
            index += PrintkLogTests.le(UInt16(tableBytes.count))
            tableBytes += Array(t.utf8) + [0]
        }
        dump.write(phys(tokenTable), tableBytes)
        dump.write(phys(tokenIndex), index)
        // current_task (per-CPU, absolute 0x1ac00), _stext, a longer name that starts like
        // pid_max, pid_max, tick_nsec; kernel symbols as negative offsets from the base.
        let symbols: [([UInt8], Int32)] = [([6, 7], 0x1ac00), ([0, 1], -1), ([2, 3, 9], -100),
                                           ([2, 3], -0x10_0001), ([4, 5], -0x10_0011)]
        var nameBytes: [UInt8] = [], offsetBytes: [UInt8] = []
        for (tokens, offset) in symbols {
            nameBytes += [UInt8(tokens.count)] + tokens
            offsetBytes += PrintkLogTests.le(offset)
        }
        dump.write(phys(names), nameBytes)
        dump.write(phys(offsets), offsetBytes)
        dump.write(phys(numSyms), PrintkLogTests.le(UInt32(symbols.count)))
        dump.write64(phys(relativeBase), base)
        return dump
    }

    @Test func namesResolveWhenStextAgrees() throws {
        let table = try KernelMemory(space: space(Self.table(stext: Self.base))).kallsymsFromVMCOREINFO()
        let found = ["pid_max", "tick_nsec", "current_task", "absent"].map { table.address(of: $0) }
        #expect(found == [Self.base + 0x10_0000, Self.base + 0x10_0010, 0x1ac00, nil])
        #expect(table.name(2) == "pid_max_x" && table.typeLetters[2] == UInt8(ascii: "D"))
        #expect(try space(Self.table(stext: Self.base)).symbolAddressWithKallsyms("pid_max") == Self.base + 0x10_0000)
    }

    @Test func aTableThatDisagreesWithStextIsNotUsed() throws {
        let memory = KernelMemory(space: try space(Self.table(stext: Self.base + 0x1000)))
        #expect(throws: DumpError.self) { try memory.kallsymsFromVMCOREINFO() }
        #expect(try space(Self.table(stext: Self.base + 0x1000)).symbolAddressWithKallsyms("pid_max") == nil)
    }
}

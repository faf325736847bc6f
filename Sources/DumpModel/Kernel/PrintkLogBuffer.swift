/// Reader of the variable-length records the kernel kept in `log_buf` from Linux 3.5 to 5.9.
///
/// `log_buf` points to a byte buffer of `log_buf_len` bytes holding `struct printk_log` records
/// (`struct log` before 3.11): a header {ts_nsec, len, text_len, dict_len, facility,
/// flags:5/level:3, optionally caller_id}, then the text, then the dictionary (`KEY=VALUE`
/// entries separated by NUL bytes), padded to `len` bytes. The oldest record is at
/// `log_first_idx`, the next to be written at `log_next_idx`. A record whose `len` is 0 marks the
/// end of the used part of the buffer: the walk goes on at offset 0.
///
/// VMCOREINFO has the symbols and the offsets of ts_nsec, len, text_len and dict_len; facility
/// and the flags/level byte follow the 16-bit dict_len.
public struct PrintkLogBuffer {
    public let memory: KernelMemory

    struct Layout {
        var headerSize: Int
        var tsNsec: Int, len: Int, textLen: Int, dictLen: Int
        var facility: Int, flagsLevel: Int
        /// A 16-bit `level` member (the first 3.5 development kernels) instead of the flags:5/level:3 byte.
        var wideLevel: Int?
        var callerID: Int?
    }

    let facts: Layout
    let logBufSymbol: UInt64, lengthSymbol: UInt64, firstSymbol: UInt64, nextSymbol: UInt64

    /// The largest log_buf believed (CONFIG_LOG_BUF_SHIFT stops at 25; log_buf_len= can ask more).
    static let maxBufferLength = 1 << 31

    /// - Throws: `.missing` naming the first fact the layout lacks.
    public init(space: KernelAddressSpace) throws {
        try self.init(memory: KernelMemory(space: space))
    }

    /// - Throws: `.missing` naming the first fact the layout lacks.
    public init(memory: KernelMemory) throws {
        self.memory = memory
        let l = memory.layout
        func bounded(_ v: Int?) -> Int? { v.flatMap { (0...4096).contains($0) ? $0 : nil } }
        func symbol(_ name: String) throws -> UInt64 {
            guard let v = l.symbolAddress(name) else { throw DumpError.missing(what: "symbol \(name)") }
            return v
        }
        logBufSymbol = try symbol("log_buf")
        lengthSymbol = try symbol("log_buf_len")
        firstSymbol = try symbol("log_first_idx")
        nextSymbol = try symbol("log_next_idx")
        // The record struct was `struct log` until Linux 3.11 renamed it.
        let name = bounded(l.typeSize("printk_log")) != nil ? "printk_log" : "log"
        func need(_ member: String) throws -> Int {
            guard let v = bounded(l.memberOffset(name, member)) else {
                throw DumpError.missing(what: "\(name).\(member) (in VMCOREINFO since Linux 3.5, or in the debuginfo)")
            }
            return v
        }
        guard let size = bounded(l.typeSize(name)), size > 0 else {
            throw DumpError.missing(what: "SIZE(printk_log)")
        }
        let dictLen = try need("dict_len")
        let facility = bounded(l.memberOffset(name, "facility")) ?? dictLen + 2
        var wideLevel: Int?
        if l.memberSize(name, "level") == 2, let at = bounded(l.memberOffset(name, "level")) { wideLevel = at }
        let f = Layout(headerSize: size, tsNsec: try need("ts_nsec"), len: try need("len"), textLen: try need("text_len"),
                       dictLen: dictLen, facility: facility, flagsLevel: facility + 1, wideLevel: wideLevel,
                       callerID: bounded(l.memberOffset(name, "caller_id")))
        guard f.tsNsec + 8 <= size, f.len + 2 <= size, f.textLen + 2 <= size, f.dictLen + 2 <= size,
              f.flagsLevel + 1 <= size, (f.callerID ?? 0) + 4 <= size, (f.wideLevel ?? 0) + 2 <= size else {
            throw DumpError.missing(what: "a consistent layout of \(name) (a field ends past its \(size) bytes)")
        }
        facts = f
    }

    /// Walks the records from `log_first_idx` to `log_next_idx`.
    /// - Throws: when the four variables cannot be read. A record that cannot be read ends the walk
    ///   with an `.unreadable` entry (the next record's place is in the bad one).
    public func read(interrupted: () -> Bool = { false }) throws -> PrintkLog {
        let f = facts
        let buffer = try memory.load(UInt64.self, logBufSymbol)
        let length = try memory.load(UInt32.self, lengthSymbol)
        let firstIndex = try memory.load(UInt32.self, firstSymbol)
        let nextIndex = try memory.load(UInt32.self, nextSymbol)
        guard length > 0, Int(length) <= Self.maxBufferLength else {
            throw DumpError.missing(what: "a believable log_buf_len (\(length))")
        }
        let region = LazyVirtualRegion(memory: memory, base: buffer, length: Int(length))
        // Sequence numbers are not stored in the records: the first one's is log_first_seq.
        var sequence = memory.layout.symbolAddress("log_first_seq").flatMap { try? memory.load(UInt64.self, $0) }
        var entries: [PrintkLog.Entry] = []
        var problems: [String] = []
        // Each step moves to a new record of at least a header's size, or wraps once to 0: more
        // steps than that, or coming back to a record already shown, means a corrupt buffer.
        let maxSteps = Int(length) / max(1, f.headerSize) + 2
        var seen = Set<UInt32>()
        var index = firstIndex
        var steps = 0
        while index != nextIndex {
            steps += 1
            if steps & 255 == 0, interrupted() { throw InterruptedByUser() }
            guard steps <= maxSteps else {
                problems.append("more records than log_buf can hold: stopped after \(maxSteps)")
                break
            }
            guard let len = try? region.bytes(at: Int(index), count: f.headerSize).littleEndian(UInt16.self, at: f.len) else {
                entries.append(.unreadable(position: UInt64(index), reason: "cannot read the record header"))
                break
            }
            // A zero length marks the end of the buffer's used part: the record is at offset 0.
            var at = index
            var recordLength = len
            if len == 0 {
                at = 0
                guard let l0 = try? region.bytes(at: 0, count: f.headerSize).littleEndian(UInt16.self, at: f.len) else {
                    entries.append(.unreadable(position: 0, reason: "cannot read the record header"))
                    break
                }
                recordLength = l0
            }
            guard seen.insert(at).inserted else {
                problems.append("the record at offset \(at) comes twice: the walk stopped there")
                break
            }
            var e = entry(at: at, region: region)
            if case var .record(r) = e {
                r.sequence = sequence
                e = .record(r)
            }
            entries.append(e)
            sequence = sequence.map { $0 &+ 1 }
            guard recordLength > 0 else {
                problems.append("the record at offset \(at) has length 0: the walk stopped there")
                break
            }
            index = at &+ UInt32(recordLength)
            if index >= length {
                // Past the end: only a buffer that has wrapped (first after next) goes on at 0.
                guard firstIndex > nextIndex else {
                    problems.append("a record runs past the end of log_buf at offset \(at)")
                    break
                }
                index = 0
            }
        }
        return PrintkLog(format: .variableLength, entries: entries, problems: problems)
    }

    /// The record whose header is at byte `at` of the buffer.
    func entry(at: UInt32, region: LazyVirtualRegion) -> PrintkLog.Entry {
        let f = facts
        let header: [UInt8]
        do {
            header = try region.bytes(at: Int(at), count: f.headerSize)
        } catch {
            return .unreadable(position: UInt64(at), reason: "\(error)")
        }
        guard let ts = header.littleEndian(UInt64.self, at: f.tsNsec),
              let len = header.littleEndian(UInt16.self, at: f.len),
              let textLen = header.littleEndian(UInt16.self, at: f.textLen),
              let dictLen = header.littleEndian(UInt16.self, at: f.dictLen),
              let facility = header.littleEndian(UInt8.self, at: f.facility),
              let flagsLevel = header.littleEndian(UInt8.self, at: f.flagsLevel) else {
            return .unreadable(position: UInt64(at), reason: "record header too short")
        }
        var level = flagsLevel >> 5
        if let w = f.wideLevel, let v = header.littleEndian(UInt16.self, at: w) { level = UInt8(v & 7) }
        // Text and dictionary must lie inside the record and the buffer.
        let body = Int(at) + f.headerSize
        let room = max(0, min(Int(len) - f.headerSize, region.length - body))
        let textCount = min(Int(textLen), room)
        let dictCount = min(Int(dictLen), room - textCount)
        var rec = PrintkRecord(sequence: nil, timestampNanoseconds: ts, level: level, facility: facility,
                               flags: f.wideLevel == nil ? flagsLevel & 0x1f : 0,
                               callerID: f.callerID.flatMap { header.littleEndian(UInt32.self, at: $0) },
                               text: [], textTruncated: textCount < Int(textLen))
        do {
            rec.text = try region.bytes(at: body, count: textCount)
            rec.dictionary = try region.bytes(at: body + textCount, count: dictCount)
        } catch {
            return .unreadable(position: UInt64(at), reason: "\(error)")
        }
        return .record(rec)
    }
}

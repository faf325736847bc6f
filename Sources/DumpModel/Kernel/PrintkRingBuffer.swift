/// Reader of the kernel's lockless printk ring buffer (Linux 5.10 and later).
///
/// `prb` points to a `struct printk_ringbuffer` made of three rings:
/// - `desc_ring`: 2^count_bits descriptors (`descs`), each a `state_var` (the descriptor id in the
///   low bits, its state in the top two) and the logical positions `text_blk_lpos` {begin, next}
///   of its text; beside them the array `infos` of `struct printk_info` (seq, timestamp, text
///   length, facility, flags/level, caller, dev_info). Record `id` lives in slot id % count.
///   Ids from `tail_id` to `head_id` are the live ones.
/// - `text_data_ring`: 2^size_bits bytes of data blocks; a block starts with the id of the
///   descriptor that owns it (an `unsigned long`), then the text. Logical positions grow forever;
///   position % size is the index. A block that would not fit before the end of the ring is
///   stored at index 0 instead, and its `begin` stays in the previous wrap.
///
/// Only descriptors in the committed or finalized state hold a record to show (as in crash and
/// the kernel's own readers); a committed one is the last record, which a continuation line may
/// still extend. Every offset and size comes from the layout (VMCOREINFO has them all except the
/// facility and flags/level bytes, which sit right after the 16-bit `text_len`).
public struct PrintkRingBuffer {
    public let memory: KernelMemory

    /// Facts about the structures, from the layout.
    struct Layout {
        var prbSize: Int
        var descRing: Int, textDataRing: Int, fail: Int?
        var countBits: Int, descs: Int, infos: Int, headID: Int, tailID: Int
        var descSize: Int, stateVar: Int, textBlkLpos: Int, lposBegin: Int, lposNext: Int
        var sizeBits: Int, data: Int
        var infoSize: Int, seq: Int, tsNsec: Int, textLen: Int, facility: Int, flagsLevel: Int, callerID: Int
        var subsystem: Int, subsystemLength: Int, device: Int, deviceLength: Int
    }

    let prbAddress: UInt64
    let facts: Layout

    /// The highest count_bits and size_bits believed: larger values come from a corrupt header.
    static let maxCountBits = 28
    static let maxSizeBits = 34

    /// Descriptor state values (the top two bits of `state_var`).
    enum DescriptorState: UInt64 {
        case reserved = 0, committed = 1, finalized = 2, reusable = 3
    }

    /// - Throws: `.missing` naming the first fact the layout lacks.
    public init(space: KernelAddressSpace) throws {
        try self.init(memory: KernelMemory(space: space))
    }

    /// - Throws: `.missing` naming the first fact the layout lacks.
    public init(memory: KernelMemory) throws {
        self.memory = memory
        let l = memory.layout
        // Offsets and sizes past `maxStructSize` are corrupt; bounding them also keeps the sums below from overflowing.
        func bounded(_ v: Int?) -> Int? { v.flatMap { (0...Self.maxStructSize).contains($0) ? $0 : nil } }
        func need(_ v: Int?, _ what: String) throws -> Int {
            guard let v = bounded(v) else { throw DumpError.missing(what: "\(what) (in VMCOREINFO since Linux 5.10, or in the debuginfo)") }
            return v
        }
        guard let prb = l.symbolAddress("prb") else { throw DumpError.missing(what: "symbol prb") }
        // `atomic_long_t` is a struct around `counter`; its offset is 0 in every kernel, but the
        // layout says it, so ask.
        let counter = bounded(l.memberOffset("atomic_long_t", "counter")) ?? 0
        let textLen = try need(l.memberOffset("printk_info", "text_len"), "printk_info.text_len")
        // facility (u8) follows the u16 text_len; the byte after it holds flags:5 and level:3.
        let facility = bounded(l.memberOffset("printk_info", "facility"))
            ?? textLen + (bounded(l.memberSize("printk_info", "text_len")) ?? 2)
        let dev = try need(l.memberOffset("printk_info", "dev_info"), "printk_info.dev_info")
        let subsystem = try need(l.memberOffset("dev_printk_info", "subsystem"), "dev_printk_info.subsystem")
        let device = try need(l.memberOffset("dev_printk_info", "device"), "dev_printk_info.device")
        var f = Layout(
            prbSize: try need(l.typeSize("printk_ringbuffer"), "SIZE(printk_ringbuffer)"),
            descRing: try need(l.memberOffset("printk_ringbuffer", "desc_ring"), "printk_ringbuffer.desc_ring"),
            textDataRing: try need(l.memberOffset("printk_ringbuffer", "text_data_ring"), "printk_ringbuffer.text_data_ring"),
            fail: bounded(l.memberOffset("printk_ringbuffer", "fail")).map { $0 + counter },
            countBits: try need(l.memberOffset("prb_desc_ring", "count_bits"), "prb_desc_ring.count_bits"),
            descs: try need(l.memberOffset("prb_desc_ring", "descs"), "prb_desc_ring.descs"),
            infos: try need(l.memberOffset("prb_desc_ring", "infos"), "prb_desc_ring.infos"),
            headID: try need(l.memberOffset("prb_desc_ring", "head_id"), "prb_desc_ring.head_id") + counter,
            tailID: try need(l.memberOffset("prb_desc_ring", "tail_id"), "prb_desc_ring.tail_id") + counter,
            descSize: try need(l.typeSize("prb_desc"), "SIZE(prb_desc)"),
            stateVar: try need(l.memberOffset("prb_desc", "state_var"), "prb_desc.state_var") + counter,
            textBlkLpos: try need(l.memberOffset("prb_desc", "text_blk_lpos"), "prb_desc.text_blk_lpos"),
            lposBegin: try need(l.memberOffset("prb_data_blk_lpos", "begin"), "prb_data_blk_lpos.begin"),
            lposNext: try need(l.memberOffset("prb_data_blk_lpos", "next"), "prb_data_blk_lpos.next"),
            sizeBits: try need(l.memberOffset("prb_data_ring", "size_bits"), "prb_data_ring.size_bits"),
            data: try need(l.memberOffset("prb_data_ring", "data"), "prb_data_ring.data"),
            infoSize: try need(l.typeSize("printk_info"), "SIZE(printk_info)"),
            seq: try need(l.memberOffset("printk_info", "seq"), "printk_info.seq"),
            tsNsec: try need(l.memberOffset("printk_info", "ts_nsec"), "printk_info.ts_nsec"),
            textLen: textLen, facility: facility, flagsLevel: facility + 1,
            callerID: try need(l.memberOffset("printk_info", "caller_id"), "printk_info.caller_id"),
            subsystem: dev + subsystem,
            subsystemLength: bounded(l.length("printk_info_subsystem") ?? l.memberSize("dev_printk_info", "subsystem"))
                ?? max(0, device - subsystem),
            device: dev + device,
            deviceLength: bounded(l.length("printk_info_device") ?? l.memberSize("dev_printk_info", "device"))
                ?? bounded(l.typeSize("dev_printk_info")).map { max(0, $0 - device) } ?? 0)
        prbAddress = prb
        // Every field must lie inside its structure, and the structures be of a believable size
        // (VMCOREINFO is part of the untrusted dump): a layout that says otherwise is not this kernel's.
        let checks: [(String, Int, Int)] = [
            ("printk_ringbuffer.desc_ring", f.descRing + max(f.headID, f.tailID, f.infos, f.descs) + 8, f.prbSize),
            ("printk_ringbuffer.text_data_ring", f.textDataRing + max(f.sizeBits + 4, f.data + 8), f.prbSize),
            ("prb_desc.state_var", f.stateVar + 8, f.descSize),
            ("prb_desc.text_blk_lpos", f.textBlkLpos + max(f.lposBegin, f.lposNext) + 8, f.descSize),
            ("printk_info.seq", f.seq + 8, f.infoSize),
            ("printk_info.ts_nsec", f.tsNsec + 8, f.infoSize),
            ("printk_info.facility", f.flagsLevel + 1, f.infoSize),
            ("printk_info.caller_id", f.callerID + 4, f.infoSize),
            ("printk_info.dev_info", max(f.subsystem + f.subsystemLength, f.device + f.deviceLength), f.infoSize),
        ]
        for (what, end, limit) in checks where end > limit || limit > Self.maxStructSize {
            throw DumpError.missing(what: "a consistent layout of \(what) (ends at \(end), the structure has \(limit) bytes)")
        }
        if let fail = f.fail, fail + 8 > f.prbSize { f.fail = nil }
        facts = f
    }

    /// No structure of the ring buffer comes near this size; a layout saying more is corrupt.
    static let maxStructSize = 4096

    /// Descriptor ids are the low bits of `state_var`; the top two bits are the state.
    static let idMask: UInt64 = ~(UInt64(3) << 62)

    /// Reads every record from the tail to the head descriptor (at most one ring's worth).
    /// - Throws: when `prb` or its rings' addresses cannot be read; a record that cannot be read
    ///   becomes an `.unreadable` entry instead.
    public func read(interrupted: () -> Bool = { false }) throws -> PrintkLog {
        let f = facts
        let prbPointer = try memory.load(UInt64.self, prbAddress)
        let header = try memory.bytes(prbPointer, count: f.prbSize)
        func word(_ offset: Int) throws -> UInt64 {
            guard let v = header.littleEndian(UInt64.self, at: offset) else {
                throw DumpError.missing(what: "printk_ringbuffer field at offset \(offset)")
            }
            return v
        }
        guard let countBits = header.littleEndian(UInt32.self, at: f.descRing + f.countBits),
              let sizeBits = header.littleEndian(UInt32.self, at: f.textDataRing + f.sizeBits) else {
            throw DumpError.missing(what: "printk_ringbuffer count_bits/size_bits")
        }
        guard countBits <= Self.maxCountBits, sizeBits >= 3, sizeBits <= Self.maxSizeBits else {
            throw DumpError.missing(what: "a believable printk ring buffer (count_bits \(countBits), size_bits \(sizeBits))")
        }
        let count = UInt64(1) << UInt64(countBits)
        let dataSize = UInt64(1) << UInt64(sizeBits)
        let descs = LazyVirtualRegion(memory: memory, base: try word(f.descRing + f.descs), length: Int(count) * f.descSize)
        let infos = LazyVirtualRegion(memory: memory, base: try word(f.descRing + f.infos), length: Int(count) * f.infoSize)
        let text = LazyVirtualRegion(memory: memory, base: try word(f.textDataRing + f.data), length: Int(dataSize))
        let head = try word(f.descRing + f.headID) & Self.idMask
        let tail = try word(f.descRing + f.tailID) & Self.idMask

        var problems: [String] = []
        // The kernel keeps head - tail below the ring's size; a larger distance is corrupt, and
        // only the last ring's worth of ids before the head can still be in it.
        let distance = (head &- tail) & Self.idMask
        var first = tail
        var total = distance + 1
        if distance >= count {
            problems.append("the descriptor ids from tail \(tail) to head \(head) span more than the ring's \(count) descriptors: showing the last \(count)")
            first = (head &- (count - 1)) & Self.idMask
            total = count
        }
        var entries: [PrintkLog.Entry] = []
        entries.reserveCapacity(Int(total))
        var skipped = 0
        var id = first
        for n in 0..<total {
            if n & 255 == 255, interrupted() { throw InterruptedByUser() }
            switch record(id: id, count: count, dataSize: dataSize, descs: descs, infos: infos, text: text) {
            case let .some(entry): entries.append(entry)
            case .none: skipped += 1
            }
            id = (id &+ 1) & Self.idMask
        }
        var dropped: UInt64?
        if let fail = f.fail { dropped = header.littleEndian(UInt64.self, at: fail) }
        return PrintkLog(format: .lockless, entries: entries, skippedDescriptors: skipped,
                         droppedMessages: dropped, problems: problems)
    }

    /// The record of descriptor `id`, nil when the descriptor holds none (not committed or
    /// finalized, or reused by another id), or `.unreadable`.
    func record(id: UInt64, count: UInt64, dataSize: UInt64, descs: LazyVirtualRegion, infos: LazyVirtualRegion,
                text: LazyVirtualRegion) -> PrintkLog.Entry? {
        let f = facts
        let slot = Int(id & (count - 1))
        let desc: [UInt8], info: [UInt8]
        do {
            desc = try descs.bytes(at: slot * f.descSize, count: f.descSize)
        } catch {
            return .unreadable(position: id, reason: "descriptor: \(error)")
        }
        guard let stateVar = desc.littleEndian(UInt64.self, at: f.stateVar),
              let begin = desc.littleEndian(UInt64.self, at: f.textBlkLpos + f.lposBegin),
              let next = desc.littleEndian(UInt64.self, at: f.textBlkLpos + f.lposNext) else {
            return .unreadable(position: id, reason: "descriptor too short")
        }
        guard stateVar & Self.idMask == id else { return nil }
        let state = DescriptorState(rawValue: stateVar >> 62)
        guard state == .committed || state == .finalized else { return nil }
        do {
            info = try infos.bytes(at: slot * f.infoSize, count: f.infoSize)
        } catch {
            return .unreadable(position: id, reason: "printk_info: \(error)")
        }
        guard let seq = info.littleEndian(UInt64.self, at: f.seq),
              let ts = info.littleEndian(UInt64.self, at: f.tsNsec),
              let textLen = info.littleEndian(UInt16.self, at: f.textLen),
              let facility = info.littleEndian(UInt8.self, at: f.facility),
              let flagsLevel = info.littleEndian(UInt8.self, at: f.flagsLevel),
              let caller = info.littleEndian(UInt32.self, at: f.callerID) else {
            return .unreadable(position: id, reason: "printk_info too short")
        }
        var rec = PrintkRecord(sequence: seq, timestampNanoseconds: ts, level: flagsLevel >> 5, facility: facility,
                               flags: flagsLevel & 0x1f, callerID: caller, text: [],
                               subsystem: info.cString(at: f.subsystem, capacity: f.subsystemLength),
                               device: info.cString(at: f.device, capacity: f.deviceLength))
        // A data-less record (no text, or a lost data block: both positions in the same place).
        if begin % dataSize == next % dataSize {
            rec.hasData = false
            return .record(rec)
        }
        // Where the block's bytes are: at begin when begin and next are in the same wrap; at
        // index 0 when the block wrapped (next is one wrap after begin). Anything else is corrupt.
        let blockOffset: UInt64, blockLength: UInt64
        if begin / dataSize == next / dataSize, begin < next {
            blockOffset = begin % dataSize
            blockLength = next - begin
        } else if (begin &+ dataSize) / dataSize == next / dataSize {
            blockOffset = 0
            blockLength = next % dataSize
        } else {
            return .unreadable(position: id, reason: "text block positions \(begin)..\(next) are not in one ring")
        }
        guard blockLength >= 8 else {
            return .unreadable(position: id, reason: "text block \(begin)..\(next) is shorter than its id")
        }
        let available = blockLength - 8
        let length = min(UInt64(textLen), available)
        do {
            let owner = try text.bytes(at: Int(blockOffset), count: 8).littleEndian(UInt64.self, at: 0) ?? 0
            guard owner & Self.idMask == id else {
                return .unreadable(position: id, reason: "its text block (\(begin)..\(next)) belongs to descriptor \(owner & Self.idMask)")
            }
            rec.text = try text.bytes(at: Int(blockOffset) + 8, count: Int(length))
        } catch {
            return .unreadable(position: id, reason: "text: \(error)")
        }
        rec.textTruncated = UInt64(textLen) > available
        return .record(rec)
    }
}

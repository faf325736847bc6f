/// The kernel's message log (what `dmesg` shows), as stored in the crashed kernel: the lockless
/// printk ring buffer of Linux 5.10 and later (`PrintkRingBuffer`), or the variable-length
/// records in `log_buf` of Linux 3.5 to 5.9 (`PrintkLogBuffer`).
///
/// Records keep the raw bytes of their text: the kernel stores bytes, not UTF-8, and how to show
/// them (crash turns unprintable bytes into '.') is the caller's business.
public struct PrintkLog: Sendable {
    /// Which of the kernel's log formats the records came from.
    public enum Format: String, Sendable {
        /// `prb`: descriptor ring, info array and text data ring (Linux 5.10+).
        case lockless
        /// `log_buf` with `struct printk_log` records (Linux 3.5 - 5.9).
        case variableLength = "variable-length"
    }

    /// One entry, in log order: a record, or the reason one could not be read.
    public enum Entry: Sendable, Equatable {
        case record(PrintkRecord)
        /// `position` is the descriptor id (lockless) or the byte offset in `log_buf` (older format).
        case unreadable(position: UInt64, reason: String)
    }

    public var format: Format
    public var entries: [Entry]
    /// Descriptors between the tail and the head that hold no finished record (reserved by a
    /// writer that never committed, already recycled, or of another id): not shown, as in crash.
    public var skippedDescriptors: Int
    /// The ring buffer's `fail` counter: messages the kernel could not store (lockless only).
    public var droppedMessages: UInt64?
    /// Problems with the log as a whole (a head/tail range longer than the ring, a walk that ended
    /// early); the entries read before are still there.
    public var problems: [String]
    /// The kernel's `pid_max`, when the layout knows where it is (crash sizes the caller column by it).
    public var pidMax: Int32?

    public init(format: Format, entries: [Entry], skippedDescriptors: Int = 0, droppedMessages: UInt64? = nil,
                problems: [String] = [], pidMax: Int32? = nil) {
        self.format = format
        self.entries = entries
        self.skippedDescriptors = skippedDescriptors
        self.droppedMessages = droppedMessages
        self.problems = problems
        self.pidMax = pidMax
    }
}

/// One message of the kernel log.
public struct PrintkRecord: Sendable, Equatable {
    /// The record's sequence number (`seq`); in the older format counted from `log_first_seq`
    /// when the layout knows that variable, else nil.
    public var sequence: UInt64?
    /// Nanoseconds since boot (the kernel's `local_clock()` when the message was stored).
    public var timestampNanoseconds: UInt64
    /// Syslog level, 0 (emergency) to 7 (debug).
    public var level: UInt8
    /// Syslog facility (0 = kernel).
    public var facility: UInt8
    /// The record's internal flags (`LOG_NEWLINE`, `LOG_CONT`, ...).
    public var flags: UInt8
    /// Who stored it: a thread id, or with bit 31 set a CPU number; nil when the kernel keeps none.
    public var callerID: UInt32?
    /// The message bytes (no trailing newline; embedded newlines separate lines).
    public var text: [UInt8]
    /// False for a record whose descriptor points at no data block (crash shows an empty line).
    public var hasData: Bool
    /// True when `text_len` claimed more bytes than the data block holds (the text is cut there).
    public var textTruncated: Bool
    /// `dev_info.subsystem` and `dev_info.device` (lockless format), empty when not set.
    public var subsystem: [UInt8]
    public var device: [UInt8]
    /// The older format's dictionary: `KEY=VALUE` entries separated by NUL bytes.
    public var dictionary: [UInt8]

    /// `LOG_CONT`: the text continues the previous record's line.
    public static let continuationFlag: UInt8 = 0x08

    public init(sequence: UInt64?, timestampNanoseconds: UInt64, level: UInt8, facility: UInt8, flags: UInt8,
                callerID: UInt32?, text: [UInt8], hasData: Bool = true, textTruncated: Bool = false,
                subsystem: [UInt8] = [], device: [UInt8] = [], dictionary: [UInt8] = []) {
        self.sequence = sequence
        self.timestampNanoseconds = timestampNanoseconds
        self.level = level
        self.facility = facility
        self.flags = flags
        self.callerID = callerID
        self.text = text
        self.hasData = hasData
        self.textTruncated = textTruncated
        self.subsystem = subsystem
        self.device = device
        self.dictionary = dictionary
    }

    /// True for a continuation record (`LOG_CONT`).
    public var isContinuation: Bool { flags & Self.continuationFlag != 0 }
}

extension PrintkLog {
    /// Reads the crashed kernel's log through `space`'s memory.
    public static func read(space: KernelAddressSpace, interrupted: () -> Bool = { false }) throws -> PrintkLog {
        try read(memory: KernelMemory(space: space), interrupted: interrupted)
    }

    /// Reads the crashed kernel's log in whichever format it keeps: the lockless ring buffer when
    /// the layout knows `prb`, else the variable-length `log_buf` records when it knows
    /// `log_first_idx` and `log_next_idx`.
    /// - Throws: `DumpError.missing` when neither is known (a kernel before 3.5, or no
    ///   VMCOREINFO), a `MemoryFault` when the log's control structures cannot be read;
    ///   `InterruptedByUser` when `interrupted()` returns true.
    public static func read(memory: KernelMemory, interrupted: () -> Bool = { false }) throws -> PrintkLog {
        let layout = memory.layout
        let log: PrintkLog
        if layout.symbolAddress("prb") != nil {
            log = try PrintkRingBuffer(memory: memory).read(interrupted: interrupted)
        } else if layout.symbolAddress("log_first_idx") != nil, layout.symbolAddress("log_next_idx") != nil {
            log = try PrintkLogBuffer(memory: memory).read(interrupted: interrupted)
        } else {
            throw DumpError.missing(what: "the kernel log: no SYMBOL(prb) (Linux 5.10+) nor SYMBOL(log_first_idx) (Linux 3.5-5.9)")
        }
        return log
    }

    /// The kernel's `pid_max` (crash sizes the caller column by it): its address from the layout,
    /// else from the kernel's kallsyms table when VMCOREINFO describes one. Nil when unknown.
    public static func pidMax(memory: KernelMemory) -> Int32? {
        guard let at = memory.symbolAddressWithKallsyms("pid_max"),
              let v = try? memory.load(Int32.self, at), v > 0 else { return nil }
        return v
    }
}

/// A range of kernel virtual memory read lazily, a page at a time, and kept: a reader that touches
/// a few hundred records of a large array reads only their pages, and a page missing from the dump
/// spoils only the records on it.
///
/// Not thread-safe (it fills its cache on reads).
final class LazyVirtualRegion {
    let memory: KernelMemory
    let base: UInt64
    let length: Int
    private var pages: [UInt64: [UInt8]] = [:]
    private var failures: [UInt64: MemoryFault] = [:]
    /// The page `byte(at:)` read last, for byte-at-a-time scans.
    private var lastPage: (start: UInt64, bytes: [UInt8])?

    init(memory: KernelMemory, base: UInt64, length: Int) {
        self.memory = memory
        self.base = base
        self.length = max(0, length)
    }

    /// `count` bytes at `offset` into the region.
    /// - Throws: the `MemoryFault` of the page that could not be read, or a refused read when the
    ///   range leaves the region.
    func bytes(at offset: Int, count: Int) throws(MemoryFault) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= length, count <= length - offset else {
            throw outside("bytes \(offset)..<\(offset &+ count)", offset)
        }
        var out = [UInt8]()
        out.reserveCapacity(count)
        var done = 0
        let pageSize = Int(KernelAddressSpace.pageSize)
        while done < count {
            let address = base &+ UInt64(offset + done)
            let pageStart = address & ~(KernelAddressSpace.pageSize - 1)
            let inPage = Int(address - pageStart)
            let n = min(pageSize - inPage, count - done)
            let page = try self.page(pageStart)
            out.append(contentsOf: page[inPage..<(inPage + n)])
            done += n
        }
        return out
    }

    /// The byte at `offset` into the region.
    func byte(at offset: Int) throws(MemoryFault) -> UInt8 {
        guard offset >= 0, offset < length else { throw outside("byte \(offset)", offset) }
        let address = base &+ UInt64(offset)
        let start = address & ~(KernelAddressSpace.pageSize - 1)
        if let lastPage, lastPage.start == start { return lastPage.bytes[Int(address - start)] }
        let p = try page(start)
        lastPage = (start, p)
        return p[Int(address - start)]
    }

    private func outside(_ what: String, _ offset: Int) -> MemoryFault {
        MemoryFault(address: base &+ UInt64(truncatingIfNeeded: offset), space: .kernel,
                    reason: .refused(detail: "\(what) are outside the \(length)-byte area at \(hex(base))"))
    }

    private func page(_ start: UInt64) throws(MemoryFault) -> [UInt8] {
        if let p = pages[start] { return p }
        if let fault = failures[start] { throw fault }
        do {
            let p = try memory.bytes(start, count: Int(KernelAddressSpace.pageSize))
            pages[start] = p
            return p
        } catch {
            failures[start] = error
            throw error
        }
    }
}

/// Little-endian field reads from a record's bytes, bounds-checked: nil when the field does not fit.
extension Array where Element == UInt8 {
    func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= count - size else { return nil }
        var v: T = 0
        for i in 0..<size { v |= T(truncatingIfNeeded: self[offset + i]) << (8 * i) }
        return v
    }

    /// The bytes of a NUL-terminated string in a fixed-size field (at most `capacity` bytes).
    func cString(at offset: Int, capacity: Int) -> [UInt8] {
        guard offset >= 0, capacity > 0, offset < count else { return [] }
        let end = Swift.min(count, offset + capacity)
        var i = offset
        while i < end, self[i] != 0 { i += 1 }
        return Array(self[offset..<i])
    }
}

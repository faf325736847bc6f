#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DumpModel

/// `log`: the kernel's message log, in crash's layout (timestamps, optional level, caller and
/// device lines). Works from VMCOREINFO alone: the ring buffer's layout is all there.
public enum LogCommand: CrashCommand {
    public static let name = "log"
    public static let summary = "dump system message buffer"
    public static let usage = """
    NAME
      log - dump system message buffer

    SYNOPSIS
      log [-Ttdmcas]

    DESCRIPTION
      Shows the kernel's message buffer in chronological order, each record on its own line(s)
      with its time since boot: the lockless printk ring buffer of Linux 5.10 and later, or the
      log_buf records of Linux 3.5 to 5.9. It needs no vmlinux: the dump's VMCOREINFO describes
      the buffer.

        -T  show each record's time as a date (the boot time, from the kernel's wall clock and
            jiffies at the crash, plus the record's whole seconds since boot); needs the vmlinux.
        -t  no timestamps.
        -d  also show each record's device information (SUBSYSTEM= and DEVICE= lines, or the
            older format's dictionary).
        -m  show each record's log level, as <N> before the text.
        -c  show who logged each record: [Tpid] for a task, [Ccpu] for a CPU outside any task.
        -a  the audit messages still queued in the kernel (only their count: crashsh does not
            decode them yet).
        -s  the printk_safe buffers of kernels before 5.15 (not read by crashsh; nothing on
            later kernels, which have none).

      Records that are reserved but never committed, or already recycled, are not shown. A
      record that cannot be read is shown as one line saying why; the rest still prints.

    EXAMPLES
      crash> log -m
      [    0.000000] <5>Linux version 6.1.0-56-cloud-amd64 ...
      [    0.000000] <6>Command line: console=ttyS0 crashkernel=192M panic=0
    """

    /// The display options, as crash's flags.
    public struct Options: Sendable, Equatable {
        public var dateTimestamps = false
        public var noTimestamps = false
        public var deviceInfo = false
        public var level = false
        public var caller = false
        public var audit = false
        public var safeBuffers = false
        public init() {}
    }

    public struct Result: CommandResult {
        public var log: PrintkLog
        public var options: Options
        /// Boot time in seconds since the epoch (for -T).
        public var bootSeconds: Int64?

        public func renderText() -> String {
            LogTextRenderer(log: log, options: options, bootSeconds: bootSeconds).render()
        }

        public func renderJSON() -> JSONValue {
            var pairs: [(String, JSONValue)] = [("format", .string(log.format.rawValue))]
            pairs.append(("records", .array(log.entries.map(Self.json))))
            pairs.append(("skipped", .int(Int64(log.skippedDescriptors))))
            if let d = log.droppedMessages { pairs.append(("dropped", .wide(d))) }
            pairs.append(("problems", .array(log.problems.map { .string($0) })))
            if let b = bootSeconds { pairs.append(("boot_time", .int(b))) }
            return .object(pairs)
        }

        static func json(_ entry: PrintkLog.Entry) -> JSONValue {
            switch entry {
            case let .unreadable(position, reason):
                return .object([("position", .uint(position)), ("error", .string(reason))])
            case let .record(r):
                var p: [(String, JSONValue)] = [
                    ("seq", r.sequence.map { .uint($0) } ?? .null),
                    ("timestamp_ns", .wide(r.timestampNanoseconds)),
                    ("level", .int(Int64(r.level))),
                    ("facility", .int(Int64(r.facility))),
                    ("flags", .int(Int64(r.flags))),
                ]
                if let c = r.callerID { p.append(("caller", .string(callerText(c)))) }
                p.append(("text", .string(String(decoding: r.text, as: UTF8.self))))
                if !r.hasData { p.append(("dataless", .bool(true))) }
                if r.textTruncated { p.append(("truncated", .bool(true))) }
                if r.isContinuation { p.append(("continuation", .bool(true))) }
                if !r.subsystem.isEmpty { p.append(("subsystem", .string(String(decoding: r.subsystem, as: UTF8.self)))) }
                if !r.device.isEmpty { p.append(("device", .string(String(decoding: r.device, as: UTF8.self)))) }
                if !r.dictionary.isEmpty {
                    let items = r.dictionary.split(separator: 0).map { JSONValue.string(String(decoding: $0, as: UTF8.self)) }
                    p.append(("dictionary", .array(items)))
                }
                return .object(p)
            }
        }
    }

    /// `log -a`: how many audit messages were queued.
    public struct AuditResult: CommandResult {
        public var queues: AuditQueues

        public func renderText() -> String {
            // crash says this as an informational line of the command.
            "log: kernel audit log is empty\n"
        }

        public func renderJSON() -> JSONValue {
            .object([("queues", .array(queues.queues.map {
                .object([("name", .string($0.name)), ("length", .int(Int64($0.length)))])
            })), ("messages", .array([]))])
        }
    }

    /// `log -s` on a kernel without printk_safe buffers: nothing, as crash prints.
    public struct EmptyResult: CommandResult {
        public func renderText() -> String { "" }
        public func renderJSON() -> JSONValue { .object([("safe_buffers", .array([]))]) }
    }

    /// `T<pid>` for a task, `C<cpu>` when bit 31 says the caller was a CPU outside task context.
    static func callerText(_ id: UInt32) -> String {
        let cpu: UInt32 = 0x8000_0000
        return (id & cpu != 0 ? "C" : "T") + String(Int32(bitPattern: id & ~cpu))
    }

    public static func parse(_ arguments: [String]) throws -> Options {
        var o = Options()
        for word in arguments {
            guard word.hasPrefix("-"), word.count > 1 else {
                throw CommandError("unexpected argument \(word) (usage: log [-Ttdmcas])")
            }
            for c in word.dropFirst() {
                switch c {
                case "T": o.dateTimestamps = true
                case "t": o.noTimestamps = true
                case "d": o.deviceInfo = true
                case "m": o.level = true
                case "c": o.caller = true
                case "a": o.audit = true
                case "s": o.safeBuffers = true
                default: throw CommandError("invalid option -\(c) (usage: log [-Ttdmcas])")
                }
            }
        }
        return o
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        let options = try parse(arguments)
        let memory = try session.crashedKernel().memory
        if options.audit {
            let queues = try AuditQueues(memory: memory)
            guard queues.total == 0 else {
                throw CommandError("the kernel's audit queues hold \(queues.total) messages; crashsh does not decode them yet")
            }
            return AuditResult(queues: queues)
        }
        if options.safeBuffers {
            guard memory.layout.typeSize("printk_safe_seq_buf") == nil else {
                throw CommandError("-s: the printk_safe buffers of this kernel are not read by crashsh yet")
            }
            return EmptyResult()
        }
        var bootSeconds: Int64?
        // -t wins over -T, as in crash: no timestamps, so no clock is needed.
        if options.dateTimestamps && !options.noTimestamps {
            do {
                bootSeconds = try KernelClock(memory: memory).bootSeconds
            } catch let e as DumpError {
                throw CommandError("-T needs the kernel's clock: \(e)")
            } catch let fault as MemoryFault {
                throw CommandError("-T needs the kernel's clock: \(fault)")
            }
        }
        var log: PrintkLog
        do {
            log = try PrintkLog.read(memory: memory, interrupted: session.interruptRequested)
        } catch is InterruptedByUser {
            throw CommandError.interrupted
        }
        if options.caller { log.pidMax = PrintkLog.pidMax(memory: memory) }
        return Result(log: log, options: options, bootSeconds: bootSeconds)
    }
}

/// Writes the log as crash's `log` does, into one byte buffer (the text is ASCII: crash shows
/// bytes that are neither printable nor white space as '.').
struct LogTextRenderer {
    let log: PrintkLog
    let options: LogCommand.Options
    let bootSeconds: Int64?

    /// crash sizes the lockless format's caller column by pid_max (6 characters up to 99999,
    /// 7 up to 999999, else 8); the older format always uses 8.
    var callerWidth: Int {
        guard log.format == .lockless, let p = log.pidMax else { return 8 }
        return p <= 99_999 ? 6 : p <= 999_999 ? 7 : 8
    }

    func render() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(log.entries.count * 96)
        var dates = DateCache()
        let width = callerWidth
        let showTime = !options.noTimestamps
        for entry in log.entries {
            guard case let .record(r) = entry else {
                if case let .unreadable(position, reason) = entry {
                    let what = log.format == .lockless ? "descriptor \(position)" : "at log_buf offset \(position)"
                    out.append(contentsOf: "log: record \(what) cannot be read: \(reason)\n".utf8)
                }
                continue
            }
            // crash prints nothing but the newline for a record without a data block.
            guard r.hasData else {
                out.append(0x0a)
                continue
            }
            let start = out.count
            if showTime {
                let seconds = r.timestampNanoseconds / 1_000_000_000
                if let boot = bootSeconds {
                    out.append(0x5b)
                    out.append(contentsOf: dates.text(boot &+ Int64(truncatingIfNeeded: seconds)))
                    out.append(contentsOf: "] ".utf8)
                } else {
                    let micros = (r.timestampNanoseconds % 1_000_000_000) / 1000
                    out.append(0x5b)
                    Self.appendPadded(&out, String(seconds), width: 5, pad: 0x20)
                    out.append(0x2e)
                    Self.appendPadded(&out, String(micros), width: 6, pad: 0x30)
                    out.append(contentsOf: "] ".utf8)
                }
            }
            if options.caller, let id = r.callerID {
                out.append(0x5b)
                Self.appendPadded(&out, LogCommand.callerText(id), width: width, pad: 0x20)
                out.append(contentsOf: "] ".utf8)
            }
            if options.level {
                out.append(contentsOf: "<\(String(r.level, radix: 16))>".utf8)
            }
            let indent = out.count - start
            for b in r.text {
                if b == 0x0a {
                    out.append(0x0a)
                    out.append(contentsOf: repeatElement(0x20, count: indent))
                } else {
                    out.append(Self.shown(b))
                }
            }
            if options.deviceInfo {
                if log.format == .lockless {
                    for (key, value) in [("SUBSYSTEM=", r.subsystem), ("DEVICE=", r.device)] where !value.isEmpty {
                        out.append(0x0a)
                        out.append(contentsOf: repeatElement(0x20, count: indent))
                        out.append(contentsOf: key.utf8)
                        out.append(contentsOf: value.map(Self.shown))
                    }
                } else if !r.dictionary.isEmpty {
                    // One KEY=VALUE a line, each indented like the text.
                    out.append(0x0a)
                    out.append(contentsOf: repeatElement(0x20, count: indent))
                    for b in r.dictionary {
                        if b == 0 {
                            out.append(0x0a)
                            out.append(contentsOf: repeatElement(0x20, count: indent))
                        } else {
                            out.append(Self.printable(b) ? b : 0x2e)
                        }
                    }
                }
            }
            out.append(0x0a)
        }
        for problem in log.problems {
            out.append(contentsOf: "log: \(problem)\n".utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// isprint() in the C locale.
    static func printable(_ b: UInt8) -> Bool { b >= 0x20 && b < 0x7f }

    /// What crash prints for a text byte: printable and white-space bytes as they are, others as '.'.
    static func shown(_ b: UInt8) -> UInt8 {
        printable(b) || b == 0x20 || (b >= 0x09 && b <= 0x0d) ? b : 0x2e
    }

    static func appendPadded(_ out: inout [UInt8], _ s: String, width: Int, pad: UInt8) {
        let n = s.utf8.count
        if n < width { out.append(contentsOf: repeatElement(pad, count: width - n)) }
        out.append(contentsOf: s.utf8)
    }

    /// crash's ctime_tz: the local time as "%a %b %e %T %Z %Y"; consecutive records mostly share
    /// their second, so the last one is kept.
    struct DateCache {
        var last: (Int64, [UInt8])?

        mutating func text(_ t: Int64) -> [UInt8] {
            if let last, last.0 == t { return last.1 }
            let s = Array(Self.format(t).utf8)
            last = (t, s)
            return s
        }

        static func format(_ t: Int64) -> String {
            tzset()
            var seconds = time_t(t)
            var parts = tm()
            guard localtime_r(&seconds, &parts) != nil else { return String(t) }
            var buffer = [CChar](repeating: 0, count: 64)
            let n = strftime(&buffer, buffer.count, "%a %b %e %T %Z %Y", &parts)
            guard n > 0 else { return String(t) }
            return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

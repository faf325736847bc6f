/// What kind of failure stopped the kernel, as triage names it.
public enum CrashKind: String, Sendable, CaseIterable {
    /// `panic()` called for its own reason (sysrq, a driver, "Attempted to kill init").
    case panic
    /// An oops without a more specific header: general protection fault, divide error,
    /// invalid opcode, "Oops:".
    case oops
    /// `BUG()` ("kernel BUG at ...") or another "BUG: ..." report.
    case bug
    /// `WARN()` that panicked because of panic_on_warn.
    case warning
    /// A kernel-mode page fault ("BUG: unable to handle page fault", NULL dereference).
    case pageFault = "page-fault"
    /// The hung task detector ("INFO: task ... blocked for more than N seconds").
    case hungTask = "hung-task"
    case softLockup = "soft-lockup"
    case hardLockup = "hard-lockup"
    /// Out of memory with panic_on_oom, or no task left to kill.
    case oom
    /// A fatal machine check exception (hardware).
    case machineCheck = "machine-check"
    /// No panic or oops message in the log (a dump taken by hand, or the log was lost).
    case unknown
}

/// One line of the kernel log with its timestamp.
public struct CrashLogLine: Sendable, Equatable {
    public var timestampNanoseconds: UInt64
    public var text: String
    public init(timestampNanoseconds: UInt64, text: String) {
        self.timestampNanoseconds = timestampNanoseconds
        self.text = text
    }
}

/// The crash as the kernel reported it in its log: where the report starts, the panic line, the
/// kind of failure, the function the report names, and the frames of the report's call trace.
///
/// The report is found the way syzkaller's pkg/report finds one in console output (a header
/// line such as "BUG:", "WARNING:", "kernel BUG at", "INFO: task ... blocked"), except that a
/// dump's log always ends with the panic: the report is the header cluster nearest before the
/// panic line when the panic says it follows another report ("Fatal exception",
/// "panic_on_warn set", "hung_task: blocked tasks", "softlockup: hung tasks", "Hard LOCKUP"),
/// else the panic line itself.
public struct CrashLogReport: Sendable, Equatable {
    /// The log, one entry per line (a record with newlines gives several).
    public var lines: [CrashLogLine]
    /// Index in `lines` of the first "Kernel panic - not syncing" line, if any.
    public var panicLine: Int?
    /// Index in `lines` of the line that starts the report (the header, or the panic line).
    public var reportStart: Int?
    /// The line that ends the report (inclusive): the end of the panic's own output, else the
    /// last line of the log.
    public var reportEnd: Int?
    public var kind: CrashKind
    /// The text after "Kernel panic - not syncing: ".
    public var panicString: String?
    /// The report's header line without its log prefix.
    public var header: String?
    /// The function the report names: the one in "RIP: 0010:func+0x.." (the faulting or
    /// warning instruction), or in a WARNING's "at file:line func+0x..".
    public var culprit: String?
    /// The functions of the report's first call trace, innermost first, without the entries the
    /// kernel marked unreliable ("? func+0x..") and without offsets or module names.
    public var traceFrames: [String]
    /// "Killed process ..." lines of the OOM killer, in log order.
    public var oomKills: [String]

    /// The most lines kept from a log (a printk ring holds a few thousand).
    public static let maxLines = 1 << 16
    /// The most frames read from one call trace.
    public static let maxFrames = 64

    /// Splits the log's records into lines and finds the report in them.
    public init(log: PrintkLog) {
        var lines: [CrashLogLine] = []
        for entry in log.entries {
            guard case let .record(r) = entry else { continue }
            for part in r.text.split(separator: 0x0a, omittingEmptySubsequences: false) {
                if lines.count >= Self.maxLines { lines.removeFirst(lines.count / 2) }
                lines.append(CrashLogLine(timestampNanoseconds: r.timestampNanoseconds,
                                          text: String(decoding: part, as: UTF8.self)))
            }
        }
        self.init(lines: lines)
    }

    public init(lines: [CrashLogLine]) {
        self.lines = lines
        kind = .unknown
        traceFrames = []
        oomKills = lines.compactMap { l in
            guard let r = l.text.range(of: "Killed process ") else { return nil }
            return String(l.text[r.lowerBound...])
        }
        let texts = lines.map(\.text)
        panicLine = texts.firstIndex { $0.contains(Self.panicPrefix) && !$0.hasPrefix("---[ end") }
        if let p = panicLine, let r = texts[p].range(of: Self.panicPrefix) {
            panicString = String(texts[p][r.upperBound...]).trimmingTrailingSpace()
        }
        // Which report the crash is: the panic's own, or one it says came before.
        let end = panicLine ?? texts.count
        var start: Int?
        var headerKind: CrashKind?
        if panicLine == nil || Self.followsReport(panicString ?? "") {
            var i = end - 1
            var clusterStart: (Int, CrashKind)?
            while i >= 0 {
                if let k = Self.headerKind(texts[i]) {
                    clusterStart = (i, k)
                } else if let c = clusterStart, c.0 - i > Self.clusterGap {
                    break
                }
                i -= 1
            }
            if let c = clusterStart { start = c.0; headerKind = c.1 }
        }
        if start == nil, let p = panicLine { start = p }
        reportStart = start
        reportEnd = texts.isEmpty ? nil : texts.count - 1
        if let s = start {
            header = Self.withoutPrefix(texts[s])
            kind = headerKind ?? Self.panicKind(panicString ?? "")
            var e = texts.count - 1
            if let p = panicLine {
                // The panic's output ends at its "---[ end Kernel panic" line when there is one.
                e = texts[p...].firstIndex { $0.hasPrefix("---[ end") } ?? e
            }
            reportEnd = e
            if s <= e { parseReport(texts[s...e]) }
        }
    }

    static let panicPrefix = "Kernel panic - not syncing: "
    /// Lines between two header lines of one report ("BUG: unable to handle page fault" is
    /// followed by "#PF:" lines, then "Oops:").
    static let clusterGap = 12

    /// Panic strings that mean "the report above is the crash".
    static func followsReport(_ s: String) -> Bool {
        ["Fatal exception", "panic_on_warn set", "hung_task: blocked tasks", "softlockup: hung tasks",
         "Hard LOCKUP", "hard LOCKUP", "Fatal hardware error", "Fatal machine check", "Fatal Machine check",
         "Machine check"].contains { s.hasPrefix($0) }
    }

    /// The kind a panic string alone says.
    static func panicKind(_ s: String) -> CrashKind {
        if s.hasPrefix("Out of memory") || s.contains("panic_on_oom") || s.hasPrefix("System is deadlocked on memory") {
            return .oom
        }
        if s.hasPrefix("hung_task") { return .hungTask }
        if s.hasPrefix("softlockup") { return .softLockup }
        if s.lowercased().hasPrefix("hard lockup") { return .hardLockup }
        if s.contains("achine check") || s.hasPrefix("Fatal hardware error") { return .machineCheck }
        if s.hasPrefix("panic_on_warn") { return .warning }
        return .panic
    }

    /// The kind of report a log line starts, if it starts one.
    static func headerKind(_ line: String) -> CrashKind? {
        let t = withoutPrefix(line)
        if t.hasPrefix("BUG: unable to handle") || t.hasPrefix("BUG: kernel NULL pointer dereference")
            || t.hasPrefix("Unable to handle kernel") { return .pageFault }
        if t.contains("BUG: soft lockup") { return .softLockup }
        if t.contains("Watchdog detected hard LOCKUP") { return .hardLockup }
        if t.hasPrefix("INFO: task "), t.contains(" blocked for more than ") { return .hungTask }
        if t.hasPrefix("WARNING: ") { return .warning }
        if t.hasPrefix("kernel BUG at ") || t.hasPrefix("Kernel BUG at ") || t.hasPrefix("BUG: ") { return .bug }
        if t.hasPrefix("general protection fault") || t.hasPrefix("divide error: ") || t.hasPrefix("invalid opcode: ")
            || t.hasPrefix("stack segment: ") || t.hasPrefix("double fault: ") || t.hasPrefix("Oops: ") { return .oops }
        if t.hasPrefix("mce: [Hardware Error]") || t.hasPrefix("[Hardware Error]: ") { return .machineCheck }
        return nil
    }

    /// A log line without a "[  12.345678]" or "[T123]" prefix the line itself may carry
    /// (console captures), and without leading blanks.
    static func withoutPrefix(_ line: String) -> String {
        var s = Substring(line)
        while s.first == "[", let close = s.firstIndex(of: "]") {
            let inside = s[s.index(after: s.startIndex)..<close].trimmingCharacters(" ")
            guard !inside.isEmpty, inside.allSatisfy({ $0.isNumber || $0 == "." || $0 == "T" || $0 == "C" }) else { break }
            s = s[s.index(after: close)...]
        }
        return String(s.drop { $0 == " " })
    }

    /// The function of a frame text "func+0x1a/0x40 [module]" ("func.cold+0x.." keeps its
    /// suffix here; `CrashSignature` cuts it), nil for anything else.
    public static func frameFunction(_ text: Substring) -> String? {
        guard let plus = text.firstIndex(of: "+") else { return nil }
        let name = text[..<plus]
        let rest = text[plus...]
        guard !name.isEmpty, rest.hasPrefix("+0x"), rest.contains("/0x"),
              name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "$" }) else { return nil }
        return String(name)
    }

    private mutating func parseReport(_ lines: ArraySlice<String>) {
        var inTrace = false
        for raw in lines {
            let t = Self.withoutPrefix(raw)
            if culprit == nil, let r = t.range(of: "RIP: 0010:") {
                culprit = Self.frameFunction(t[r.upperBound...].prefix { $0 != " " })
            }
            if culprit == nil, kind == .warning, t.hasPrefix("WARNING: "), let at = t.range(of: " at ") {
                // "WARNING: CPU: 0 PID: 1 at fs/foo.c:12 foo_bar+0x1a/0x40 [mod]"
                let words = t[at.upperBound...].split(separator: " ")
                if words.count >= 2 { culprit = Self.frameFunction(words[1]) }
            }
            if t.hasPrefix("Call Trace:") {
                if !traceFrames.isEmpty { break }
                inTrace = true
                continue
            }
            guard inTrace else { continue }
            if t == "</TASK>" { break }
            if t.hasPrefix("? ") { continue }
            let word = t.prefix { $0 != " " }
            if let f = Self.frameFunction(word), traceFrames.count < Self.maxFrames { traceFrames.append(f) }
        }
    }
}

/// A crash's signature: a title in the manner of syzkaller's report titles and a hash of the
/// normalised frames that is the same for every dump of one bug, whatever the dump format,
/// boot or KASLR offset (see docs/triage.md for the rule).
public struct CrashSignature: Sendable, Equatable {
    /// Where the frames came from.
    public enum FrameSource: String, Sendable {
        /// The call trace the kernel printed in its report (the log).
        case log
        /// The panic task's stack as crashsh unwound it from the dump.
        case stack
        case none
    }

    public var title: String
    public var kind: CrashKind
    /// The normalised frames the hash covers, innermost first.
    public var frames: [String]
    public var frameSource: FrameSource
    /// 16 lower-case hex digits: FNV-1a (64 bits) of the title and the frames.
    public var hash: String

    /// How many normalised frames the hash covers: the ones nearest the failure say which bug
    /// it is; deeper ones say how the code was reached.
    public static let hashedFrames = 5

    /// The signature of `report`; `stackFrames` (the panic task's functions, innermost first,
    /// as resolved from the dump) are used when the log has no call trace.
    public init(report: CrashLogReport, stackFrames: [String]) {
        kind = report.kind
        var logFrames = report.traceFrames
        // A faulting or warning instruction's function heads the trace: the kernel prints it on
        // the RIP line, not among the frames.
        if let c = report.culprit, kind != .panic, logFrames.first != c { logFrames.insert(c, at: 0) }
        let fromLog = Self.normalise(logFrames)
        let fromStack = Self.normalise(stackFrames)
        if !fromLog.isEmpty {
            frames = fromLog
            frameSource = .log
        } else if !fromStack.isEmpty {
            frames = fromStack
            frameSource = .stack
        } else {
            frames = []
            frameSource = .none
        }
        frames = Array(frames.prefix(Self.hashedFrames))
        let culprit = report.culprit.flatMap { Self.normalisedFrame($0) }
        title = Self.title(report: report, culprit: culprit, frames: frames)
        hash = Self.fnv1a(([title] + frames).joined(separator: "\n"))
    }

    /// The title: the report's header reduced to what names the bug ("BUG: unable to handle
    /// page fault in foo_bar", "WARNING in foo_bar", "INFO: task hung in foo_bar"), or the
    /// panic line for a panic of its own ("Kernel panic - not syncing: sysrq triggered crash").
    static func title(report: CrashLogReport, culprit: String?, frames: [String]) -> String {
        let function = culprit ?? frames.first
        func named(_ prefix: String) -> String { function.map { "\(prefix) in \($0)" } ?? prefix }
        let header = report.header ?? ""
        switch report.kind {
        case .pageFault:
            if header.contains("NULL pointer dereference") { return named("BUG: kernel NULL pointer dereference") }
            return named("BUG: unable to handle page fault")
        case .warning:
            return named("WARNING")
        case .hungTask:
            return "INFO: task hung in " + (Self.hungTaskFunction(report.traceFrames) ?? function ?? "unknown")
        case .softLockup:
            return named("BUG: soft lockup")
        case .hardLockup:
            return named("watchdog: hard LOCKUP")
        case .bug:
            if header.hasPrefix("kernel BUG at") || header.hasPrefix("Kernel BUG at") { return named("kernel BUG") }
            // "BUG: scheduling while atomic: comm/pid/0x..." -> "BUG: scheduling while atomic in f"
            let what = header.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            return named(what.count >= 2 ? "BUG:" + what[1] : "BUG")
        case .oops:
            for (h, t) in [("general protection fault", "general protection fault"), ("divide error", "divide error"),
                           ("invalid opcode", "invalid opcode"), ("stack segment", "stack segment fault"),
                           ("double fault", "double fault")] where header.hasPrefix(h) {
                return named(t)
            }
            return named("Oops")
        case .machineCheck:
            return report.panicString.map { "Machine check: " + normaliseText($0) } ?? "Machine check"
        case .panic, .oom:
            return report.panicString.map { CrashLogReport.panicPrefix + normaliseText($0) } ?? "Kernel panic"
        case .unknown:
            return function.map { "no panic message: stopped in \($0)" } ?? "no panic message"
        }
    }

    /// The hung task's function as syzkaller picks it: the first frame that is not the
    /// scheduler, a lock or a wait.
    static func hungTaskFunction(_ frames: [String]) -> String? {
        let skip = ["sched", "_lock", "_slowlock", "down", "rwsem", "completion", "kthread", "wait", "synchronize",
                    "context_switch", "__switch_to"]
        return normalise(frames).first { f in !skip.contains { f.contains($0) } }
    }

    /// Free text with what varies between boots made constant: hex numbers of 8 digits or more
    /// (addresses) become "ADDR".
    public static func normaliseText(_ s: String) -> String {
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            var j = i
            if s[i...].hasPrefix("0x") { j = s.index(i, offsetBy: 2) }
            let digits = s[j...].prefix { $0.isHexDigit }
            if digits.count >= 8 {
                out += "ADDR"
                i = digits.endIndex
            } else {
                let n = s.index(after: i)
                out += s[i..<n]
                i = n
            }
        }
        return out
    }

    /// `functions` normalised (see `normalisedFrame`) with the skipped ones left out.
    public static func normalise(_ functions: [String]) -> [String] {
        functions.compactMap(normalisedFrame)
    }

    /// A function name without the compiler's clone suffixes (".isra.0", ".constprop.0",
    /// ".part.0", ".cold", ".llvm.123"...), or nil for a generic frame that says nothing about
    /// the bug: the panic and kexec path, stack dumping, warning and oops reporting, the
    /// exception and interrupt handlers, the delay loops panic waits in, and the system-call and
    /// thread entry code.
    public static func normalisedFrame(_ function: String) -> String? {
        let name = String(function.prefix { $0 != "." })
        guard !name.isEmpty else { return nil }
        if genericFrames.contains(name) { return nil }
        if genericPrefixes.contains(where: { name.hasPrefix($0) }) { return nil }
        return name
    }

    static let genericFrames: Set<String> = [
        "panic", "vpanic", "nmi_panic", "__crash_kexec", "crash_kexec", "machine_kexec", "machine_crash_shutdown",
        "native_machine_crash_shutdown", "crash_setup_regs", "__warn", "warn_slowpath_fmt", "report_bug", "handle_bug",
        "die", "__die", "__die_body", "oops_end", "die_addr", "make_task_dead", "do_exit", "rewind_stack_and_make_dead",
        "page_fault_oops", "kernelmode_fixup_or_oops", "no_context", "__bad_area_nosemaphore", "bad_area_nosemaphore",
        "bad_area", "do_user_addr_fault", "do_kern_addr_fault", "handle_page_fault", "spurious_kernel_fault",
        "do_trap", "do_error_trap", "do_int3", "fixup_exception", "show_regs", "show_stack", "show_trace_log_lvl",
        "printk", "_printk", "vprintk", "vprintk_emit", "vprintk_default", "ret_from_fork", "ret_from_fork_asm",
        "kthread", "syscall_exit_to_user_mode", "exit_to_user_mode_prepare", "irq_exit_rcu", "__irq_exit_rcu",
        "common_interrupt", "crash_nmi_callback", "nmi_handle", "default_do_nmi", "watchdog_timer_fn",
        "__hrtimer_run_queues", "hrtimer_interrupt", "__sysvec_apic_timer_interrupt", "check_panic_on_warn",
        "x64_sys_call", "delay_tsc", "delay_loop", "delay_halt", "__delay", "__const_udelay", "__udelay", "__ndelay",
        "hung_task_panic", "check_hung_uninterruptible_tasks", "watchdog", "out_of_memory",
    ]
    static let genericPrefixes = [
        "dump_stack", "asm_exc_", "exc_", "asm_sysvec_", "sysvec_", "asm_common_interrupt", "entry_SYSCALL",
        "entry_INT80", "entry_SYSENTER", "do_syscall_", "do_int80", "do_fast_syscall", "__do_fast_syscall",
        "ret_from_intr", "error_entry", "__x86_indirect_thunk", "__x86_return_thunk", "__sanitizer", "__asan",
        "kasan_", "__kasan", "ubsan_", "__ubsan",
    ]

    /// FNV-1a, 64 bits, as 16 hex digits: small, fixed and the same on every platform.
    static func fnv1a(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        let digits = String(h, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

private extension StringProtocol {
    func trimmingCharacters(_ c: Character) -> Substring {
        var s = Substring(self)
        while s.first == c { s.removeFirst() }
        while s.last == c { s.removeLast() }
        return s
    }

    func trimmingTrailingSpace() -> String {
        var s = Substring(self)
        while let c = s.last, c == " " || c == "\r" || c == "\t" { s.removeLast() }
        return String(s)
    }
}

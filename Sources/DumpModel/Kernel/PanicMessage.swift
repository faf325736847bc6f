/// The panic message of a crashed kernel, found in its log the way crash finds it: the first
/// log line holding one of the kernel's panic and oops phrases, tried phrase by phrase in a
/// fixed order (sysrq's crash messages first, then "Kernel panic", BUG, page faults, GPF...).
/// The kernel keeps no copy of the string outside the log.
public enum PanicMessage {
    /// The phrases, in the order they are tried.
    public static let phrases = [
        "SysRq : Crash", "SysRq : Trigger a crash", "SysRq : Netdump", "Kernel panic: ", "Kernel panic - ",
        "Kernel BUG at", "kernel BUG at", "Unable to handle kernel paging request",
        "Unable to handle kernel NULL pointer dereference", "BUG: unable to handle kernel ",
        "general protection fault: ", "double fault: ", "divide error: ", "stack segment: ",
        "[Hardware Error]: ", "Bad mode in ", "Oops: ",
    ]

    /// The first line of `lines` with the first phrase that any line holds, without line ends.
    public static func find(inLines lines: [String]) -> String? {
        for phrase in phrases {
            if let line = lines.first(where: { $0.contains(phrase) }) {
                return line.trimmingLineEnds()
            }
        }
        return nil
    }

    /// The same over a log's records (each record's text, split at its newlines).
    public static func find(in log: PrintkLog) -> String? {
        var lines: [String] = []
        for entry in log.entries {
            guard case let .record(r) = entry else { continue }
            for part in r.text.split(separator: 0x0a, omittingEmptySubsequences: false) {
                lines.append(String(decoding: part, as: UTF8.self))
            }
        }
        return find(inLines: lines)
    }
}

extension CrashedKernel {
    /// The kernel log, read once per session.
    public func log() throws -> PrintkLog {
        if let logState { return try logState.get() }
        let r = Result { try PrintkLog.read(memory: memory, interrupted: interrupted) }
        // An interrupted read is not kept: the next command reads the log again.
        if case .failure(let e) = r, e is InterruptedByUser { throw e }
        logState = r
        return try r.get()
    }

    /// The panic message (see `PanicMessage`), nil when the log has none.
    public func panicMessage() throws -> String? { PanicMessage.find(in: try log()) }
}

private extension String {
    func trimmingLineEnds() -> String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == "\r" { s.removeLast() }
        return String(s)
    }
}

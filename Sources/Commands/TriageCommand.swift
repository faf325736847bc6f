import DumpModel

/// `triage`: in one run, what a ticket about a kernel crash needs: the kernel and when it died,
/// the crash with its signature, the panic task's stack and the other CPUs', the log around the
/// panic, taint, modules, tasks stuck in D state and memory.
public enum TriageCommand: CrashCommand {
    public static let name = "triage"
    public static let summary = "crash report for a ticket: panic, signature, stacks, log, taint, modules, memory"
    public static let usage = """
    NAME
      triage - the report a ticket needs

    SYNOPSIS
      triage
      crashsh triage [--json] [--buckets] [--jobs N] [--vmlinux FILE] DUMP...   (outside the shell)

    DESCRIPTION
      Prints, in one run: the kernel release, build and build-id; the date of the crash and the
      uptime; the crash: its title and kind (panic, oops, bug, warning, page-fault, hung-task,
      soft-lockup, hard-lockup, oom, machine-check) and its signature (a hash of the normalised
      frames nearest the failure, the same for every dump of one bug: see docs/triage.md); the
      panic task's backtrace with source lines; the other CPUs' active tasks' backtraces; the
      log lines of the crash report (a few lines before it, the report whole); the taint flags
      spelled out; the modules, marking proprietary, out-of-tree and unsigned ones; the tasks in
      uninterruptible sleep with how long they have waited (run queue clock minus
      sched_info.last_arrival, as crash's ps -m) and their stacks; kmem -i's summary and what
      the OOM killer did.

      Each part is read on its own: one that cannot be read says why, the rest still print.

      Outside the shell, `crashsh triage DUMP...` triages many dumps in parallel (child
      processes, as many as the cores and the available memory allow, or --jobs), one JSON line
      per dump with --json, then the buckets: the dumps grouped by signature with their count,
      the first and last crash dates and an example dump (--buckets: only the buckets).

    EXAMPLES
      crash> triage
      CRASH: Kernel panic - not syncing: sysrq triggered crash
        kind panic, signature 9c32bb86fa283b6d (log frames: sysrq_handle_crash < __handle_sysrq < ...)
      ...
    """

    /// Log lines shown before the report's first line.
    static let contextLines = 10
    /// The most log lines shown for a report.
    static let maxReportLines = 200
    /// The most blocked tasks shown with their stacks.
    static let maxBlockedTasks = 10

    /// One part of the report: its value, or why it could not be read.
    public enum Part<Value> {
        case value(Value)
        case failed(String)

        var value: Value? { if case let .value(v) = self { return v }; return nil }

        static func reading(_ what: String, _ body: () throws -> Value) -> Part {
            do { return .value(try body()) } catch let e as CommandError { return .failed(e.message) } catch {
                return .failed("\(what): \(error)")
            }
        }
    }

    public struct ModuleEntry {
        public var name: String
        public var address: UInt64
        public var taintLetters: String
        /// "proprietary", "out-of-tree", "unsigned" for the module's taint letters P, O, E.
        public var flags: [String]
    }

    public struct BlockedEntry {
        public var blocked: BlockedTask
        public var trace: BtCommand.TraceResult?
        public var traceError: String?
    }

    public struct Report: CommandResult {
        public var dumpPath: String
        public var dumpFormat: String
        public var kernelPath: String?
        public var buildID: String?
        public var facts: SystemFacts?
        public var logReport: CrashLogReport?
        public var signature: CrashSignature
        public var panicTask: Part<BtCommand.TraceResult>
        public var otherCPUs: [(cpu: Int, trace: Part<BtCommand.TraceResult>)]
        public var taint: Part<(mask: UInt64, letters: [Character])>
        public var modules: Part<[ModuleEntry]>
        public var blocked: Part<(tasks: [BlockedEntry], total: Int)>
        public var memory: Part<KmemCommand.MemoryInfoResult>
        public var problems: [String]

        /// The log lines shown: a few before the report, the report whole (bounded), else the
        /// log's last lines.
        var shownLog: ArraySlice<CrashLogLine> {
            guard let r = logReport else { return [] }
            guard let start = r.reportStart, let end = r.reportEnd, start <= end else {
                return r.lines.suffix(TriageCommand.contextLines * 3)
            }
            let from = max(0, start - TriageCommand.contextLines)
            return r.lines[from...min(end, from + TriageCommand.maxReportLines - 1)]
        }

        static func logTime(_ ns: UInt64) -> String {
            let micro = ns / 1000
            let frac = String(micro % 1_000_000)
            return rjust(String(micro / 1_000_000), 5) + "." + String(repeating: "0", count: 6 - frac.count) + frac
        }

        public func renderText() -> String {
            var out = "CRASH: \(signature.title)\n"
            let source = signature.frames.isEmpty ? "no frames" : "\(signature.frameSource.rawValue) frames: "
                + signature.frames.joined(separator: " < ")
            out += "  kind \(signature.kind.rawValue), signature \(signature.hash) (\(source))\n"
            if let p = logReport?.panicString, !signature.title.contains(p) { out += "  panic: \(p)\n" }
            if let h = logReport?.header, h != signature.title, !(logReport?.panicString.map { h.hasSuffix($0) } ?? false) {
                out += "  report: \(h)\n"
            }
            let f = facts
            out += "\nKERNEL: \(f?.release ?? "(unknown)")  \(f?.version ?? "")\n"
            if let b = buildID { out += "  build-id: \(b)\n" }
            out += "  machine: \(f?.machine ?? "(unknown)")  node: \(f?.nodename ?? "(unknown)")  cpus: "
                + (f?.cpusPresent.map(String.init) ?? "(unknown)") + "\n"
            out += "  dump: \(dumpPath) (\(dumpFormat))  vmlinux: \(kernelPath ?? "(none)")\n"
            var when = "DATE: " + (f?.date.map(SysCommand.ctimeUTC) ?? "(unknown)")
            if let j = f?.uptimeJiffies, let hz = f?.hz, hz > 0 { when += "  uptime: " + PsCommand.clockText(seconds: j / hz) }
            if let p = logReport?.panicLine, let r = logReport {
                when += "  panic at log time \(Self.logTime(r.lines[p].timestampNanoseconds).drop { $0 == " " })"
            }
            out += when + "\n"
            switch taint {
            case let .value(t) where t.mask == 0: out += "TAINT: not tainted\n"
            case let .value(t):
                out += "TAINT: \(String(t.letters)) (0x\(String(t.mask, radix: 16)))\n"
                for l in t.letters { out += "  \(l): \(TaintDescription.meanings[l] ?? "(no description)")\n" }
            case let .failed(e): out += "TAINT: (\(e))\n"
            }

            out += "\nPANIC TASK:\n"
            switch panicTask {
            case let .value(t): out += t.renderText()
            case let .failed(e): out += "  (\(e))\n"
            }
            if !otherCPUs.isEmpty {
                out += "\nOTHER CPUS:\n"
                for (i, c) in otherCPUs.enumerated() {
                    if i > 0 { out += "\n" }
                    switch c.trace {
                    case let .value(t): out += t.renderText()
                    case let .failed(e): out += "CPU \(c.cpu): (\(e))\n"
                    }
                }
            }

            out += "\nLOG:\n"
            let log = shownLog
            if log.isEmpty { out += "  (no log)\n" }
            for l in log { out += "[\(Self.logTime(l.timestampNanoseconds))] \(l.text)\n" }

            out += "\nMODULES:"
            switch modules {
            case let .value(list):
                let flagged = list.filter { !$0.flags.isEmpty }
                out += " \(list.count) loaded" + (flagged.isEmpty ? ", none proprietary, out-of-tree or unsigned" : "") + "\n"
                for m in flagged { out += "  \(m.name): \(m.flags.joined(separator: ", ")) (\(m.taintLetters))\n" }
                var line = " "
                for m in list {
                    if line.count + m.name.count + 1 > 96 { out += line + "\n"; line = " " }
                    line += " " + m.name
                }
                if line.count > 1 { out += line + "\n" }
            case let .failed(e): out += " (\(e))\n"
            }

            out += "\nBLOCKED TASKS (D state):"
            switch blocked {
            case let .value(b) where b.total == 0: out += " none\n"
            case let .value(b):
                out += " \(b.total)" + (b.total > b.tasks.count ? ", the \(b.tasks.count) waiting longest:" : "") + "\n"
                for e in b.tasks {
                    let waited = e.blocked.waitedNanoseconds.map { Self.duration($0) } ?? "(unknown)"
                    out += "\nwaiting \(waited)\n"
                    if let t = e.trace { out += t.renderText() } else { out += taskHeader(e.blocked.task) + "\n  (\(e.traceError ?? "no trace"))\n" }
                }
            case let .failed(e): out += " (\(e))\n"
            }

            out += "\nMEMORY:\n"
            switch memory {
            case let .value(m): out += m.renderText()
            case let .failed(e): out += "  (\(e))\n"
            }
            let kills = logReport?.oomKills ?? []
            out += "OOM: " + (signature.kind == .oom ? "the kernel panicked out of memory; " : "")
                + (kills.isEmpty ? "no OOM kills in the log\n" : "\(kills.count) OOM kill(s), the last: \(kills[kills.count - 1])\n")
            if !problems.isEmpty {
                out += "\nPROBLEMS:\n" + problems.map { "  \($0)\n" }.joined()
            }
            return out
        }

        /// crash's ps -m duration: "[days HH:MM:SS.mmm]".
        static func duration(_ ns: UInt64) -> String {
            let ms = ns / 1_000_000
            let s = ms / 1000
            let days = s / 86400
            func two(_ v: UInt64) -> String { v < 10 ? "0\(v)" : "\(v)" }
            let frac = String(ms % 1000)
            return "[\(days) \(two((s % 86400) / 3600)):\(two((s % 3600) / 60)):\(two(s % 60)).\(String(repeating: "0", count: 3 - frac.count))\(frac)]"
        }

        public func renderJSON() -> JSONValue {
            func str(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }
            func part<V>(_ p: Part<V>, _ body: (V) -> JSONValue) -> JSONValue {
                switch p {
                case let .value(v): return body(v)
                case let .failed(e): return .object([("error", .string(e))])
                }
            }
            let f = facts
            var uptime = JSONValue.null
            if let j = f?.uptimeJiffies, let hz = f?.hz, hz > 0 { uptime = .uint(j / hz) }
            let r = logReport
            let pairs: [(String, JSONValue)] = [
                ("dump", .string(dumpPath)),
                ("format", .string(dumpFormat)),
                ("kernel", str(kernelPath)),
                ("system", .object([
                    ("release", str(f?.release)), ("version", str(f?.version)), ("build_id", str(buildID)),
                    ("machine", str(f?.machine)), ("nodename", str(f?.nodename)),
                    ("cpus", f?.cpusPresent.map { .int(Int64($0)) } ?? .null),
                    ("date", f?.date.map { .int($0) } ?? .null), ("uptime_seconds", uptime),
                ])),
                ("signature", .object([
                    ("title", .string(signature.title)), ("kind", .string(signature.kind.rawValue)),
                    ("hash", .string(signature.hash)), ("frames", .array(signature.frames.map { .string($0) })),
                    ("frame_source", .string(signature.frameSource.rawValue)),
                ])),
                ("panic", .object([
                    ("message", str(r?.panicString)), ("header", str(r?.header)), ("culprit", str(r?.culprit)),
                    ("log_time_ns", r?.panicLine.map { .wide(r?.lines[$0].timestampNanoseconds ?? 0) } ?? .null),
                ])),
                ("panic_task", part(panicTask) { $0.renderJSON() }),
                ("other_cpus", .array(otherCPUs.map { c in
                    part(c.trace) { $0.renderJSON() }
                })),
                ("log", .array(shownLog.map { .object([("timestamp_ns", .wide($0.timestampNanoseconds)), ("text", .string($0.text))]) })),
                ("taint", part(taint) { t in
                    .object([("mask", .wide(t.mask)), ("letters", .string(String(t.letters))),
                             ("flags", .array(t.letters.map { l in
                                 .object([("letter", .string(String(l))), ("meaning", str(TaintDescription.meanings[l]))])
                             }))])
                }),
                ("modules", part(modules) { list in
                    .array(list.map { m in
                        .object([("name", .string(m.name)), ("module", .address(m.address)), ("taints", .string(m.taintLetters)),
                                 ("flags", .array(m.flags.map { .string($0) }))])
                    })
                }),
                ("blocked_tasks", part(blocked) { b in
                    .object([("total", .int(Int64(b.total))), ("tasks", .array(b.tasks.map { e in
                        .object([("task", taskJSON(e.blocked.task)),
                                 ("waited_ns", e.blocked.waitedNanoseconds.map { .wide($0) } ?? .null),
                                 ("backtrace", e.trace.map { $0.renderJSON() } ?? .object([("error", str(e.traceError))]))])
                    }))])
                }),
                ("memory", part(memory) { $0.renderJSON() }),
                ("oom", .object([("panicked", .bool(signature.kind == .oom)),
                                 ("kills", .array((r?.oomKills ?? []).map { .string($0) }))])),
                ("problems", .array(problems.map { .string($0) })),
            ]
            return .object(pairs)
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard arguments.isEmpty else {
            throw CommandError("unexpected argument \(arguments[0]) (usage: triage; outside the shell: crashsh triage DUMP...)")
        }
        return try report(session: session)
    }

    /// The report of the session's dump. Throws only when the kernel cannot be read at all (no
    /// vmlinux, a vmlinux of another kernel); every part after that reports its own failure.
    public static func report(session: Session) throws -> Report {
        let kernel = try session.crashedKernel()
        var problems: [String] = []
        let summary = session.dump.summary()
        let facts = SystemFacts(kernel: kernel)
        var logReport: CrashLogReport?
        do {
            logReport = CrashLogReport(log: try kernel.log())
        } catch {
            problems.append("log: \(error)")
        }
        let index = try? kernel.tasks()
        var options = BtCommand.Options()
        options.lines = true
        options.symbolOffsets = true
        options.hexOffsets = true
        func trace(_ t: KernelTask) -> Part<BtCommand.TraceResult> {
            Part.reading("bt") { try BtCommand.trace(task: t, session: session, options: options) }
        }
        let panicTask: Part<BtCommand.TraceResult>
        if let t = kernel.panicTask() ?? (try? kernel.currentTask()) {
            panicTask = trace(t)
        } else {
            panicTask = .failed("no panic task: panic_cpu and the active tasks could not be read")
        }
        var others: [(Int, Part<BtCommand.TraceResult>)] = []
        if let index {
            let panicAddress = panicTask.value?.task.address
            for (cpu, a) in index.activeTasks.enumerated() {
                guard let a, a != panicAddress, let t = index.task(address: a) else { continue }
                if session.interruptRequested() { throw CommandError.interrupted }
                others.append((cpu, trace(t)))
            }
        }
        let stackFunctions = panicTask.value?.frames.compactMap(\.symbol) ?? []
        let signature = CrashSignature(report: logReport ?? CrashLogReport(lines: []), stackFrames: stackFunctions)

        let taint = Part<(mask: UInt64, letters: [Character])>.reading("taint") {
            guard let mask = kernel.taintedMask() else { throw CommandError("tainted_mask cannot be read") }
            return (mask, mask == 0 ? [] : try kernel.taintLetters(mask))
        }
        let modules = Part<[ModuleEntry]>.reading("modules") {
            let index = session.moduleSymbols()
            if let e = index.loadError { throw e }
            let flags = index.modules.contains { ($0.module.taints ?? 0) != 0 }
                ? try ModuleListReader(memory: kernel.memory).taintFlags() : []
            return index.modules.map { m in
                let bits = m.module.taints ?? 0
                let letters = flags.filter { $0.appliesToModules && $0.bit < 64 && bits & (1 << UInt64($0.bit)) != 0 }.map(\.letter)
                let named = TaintDescription.moduleFlags.filter { letters.contains($0.letter) }.map(\.name)
                return ModuleEntry(name: m.module.name, address: m.module.address, taintLetters: String(letters), flags: named)
            }
        }
        let blocked = Part<(tasks: [BlockedEntry], total: Int)>.reading("blocked tasks") {
            let found = try kernel.blockedTasks(limit: maxBlockedTasks)
            return (found.tasks.map { b in
                switch trace(b.task) {
                case let .value(t): return BlockedEntry(blocked: b, trace: t)
                case let .failed(e): return BlockedEntry(blocked: b, trace: nil, traceError: e)
                }
            }, found.total)
        }
        let memory = Part<KmemCommand.MemoryInfoResult>.reading("memory") {
            guard let r = try KmemCommand.run(["-i"], in: session) as? KmemCommand.MemoryInfoResult else {
                throw CommandError("kmem -i gave no summary")
            }
            return r
        }
        return Report(dumpPath: session.dump.path, dumpFormat: summary.format.rawValue, kernelPath: session.vmlinuxPath,
                      buildID: session.vmcoreinfo?.buildID, facts: facts, logReport: logReport, signature: signature,
                      panicTask: panicTask, otherCPUs: others.map { (cpu: $0.0, trace: $0.1) }, taint: taint,
                      modules: modules, blocked: blocked, memory: memory, problems: problems)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Commands
import Foundation

/// `crashsh triage [--json] [--buckets] [--jobs N] [--vmlinux FILE] DUMP...`: the triage report
/// of each dump, and the dumps grouped by crash signature.
///
/// One dump is triaged in this process. Several are triaged by child processes of this same
/// binary (`crashsh --json -c triage DUMP [VMLINUX]`), as many at a time as the cores and the
/// available memory allow: a dump that crashes or hangs its reader takes down only its own
/// child, and no state is shared between dumps.
struct TriageCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crashsh triage",
        abstract: "Triage kernel crash dumps: one report per dump, and the dumps grouped by crash signature.",
        discussion: """
        With one dump, prints its triage report (as the shell's `triage` command). With several, \
        triages them in parallel and prints one line per dump (the report as JSON with --json, \
        else its signature and title), then the buckets: the dumps grouped by signature, with \
        their count, the first and last crash dates and an example dump. See docs/triage.md.
        """)

    @Flag(name: .long, help: "JSON Lines: one {\"command\":\"triage\",\"result\":...} line per dump, then the buckets.")
    var json = false

    @Flag(name: .long, help: "Print only the buckets (the dumps grouped by signature).")
    var buckets = false

    @Option(name: .long, help: ArgumentHelp("The vmlinux with debuginfo for every dump (else looked up per dump).", valueName: "file"))
    var vmlinux: String?

    @Option(name: .long, help: "How many dumps to triage at once (default: as many as the cores and memory allow).")
    var jobs: Int?

    @Flag(name: .customLong("ignore-mismatch"), help: "Use the vmlinux even if it does not match a dump.")
    var ignoreMismatch = false

    @Argument(help: ArgumentHelp("The dump files.", valueName: "dump"))
    var dumps: [String] = []

    func validate() throws {
        if dumps.isEmpty { throw ValidationError("missing the dump file(s)") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        if dumps.count == 1 && !buckets {
            try triageHere(dumps[0])
            return
        }
        let outcomes = TriageRunner(executable: TriageRunner.selfExecutable(), vmlinux: vmlinux,
                                    ignoreMismatch: ignoreMismatch)
            .run(dumps: dumps, jobs: jobs ?? TriageRunner.defaultJobs(dumpCount: dumps.count)) { outcome in
                guard !buckets else {
                    if outcome.failed { Terminal.error(outcome.summaryText) }
                    return
                }
                Terminal.write((json ? outcome.line : outcome.summaryText) + "\n", to: Terminal.standardOutput)
            }
        let groups = TriageBuckets.group(outcomes)
        if json {
            Terminal.write(TriageBuckets.jsonLine(groups) + "\n", to: Terminal.standardOutput)
        } else {
            Terminal.write(TriageBuckets.text(groups), to: Terminal.standardOutput)
        }
        if outcomes.contains(where: { $0.failed }) { throw ExitCode.failure }
    }

    /// The report of one dump, made in this process.
    func triageHere(_ dump: String) throws {
        let session: Session
        do {
            session = try InputFiles.openSession(files: [dump] + (vmlinux.map { [$0] } ?? []))
        } catch {
            let message = "crashsh: \(InputFiles.describe(error))"
            Terminal.error(message)
            if json { Terminal.write(TriageOutcome.errorLine(message) + "\n", to: Terminal.standardOutput) }
            throw ExitCode.failure
        }
        session.ignoreMismatch = ignoreMismatch
        session.jsonOutput = json
        let shell = Shell(session: session)
        shell.run(line: "triage")
        if shell.anyFailed { throw ExitCode.failure }
    }
}

/// What triaging one dump gave: its JSON line, and the facts the buckets need.
struct TriageOutcome: Sendable {
    var dump: String
    /// The `{"command":"triage",...}` line, with `result` or `error`.
    var line: String
    var failed: Bool
    var hash: String?
    var title: String?
    var kind: String?
    /// The crash's date (seconds since the epoch), when the kernel's clock could be read.
    var date: Int64?

    static func errorLine(_ message: String) -> String {
        JSONValue.object([("command", .string("triage")), ("error", .string(message))]).rendered()
    }

    /// From a child's standard output and error.
    init(dump: String, stdout: String, stderr: String, status: Int32) {
        self.dump = dump
        let line = stdout.split(separator: "\n").first.map(String.init) ?? ""
        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        if let result = object?["result"] as? [String: Any] {
            self.line = line
            failed = false
            let signature = result["signature"] as? [String: Any]
            hash = signature?["hash"] as? String
            title = signature?["title"] as? String
            kind = signature?["kind"] as? String
            date = ((result["system"] as? [String: Any])?["date"] as? NSNumber)?.int64Value
        } else {
            failed = true
            var message = (object?["error"] as? String)
                ?? stderr.split(separator: "\n").first.map(String.init)
                ?? "crashsh: triage exited with status \(status)"
            if !message.contains(dump) { message += " (\(dump))" }
            self.line = Self.errorLine(message)
        }
    }

    var summaryText: String {
        failed ? "\(dump): " + ((try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["error"] as? String ?? "failed")
            : "\(dump): \(hash ?? "-")  \(title ?? "")"
    }
}

/// Runs `crashsh --json -c triage` children over a bounded pool of worker threads.
struct TriageRunner: Sendable {
    var executable: String
    var vmlinux: String?
    var ignoreMismatch: Bool

    /// Memory one child may use (its vmlinux index and the dump's page cache are shared or mapped).
    static let bytesPerChild: UInt64 = 512 << 20

    /// The path of this binary.
    static func selfExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 { return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments[0]
    }

    /// As many children as there are cores, fewer when the available memory would not hold them.
    static func defaultJobs(dumpCount: Int) -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var byMemory = cores
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) {
            byMemory = Int(min(UInt64(Int.max), max(1, kb * 1024 / bytesPerChild)))
        }
        return max(1, min(cores, byMemory, dumpCount))
    }

    /// Triages `dumps`, `jobs` at a time; `report` is called (one at a time) as each finishes.
    /// Returns the outcomes in the order of `dumps`.
    func run(dumps: [String], jobs: Int, report: @escaping @Sendable (TriageOutcome) -> Void) -> [TriageOutcome] {
        let state = PoolState(count: dumps.count)
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, dumps.count))) { _ in
            while let i = state.next() {
                let outcome = triage(dumps[i])
                state.finish(i, outcome, report: report)
            }
        }
        return state.results()
    }

    /// One child: its output and its exit status.
    func triage(_ dump: String) -> TriageOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        var arguments = ["--json", "-c", "triage"]
        if ignoreMismatch { arguments.append("--ignore-mismatch") }
        arguments.append(dump)
        if let vmlinux { arguments.append(vmlinux) }
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        // Standard error goes to a file: a pipe read after standard output could fill and stall the child.
        let errPath = NSTemporaryDirectory() + "crashsh-triage-\(getpid())-\(UUID().uuidString).err"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let errHandle = FileHandle(forWritingAtPath: errPath)
        process.standardError = errHandle ?? FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return TriageOutcome(dump: dump, stdout: "", stderr: "crashsh: cannot start \(executable): \(error)", status: -1)
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? errHandle?.close()
        let errText = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return TriageOutcome(dump: dump, stdout: String(decoding: data, as: UTF8.self), stderr: errText,
                             status: process.terminationStatus)
    }
}

/// The work queue and results of one run, shared by its worker threads under a lock.
private final class PoolState: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private var outcomes: [TriageOutcome?]

    init(count: Int) { outcomes = Array(repeating: nil, count: count) }

    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard nextIndex < outcomes.count else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func finish(_ i: Int, _ outcome: TriageOutcome, report: (TriageOutcome) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        outcomes[i] = outcome
        report(outcome)
    }

    func results() -> [TriageOutcome] {
        lock.lock()
        defer { lock.unlock() }
        return outcomes.compactMap { $0 }
    }
}

/// Dumps grouped by crash signature.
enum TriageBuckets {
    struct Bucket {
        var hash: String
        var title: String
        var kind: String?
        var dumps: [String]
        var firstSeen: Int64?
        var lastSeen: Int64?
    }

    /// The buckets of the dumps that were triaged, the largest first (ties: the first seen
    /// dump's order). Dumps that failed are not in any.
    static func group(_ outcomes: [TriageOutcome]) -> [Bucket] {
        var order: [String] = []
        var byHash: [String: Bucket] = [:]
        for o in outcomes where !o.failed {
            guard let hash = o.hash else { continue }
            if byHash[hash] == nil { order.append(hash) }
            var b = byHash[hash] ?? Bucket(hash: hash, title: o.title ?? "", kind: o.kind, dumps: [])
            b.dumps.append(o.dump)
            if let d = o.date {
                b.firstSeen = min(b.firstSeen ?? d, d)
                b.lastSeen = max(b.lastSeen ?? d, d)
            }
            byHash[hash] = b
        }
        let buckets = order.compactMap { byHash[$0] }
        return buckets.enumerated().sorted { a, b in
            a.element.dumps.count != b.element.dumps.count ? a.element.dumps.count > b.element.dumps.count : a.offset < b.offset
        }.map(\.element)
    }

    static func jsonLine(_ buckets: [Bucket]) -> String {
        JSONValue.object([
            ("command", .string("triage --buckets")),
            ("result", .object([("buckets", .array(buckets.map { b in
                .object([("signature", .string(b.hash)), ("title", .string(b.title)),
                         ("kind", b.kind.map { .string($0) } ?? .null), ("count", .int(Int64(b.dumps.count))),
                         ("first_seen", b.firstSeen.map { .int($0) } ?? .null),
                         ("last_seen", b.lastSeen.map { .int($0) } ?? .null),
                         ("example", .string(b.dumps.first ?? "")), ("dumps", .array(b.dumps.map { .string($0) }))])
            }))])),
        ]).rendered()
    }

    static func text(_ buckets: [Bucket]) -> String {
        var out = "\nBUCKETS: \(buckets.count)\n"
        for b in buckets {
            out += "\n\(b.hash)  \(b.dumps.count) dump\(b.dumps.count == 1 ? "" : "s")  \(b.title)\n"
            out += "  first seen: " + (b.firstSeen.map(Self.date) ?? "(unknown)")
                + "  last seen: " + (b.lastSeen.map(Self.date) ?? "(unknown)") + "\n"
            out += "  example: \(b.dumps.first ?? "")\n"
        }
        return out
    }

    static func date(_ seconds: Int64) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

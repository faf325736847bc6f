import Foundation
import Testing
@testable import Commands
import DumpModel
import TestSupport

/// `triage` and `crashsh triage` on the eight fixture dumps, which are one bug (a sysrq crash)
/// in two boots, six dump formats and two KASLR offsets: one signature, one bucket; the text
/// report against crash 8.0.6's own output (bt, log, mod, ps -m).
@Suite(Harness.needsFixtureSet)
struct TriageTests {
    static let allDumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps
    static var vmlinux: String { Harness.fixture(Harness.vmlinuxName) }

    static func reference(_ dump: String, _ file: String) throws -> String {
        try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/\(dump)/\(file)"), encoding: .utf8)
    }

    static func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// `crashsh --json -c triage` on each dump: the same signature, a title with the panic string.
    @Test func everyDumpHasTheSameSignature() throws {
        var hashes: Set<String> = []
        for dump in Self.allDumps {
            let run = try Harness.run(["--json", "-c", "triage", Harness.fixture(dump), Self.vmlinux])
            #expect(run.exitCode == 0, "\(dump): \(run.stderr)")
            let result = try Harness.jsonResult(run.stdout, command: "triage")
            let signature = try #require(result["signature"] as? [String: Any])
            #expect(signature["title"] as? String == "Kernel panic - not syncing: sysrq triggered crash", "\(dump)")
            #expect(signature["kind"] as? String == "panic")
            #expect((signature["frames"] as? [String])?.first == "sysrq_handle_crash", "\(dump)")
            hashes.insert(try #require(signature["hash"] as? String))
            // The panic task's own frames hold the sysrq handler, as crash's bt shows.
            let frames = try #require((result["panic_task"] as? [String: Any])?["frames"] as? [[String: Any]])
            #expect(frames.contains { $0["symbol"] as? String == "sysrq_handle_crash" }, "\(dump)")
        }
        #expect(hashes.count == 1, "\(hashes)")
    }

    /// The signature from the unwound stack alone (a dump whose log lost the trace) is the one
    /// the log's trace gives, on both boots.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func stackAndLogGiveOneSignature(_ dump: String) throws {
        let session = try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: Self.vmlinux)
        let report = try TriageCommand.report(session: session)
        let log = try #require(report.logReport)
        var withoutTrace = log
        withoutTrace.traceFrames = []
        let stack = report.panicTask.value?.frames.compactMap(\.symbol) ?? []
        let fromStack = CrashSignature(report: withoutTrace, stackFrames: stack)
        #expect(fromStack.frameSource == .stack)
        #expect(report.signature.frameSource == .log)
        #expect(fromStack.frames == report.signature.frames)
        #expect(fromStack.hash == report.signature.hash)
    }

    /// The text report: the panic, the panic task's frames as crash's bt names them, the log's
    /// last lines as crash's log prints them, every module crash's mod lists.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func textReport(_ dump: String) throws {
        let run = try Harness.run(["-c", "triage", Harness.fixture(dump), Self.vmlinux])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let text = run.stdout
        #expect(text.hasPrefix("CRASH: Kernel panic - not syncing: sysrq triggered crash\n"))
        let panicSection = try #require(text.components(separatedBy: "\nPANIC TASK:\n").last?
            .components(separatedBy: "\nOTHER CPUS:\n").first)
        // crash's bt of the panic task names these functions from the sysrq handler down.
        let bt = try Self.reference(dump, "bt.txt")
        #expect(panicSection.contains("sysrq_handle_crash"))
        for name in ["sysrq_handle_crash", "write_sysrq_trigger", "vfs_write", "ksys_write"] where bt.contains(name) {
            #expect(panicSection.contains(" \(name)+0x"), "\(name)")
        }
        // The last lines of crash's log, as it prints them.
        let log = try Self.reference(dump, "log.txt").split(separator: "\n")
        for line in log.suffix(3) { #expect(text.contains(line + "\n"), "\(line)") }
        // Every module of crash's mod.
        let modules = try Self.reference(dump, "mod.txt").split(separator: "\n").dropFirst()
            .compactMap { $0.split(separator: " ").dropFirst().first }
        #expect(!modules.isEmpty)
        let modSection = try #require(text.components(separatedBy: "\nMODULES:").last)
        for m in modules { #expect(modSection.contains(" \(m)"), "\(m)") }
        #expect(modSection.hasPrefix(" \(modules.count) loaded, none proprietary, out-of-tree or unsigned\n"))
        #expect(text.contains("\nTAINT: not tainted\n"))
        #expect(text.contains("\nBLOCKED TASKS (D state): none\n"))
        // kmem -i's summary, as crash prints it.
        #expect(text.contains(try Self.reference(dump, "kmem_-i.txt")))
    }

    /// `crashsh triage --json --vmlinux V` over the eight: eight reports, then one bucket of eight
    /// with the crash dates of both boots and an example dump.
    @Test func manyDumpsOneBucket() throws {
        let run = try Harness.run(["triage", "--json", "--vmlinux", Self.vmlinux] + Self.allDumps.map(Harness.fixture),
                                  timeout: 300)
        #expect(run.exitCode == 0, "\(run.stderr)")
        let lines = try Self.jsonLines(run.stdout)
        #expect(lines.count == 9)
        let reports = lines.filter { $0["command"] as? String == "triage" }
        #expect(reports.count == 8)
        let dumps = Set(reports.compactMap { ($0["result"] as? [String: Any])?["dump"] as? String })
        #expect(dumps == Set(Self.allDumps.map(Harness.fixture)))
        let last = try #require(lines.last)
        #expect(last["command"] as? String == "triage --buckets")
        let buckets = try #require((last["result"] as? [String: Any])?["buckets"] as? [[String: Any]])
        #expect(buckets.count == 1)
        let b = try #require(buckets.first)
        #expect(b["count"] as? Int == 8)
        #expect(b["title"] as? String == "Kernel panic - not syncing: sysrq triggered crash")
        #expect((b["dumps"] as? [String]).map(Set.init) == dumps)
        #expect(dumps.contains(b["example"] as? String ?? ""))
        // The kdump boot crashed before the QEMU one: first and last seen are the two dates.
        let dates = reports.compactMap { (($0["result"] as? [String: Any])?["system"] as? [String: Any])?["date"] as? Int }
        #expect(Set(dates).count == 2)
        #expect(b["first_seen"] as? Int == dates.min())
        #expect(b["last_seen"] as? Int == dates.max())
        var problems: [String] = []
        SchemaValidator.validate(last["result"] as Any, against: try JSONSchemaTests.schema("triage-buckets"),
                                 at: "triage --buckets", problems: &problems)
        #expect(problems.isEmpty, "\(problems)")
    }

    /// A dump that cannot be read is its own error line; the others are still triaged.
    @Test func oneBadDumpAmongGoodOnes() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("not-a-dump").path
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: bad))
        let run = try Harness.run(["triage", "--json", "--vmlinux", Self.vmlinux, Harness.fixture("dump.kdump"), bad])
        #expect(run.exitCode == 1)
        let lines = try Self.jsonLines(run.stdout)
        #expect(lines.count == 3)
        let errors = lines.compactMap { $0["error"] as? String }
        #expect(errors.count == 1 && errors[0].contains(bad), "\(errors)")
        let buckets = (lines.last?["result"] as? [String: Any])?["buckets"] as? [[String: Any]]
        #expect(buckets?.first?["count"] as? Int == 1)
    }

    /// How long each task has been in its state, as crash's `ps -m` prints it (the run queue
    /// clock of the task's CPU minus sched_info.last_arrival): what the D-state list shows.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func waitedTimesEqualCrashPsM(_ dump: String) throws {
        let session = try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: Self.vmlinux)
        let kernel = try session.crashedKernel()
        let index = try kernel.tasks()
        let expected = try String(contentsOf: Harness.packageRoot.appendingPathComponent(
            "Tests/EndToEndTests/Expected/triage/\(dump)/ps_-m.txt"), encoding: .utf8)
        var compared = 0
        for line in expected.split(separator: "\n") {
            guard let close = line.firstIndex(of: "]"), let taskRange = line.range(of: "TASK: ") else { continue }
            let duration = String(line[...close])
            let address = line[taskRange.upperBound...].prefix { $0 != " " }
            let task = try #require(UInt64(address, radix: 16).flatMap { index.task(address: $0) })
            let waited = try #require(kernel.waitedNanoseconds(of: task), "\(line)")
            #expect(TriageCommand.Report.duration(waited) == duration, "\(line)")
            compared += 1
        }
        #expect(compared == index.tasks.count)
        let blocked = try kernel.blockedTasks(limit: 10)
        #expect(blocked.total == expected.split(separator: "\n").filter { $0.contains("] [UN]") }.count)
    }

    /// scripts/fleet-triage.py in the engine's local mode: the same bucket as crashsh's own.
    @Test(.enabled(if: TriageTests.daskInstalled, "dask.distributed is not installed (pip install 'dask[distributed]')"))
    func fleetDriverLocalMode() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A tree of dumps, as a fleet's collector lays them out, with a file that is not a dump.
        for (i, dump) in Self.allDumps.enumerated() {
            let host = dir.appendingPathComponent("host\(i % 3)")
            try FileManager.default.createDirectory(at: host, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: host.appendingPathComponent(dump).path,
                                                       withDestinationPath: Harness.fixture(dump))
        }
        try Data("not a dump\n".utf8).write(to: dir.appendingPathComponent("host0/README"))
        let out = try Harness.runTool("/usr/bin/env", ["python3", Harness.packageRoot.appendingPathComponent("scripts/fleet-triage.py").path,
                                                       "--crashsh", try Harness.binary.get(), "--vmlinux", Self.vmlinux,
                                                       "--workers", "2", dir.path], cwd: dir)
        let lines = try Self.jsonLines(out)
        #expect(lines.count == 9)
        let buckets = try #require((lines.last?["result"] as? [String: Any])?["buckets"] as? [[String: Any]])
        #expect(buckets.count == 1)
        #expect(buckets.first?["count"] as? Int == 8)
        let local = try Harness.run(["triage", "--json", "--buckets", "--vmlinux", Self.vmlinux] + Self.allDumps.map(Harness.fixture),
                                    timeout: 300)
        let own = try #require((try Self.jsonLines(local.stdout).last?["result"] as? [String: Any])?["buckets"] as? [[String: Any]])
        #expect(own.first?["signature"] as? String == buckets.first?["signature"] as? String)
        #expect(own.first?["title"] as? String == buckets.first?["title"] as? String)
    }

    static let daskInstalled: Bool = {
        (try? Tool.run("/usr/bin/env", ["python3", "-c", "import dask.distributed"]).status) == 0
    }()
}

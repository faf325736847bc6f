import Foundation
import Testing
@testable import Commands
@testable import DumpModel

/// ps, runq, sys and set on every fixture dump against what crash 8.0.6 printed
/// (refs/crash-8.0.6/<dump>/), byte for byte; their JSON values; the task context.
@Suite(Harness.needsFixtureSet)
struct KernelViewTests {
    static let allDumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps

    static func session(_ dump: String) throws -> Session {
        try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
    }

    static func reference(_ dump: String, _ file: String) throws -> String {
        try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/\(dump)/\(file)"), encoding: .utf8)
    }

    /// Runs crashsh on `dump` from the fixture folder (so the paths sys prints are crash's).
    static func crashsh(_ command: String, _ dump: String) throws -> Harness.Run {
        try Harness.run(["-c", command, dump, Harness.vmlinuxName], cwd: URL(fileURLWithPath: Harness.fixture(".")))
    }

    @Test(arguments: allDumps)
    func psEqualsCrash(_ dump: String) throws {
        for (command, file) in [("ps", "ps.txt"), ("ps -t", "ps_-t.txt"), ("ps -S", "ps_-S.txt")] {
            let run = try Self.crashsh(command, dump)
            #expect(run.stderr == "", "\(dump): \(command)")
            #expect(run.stdout == (try Self.reference(dump, file)), "\(dump): \(command)")
        }
    }

    /// crash prints `ps -a` errors into its output; crashsh prints them on standard error.
    @Test(arguments: allDumps)
    func psArgumentsEqualCrash(_ dump: String) throws {
        let run = try Self.crashsh("ps -a 1", dump)
        let reference = try Self.reference(dump, "ps_-a_1.txt")
        if run.exitCode == 0 {
            #expect(run.stdout == reference, "\(dump)")
        } else {
            let lines = reference.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(run.stdout == lines[0] + "\n", "\(dump)")
            #expect(run.stderrLines == [lines[1]], "\(dump)")
        }
    }

    @Test(arguments: allDumps)
    func runqSysSetEqualCrash(_ dump: String) throws {
        for (command, file) in [("runq", "runq.txt"), ("sys", "sys.txt"), ("set", "set.txt"), ("sys -i", "sys_-i.txt")] {
            let run = try Self.crashsh(command, dump)
            #expect(run.stderr == "", "\(dump): \(command)")
            #expect(run.stdout == (try Self.reference(dump, file)), "\(dump): \(command)")
        }
    }

    /// The JSON of ps carries the values the text shows, per the JSON Lines contract.
    @Test func psAndRunqJSON() throws {
        let session = try Self.session("dump.kdump")
        session.jsonOutput = true
        let ps = try Harness.jsonObject(session, "ps")
        let tasks = try #require(ps["tasks"] as? [[String: Any]])
        #expect(tasks.count == 63)
        let initTask = try #require(tasks.first { ($0["pid"] as? Int) == 1 })
        #expect(initTask["task"] as? String == "0xffff8a15411f8000")
        #expect(initTask["state"] as? String == "RU")
        #expect(initTask["active"] as? Bool == true)
        #expect(initTask["rss_kb"] as? Int == 1796)
        #expect(initTask["vsz_kb"] as? Int == 2260)
        let runq = try Harness.jsonObject(session, "runq")
        let cpus = try #require(runq["cpus"] as? [[String: Any]])
        #expect(cpus.map { $0["runqueue"] as? String } == ["0xffff8a155f031980", "0xffff8a155f131980"])
        #expect(((cpus[1]["cfs"] as? [[String: Any]])?.first?["pid"] as? Int) == 115)
        let sys = try Harness.jsonObject(session, "sys")
        #expect(sys["panic"] as? String == "Kernel panic - not syncing: sysrq triggered crash")
        #expect(sys["tasks"] as? Int == 63)
    }

    /// `set PID` changes the context that vtop and rd -u use; `set -p` goes back to the panic task.
    @Test func contextFollowsSet() throws {
        let session = try Self.session("qemu.elf")
        guard case let .output(text) = Harness.runCommand(session, "set 117") else { Issue.record("set 117 failed"); return }
        #expect(text.hasPrefix("    PID: 117\nCOMMAND: \"md5sum\"\n"))
        #expect(text.hasSuffix("  STATE: TASK_RUNNING (ACTIVE)\n"))
        #expect(try session.crashedKernel().currentTask().pid == 117)
        guard case let .output(back) = Harness.runCommand(session, "set -p") else { Issue.record("set -p failed"); return }
        #expect(back == (try Self.reference("qemu.elf", "set.txt")))
        #expect(Harness.runCommand(session, "set 99999") == .failure("set: invalid task or pid value: 99999"))
    }

    /// Filters by PID, task address, command name and regex select what crash selects.
    @Test func psFilters() throws {
        let session = try Self.session("dump.kdump")
        guard case let .output(all) = Harness.runCommand(session, "ps") else { Issue.record("ps failed"); return }
        let rows = all.split(separator: "\n").dropFirst()
        func rowsOf(_ command: String) -> [Substring] {
            guard case let .output(t) = Harness.runCommand(session, command) else { return [] }
            return Array(t.split(separator: "\n").dropFirst())
        }
        #expect(rowsOf("ps 1") == rows.filter { $0.contains(" ffff8a15411f8000 ") })
        #expect(rowsOf("ps ffff8a15411f8000") == rowsOf("ps 1"))
        #expect(rowsOf("ps sleep").count == 3)
        #expect(rowsOf("ps kworker.*") == rows.filter { $0.contains("[kworker/") })
        // crash brackets kernel threads' names: -k keeps those rows of its ps, -u the others.
        #expect(rowsOf("ps -u") == rows.filter { !$0.hasSuffix("]") })
        #expect(rowsOf("ps -k") == rows.filter { $0.hasSuffix("]") })
    }
}

/// task, foreach, the ps options, runq -t and set, run in one session in the order crash ran
/// them (Expected/tasks/commands.txt: `set` changes what later commands see), against crash
/// 8.0.6's output on dump.kdump and qemu.elf (Expected/tasks/generate.sh).
@Suite(Harness.needsFixtureSet)
struct TaskCommandTests {
    static let expected = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/tasks")

    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func sessionEqualsCrash(_ dump: String) throws {
        let session = try KernelViewTests.session(dump)
        let commands = try String(contentsOf: Self.expected.appendingPathComponent("commands.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        #expect(commands.count == 23)
        for command in commands {
            let name = String(command.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
            let reference = try String(contentsOf: Self.expected.appendingPathComponent("\(dump)/\(name).txt"), encoding: .utf8)
            switch Harness.runCommand(session, command) {
            case let .output(text):
                #expect(text == reference, "\(dump): \(command)")
            case let .failure(line):
                // crash writes its error into the redirected output; crashsh on standard error.
                let message = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? line
                #expect(reference.contains(message), "\(dump): \(command): \(line)")
            }
        }
    }
}

/// The interactive start, at a terminal (util-linux `script` gives crashsh a pseudo-terminal).
@Suite(.enabled(if: Harness.fixturesAvailable && FileManager.default.isExecutableFile(atPath: "/usr/bin/script"),
                "needs the fixtures and /usr/bin/script"))
struct StartupBannerTests {
    @Test func bannerIsSysThenTheContext() throws {
        // The launcher gets crashsh's path as $0 and the files as $1 $2.
        let launcher = ["/bin/sh", "-c", "exec /usr/bin/script -qec \"exec $0 $1 $2\" /dev/null"]
        let run = try Harness.run(["dump.kdump", Harness.vmlinuxName], stdin: "q\n",
                                  cwd: URL(fileURLWithPath: Harness.fixture(".")), launcher: launcher)
        let screen = run.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        let sys = try KernelViewTests.reference("dump.kdump", "sys.txt")
        let set = try KernelViewTests.reference("dump.kdump", "set.txt")
        let context = set.split(separator: "\n").map { "     " + $0 + "\n" }.joined()
        #expect(screen.contains("\n" + sys + context + "\n"), "\(screen)")
    }
}

/// A task that cannot be read keeps its row in ps (text and JSON), and a task list that ended
/// early says so; the other tasks print as usual.
@Suite struct PsBrokenTaskTests {
    @Test func unreadableTaskHasItsRow() throws {
        let good = KernelTask(address: 0xffff_8880_0000_1000, pid: 1, tgid: 1, ppid: 0, parent: 0, comm: "init",
                              state: 0, cpu: 0, mm: 0x1000, flags: 0, prio: 120)
        var result = PsCommand.Result(mode: .table,
                                      rows: [PsCommand.Row(task: good, active: true, state: "RU", memPercent: 0.34, vszKB: 2260, rssKB: 1796)],
                                      blocks: [], summary: [], errors: ["task list: broken link at 0xffff888000002000"])
        result.unreadable = [UnreadableTask(address: 0xffff_8880_0000_3000, reason: "kernel address 0xffff888000003000: not mapped")]
        result.walkProblems = ["broken link at 0xffff888000002000"]
        let lines = result.renderText().split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[1] == ">       1       0   0  ffff888000001000  RU   0.3     2260     1796  init")
        #expect(lines[2].contains("ffff888000003000") && lines[2].hasSuffix("(unreadable: kernel address 0xffff888000003000: not mapped)"))
        #expect(lines[3] == "  (task list: broken link at 0xffff888000002000)")
        guard case let .object(pairs) = result.renderJSON(), case let .array(tasks)? = pairs.first(where: { $0.0 == "tasks" })?.1 else {
            Issue.record("no tasks array"); return
        }
        #expect(tasks.count == 2)
        #expect(tasks.last?["error"] == JSONValue.string("kernel address 0xffff888000003000: not mapped"))
        #expect(tasks.last?["task"] == JSONValue.string("0xffff888000003000"))
    }
}

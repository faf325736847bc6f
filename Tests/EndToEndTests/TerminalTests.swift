import Foundation
import Testing

/// The interactive prompt at a terminal (util-linux `script` gives crashsh a pseudo-terminal):
/// the pager (`set scroll`), Ctrl-C in it, and tab completion listing candidates.
@Suite(Harness.needsSample,
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs /usr/bin/script"))
struct TerminalTests {
    static var dump: String { Harness.fixture("dump.kdump") }
    static var vmlinux: String { Harness.fixture(Harness.vmlinuxName) }

    /// Runs crashsh at a pseudo-terminal, typing `keys` (shell `printf` text, with `sleep N;`
    /// pauses between them) after the start banner (3 s), and returns the screen with CR LF as LF.
    static func session(_ keys: String, environment: [String: String] = [:]) throws -> Harness.Run {
        let launcher = ["/bin/sh", "-c", "(sleep 3; \(keys)) | /usr/bin/script -qec \"exec $0 $1 $2\" /dev/null"]
        var run = try Harness.run([dump, vmlinux], environment: environment, launcher: launcher)
        run.stdout = run.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        return run
    }

    /// At a terminal, output goes through $PAGER (here a sed that marks each line); `set scroll
    /// off` sends it straight to the terminal again.
    @Test func outputGoesThroughThePager() throws {
        let run = try Self.session("printf 'p jiffies\\n'; sleep 1; printf 'set scroll off\\n'; sleep 1; printf 'p nr_cpu_ids\\nset scroll\\nq\\n'",
                                   environment: ["PAGER": "sed s/^/PAGED:/"])
        #expect(run.stdout.contains("PAGED:jiffies = $1 = 4294894941\n"))
        #expect(run.stdout.contains("nr_cpu_ids = $2 = 2\n"))
        #expect(!run.stdout.contains("PAGED:nr_cpu_ids"))
        #expect(run.stdout.contains(" scroll: off\n"))
        #expect(run.exitCode == 0 && !run.killedBySignal)
    }

    /// -c, -i and piped standard input never page, whatever $PAGER says.
    @Test func batchUseNeverPages() throws {
        let command = try Harness.run(["-c", "p jiffies", Self.dump, Self.vmlinux], environment: ["PAGER": "sed s/^/PAGED:/"])
        #expect(command.stdout == "jiffies = $1 = 4294894941\n")
        let piped = try Harness.run([Self.dump, Self.vmlinux], stdin: "p jiffies\n", environment: ["PAGER": "sed s/^/PAGED:/"])
        #expect(piped.stdout == "jiffies = $1 = 4294894941\n")
    }

    /// Ctrl-C while less shows a long listing (`sym -l`) quits less and returns to the prompt;
    /// the session goes on.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/less"), "needs /usr/bin/less"))
    func ctrlCInThePagerReturnsToThePrompt() throws {
        let run = try Self.session("printf 'sym -l\\n'; sleep 2; printf '\\003'; sleep 1; printf 'p jiffies\\nq\\n'",
                                   environment: ["PAGER": ""])
        #expect(run.stdout.contains("(D) __per_cpu_start\n"))
        #expect(run.stdout.contains("jiffies = $1 = 4294894941\n"))
        #expect(run.exitCode == 0 && !run.killedBySignal)
    }

    /// TAB twice lists the candidates as readline does (`p init_task.mm->pg`); a single
    /// candidate completes in place (`struct task_struct init_tas` -> init_task).
    @Test func tabCompletionListsAndCompletes() throws {
        let run = try Self.session("printf 'p init_task.mm->pg\\t\\t'; sleep 1; printf '\\025struct task_struct.pid init_tas\\t'; sleep 1; printf '\\n'; sleep 1; printf 'q\\n'",
                                   environment: ["PAGER": "cat"])
        // The candidates' line: the members of mm_struct that start with "pg".
        let listing = try #require(run.stdout.split(separator: "\n").first { $0.contains("pgtables_bytes") })
        #expect(listing.split(separator: " ").map(String.init) == ["pgd", "pgtables_bytes"])
        // The completed line ran: init_task's pid.
        #expect(run.stdout.contains("  pid = 0,\n"))
    }
}

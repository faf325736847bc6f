import Foundation
import Testing

/// How a run of crashsh starts and ends as a Unix tool: --version, a reader that goes away,
/// CRLF command files, a file that is neither a dump nor a vmlinux.
@Suite struct ShellExitTests {
    static var dump: String { Harness.fixture("dump.kdump") }
    static var vmlinux: String { Harness.fixture(Harness.vmlinuxName) }

    @Test func versionIsPrinted() throws {
        let run = try Harness.run(["--version"])
        #expect(run.exitCode == 0)
        #expect(run.stdout.hasPrefix("crashsh "))
        #expect(run.stdout.split(separator: "\n").count == 1)
    }

    /// `yes 'p jiffies' | crashsh DUMP VMLINUX | head -1`: crashsh ends (Harness.run would time
    /// out otherwise), quietly and with status 0, once head has its line.
    @Test(Harness.needsSample) func closedStandardOutputEndsTheRun() throws {
        let launcher = ["/bin/bash", "-c", "yes 'p jiffies' | \"$0\" \"$1\" \"$2\" | head -1; exit ${PIPESTATUS[1]}"]
        let run = try Harness.run([Self.dump, Self.vmlinux], timeout: 60, launcher: launcher)
        #expect(run.stdout == "jiffies = $1 = 4294894941\n")
        #expect(run.stderr == "")
        #expect(run.exitCode == 0)
    }

    /// Each CRLF line of a -i file is one command, the CR no part of it.
    @Test(Harness.needsSample) func crlfScriptRunsLineByLine() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("script.txt")
        try Data("p jiffies\r\nsym schedule\r\n".utf8).write(to: script)
        let run = try Harness.run(["-i", script.path, Self.dump, Self.vmlinux])
        #expect(run.stderr == "")
        #expect(run.exitCode == 0)
        #expect(run.stdout == "jiffies = $1 = 4294894941\n"
                + "ffffffffb10114f0 (T) schedule debian/build/build_amd64_none_cloud-amd64/kernel/sched/core.c: 6654\n")
        // The same from standard input.
        let piped = try Harness.run([Self.dump, Self.vmlinux], stdin: "p jiffies\r\n")
        #expect(piped.stdout == "jiffies = $1 = 4294894941\n")
        #expect(piped.exitCode == 0)
    }

    /// A program given as the vmlinux is refused at start, in one line, in either order.
    @Test(Harness.needsSample) func programAsVmlinuxIsRefused() throws {
        for files in [[Self.dump, "/bin/ls"], ["/bin/ls", Self.dump]] {
            let run = try Harness.run(["-c", "dumpinfo"] + files)
            #expect(run.exitCode == 1)
            #expect(run.stdout == "")
            #expect(run.stderr == "crashsh: /bin/ls: neither a dump nor a vmlinux (an ELF program or library, not a Linux kernel image: no .init.text section)\n")
        }
    }
}

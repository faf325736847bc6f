import Foundation
import Testing

/// Results that stream (rd): the first line while the rest is read, memory flat whatever the
/// count, and Ctrl-C at the prompt stopping a long command without ending the session.
@Suite(Harness.needsSample) struct StreamingTests {
    static var dump: String { Harness.fixture("dump.kdump") }
    static var vmlinux: String { Harness.fixture(Harness.vmlinuxName) }

    /// `rd -64 ADDR 10000000 | head -1`: ends, and crashsh's peak resident memory (from
    /// /usr/bin/time -v) stays under 64 MiB: the 10 million words are never held at once.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs /usr/bin/time"))
    func rdStreamsInFlatMemory() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = dir.appendingPathComponent("time.txt").path
        let launcher = ["/bin/sh", "-c", "/usr/bin/time -v -o \"$3\" \"$0\" -c \"$1\" \"$2\" \"$4\" | head -1",
                        ]
        let run = try Harness.run(["rd -64 ffff8a1540100000 10000000", Self.dump, report, Self.vmlinux],
                                  launcher: launcher)
        #expect(run.stdout == "ffff8a1540100000:  0000000000000000 0000000000000000   ................\n")
        let text = try String(contentsOfFile: report, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("Maximum resident set size") })
        let kib = try #require(line.split(separator: " ").last.flatMap { Int($0) })
        #expect(kib < 64 * 1024, "peak RSS \(kib) KiB")
    }

    /// Peak resident memory of crashsh running `commands` with its standard output through
    /// `| head -N` of the outer shell, and what head printed.
    static func peakMemory(_ commands: String, head lines: Int) throws -> (kib: Int, stdout: String) {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = dir.appendingPathComponent("time.txt").path
        let launcher = ["/bin/sh", "-c", "/usr/bin/time -v -o \"$3\" \"$0\" -c \"$1\" \"$2\" \"$4\" | head -\(lines)"]
        let run = try Harness.run([commands, Self.dump, report, Self.vmlinux], launcher: launcher)
        let text = try String(contentsOfFile: report, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("Maximum resident set size") })
        return (try #require(line.split(separator: " ").last.flatMap { Int($0) }), run.stdout)
    }

    /// `struct X ADDR COUNT` streams: ten million structures are never held at once, and no
    /// silent cap stops it at 100,000 (the 100,001st is printed).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs /usr/bin/time"))
    func structCountStreamsInFlatMemory() throws {
        let (kib, stdout) = try Self.peakMemory("struct list_head init_task 10000000", head: 4)
        #expect(stdout == "struct list_head {\n  next = 0x4000,\n  prev = 0x0\n}\n")
        #expect(kib < 64 * 1024, "peak RSS \(kib) KiB")
        let run = try Harness.run(["-c", "struct list_head.next init_task 100001 | tail -1", Self.dump, Self.vmlinux])
        #expect(run.stdout.hasPrefix("  next = "))
        #expect(run.stdout.split(separator: "\n").count == 1 && run.exitCode == 0)
        let json = try Harness.run(["--json", "-c", "struct list_head init_task 100001", Self.dump, Self.vmlinux])
        let line = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((line["result"] as? [Any])?.count == 100001)
    }

    /// `sym -l` streams its listing: `| head -1` ends at once with crash's first line.
    @Test func symListStreams() throws {
        let launcher = ["/bin/sh", "-c", "\"$0\" -c \"$1\" \"$2\" \"$3\" | head -1"]
        let run = try Harness.run(["sym -l", Self.dump, Self.vmlinux], launcher: launcher)
        #expect(run.stdout == "0 (D) __per_cpu_start\n")
        let whole = try Harness.run(["--json", "-c", "sym -l", Self.dump, Self.vmlinux])
        let result = try Harness.jsonResult(whole.stdout, command: "sym -l")
        let symbols = try #require(result["symbols"] as? [[String: Any]])
        #expect(symbols.first?["name"] as? String == "__per_cpu_start")
        #expect(symbols.count > 100_000)
    }

    /// A pipe inside crashsh (`rd ... | head -1`) streams too: the shell command sees the first
    /// line at once, crashsh stops when it goes away, in flat memory, and the run goes on.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs /usr/bin/time"))
    func pipeToAShellCommandStreams() throws {
        let (kib, stdout) = try Self.peakMemory("rd -64 ffff8a1540100000 10000000 | head -1; p jiffies", head: 10)
        #expect(stdout == "ffff8a1540100000:  0000000000000000 0000000000000000   ................\njiffies = $1 = 4294894941\n")
        #expect(kib < 64 * 1024, "peak RSS \(kib) KiB")
    }

    /// The streamed JSON of rd is one line with the values crash's words are.
    @Test func rdJSONIsOneLine() throws {
        let run = try Harness.run(["--json", "-c", "rd -64 linux_banner 3", Self.dump, Self.vmlinux])
        let result = try Harness.jsonResult(run.stdout, command: "rd -64 linux_banner 3")
        #expect(result["address"] as? String == "0xffffffffb171ffe0")
        #expect(result["values"] as? [String] == ["0x65762078756e694c", "0x2e36206e6f697372", "0x632d36352d302e31"])
        #expect(result["ascii"] as? String == "Linux version 6.1.0-56-c")
    }

    /// Ctrl-C at a terminal (util-linux `script` gives crashsh a pseudo-terminal) stops a long
    /// rd with "rd: interrupted", and the session goes on to the next command.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs /usr/bin/script"))
    func ctrlCReturnsToThePrompt() throws {
        // rd -8 of the kernel text (4 MB) to /dev/null runs for seconds; Ctrl-C (byte 3 on the terminal)
        // comes a second after it was typed, which is after the start banner (3 s in).
        let launcher = ["/bin/sh", "-c",
                        "(sleep 3; printf 'rd -8 _text 4000000 > /dev/null\\n'; sleep 1; printf '\\003'; sleep 1; printf 'p jiffies\\nq\\n')"
                            + " | /usr/bin/script -qec \"exec $0 $1 $2\" /dev/null"]
        let run = try Harness.run([Self.dump, Self.vmlinux], launcher: launcher)
        let screen = run.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(screen.contains("rd: interrupted\n"))
        #expect(screen.contains("jiffies = $1 = 4294894941\n"))
        #expect(!run.killedBySignal)
        #expect(run.exitCode == 0)
    }

    /// Ctrl-C stops a long `struct X ADDR COUNT` the same way.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs /usr/bin/script"))
    func ctrlCStopsStruct() throws {
        let launcher = ["/bin/sh", "-c",
                        "(sleep 3; printf 'struct list_head init_task 100000000 > /dev/null\\n'; sleep 1; printf '\\003'; sleep 1; printf 'p jiffies\\nq\\n')"
                            + " | /usr/bin/script -qec \"exec $0 $1 $2\" /dev/null"]
        let run = try Harness.run([Self.dump, Self.vmlinux], launcher: launcher)
        let screen = run.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(screen.contains("struct: interrupted\n"))
        #expect(screen.contains("jiffies = $1 = 4294894941\n"))
        #expect(!run.killedBySignal)
        #expect(run.exitCode == 0)
    }
}

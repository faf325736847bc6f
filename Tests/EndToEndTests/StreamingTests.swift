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
}

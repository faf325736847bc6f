import Foundation
import Testing
@testable import Commands
import DumpModel

/// `log` on every fixture dump, with and without the vmlinux, compared byte for byte with what
/// crash 8.0.6 printed: refs/crash-8.0.6/<dump>/log*.txt (log, -T, -m, -c on all eight dumps) and
/// Expected/log/<dump>/ (log -t, -d, -a, -mc, -tdm on dump.kdump and qemu.elf; generate.sh).
@Suite(Harness.needsFixtureSet)
struct LogCommandTests {
    static let allDumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps
    static let expected = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/log")

    static func session(_ dump: String, vmlinux: Bool) throws -> Session {
        try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: vmlinux ? Harness.fixture(Harness.vmlinuxName) : nil)
    }

    static func reference(_ dump: String, _ command: String) throws -> String {
        let name = command.replacingOccurrences(of: " ", with: "_")
        return try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/\(dump)/\(name).txt"), encoding: .utf8)
    }

    static func generated(_ dump: String, _ command: String) throws -> String {
        let name = command.replacingOccurrences(of: " ", with: "_")
        return try String(contentsOf: expected.appendingPathComponent("\(dump)/\(name).txt"), encoding: .utf8)
    }

    @Test(arguments: allDumps)
    func logEqualsCrashWithAndWithoutVmlinux(_ dump: String) throws {
        let full = try Self.session(dump, vmlinux: true)
        let bare = try Self.session(dump, vmlinux: false)
        for command in ["log", "log -T", "log -m", "log -c"] {
            let want = try Self.reference(dump, command)
            #expect(Harness.runCommand(full, command) == .output(want), "\(dump): \(command)")
            // Without a vmlinux the kernel's kallsyms and BTF give the clock QEMU's dumps (no
            // CRASHTIME) need for -T.
            #expect(Harness.runCommand(bare, command) == .output(want), "\(dump) without vmlinux: \(command)")
        }
    }

    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func otherOptionsEqualCrash(_ dump: String) throws {
        let full = try Self.session(dump, vmlinux: true)
        let bare = try Self.session(dump, vmlinux: false)
        for command in ["log -t", "log -d", "log -mc", "log -tdm", "log -a"] {
            let want = try Self.generated(dump, command)
            #expect(Harness.runCommand(full, command) == .output(want), "\(dump): \(command)")
            // The audit queues too are found through kallsyms without a vmlinux.
            #expect(Harness.runCommand(bare, command) == .output(want), "\(dump) without vmlinux: \(command)")
        }
        // -t wins over -T (crash prints no time at all), and -s prints nothing on a kernel
        // without printk_safe buffers (5.15+), as crash.
        #expect(Harness.runCommand(full, "log -T -t") == .output(try Self.generated(dump, "log -t")))
        #expect(Harness.runCommand(full, "log -s") == .output(""))
        #expect(Harness.runCommand(full, "log -x") == .failure("log: invalid option -x (usage: log [-Ttdmcas])"))
    }

    /// The JSON records rebuilt into crash's text give back crash's `log`: every record's
    /// timestamp and text, in order, with nothing missing or extra.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func jsonRecordsCarryTheSameValues(_ dump: String) throws {
        let session = try Self.session(dump, vmlinux: false)
        session.jsonOutput = true
        let result = try Harness.jsonObject(session, "log")
        #expect(result["format"] as? String == "lockless")
        #expect(result["problems"] as? [Any] != nil && (result["problems"] as? [Any])?.isEmpty == true)
        #expect(result["dropped"] as? String == "0")
        let records = try #require(result["records"] as? [[String: Any]])
        var text = ""
        for r in records {
            #expect(r["error"] == nil)
            let nsText = try #require(r["timestamp_ns"] as? String)
            let ns = try #require(UInt64(nsText))
            let body = try #require(r["text"] as? String)
            let seconds = String(ns / 1_000_000_000), micros = String(ns % 1_000_000_000 / 1000)
            let prefix = "[" + String(repeating: " ", count: max(0, 5 - seconds.count)) + seconds + "."
                + String(repeating: "0", count: 6 - micros.count) + micros + "] "
            text += prefix + body.replacingOccurrences(of: "\n", with: "\n" + String(repeating: " ", count: prefix.count)) + "\n"
        }
        #expect(text == (try Self.reference(dump, "log")))
        // The values of the first record, and sequence numbers one by one.
        let first = records[0]
        #expect(first["seq"] as? Int == 0)
        #expect(first["level"] as? Int == 5)
        #expect(first["facility"] as? Int == 0)
        #expect(first["caller"] as? String == "T0")
        #expect(first["timestamp_ns"] as? String == "0")
        #expect(records.enumerated().allSatisfy { $0.element["seq"] as? Int == $0.offset })
        // Levels and callers as crash's -m and -c show them.
        let mc = try Self.generated(dump, "log -mc").split(separator: "\n", omittingEmptySubsequences: false)
        var line = 0
        for r in records {
            let caller = try #require(r["caller"] as? String), level = try #require(r["level"] as? Int)
            #expect(mc[line].dropFirst(15).hasPrefix("[" + String(repeating: " ", count: 6 - caller.count) + caller + "] <\(level)>"))
            line += 1 + ((r["text"] as? String)?.filter { $0 == "\n" }.count ?? 0)
        }
        // Device information as -d shows it.
        let withDevice = records.filter { $0["subsystem"] != nil }
        #expect(!withDevice.isEmpty)
        let d = try Self.generated(dump, "log -d")
        #expect(withDevice.allSatisfy { d.contains("SUBSYSTEM=\($0["subsystem"] as? String ?? "?")\n") })
        #expect(d.components(separatedBy: "SUBSYSTEM=").count - 1 == withDevice.count)
    }

    /// Support teams run exactly this: the binary, no vmlinux anywhere it looks.
    @Test(arguments: allDumps)
    func theBinaryWithoutVmlinux(_ dump: String) throws {
        let home = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        let run = try Harness.run(["-c", "log", Harness.fixture(dump)],
                                  environment: ["HOME": home.path, "XDG_CACHE_HOME": home.path])
        #expect(!run.killedBySignal)
        #expect(run.exitCode == 0)
        #expect(run.stdout == (try Self.reference(dump, "log")))
    }

    /// The text renderer on hand-made records: the older format's dictionary, embedded newlines,
    /// unprintable bytes, a record without data, an unreadable one, problems at the end.
    @Test func rendererFollowsCrash() {
        var options = LogCommand.Options()
        options.deviceInfo = true
        options.caller = true
        let dict = Array("SUBSYSTEM=pci".utf8) + [0] + Array("DEVICE=+pci:0000:00:01.0".utf8)
        let log = PrintkLog(format: .variableLength, entries: [
            .record(PrintkRecord(sequence: nil, timestampNanoseconds: 1_234_567_890_123, level: 6, facility: 0, flags: 0,
                                 callerID: 0x8000_0003, text: Array("a\nb\u{1}".utf8) + [0xff], dictionary: dict)),
            .record(PrintkRecord(sequence: nil, timestampNanoseconds: 0, level: 6, facility: 0, flags: 0, callerID: 12,
                                 text: [], hasData: false)),
            .unreadable(position: 512, reason: "cannot read 0x1000"),
        ], problems: ["stopped"])
        let text = LogTextRenderer(log: log, options: options, bootSeconds: nil).render()
        let indent = String(repeating: " ", count: 26)
        #expect(text == """
        [ 1234.567890] [      C3] a
        \(indent)b..
        \(indent)SUBSYSTEM=pci
        \(indent)DEVICE=+pci:0000:00:01.0

        log: record at log_buf offset 512 cannot be read: cannot read 0x1000
        log: stopped

        """)
    }
}

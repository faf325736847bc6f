import Commands
import Foundation
import TestSupport
import Testing

/// Runs the built `crashsh` executable the way a user does and captures what it printed.
enum Harness {
    /// What one run of crashsh did.
    struct Run {
        var stdout: String
        var stderr: String
        var exitCode: Int32
        /// True when the process ended by a signal (a trap, an abort): never acceptable.
        var killedBySignal: Bool

        /// The lines of standard error.
        var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: true) }
    }

    /// The package root (this file is Tests/EndToEndTests/Harness.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The crashsh executable: $CRASHSH_BIN, else the one in the build directory of this test
    /// bundle. `swift build --build-tests` and `swift test` compile the executable's module but
    /// do not link the executable (and the build directory stays locked while tests run, so it
    /// cannot be built from here): run `swift build` first. A binary older than Sources/ gets a
    /// warning on standard error rather than a failure, since other work may edit Sources/ while
    /// the tests run.
    static let binary: Result<String, HarnessError> = {
        let fm = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment["CRASHSH_BIN"] {
            return fm.isExecutableFile(atPath: explicit) ? .success(explicit)
                : .failure(HarnessError("CRASHSH_BIN=\(explicit) is not an executable"))
        }
        // .../<scratch>/<triple>/<configuration>/crashshPackageTests.xctest (Linux) or
        // .../<configuration>/crashshPackageTests.xctest/Contents/MacOS/... (Darwin).
        guard var dir = Bundle.main.executableURL?.deletingLastPathComponent() else {
            return .failure(HarnessError("cannot tell where the test bundle is; set CRASHSH_BIN"))
        }
        if let bundle = dir.pathComponents.lastIndex(where: { $0.hasSuffix(".xctest") }) {
            dir = URL(fileURLWithPath: "/" + dir.pathComponents[1..<bundle].joined(separator: "/"))
        }
        let candidate = dir.appendingPathComponent("crashsh").path
        guard fm.isExecutableFile(atPath: candidate) else {
            return .failure(HarnessError("no crashsh executable at \(candidate): run `swift build` before `swift test` (it does not link executables), or set CRASHSH_BIN"))
        }
        if isOlderThanSources(candidate) {
            FileHandle.standardError.write(Data("EndToEndTests: warning: \(candidate) is older than Sources/; run `swift build` to test the current code\n".utf8))
        }
        return .success(candidate)
    }()

    /// True when some file under Sources/ changed after `binary` was linked.
    static func isOlderThanSources(_ binary: String) -> Bool {
        let fm = FileManager.default
        guard let built = (try? fm.attributesOfItem(atPath: binary))?[.modificationDate] as? Date,
              let files = fm.enumerator(at: packageRoot.appendingPathComponent("Sources"),
                                        includingPropertiesForKeys: [.contentModificationDateKey]) else { return true }
        for case let url as URL in files {
            if let changed = try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate,
               changed > built { return true }
        }
        return false
    }

    /// The fixture set directory (…/debian-6.1-cloud): from $CRASHSH_FIXTURES, else from
    /// ../shared/fixtures/prepare.sh; nil when neither is available (the tests then skip).
    static let fixtures: URL? = SharedFixtures.setDirectory.map { URL(fileURLWithPath: $0) }

    static var fixturesAvailable: Bool { fixtures != nil }

    /// True when dump.kdump and its vmlinux are there: from the fixture set, else
    /// Samples/dump.kdump and the vmlinux scripts/fetch-debuginfo.sh fetched.
    static var sampleAvailable: Bool { SharedFixtures.sampleDump != nil && SharedFixtures.sampleVmlinux != nil }

    /// For a test or suite that needs the whole fixture set (other dumps, refs/): skipped, saying
    /// why, without it.
    static let needsFixtureSet = ConditionTrait.enabled(if: fixturesAvailable, Comment(rawValue: SharedFixtures.setMissing))
    /// For a test or suite that needs only dump.kdump and its vmlinux (and references kept in
    /// this repository): runs in a clone on its own once the vmlinux is fetched.
    static let needsSample = ConditionTrait.enabled(if: sampleAvailable, Comment(rawValue: SharedFixtures.sampleMissing))

    /// The dumps of `names` that can be read here: all of them with the fixture set, else only
    /// dump.kdump (the repository's sample) when its vmlinux is there.
    static func available(_ names: [String]) -> [String] {
        fixturesAvailable ? names : names.filter { $0 == "dump.kdump" && sampleAvailable }
    }

    /// Path of a fixture file: in the fixture set, else dump.kdump and the vmlinux of the sample.
    static func fixture(_ name: String) -> String {
        if fixtures == nil {
            if name == "dump.kdump", let dump = SharedFixtures.sampleDump { return dump }
            if name == vmlinuxName, let vmlinux = SharedFixtures.sampleVmlinux { return vmlinux }
        }
        return (fixtures ?? URL(fileURLWithPath: "/nonexistent")).appendingPathComponent(name).path
    }

    static let vmlinuxName = "vmlinux-" + SharedFixtures.sampleRelease

    /// What one command printed in a session: its output, or the one line a failure prints.
    enum Outcome: Equatable {
        case output(String)
        case failure(String)
    }

    /// Runs one command line (words split at spaces) in `session`, as the shell would.
    static func runCommand(_ session: Session, _ line: String) -> Outcome {
        let words = line.split(separator: " ").map(String.init)
        switch session.execute(words) {
        case let .output(text): return .output(text)
        case let .failure(message): return .failure(message)
        case let .partial(output, message): return .failure(output + message)
        case .exit: return .failure("exit")
        }
    }

    /// The result object of one command in `session` (which must be in JSON mode): the
    /// `result` of the one JSON line `{"command": ..., "result": ...}` it printed.
    static func jsonObject(_ session: Session, _ command: String) throws -> [String: Any] {
        guard case let .output(text) = runCommand(session, command) else {
            throw HarnessError("\(command): failed")
        }
        return try jsonResult(text, command: command)
    }

    /// The `result` object of a JSON line, after checking the line's shape (one line, the
    /// command named).
    static func jsonResult(_ text: String, command: String? = nil) throws -> [String: Any] {
        guard text.hasSuffix("\n"), text.dropLast().firstIndex(of: "\n") == nil,
              let line = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw HarnessError("\(command ?? "output"): not one JSON line")
        }
        if let command, line["command"] as? String != command {
            throw HarnessError("\(command): the line names \(line["command"] ?? "no command")")
        }
        guard let result = line["result"] as? [String: Any] else {
            throw HarnessError("\(command ?? "output"): no result object")
        }
        return result
    }

    /// Dumps of the kdump crash (one VMCOREINFO) and of the QEMU crash (another).
    static let kdumpCrashDumps = ["vmcore", "dump.kdump", "dump-lzo.kdump", "dump-zstd.kdump", "dump.flat", "dump.elf"]
    static let qemuCrashDumps = ["qemu.elf", "qemu.kdump"]

    /// Runs crashsh with `arguments` and `stdin` as its standard input (an empty file when nil),
    /// in a scratch working directory; kills it after `timeout` seconds.
    /// `launcher` runs crashsh through another program (for example `setpriv` to drop root).
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                    cwd: URL? = nil, timeout: TimeInterval = 60, launcher: [String] = []) throws -> Run {
        let binary = try binary.get()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inURL = dir.appendingPathComponent("stdin"), outURL = dir.appendingPathComponent("stdout"),
            errURL = dir.appendingPathComponent("stderr")
        try Data((stdin ?? "").utf8).write(to: inURL)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)

        let process = Process()
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.currentDirectoryURL = cwd ?? dir
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let inHandle = try FileHandle(forReadingFrom: inURL)
        let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)
        process.standardInput = inHandle
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                process.waitUntilExit()
                throw HarnessError("crashsh \(arguments) did not finish in \(timeout) s")
            }
            usleep(2000)
        }
        try inHandle.close(); try outHandle.close(); try errHandle.close()
        return Run(stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                   stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self),
                   exitCode: process.terminationStatus,
                   killedBySignal: process.terminationReason == .uncaughtSignal)
    }

    /// A fresh empty directory under the system's temporary directory.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crashsh-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs a helper tool and returns its standard output (standard error is discarded).
    static func runTool(_ path: String, _ arguments: [String], cwd: URL) throws -> String {
        let out = try Tool.run(path, arguments, cwd: cwd.path)
        guard out.status == 0 else { throw HarnessError("\(path) \(arguments) failed") }
        return out.stdout
    }

    /// The VMCOREINFO text crash 8.0.6 printed for `dump` in `help -D` (the indented KEY=VALUE
    /// block), with the indentation removed and one newline per line.
    static func referenceVmcoreinfo(_ dump: String) throws -> String {
        let path = fixture("refs/crash-8.0.6/\(dump)/help_-D.txt")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("OSRELEASE=") }) else {
            throw HarnessError("no VMCOREINFO block in \(path)")
        }
        let indent = lines[start].prefix(while: { $0 == " " })
        var out = ""
        for line in lines[start...] {
            guard line.hasPrefix(indent), line.dropFirst(indent.count).first != " ",
                  line.dropFirst(indent.count).contains("=") else { break }
            out += line.dropFirst(indent.count) + "\n"
        }
        return out
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

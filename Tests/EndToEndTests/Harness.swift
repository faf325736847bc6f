import Foundation
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

    /// The crashsh executable: $CRASHSH_BIN, else the one built next to this test bundle (swift
    /// test builds every product of the package into the same directory), else `swift build
    /// --show-bin-path`'s.
    static let binary: String? = {
        let fm = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment["CRASHSH_BIN"], fm.isExecutableFile(atPath: explicit) {
            return explicit
        }
        var dirs: [URL] = []
        if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
        for bundle in Bundle.allBundles { dirs.append(bundle.bundleURL.deletingLastPathComponent()) }
        if let arg0 = CommandLine.arguments.first { dirs.append(URL(fileURLWithPath: arg0).deletingLastPathComponent()) }
        for dir in dirs {
            // The test runner may sit inside an .xctest bundle a level or two down (Darwin layout).
            var d = dir
            for _ in 0..<3 {
                let candidate = d.appendingPathComponent("crashsh").path
                if fm.isExecutableFile(atPath: candidate) { return candidate }
                d = d.deletingLastPathComponent()
            }
        }
        guard let out = try? runTool("/usr/bin/env", ["swift", "build", "--show-bin-path"], cwd: packageRoot) else { return nil }
        let candidate = out.trimmingCharacters(in: .whitespacesAndNewlines) + "/crashsh"
        return fm.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    /// The fixture set directory (…/debian-6.1-cloud): from $CRASHSH_FIXTURES, else from
    /// ../shared/fixtures/prepare.sh; nil when neither is available (the tests then skip).
    static let fixtures: URL? = {
        if let root = ProcessInfo.processInfo.environment["CRASHSH_FIXTURES"], !root.isEmpty {
            let set = URL(fileURLWithPath: root).appendingPathComponent("debian-6.1-cloud")
            if FileManager.default.fileExists(atPath: set.appendingPathComponent("dump.kdump").path) { return set }
        }
        let prepare = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/prepare.sh")
        guard FileManager.default.fileExists(atPath: prepare.path),
              let out = try? runTool("/bin/sh", [prepare.path], cwd: packageRoot) else { return nil }
        let set = URL(fileURLWithPath: out.trimmingCharacters(in: .whitespacesAndNewlines))
            .appendingPathComponent("debian-6.1-cloud")
        return FileManager.default.fileExists(atPath: set.appendingPathComponent("dump.kdump").path) ? set : nil
    }()

    static var fixturesAvailable: Bool { fixtures != nil }

    /// Path of a fixture file.
    static func fixture(_ name: String) -> String {
        (fixtures ?? URL(fileURLWithPath: "/nonexistent")).appendingPathComponent(name).path
    }

    static let vmlinuxName = "vmlinux-6.1.0-56-cloud-amd64"

    /// Dumps of the kdump crash (one VMCOREINFO) and of the QEMU crash (another).
    static let kdumpCrashDumps = ["vmcore", "dump.kdump", "dump-lzo.kdump", "dump-zstd.kdump", "dump.flat", "dump.elf"]
    static let qemuCrashDumps = ["qemu.elf", "qemu.kdump"]

    /// Runs crashsh with `arguments` and `stdin` as its standard input (an empty file when nil),
    /// in a scratch working directory; kills it after `timeout` seconds.
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                    cwd: URL? = nil, timeout: TimeInterval = 60) throws -> Run {
        guard let binary else { throw HarnessError("crashsh executable not found: build it (swift build) or set CRASHSH_BIN") }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inURL = dir.appendingPathComponent("stdin"), outURL = dir.appendingPathComponent("stdout"),
            errURL = dir.appendingPathComponent("stderr")
        try Data((stdin ?? "").utf8).write(to: inURL)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = cwd
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("\(path) \(arguments) failed") }
        return String(decoding: data, as: UTF8.self)
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

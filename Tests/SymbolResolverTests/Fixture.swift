import Foundation
import Testing
@testable import SymbolResolver

/// Paths of the shared fixtures: $CRASHSH_FIXTURES, else what ../shared/fixtures/prepare.sh
/// prints. nil (tests skip) only when neither is available.
enum Fixture {
    static let root: String? = {
        if let env = ProcessInfo.processInfo.environment["CRASHSH_FIXTURES"], !env.isEmpty { return env }
        let here = URL(fileURLWithPath: #filePath)
        let script = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/fixtures/prepare.sh").path
        guard FileManager.default.isExecutableFile(atPath: script) else { return nil }
        guard let out = try? run(script, []), out.status == 0 else { return nil }
        let path = out.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init)
        return path
    }()

    static var dir: String? { root.map { $0 + "/debian-6.1-cloud" } }
    static var vmlinux: String? { dir.map { $0 + "/vmlinux-6.1.0-56-cloud-amd64" } }
    static var refs: String? { dir.map { $0 + "/refs/crash-8.0.6/dump.kdump" } }
    static var available: Bool { vmlinux.map { FileManager.default.fileExists(atPath: $0) } ?? false }

    /// One KernelImage shared by the tests of a process (opening is cheap, but indexes are not).
    nonisolated(unsafe) static let kernel: KernelImage? = vmlinux.flatMap { try? KernelImage(path: $0) }
    static let lock = NSLock()

    static func ref(_ name: String) throws -> String {
        try String(contentsOfFile: refs! + "/" + name, encoding: .utf8)
    }

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    /// Runs a tool and captures its output.
    static func run(_ tool: String, _ args: [String]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool.hasPrefix("/") ? tool : "/usr/bin/" + tool)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }
}

/// Runs `body` with the shared kernel under a lock (KernelImage is not thread-safe and Swift
/// Testing runs tests in parallel).
func withKernel(_ body: (KernelImage) throws -> Void) throws {
    guard let k = Fixture.kernel else { return }
    Fixture.lock.lock()
    defer { Fixture.lock.unlock() }
    try body(k)
}

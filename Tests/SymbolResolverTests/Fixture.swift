import Foundation
import Testing
@testable import SymbolResolver
import TestSupport

/// Paths of the shared fixtures: $CRASHSH_FIXTURES, else what ../shared/fixtures/prepare.sh
/// prints. nil (tests skip) only when neither is available.
enum Fixture {
    static var dir: String? { SharedFixtures.setDirectory }
    static var vmlinux: String? { dir.map { $0 + "/vmlinux-6.1.0-56-cloud-amd64" } }
    static var refs: String? { dir.map { $0 + "/refs/crash-8.0.6/dump.kdump" } }
    static var available: Bool { vmlinux.map { FileManager.default.fileExists(atPath: $0) } ?? false }

    /// One KernelImage shared by the tests of a process (opening is cheap, but indexes are not).
    nonisolated(unsafe) static let kernel: KernelImage? = vmlinux.flatMap { try? KernelImage(path: $0) }
    static let lock = NSLock()

    static func ref(_ name: String) throws -> String {
        try String(contentsOfFile: refs! + "/" + name, encoding: .utf8)
    }

    /// Runs a tool and captures its output.
    static func run(_ tool: String, _ args: [String]) throws -> Tool.Output { try Tool.run(tool, args) }
}

/// Runs `body` with the shared kernel under a lock (KernelImage is not thread-safe and Swift
/// Testing runs tests in parallel).
func withKernel(_ body: (KernelImage) throws -> Void) throws {
    guard let k = Fixture.kernel else { return }
    Fixture.lock.lock()
    defer { Fixture.lock.unlock() }
    try body(k)
}

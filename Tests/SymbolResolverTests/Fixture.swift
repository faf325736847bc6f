import Foundation
import Testing
@testable import SymbolResolver
import TestSupport

/// Paths of the shared fixtures: $CRASHSH_FIXTURES, else what ../shared/fixtures/prepare.sh
/// prints. The vmlinux alone also comes from where scripts/fetch-debuginfo.sh puts it, so a
/// clone on its own runs the tests that need nothing else.
enum Fixture {
    static var dir: String? { SharedFixtures.setDirectory }
    static var vmlinux: String? { SharedFixtures.sampleVmlinux }
    static var refs: String? { dir.map { $0 + "/refs/crash-8.0.6/dump.kdump" } }
    /// The vmlinux is there.
    static var available: Bool { vmlinux != nil }
    /// The whole fixture set is there (crash's refs/, the dumps) besides the vmlinux.
    static var setAvailable: Bool { available && dir != nil }

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
    let k = try #require(Fixture.kernel, "\(Fixture.vmlinux ?? "the vmlinux") did not open")
    Fixture.lock.lock()
    defer { Fixture.lock.unlock() }
    try body(k)
}

import Commands
import Foundation
import TestSupport
import Testing

/// Issue 12: what the dump cannot give without a vmlinux is said in one clear line, and what
/// does not need it still works. dump.kdump is copied with the pages of the kernel's BTF
/// excluded, as a dump level that dropped them would leave it.
@Suite(Harness.needsFixtureSet, .serialized)
struct MissingKernelDataTests {
    /// The copy, made once per machine (see `GeneratedDumps`).
    static func dumpWithoutBTF() throws -> (path: String, btf: UInt64) {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: nil)
        let range = try #require(try session.kernel().memorySectionRange(named: ".BTF"))
        let space = try session.addressSpace()
        let first = try space.translate(range.start) >> 12
        let last = try space.translate(range.start + UInt64(range.size) - 1) >> 12
        let path = try GeneratedDumps.kdump(excluding: first ... last, from: Harness.fixture("dump.kdump"),
                                            name: "dump-no-btf-pages.kdump")
        return (path, range.start)
    }

    @Test func excludedBTFIsOneLineAndTheRestWorks() throws {
        let (path, btf) = try Self.dumpWithoutBTF()
        let note = "no vmlinux: symbols from kallsyms; no types: the kernel's BTF at \(String(btf, radix: 16))"
        // Symbols still resolve: from kallsyms, whose pages are in the dump.
        let sym = try NoVmlinuxTests.crashsh("sym schedule", path)
        #expect(sym.stderr.hasPrefix(note), "\(sym.stderr)")
        let crashSym = try NoVmlinuxTests.reference("dump.kdump", "sym_schedule.txt")
        #expect(!sym.stdout.isEmpty && crashSym.hasPrefix(sym.stdout.trimmingCharacters(in: .newlines)), "\(sym.stdout)")
        // The log needs no types.
        let log = try NoVmlinuxTests.crashsh("log", path)
        #expect(log.stdout == (try NoVmlinuxTests.reference("dump.kdump", "log.txt")))
        // log -T needs jiffies_64 and tick_nsec: with no layout symbols, from VMCOREINFO's kallsyms.
        let logT = try NoVmlinuxTests.crashsh("log -T", path)
        #expect(logT.stdout == (try NoVmlinuxTests.reference("dump.kdump", "log_-T.txt")))
        // A type is one line, and the command fails.
        let type = try NoVmlinuxTests.crashsh("struct task_struct", path)
        #expect(type.exitCode != 0 && !type.killedBySignal)
        let errorLines = type.stderr.split(separator: "\n").filter { !$0.hasPrefix("no vmlinux:") }
        #expect(errorLines.count == 1, "\(type.stderr)")
    }
}

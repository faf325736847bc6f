import Commands
import Foundation
import Testing

/// Types defined only in modules (loop, virtio_blk, virtio_ring on dump.kdump), which crashsh
/// reads from the modules' own BTF in the dump, with the vmlinux and without one. Compared with
/// crash 8.0.6 after `mod -S` loaded the modules' debuginfo (Expected/modbtf/generate.sh).
@Suite(Harness.needsFixtureSet, .serialized)
struct ModuleBTFEndToEndTests {
    static let expectedRoot = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/modbtf")

    /// The commands of commands.txt after the `mod -S` that only crash needs, with crash's output.
    static func references() throws -> [(command: String, expected: String)] {
        let commands = try String(contentsOf: expectedRoot.appendingPathComponent("commands.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("mod ") }
        return try commands.map { command in
            let file = expectedRoot.appendingPathComponent("dump.kdump/\(TypeCommandTests.fileName(command))")
            return (command, try String(contentsOf: file, encoding: .utf8))
        }
    }

    @Test(arguments: [true, false])
    func moduleTypesEqualCrash(withVmlinux: Bool) throws {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"),
                                  vmlinuxPath: withVmlinux ? Harness.fixture(Harness.vmlinuxName) : nil)
        let refs = try Self.references()
        #expect(refs.count == 8)
        for (command, expected) in refs {
            #expect(Harness.runCommand(session, command) == .output(expected), "vmlinux: \(withVmlinux): \(command)")
        }
    }

    /// TAB completes type and member names that only a module's BTF defines.
    @Test(arguments: [true, false])
    func completionOffersModuleTypes(withVmlinux: Bool) throws {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"),
                                  vmlinuxPath: withVmlinux ? Harness.fixture(Harness.vmlinuxName) : nil)
        #expect(MemberCompletionTests.complete(session, "struct loop_dev").contains("loop_device"))
        #expect(MemberCompletionTests.complete(session, "struct loop_device.lo_sta") == ["loop_device.lo_state"])
    }

    /// The kernel's own types never read module BTF; a name no module defines fails as before.
    @Test func unknownTypeStillFails() throws {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
        #expect(Harness.runCommand(session, "whatis task_struct") != .failure("whatis: invalid data structure reference: task_struct"))
        #expect(session.hasReadModules == false)
        #expect(Harness.runCommand(session, "struct no_such_module_type") == .failure("struct: invalid data structure reference: no_such_module_type"))
    }
}

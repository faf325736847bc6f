import Commands
import DumpModel
import Foundation
import Testing
import TestSupport

/// `mod`, `mod -t` and module symbols in `sym`, `sym -l`, `sym -q`, `rd`, `rd -s`, `p` and `struct`
/// against crash 8.0.6: the fixtures' refs/ (mod, mod -t on all eight dumps) and Expected/modules
/// (made by Expected/modules/generate.sh with the same crash).
@Suite(.serialized, Harness.needsFixtureSet)
struct ModuleTests {
    static let dumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps
    static let expectedRoot = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/modules")

    static func session(_ dump: String) throws -> Session {
        try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
    }

    static func fileName(_ command: String) -> String {
        String(command.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
    }

    @Test(arguments: dumps)
    func modAndTaintsMatchTheFixtureReferences(dump: String) throws {
        let session = try Self.session(dump)
        let refs = Harness.fixture("refs/crash-8.0.6/\(dump)")
        for (command, file) in [("mod", "mod.txt"), ("mod -t", "mod_-t.txt")] {
            let expected = try String(contentsOfFile: "\(refs)/\(file)", encoding: .utf8)
            #expect(Harness.runCommand(session, command) == .output(expected), "\(dump): \(command)")
        }
    }

    /// Every command of the dump's list prints exactly what crash printed.
    @Test(arguments: dumps)
    func crashReferences(dump: String) throws {
        let session = try Self.session(dump)
        let list = dump.hasPrefix("qemu.") ? "qemu-commands.txt" : "kdump-commands.txt"
        let commands = try String(contentsOf: Self.expectedRoot.appendingPathComponent(list), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(commands.count >= 14)
        for command in commands {
            let url = Self.expectedRoot.appendingPathComponent("\(dump)/\(Self.fileName(command)).txt")
            let expected = try String(contentsOf: url, encoding: .utf8)
            #expect(Harness.runCommand(session, command) == .output(expected), "\(dump): \(command)")
        }
    }

    /// The module part of `sym -l` (MODULE START/END lines and every module symbol) is crash's,
    /// line for line, after the kernel's.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func symListModulePart(dump: String) throws {
        let expected = try String(contentsOf: Self.expectedRoot.appendingPathComponent("sym-l/\(dump).txt"), encoding: .utf8)
        guard case let .output(text) = Harness.runCommand(try Self.session(dump), "sym -l") else {
            Issue.record("sym -l failed")
            return
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let first = try #require(lines.firstIndex { $0.contains(" MODULE START: ") })
        let modulePart = lines[first...].joined(separator: "\n")
        #expect(modulePart.split(separator: "\n").count == expected.split(separator: "\n").count)
        #expect(modulePart == expected)
    }

    /// Addresses a module does not cover resolve to nothing: its end, and the gap after it.
    @Test func addressesOutsideModulesAreInvalid() throws {
        let session = try Self.session("dump.kdump")
        for address in ["ffffffffc0269000", "ffffffffc0269500", "ffffffffc0000000"] {
            #expect(Harness.runCommand(session, "sym \(address)") == .failure("sym: invalid address: \(address)"), "\(address)")
        }
    }

    /// Names and addresses the vmlinux answers never read the module list; the first module
    /// address does, once.
    @Test func modulesAreReadOnlyWhenNeeded() throws {
        let session = try Self.session("dump.kdump")
        _ = Harness.runCommand(session, "sym schedule")
        _ = Harness.runCommand(session, "sym ffffffffb10114f5")
        _ = Harness.runCommand(session, "rd -s linux_banner 4")
        _ = Harness.runCommand(session, "p init_task.comm")
        #expect(!session.hasReadModules)
        #expect(Harness.runCommand(session, "sym ffffffffc025f550")
                == .output("ffffffffc025f550 (T) vring_create_virtqueue [virtio_ring] \n"))
        #expect(session.hasReadModules)
    }

    /// JSON carries the same values as the text: struct module address, name, base, size (a
    /// decimal string: a 64-bit quantity), and module symbols name their module.
    @Test func json() throws {
        let session = try Self.session("qemu.elf")
        session.jsonOutput = true
        let mod = try Harness.jsonObject(session, "mod")
        let modules = try #require(mod["modules"] as? [[String: Any]])
        #expect(modules.count == 9)
        let last = try #require(modules.last)
        #expect(last["name"] as? String == "qemu_fw_cfg")
        #expect(last["module"] as? String == "0xffffffffc05602c0")
        #expect(last["base"] as? String == "0xffffffffc055d000")
        #expect(last["size"] as? String == "20480")
        #expect(last["kallsyms"] as? Bool == true)
        #expect((last["symbols"] as? Int ?? 0) > 10)
        let taints = try Harness.jsonObject(session, "mod -t")
        #expect((taints["tainted"] as? [Any])?.isEmpty == true)
        let sym = try Harness.jsonObject(session, "sym ffffffffc0515005")
        let row = try #require((sym["symbols"] as? [[String: Any]])?.first)
        #expect(row["module"] as? String == "virtio_ring")
        #expect(row["name"] as? String == "virtqueue_set_dma_premapped")
        #expect(row["offset"] as? Int == 5)
        #expect(row["address"] as? String == "0xffffffffc0515005")
    }

    @Test func unsupportedOptionsSayWhy() throws {
        let session = try Self.session("dump.kdump")
        #expect(Harness.runCommand(session, "mod -d loop") == .failure("mod: option -d is not supported (usage: mod [-t | -s NAME [FILE] | -S [DIR]])"))
        // No module debuginfo anywhere it looks: crash's message (ModuleDebugInfoTests load some).
        session.debugRoots = []
        #expect(Harness.runCommand(session, "mod -s loop") == .failure("mod: cannot find or load object file for loop module")
                || FileManager.default.fileExists(atPath: "/lib/modules/\(SharedFixtures.sampleRelease)/kernel/drivers/block/loop.ko"))
    }
}

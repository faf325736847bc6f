import Commands
import Foundation
import Testing
import TestSupport

/// `mod -s`/`mod -S` load modules' debuginfo (.ko files with DWARF, relocated with the dump's
/// section addresses); `mod` then names the files, `sym`, `dis -l` show module code's
/// file:line, and `struct`, `whatis`, `p` know the modules' types, functions and variables. Compared with crash 8.0.6 given the same .ko files (Expected/moddebug, made by its
/// generate.sh). The .ko files are Debian's linux-image-6.1.0-56-cloud-amd64-dbg modules, which
/// `scripts/fetch-debuginfo.sh --modules 6.1.0-56-cloud-amd64` unpacks into crashsh's cache.
@Suite(.serialized) struct ModuleDebugInfoTests {
    /// The unpacked module tree (…/lib/modules/RELEASE), from crashsh's cache or /usr/lib/debug.
    static let modulesDirectory: String? = {
        let env = ProcessInfo.processInfo.environment
        var roots: [String] = []
        if let xdg = env["XDG_CACHE_HOME"], xdg.hasPrefix("/") { roots.append(xdg + "/crashsh/debuginfo") }
        if let home = env["HOME"], !home.isEmpty { roots.append(home + "/.cache/crashsh/debuginfo") }
        roots.append("/usr/lib/debug")
        return roots.map { "\($0)/lib/modules/\(SharedFixtures.sampleRelease)" }
            .first { FileManager.default.fileExists(atPath: $0 + "/kernel/drivers/net/dummy.ko") }
    }()
    static let needsModules = ConditionTrait.enabled(
        if: Harness.sampleAvailable && modulesDirectory != nil,
        "needs the module debuginfo: scripts/fetch-debuginfo.sh --modules \(SharedFixtures.sampleRelease)")
    static let expected = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/moddebug")

    static func session() throws -> Session {
        try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
    }

    /// Every command of commands.txt, in order in one session, prints what crash printed.
    @Test(needsModules) func crashReferences() throws {
        let dir = try #require(Self.modulesDirectory)
        let session = try Self.session()
        let commands = try String(contentsOf: Self.expected.appendingPathComponent("commands.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(commands.count > 50)
        for command in commands {
            let name = String(command.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
            let reference = try String(contentsOf: Self.expected.appendingPathComponent("dump.kdump/\(name).txt"), encoding: .utf8)
            let line = command.replacingOccurrences(of: "MODULES", with: dir)
            #expect(Harness.runCommand(session, line) == .output(reference.replacingOccurrences(of: "MODULES", with: dir)), "\(command)")
        }
    }

    /// Without a file, `mod -s` finds NAME.ko under each debug root's lib/modules/RELEASE; errors
    /// are one line; the JSON row names the file.
    @Test(needsModules) func searchErrorsAndJSON() throws {
        let dir = try #require(Self.modulesDirectory)
        let root = String(dir.dropLast("/lib/modules/\(SharedFixtures.sampleRelease)".count))
        let session = try Self.session()
        // Before loading, module code has no line (crash prints the symbol alone).
        #expect(Harness.runCommand(session, "sym dummy_dev_init") == .output("ffffffffc0275250 (t) dummy_dev_init [dummy] \n"))
        session.debugRoots = ["/nonexistent", root]
        guard case let .output(row) = Harness.runCommand(session, "mod -s dummy") else {
            Issue.record("mod -s dummy failed"); return
        }
        #expect(row.hasSuffix("  16384  \(dir)/kernel/drivers/net/dummy.ko \n"))
        #expect(Harness.runCommand(session, "sym dummy_dev_init")
                == .output("ffffffffc0275250 (t) dummy_dev_init [dummy] debian/build/build_amd64_none_cloud-amd64/drivers/net/dummy.c: 69\n"))
        #expect(Harness.runCommand(session, "mod -s no_such_module") == .failure("mod: no_such_module: not a loaded module (usage: mod [-t | -s NAME [FILE] | -S [DIR]])"))
        #expect(Harness.runCommand(session, "mod -s loop /nonexistent/loop.ko") == .failure("mod: /nonexistent/loop.ko: cannot open: No such file or directory"))
        #expect(Harness.runCommand(session, "mod -s loop \(Harness.fixture(Harness.vmlinuxName))")
                == .failure("mod: \(Harness.fixture(Harness.vmlinuxName)): damaged ELF file: an executable (vmlinux?), not a kernel module"))
        session.debugRoots = []
        #expect(Harness.runCommand(session, "mod -s loop") == .failure("mod: cannot find or load object file for loop module"))
        session.jsonOutput = true
        let result = try Harness.jsonObject(session, "mod")
        let modules = try #require(result["modules"] as? [[String: Any]])
        let files = modules.map { "\($0["name"] as? String ?? "?")=\($0["objectFile"] as? String ?? "null")" }
        #expect(files.contains("dummy=\(dir)/kernel/drivers/net/dummy.ko") && files.contains("loop=null"))
    }
}

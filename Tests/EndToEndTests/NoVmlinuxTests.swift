import Foundation
import Testing

/// Dumps opened without a vmlinux (none given, none found: HOME is an empty directory and
/// /usr/lib/debug holds no kernel): symbols come from the kernel's kallsyms, types from its BTF
/// and unwind rules from its ORC tables, all read from the dump. Compared with what crash 8.0.6
/// printed with the vmlinux (refs/crash-8.0.6/<dump>/), and, where only DWARF knows the answer,
/// with crashsh's own run with the vmlinux.
@Suite(Harness.needsFixtureSet, .serialized)
struct NoVmlinuxTests {
    static let dumps = ["dump.kdump", "vmcore", "qemu.elf"]
    static let note = "no vmlinux: symbols from kallsyms, types from the kernel's BTF\n"

    /// Runs crashsh on `dump` alone from the fixture folder (so sys prints crash's paths), with
    /// nowhere to find debuginfo.
    static func crashsh(_ command: String, _ dump: String) throws -> Harness.Run {
        let home = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        return try Harness.run(["-c", command, dump], environment: ["HOME": home.path, "XDG_CACHE_HOME": ""],
                               cwd: URL(fileURLWithPath: Harness.fixture(".")))
    }

    static func withVmlinux(_ command: String, _ dump: String) throws -> Harness.Run {
        try Harness.run(["-c", command, dump, Harness.vmlinuxName], cwd: URL(fileURLWithPath: Harness.fixture(".")))
    }

    /// What stderr adds when `command` reads jiffies: BTF does not declare it, so its type is
    /// guessed from its symbol, and the user is told.
    static func guessNote(_ command: String) -> String {
        guard command == "p jiffies" else { return "" }
        return "no vmlinux: jiffies has no declared type; read as unsigned long from its symbol's size"
            + " (cast it to its declared type if that is wrong)\n"
    }

    static func reference(_ dump: String, _ file: String) throws -> String {
        try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/\(dump)/\(file)"), encoding: .utf8)
    }

    @Test(arguments: dumps)
    func commandsEqualCrash(_ dump: String) throws {
        let same = [("ps", "ps.txt"), ("mod", "mod.txt"), ("p jiffies", "p_jiffies.txt"), ("kmem -i", "kmem_-i.txt"),
                    ("struct task_struct.pid,comm init_task", "struct_task_struct_pid_comm_init_task.txt"),
                    ("runq", "runq.txt"), ("set", "set.txt"), ("whatis task_struct", "whatis_task_struct.txt"),
                    ("sym -q sysrq_handle", "sym_-q_sysrq_handle.txt"), ("rd -64 linux_banner 8", "rd_-64_linux_banner_8.txt"),
                    ("struct -o list_head", "struct_-o_list_head.txt"), ("log", "log.txt")]
        for (command, file) in same {
            let run = try Self.crashsh(command, dump)
            #expect(run.stderr == Self.note + Self.guessNote(command), "\(dump): \(command)")
            #expect(run.stdout == (try Self.reference(dump, file)), "\(dump): \(command)")
        }
    }

    /// The address and type letter are crash's; its "file: line" after them comes from DWARF.
    @Test(arguments: dumps)
    func symHasCrashsAddressAndLetter(_ dump: String) throws {
        for (command, file) in [("sym schedule", "sym_schedule.txt"), ("sym linux_banner", "sym_linux_banner.txt")] {
            let run = try Self.crashsh(command, dump)
            let reference = try Self.reference(dump, file)
            let words = reference.split(whereSeparator: { $0 == " " || $0 == "\n" })
            #expect(run.stdout == words.prefix(3).joined(separator: " ") + "\n", "\(dump): \(command)")
        }
    }

    /// sys names no KERNEL file (there is none); every other line is crash's.
    @Test(arguments: dumps)
    func sysEqualsCrashButTheKernelFile(_ dump: String) throws {
        let run = try Self.crashsh("sys", dump)
        let reference = try Self.reference(dump, "sys.txt")
        var lines = reference.split(separator: "\n", omittingEmptySubsequences: false)
        let at = try #require(lines.firstIndex { $0.hasPrefix("      KERNEL: ") })
        lines[at] = "      KERNEL: (none)"
        #expect(run.stdout == lines.joined(separator: "\n"), "\(dump)")
    }

    /// `bt -a` from the kernel's ORC tables is the vmlinux run's, line for line. The panic task
    /// of the kdump crash saved its registers in __crash_kexec, whose object (kexec_core.o)
    /// objtool leaves without ORC: with the vmlinux, DWARF CFI leads from it to panic; without,
    /// the stack word after `call __crash_kexec` does, and JSON says so.
    @Test(arguments: dumps)
    func btAllEqualsTheVmlinuxRun(_ dump: String) throws {
        let run = try Self.crashsh("bt -a", dump)
        #expect(run.stderr == Self.note, "\(dump)")
        let with = try Self.withVmlinux("bt -a", dump)
        #expect(!BtTests.blocks(run.stdout).isEmpty, "\(dump)")
        #expect(run.stdout == with.stdout, "\(dump)")
    }

    @Test func thePanicFrameFoundByItsCallSaysSo() throws {
        let run = try Self.crashsh("set json on; bt", "dump.kdump")
        let line = try #require(run.stdout.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let result = try #require(object["result"] as? [String: Any])
        let frames = try #require(result["frames"] as? [[String: Any]])
        let described = frames.prefix(4).map { [$0["symbol"] as? String, $0["origin"] as? String, $0["unwinder"] as? String] }
        #expect(described == [["machine_kexec", "stack-scan", "orc"], ["__crash_kexec", "unwound", "stack-scan"],
                              ["panic", "stack-scan", "orc"], ["sysrq_handle_crash", "unwound", "orc"]])
    }

    /// What only DWARF knows is absent, and said so in one line.
    @Test func dwarfOnlyAnswersSaySo() throws {
        let lines = try Self.crashsh("bt -l", "dump.kdump")
        #expect(!lines.stdout.contains(".c: "))
        let unknown = try Self.crashsh("p init_task", "dump.kdump")
        #expect(unknown.stderr == Self.note + "p: 'init_task' has unknown type; cast it to its declared type\n")
    }

    /// An untyped global still has an address, and a cast gives it a type, as gdb allows for a
    /// minimal symbol: the values are the vmlinux run's.
    @Test func anUntypedGlobalCanBeAddressedAndCast() throws {
        let address = try Self.crashsh("p &init_task", "dump.kdump")
        let typed = try Self.withVmlinux("p/x (unsigned long)&init_task", "dump.kdump")
        let hexAddress = try #require(typed.stdout.split(separator: " ").last).dropLast()
        #expect(address.stdout == "$1 = (<data variable, no debug info> *) \(hexAddress) <init_task>\n")
        // A bare symbol prints as "name = $1 = ..." (crash's prefix), an expression does not.
        for (cast, plain) in [("p ((struct task_struct)init_task).comm", "p init_task.comm"),
                              ("p (*(struct task_struct *)&init_task).tasks", "p init_task.tasks"),
                              ("p (struct list_head)modules", "p modules")] {
            let run = try Self.crashsh(cast, "dump.kdump")
            #expect(run.stderr == Self.note, "\(cast)")
            let with = try Self.withVmlinux(plain, "dump.kdump").stdout
            #expect(run.stdout.hasPrefix("$1 = {") || run.stdout.hasPrefix("$1 = \""), "\(cast)")
            #expect(run.stdout == with.replacingOccurrences(of: "modules = $1", with: "$1"), "\(cast)")
        }
        // Plain, it is read with the guessed type, and stderr says so.
        let guessed = try Self.crashsh("p modules", "dump.kdump")
        #expect(guessed.stderr == Self.note + "no vmlinux: modules has no declared type; read as unsigned long from its"
                + " symbol's size (cast it to its declared type if that is wrong)\n")
        let whatis = try Self.crashsh("whatis modules", "dump.kdump")
        #expect(whatis.stderr == Self.note
                + "whatis: modules: no type information without a vmlinux (the kernel's BTF declares only per-cpu variables)\n")
        let deref = try Self.crashsh("p *&init_task", "dump.kdump")
        #expect(deref.stderr == Self.note + "p: Attempt to take contents of a non-pointer value.\n")
    }

    /// A vmlinux, when there, is still what symbols come from: no note.
    @Test func aVmlinuxIsStillPreferred() throws {
        let run = try Self.withVmlinux("sym schedule", "dump.kdump")
        #expect(run.stderr == "")
        #expect(run.stdout == (try Self.reference("dump.kdump", "sym_schedule.txt")))
    }
}

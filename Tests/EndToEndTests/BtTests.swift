import Commands
import DumpModel
import Foundation
import Testing

/// `bt` against crash 8.0.6's `foreach bt`, `bt -a` and `bt -f` on the eight fixture dumps.
/// crash differs where it guesses: frame #0 of the panic task (crash shows machine_kexec, the
/// function the CPU went on to call after crash_setup_regs saved the registers in __crash_kexec:
/// crashsh starts from those registers), the panic task of the QEMU crash (crash prints only
/// `panic`: the CPU was in delay_tsc, called by panic) and CPU 0 of the QEMU crash (crash fails
/// to read its stack).
@Suite(Harness.needsFixtureSet, .serialized)
struct BtTests {
    static let dumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps

    static func reference(_ dump: String, _ file: String) throws -> String {
        let url = (Harness.fixtures ?? URL(fileURLWithPath: "/nonexistent"))
            .appendingPathComponent("refs/crash-8.0.6").appendingPathComponent(dump).appendingPathComponent(file)
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Blocks of a trace listing, one per task (each starts with "PID: "), without blank lines.
    static func blocks(_ text: String) -> [String] {
        var out: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("PID: ") { out.append("") }
            guard !out.isEmpty else { continue }
            out[out.count - 1] += line + "\n"
        }
        return out
    }

    /// The function of each frame line (" #3 [addr] name at pc").
    static func functions(_ block: String) -> [String] {
        block.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard let first = words.first, first.hasPrefix("#"), words.count >= 5 else { return nil }
            return String(words[2])
        }
    }

    static func output(_ session: Session, _ command: String) throws -> String {
        guard case let .output(text) = Harness.runCommand(session, command) else {
            throw HarnessError("\(command) failed")
        }
        return text
    }

    static let qemuPanicFunctions = ["delay_tsc", "panic", "sysrq_handle_crash", "__handle_sysrq.cold",
                                     "write_sysrq_trigger", "proc_reg_write", "vfs_write", "ksys_write",
                                     "do_syscall_64", "entry_SYSCALL_64_after_hwframe"]
    static let qemuRebootFunctions = ["stop_this_cpu", "__sysvec_reboot", "sysvec_reboot", "asm_sysvec_reboot"]

    /// Every task of crash's `foreach bt`, traced by `bt TASK...` in the same order: the same
    /// functions in the same order, and the same text for every task crash traced from its
    /// saved switch frame (all but the running ones).
    @Test(arguments: dumps)
    func everyTaskAgreesWithCrashForeachBt(dump: String) throws {
        let expected = Self.blocks(try Self.reference(dump, "foreach_bt.txt"))
        let tasks = expected.compactMap { b -> String? in
            guard let r = b.range(of: "TASK: ") else { return nil }
            return String(b[r.upperBound...].prefix(16))
        }
        #expect(tasks.count == expected.count && tasks.count > 40)
        let session = try TypeCommandTests.session(dump)
        let mine = Self.blocks(try Self.output(session, "bt " + tasks.joined(separator: " ")))
        #expect(mine.count == expected.count)
        var exact = 0
        for (theirs, ours) in zip(expected, mine) {
            let header = String(theirs.prefix(while: { $0 != "\n" }))
            #expect(ours.hasPrefix(header + "\n"))
            let crashFunctions = Self.functions(theirs)
            let ourFunctions = Self.functions(ours)
            if theirs.contains("bt: read of stack") {
                // QEMU CPU 0: crash could not read the stack; the reboot IPI from user mode.
                #expect(ourFunctions == Self.qemuRebootFunctions)
                #expect(ours.contains("    RIP: 0000000000579ffc  RSP: "))
                #expect(ours.hasSuffix("CS: 0033  SS: 002b\n"))
            } else if crashFunctions == ["panic"] {
                #expect(ourFunctions == Self.qemuPanicFunctions)
                #expect(ours.hasSuffix(theirs.split(separator: "\n").suffix(7).joined(separator: "\n") + "\n"))
            } else {
                #expect(ours == theirs, "\(header)")
                if ours == theirs { exact += 1 }
            }
        }
        // All but the two running tasks match byte for byte.
        #expect(exact >= expected.count - 2)
    }

    /// `bt -a`: on the kdump crash, CPU 1's task (stopped by the crash NMI in user mode) is traced
    /// through the NMI handler's frames exactly as crash shows them.
    @Test(arguments: Harness.kdumpCrashDumps)
    func activeTasksAgreeWithCrash(dump: String) throws {
        let expected = Self.blocks(try Self.reference(dump, "bt_-a.txt"))
        let session = try TypeCommandTests.session(dump)
        let mine = Self.blocks(try Self.output(session, "bt -a"))
        #expect(mine.count == 2 && expected.count == 2)
        guard mine.count == 2, expected.count == 2 else { return }
        #expect(mine[1] == expected[1])
        #expect(Self.functions(mine[1]) == ["crash_nmi_callback", "default_do_nmi", "exc_nmi", "asm_exc_nmi"])
        // The panic task from machine_kexec, the call __crash_kexec made after saving its registers.
        #expect(mine[0] == expected[0])
        #expect(Self.functions(mine[0]).prefix(3) == ["machine_kexec", "__crash_kexec", "panic"])
    }

    /// `bt -f`: the words of every frame as crash shows them, and `bt -s`, `-sx`.
    @Test(arguments: Harness.kdumpCrashDumps)
    func frameWordsAgreeWithCrash(dump: String) throws {
        let session = try TypeCommandTests.session(dump)
        let crash = try Self.reference(dump, "bt_-f.txt")
        let mine = try Self.output(session, "bt -f")
        #expect(mine == crash)
        #expect(mine.contains("    ffff"))
        let s = try Self.output(session, "bt -s")
        #expect(s.contains(" #2 [ffffcf3c00013d58] panic+317 at ffffffffb0fcd06e\n"))
        let sx = try Self.output(session, "bt -sx")
        #expect(sx.contains(" #2 [ffffcf3c00013d58] panic+0x13d at ffffffffb0fcd06e\n"))
    }

    /// JSON: frames with their values, the unwinder that found each, the exception frame's
    /// registers, and the reason the trace ended.
    @Test func jsonFramesCarryValues() throws {
        let session = try TypeCommandTests.session("dump.kdump")
        session.jsonOutput = true
        let r = try Harness.jsonObject(session, "bt")
        let frames = r["frames"] as? [[String: Any]] ?? []
        #expect(frames.count == 11)
        // machine_kexec, found below the saved registers and proven by unwinding back to
        // __crash_kexec's call of it; __crash_kexec has no ORC (objtool skips kexec_core.o).
        #expect(frames.first?["symbol"] as? String == "machine_kexec")
        #expect(frames.first?["pc"] as? String == "0xffffffffb066c62f")
        #expect(frames.first?["origin"] as? String == "stack-scan")
        #expect(frames.first?["unwinder"] as? String == "orc")
        #expect(frames.dropFirst().first?["symbol"] as? String == "__crash_kexec")
        #expect(frames.dropFirst().first?["unwinder"] as? String == "dwarf-cfi")
        #expect(frames[2]["symbol"] as? String == "panic" && frames[2]["offset"] as? Int == 317)
        #expect(r["start"] as? String == "later-call")
        // The registers kdump saved in __crash_kexec, where crash_setup_regs is inlined.
        #expect((r["registers"] as? [String: Any])?["rip"] as? String == "0xffffffffb076475a")
        let last = frames.last ?? [:]
        let exception = last["exception"] as? [String: Any] ?? [:]
        #expect(exception["user_mode"] as? Bool == true)
        #expect((exception["registers"] as? [String: Any])?["rip"] as? String == "0x47b7a0")
        #expect((r["end"] as? [String: Any])?["reason"] as? String == "user-mode")
    }

    /// `bt -l`: file:line at the call (pc - 1), and the inlined functions drgn 0.3.0 shows as
    /// frames of their own (pde_write, do_syscall_x64; native_halt on QEMU CPU 0; drgn's
    /// crash_setup_regs is where the registers were saved, before the machine_kexec frame crash
    /// and crashsh start with).
    @Test func linesNameTheInlinedFunctions() throws {
        let kdump = try Self.output(try TypeCommandTests.session("dump.kdump"), "bt -l")
        #expect(kdump.contains(" #2 [ffffcf3c00013d58] panic at ffffffffb0fcd06e\n    debian/build/build_amd64_none_cloud-amd64/kernel/panic.c: 358\n"))
        let inlined = kdump.split(separator: "\n").filter { $0.hasPrefix("    inlined: ") }
        #expect(inlined == ["    inlined: pde_write", "    inlined: do_syscall_x64"])
        let qemu = try Self.output(try TypeCommandTests.session("qemu.elf"), "bt -l -c 0")
        #expect(qemu.contains(" #0 [ffffcfad8044bf08] stop_this_cpu at ffffffff8ba3d023\n    debian/build/build_amd64_none_cloud-amd64/arch/x86/include/asm/irqflags.h: 58\n    inlined: native_halt\n"))
    }

    static let expected = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/bt")

    static func generated(_ dump: String, _ file: String) throws -> String {
        try String(contentsOf: expected.appendingPathComponent(dump).appendingPathComponent(file), encoding: .utf8)
    }

    /// `bt -F` (Expected/bt, crash 8.0.6): every task's words shown symbolically (kernel symbols
    /// with decimal offsets, slab objects as [cache]) byte for byte where the frames agree: every
    /// sleeping task of `foreach bt -F`, CPU 1's NMI-stopped md5sum, and the panic task.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func symbolicFrameWordsAgreeWithCrash(dump: String) throws {
        let session = try TypeCommandTests.session(dump)
        let theirs = Self.blocks(try Self.generated(dump, "foreach_bt_-F.txt"))
        let ours = Self.blocks(try Self.output(session, "foreach bt -F"))
        #expect(theirs.count == ours.count && theirs.count > 40)
        var exact = 0
        for (t, o) in zip(theirs, ours) {
            if t == o { exact += 1; continue }
            let header = String(t.prefix(while: { $0 != "\n" }))
            #expect(o.hasPrefix(header + "\n"))
            // Only QEMU's CPU 0 differs (crash cannot read its stack); the kdump panic task is
            // exact from machine_kexec on.
            #expect(dump == "qemu.elf" && Self.functions(t).first != "machine_kexec", "\(header)")
        }
        #expect(exact >= theirs.count - (dump == "qemu.elf" ? 2 : 0))
        for file in ["bt_-F_110.txt", "bt_-f_110.txt"] + (dump == "dump.kdump" ? ["bt_-F_116.txt"] : []) {
            let command = String(file.dropLast(4)).replacingOccurrences(of: "_", with: " ")
            #expect(try Self.output(session, command) == (try Self.generated(dump, file)), "\(command)")
        }
        // -FF: each slab object's address with its cache, where -F shows the cache alone.
        let f = try Self.generated(dump, "bt_-f_110.txt").split(separator: "\n")
        let symbolic = try Self.generated(dump, "bt_-F_110.txt").split(separator: "\n")
        let ff = try Self.output(session, "bt -FF 110").split(separator: "\n")
        #expect(ff.count == f.count && symbolic.count == f.count)
        var objects = 0
        for (k, line) in symbolic.enumerated() where k < ff.count && k < f.count && line.hasPrefix("    ffff") {
            let labels = line.split(separator: " ").dropFirst()
            let values = f[k].split(separator: " ").dropFirst()
            let shown = ff[k].split(separator: " ").dropFirst()
            for (j, label) in labels.enumerated() where label.hasPrefix("[") {
                let value = values[values.index(values.startIndex, offsetBy: j)]
                #expect(shown[shown.index(shown.startIndex, offsetBy: j)] == "[\(value):\(label.dropFirst())")
                objects += 1
            }
        }
        #expect(objects >= 5)
    }

    /// Every loaded module of the fixtures carries an ORC table in its memory (6.1, ORC
    /// unwinder): read through the layout, it starts in the module's text; the entries of freed
    /// init code point elsewhere (into modules loaded later) and are dropped.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func modulesCarryORCTablesForTheirText(dump: String) throws {
        let session = try TypeCommandTests.session(dump)
        let memory = try session.crashedKernel().memory
        let modules = session.moduleSymbols().modules
        #expect(modules.count > 5)
        var entries = 0
        for m in modules {
            let whole = try #require(try ModuleORCTables.table(module: m.module.address, memory: memory, format: .v4_14))
            let table = try #require(try ModuleORCTables.table(of: m.module, memory: memory, format: .v4_14))
            #expect(table.count <= whole.count && table.count > 10)
            let regions = m.module.regions.map { "\($0.kind) \(String($0.base, radix: 16))-\(String($0.end, radix: 16))" }
            #expect(table.addresses.first ?? 0 >= m.base && table.addresses.last ?? 0 <= m.textEnd,
                    "\(m.module.name) \(String(table.addresses.first ?? 0, radix: 16)) \(String(table.addresses.last ?? 0, radix: 16)) \(regions)")
            entries += table.count
        }
        #expect(entries > 1000)
    }

    /// `bt -e` (crash 8.0.6, Expected/bt): the exception frames found by searching each task's
    /// stack, byte for byte for the current task and every task of `foreach bt -e`; JSON has them.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func exceptionFrameSearchAgreesWithCrash(dump: String) throws {
        let session = try TypeCommandTests.session(dump)
        #expect(try Self.output(session, "bt -e") == (try Self.generated(dump, "bt_-e.txt")))
        let theirs = Self.blocks(try Self.generated(dump, "foreach_bt_-e.txt"))
        let ours = Self.blocks(try Self.output(session, "foreach bt -e"))
        #expect(theirs.count == ours.count && theirs.count > 40)
        var differing: [String] = []
        for (t, o) in zip(theirs, ours) where t != o { differing.append(String(t.prefix(while: { $0 != "\n" }))) }
        #expect(differing.isEmpty, "\(differing)")
        #expect(theirs.joined().components(separatedBy: "EXCEPTION FRAME AT").count > 3)
        session.jsonOutput = true
        let r = try Harness.jsonObject(session, "bt -e")
        let frames = r["exception_frames"] as? [[String: Any]] ?? []
        #expect(frames.last?["user_mode"] as? Bool == true)
        #expect((frames.last?["registers"] as? [String: Any])?["rip"] as? String == "0x47b7a0")
    }
}

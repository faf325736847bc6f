import Foundation
import TestSupport
import Testing
@testable import Commands
@testable import DumpModel

/// A QEMU dump without VMCOREINFO (qemu.elf with the note cut out, made by `GeneratedDumps`):
/// the KASLR slide and phys_base come from the CPU notes and the vmlinux, and the commands give
/// crash 8.0.6's answers on qemu.elf (crash gives the same ones on the generated file).
@Suite(Harness.needsFixtureSet)
struct NoVMCOREINFOTests {
    /// The fixture each generated dump was made from.
    static let sources = ["qemu.elf", "qemu.kdump"]

    static func generated(_ source: String = "qemu.elf") throws -> String {
        let made = source == "qemu.elf" ? GeneratedDumps.qemuElfWithoutVMCOREINFO : GeneratedDumps.qemuKdumpWithoutVMCOREINFO
        let result = try #require(made, "no fixture set")
        return try result.get()
    }

    static func session(_ source: String = "qemu.elf", vmlinux: Bool = true) throws -> Session {
        try Session(dumpPath: try generated(source), vmlinuxPath: vmlinux ? Harness.fixture(Harness.vmlinuxName) : nil)
    }

    /// The note is gone, and what the CPU state gives equals what qemu.elf's VMCOREINFO says.
    @Test(arguments: sources)
    func slideAndPhysBaseEqualVMCOREINFOs(source: String) throws {
        let original = try KernelViewTests.session(source)
        let info = try #require(original.vmcoreinfo)
        let session = try Self.session(source)
        #expect(session.vmcoreinfo == nil)
        // The kdump file's header now says phys_base 0: the CPU state wins.
        #expect(session.dump.headerPhysBase == (source == "qemu.elf" ? nil : 0))
        let slide = try session.kernelSlide()
        #expect(slide.offset == info.kernelOffset)
        #expect(slide.source == "CPU 0 CR3 page tables")
        let space = try session.addressSpace()
        #expect(space.physBase == info.number("phys_base").map { UInt64(bitPattern: $0) })
        #expect(space.kernelOffset == info.kernelOffset)
        #expect(space.kernelPGD == info.symbol("init_top_pgt"))
        #expect(space.pageOffsetBase == (try original.addressSpace()).pageOffsetBase)
    }

    /// The IDT alone (the page-table search made to fail by a wrong `_text`) gives the same answer.
    @Test func idtGivesTheSameAnswer() throws {
        let session = try Self.session()
        let table = try session.kernel().symbols()
        func address(_ name: String) throws -> UInt64 { try #require(table.symbol(named: name)?.address) }
        let cpus = session.dump.qemuCPUStates
        #expect(cpus.count == 2)
        let linked = LinkedKernelAddresses(imageStart: try address("_text") + 4096, linuxBanner: try address("linux_banner"),
                                           idtTable: try address("idt_table"),
                                           divideErrorEntry: try address("asm_exc_divide_error"), pageTableIsolation: true)
        let p = try KernelImageLocator.locate(memory: session.memory, cpuStates: cpus, linked: linked)
        let expected = try #require(try session.imagePlacement())
        #expect(p.method == .idt)
        #expect(p.slide == expected.slide)
        #expect(p.physBase == expected.physBase)
        // Without the IDT facts either, the error names what is missing.
        var bare = linked
        bare.idtTable = nil
        #expect(throws: DumpError.missing(what: "the kernel's KASLR offset and phys_base (no VMCOREINFO, and no CPU's CR3 page tables or IDT lead to this vmlinux's linux_banner)")) {
            try KernelImageLocator.locate(memory: session.memory, cpuStates: cpus, linked: bare)
        }
    }

    /// An ELF core of kdump's has a PT_LOAD for the kernel text: phys_base from it (for kernels
    /// before 4.10, whose VMCOREINFO has no NUMBER(phys_base)) equals VMCOREINFO's.
    @Test(arguments: ["vmcore", "dump.elf", "qemu.elf"])
    func elfKernelTextSegmentGivesPhysBase(dump: String) throws {
        let d = try DumpOpener.open(path: Harness.fixture(dump))
        let info = try #require(d.vmcoreinfo)
        let expected = dump == "qemu.elf" ? nil : info.number("phys_base").map { UInt64(bitPattern: $0) }
        #expect(d.headerPhysBase == expected)
    }

    /// crash 8.0.6's answers on qemu.elf, byte for byte.
    @Test(arguments: sources)
    func commandsEqualCrashOnTheSource(source: String) throws {
        let session = try Self.session(source)
        for (command, file) in [("sym schedule", "sym_schedule.txt"), ("p jiffies", "p_jiffies.txt"),
                                ("struct task_struct.pid,comm init_task", "struct_task_struct_pid_comm_init_task.txt"),
                                ("ps", "ps.txt"), ("ps -t", "ps_-t.txt"), ("runq", "runq.txt"), ("log", "log.txt"),
                                ("mod", "mod.txt"), ("kmem -i", "kmem_-i.txt"), ("sys -i", "sys_-i.txt")] {
            let expected = try KernelViewTests.reference(source, file)
            #expect(Harness.runCommand(session, command) == .output(expected), "\(source): \(command)")
        }
        // sys: all but the two lines naming the files.
        guard case let .output(sys) = Harness.runCommand(session, "sys") else {
            Issue.record("sys failed")
            return
        }
        func facts(_ text: String) -> [Substring] {
            text.split(separator: "\n").filter { !$0.contains("KERNEL: ") && !$0.contains("DUMPFILE: ") }
        }
        let expected = try KernelViewTests.reference(source, "sys.txt")
        #expect(facts(sys) == facts(expected))
        #expect(facts(sys).count == 11)
    }

    /// `bt -a` traces the same frames as on qemu.elf (where crashsh goes further than crash:
    /// BtTests checks those against crash).
    @Test(arguments: sources)
    func backtracesEqualTheSources(source: String) throws {
        let original = try KernelViewTests.session(source)
        let session = try Self.session(source)
        for command in ["bt -a", "bt -f"] {
            guard case let .output(expected) = Harness.runCommand(original, command) else {
                Issue.record("\(command) failed on qemu.elf")
                continue
            }
            #expect(Harness.runCommand(session, command) == .output(expected), "\(command)")
            #expect(expected.contains(" panic at "))
        }
    }

    /// Without VMCOREINFO the vmlinux is checked by its whole banner at the slide the CPU state gave.
    @Test func bannerDecidesTheMismatchWithoutVMCOREINFO() throws {
        let kernel = try Self.session().kernel()
        let banner = try #require(kernel.linuxBanner)
        func check(slide: UInt64?, memory: String) -> VmlinuxMismatch? {
            Session.vmlinuxMismatch(kernel: kernel, vmcoreinfo: nil, dumpPath: "d", slide: slide,
                                    readMemory: { _, count in Array((memory + "\0").utf8.prefix(count)) })
        }
        #expect(check(slide: 0x0aa0_0000, memory: banner) == nil)
        #expect(check(slide: 0x0aa0_0000, memory: "Linux version 9.9.9")?.what == "linux_banner")
        #expect(check(slide: nil, memory: "Linux version 9.9.9") == nil)
    }

    /// Without the vmlinux: the kernel image from CR3's page tables, kallsyms found in its
    /// bytes; phys_base and every kallsyms part are where qemu.elf's VMCOREINFO says.
    @Test(arguments: sources)
    func withoutVmlinuxKallsymsAreFoundInTheImage(source: String) throws {
        let info = try #require(try KernelViewTests.session(source).vmcoreinfo)
        let session = try Self.session(source, vmlinux: false)
        _ = try session.kernel()
        let found = try #require(session.kernelFoundFromCPUState)
        #expect(found.location == KallsymsLocation(vmcoreinfo: info))
        #expect(found.start.physBase == info.number("phys_base").map { UInt64(bitPattern: $0) })
        #expect(found.start.text == found.table.address(of: "_text"))
        #expect(try session.addressSpace().physBase == found.start.physBase)
    }

    /// Issue 12: crash's answers on qemu.elf with no vmlinux anywhere (empty HOME and
    /// XDG_CACHE_HOME), but for what only DWARF knows (sym's source line) and sys's file names;
    /// `bt -a` as on the source dump without vmlinux.
    @Test(arguments: sources)
    func withoutVmlinuxCommandsEqualCrash(source: String) throws {
        let dump = try Self.generated(source)
        let note = "no vmlinux: symbols from kallsyms (no VMCOREINFO: found in the kernel image at ffffffff8ba00000 by CPU 0's page tables), types from the kernel's BTF\n"
        for (command, file) in [("p jiffies", "p_jiffies.txt"), ("ps", "ps.txt"), ("mod", "mod.txt"),
                                ("struct task_struct.pid,comm init_task", "struct_task_struct_pid_comm_init_task.txt")] {
            let run = try NoVmlinuxTests.crashsh(command, dump)
            #expect(run.stderr == note + NoVmlinuxTests.guessNote(command), "\(source): \(command)")
            #expect(run.stdout == (try KernelViewTests.reference(source, file)), "\(source): \(command)")
        }
        let sym = try NoVmlinuxTests.crashsh("sym schedule", dump)
        let words = try KernelViewTests.reference(source, "sym_schedule.txt").split(whereSeparator: { $0 == " " || $0 == "\n" })
        #expect(sym.stdout == words.prefix(3).joined(separator: " ") + "\n")
        func facts(_ text: String) -> [Substring] {
            text.split(separator: "\n").filter { !$0.contains("KERNEL: ") && !$0.contains("DUMPFILE: ") }
        }
        let sys = try NoVmlinuxTests.crashsh("sys", dump)
        #expect(facts(sys.stdout) == facts(try KernelViewTests.reference(source, "sys.txt")))
        #expect(facts(sys.stdout).count == 11)
        let bt = try NoVmlinuxTests.crashsh("bt -a", dump)
        let onSource = try NoVmlinuxTests.crashsh("bt -a", source)
        #expect(bt.stdout == onSource.stdout && bt.stdout.contains(" panic at "), "\(source)")
    }
}

import Foundation
import Testing
@testable import Commands
import DumpModel

/// `vtop` and `ptov` run in-process on the fixtures, compared with crash 8.0.6.
///
/// References: refs/crash-8.0.6/<dump>/vtop_*.txt, and for the cases refs/ lacks, crash 8.0.6 run
/// as `crash -s vmlinux dump.kdump` (and qemu.elf) with the commands on stdin; its output is quoted
/// below verbatim.
@Suite(Harness.needsFixtureSet)
struct TranslationCommandTests {
    static let allDumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps

    static func session(_ dump: String, vmlinux: Bool = true) throws -> Session {
        try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: vmlinux ? Harness.fixture(Harness.vmlinuxName) : nil)
    }

    static func run(_ line: String, _ session: Session) throws -> String {
        var words = line.split(separator: " ").map(String.init)
        let name = words.removeFirst()
        let command = try #require(CommandRegistry.lookup(name))
        return try command.run(words, in: session).renderText()
    }

    static func reference(_ dump: String, _ command: String) throws -> String {
        let file = Harness.fixture("refs/crash-8.0.6/\(dump)/\(command.replacingOccurrences(of: " ", with: "_")).txt")
        return try String(contentsOfFile: file, encoding: .utf8)
    }

    /// The first vmalloc area (the lowest address on vmap_area_list), what the refs call "a vmalloc address".
    static func firstVmallocArea(_ session: Session) throws -> UInt64 {
        let space = try session.addressSpace()
        let head = try #require(space.layout.symbolAddress("vmap_area_list"))
        let list = UInt64(try #require(space.layout.memberOffset("vmap_area", "list")))
        let start = UInt64(try #require(space.layout.memberOffset("vmap_area", "va_start")))
        return try space.load(UInt64.self, virtual: space.load(UInt64.self, virtual: head) &- list &+ start)
    }

    @Test(arguments: allDumps)
    func vtopOfInitTaskAndAVmallocAddressEqualsCrash(_ dump: String) throws {
        let session = try Self.session(dump)
        let initTask = try #require(session.kernelSymbols().symbol(named: "init_task")).address
        let initCommand = "vtop 0x" + String(initTask, radix: 16)
        #expect(try Self.run(initCommand, session) == Self.reference(dump, initCommand))

        let vmalloc = try Self.firstVmallocArea(session)
        let vmallocCommand = "vtop " + String(vmalloc, radix: 16)
        var expected = try Self.reference(dump, vmallocCommand)
        // crash printed the refs from one session reading commands from a file, where its
        // "header printed" flag survives from the previous vtop: the struct page header is missing
        // in the second file. Run alone (or at the prompt) crash prints it, as crashsh does.
        let header = "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS\n"
        if !expected.contains(header), let r = expected.range(of: "\n", options: .backwards,
                                                              range: expected.startIndex..<expected.index(before: expected.endIndex)) {
            expected.insert(contentsOf: header, at: r.upperBound)
        }
        #expect(try Self.run(vmallocCommand, session) == expected)
    }

    @Test func unmappedModuleDirectMapAndErrorsOnDumpKdump() throws {
        let session = try Self.session("dump.kdump")
        #expect(try Self.run("vtop ffffcf3c00500000", session) == """
            VIRTUAL           PHYSICAL        
            ffffcf3c00500000  (not mapped)

            PGD DIRECTORY: ffffffffb2010000
            PAGE DIRECTORY: 1000067
               PUD: 1000780 => 11b2067
               PMD: 11b2010 => 24a2067
               PTE: 24a2800 => 0


            """)
        #expect(try Self.run("vtop ffffffffc005c000", session) == """
            VIRTUAL           PHYSICAL        
            ffffffffc005c000  1103f000        

            PGD DIRECTORY: ffffffffb2010000
            PAGE DIRECTORY: 10215067
               PUD: 10215ff8 => 10217067
               PMD: 10217000 => 130f067
               PTE: 130f2e0 => 1103f161
              PAGE: 1103f000

              PTE     PHYSICAL  FLAGS
            1103f161  1103f000  (PRESENT|ACCESSED|DIRTY|GLOBAL)

                  PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS
            fffff3c180440fc0 1103f000                0        0  1 fffffc0000000

            """)
        #expect(try Self.run("vtop ffff8a1541000000", session) == """
            VIRTUAL           PHYSICAL        
            ffff8a1541000000  1000000         

            PGD DIRECTORY: ffffffffb2010000
            PAGE DIRECTORY: 11001067
               PUD: 110012a8 => 11002067
               PMD: 11002040 => 246c063
               PTE: 246c000 => 8000000001000163
              PAGE: 1000000

                  PTE         PHYSICAL  FLAGS
            8000000001000163   1000000  (PRESENT|RW|ACCESSED|DIRTY|GLOBAL|NX)

                  PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS
            fffff3c180040000  1000000                0        0  1 fffffc0000000

            """)
        #expect(try Self.run("ptov 1021aa40", session) == "VIRTUAL           PHYSICAL        \nffff8a155021aa40  1021aa40        \n")
        #expect(try Self.run("ptov 1ffffffff000", session) == "VIRTUAL           PHYSICAL        \nffffaa153ffff000  1ffffffff000    \n")
        #expect(try Self.run("vtop -k 0x1000", session) == "VIRTUAL           PHYSICAL        \n1000      (not a kernel virtual address)\n\n")
        #expect(try Self.run("vtop -u ffffffffb201aa40", session) == "VIRTUAL     PHYSICAL        \nffffffffb201aa40  (not accessible)\n\n")
        #expect(throws: CommandError.self) { try Self.run("vtop ffff800000000000", session) }
        #expect(throws: CommandError.self) { try Self.run("vtop -u -k ffff8a1541000000", session) }
        #expect(throws: CommandError.self) { try Self.run("vtop -c 99999 0x400000", session) }
    }

    /// A user address through PID 1's page table (crash 8.0.6: `vtop -c 1 0x400000` on dump.kdump),
    /// with the VMA that holds it (more cases in VMATests).
    @Test func userAddressWithTaskContext() throws {
        let session = try Self.session("dump.kdump")
        let text = try Self.run("vtop -c 1 0x400000", session)
        #expect(text == """
            VIRTUAL     PHYSICAL        
            400000      3670000         

               PGD: 10aa0000 => 10e03067
               PUD: 10e03000 => 10027067
               PMD: 10027010 => 24bd067
               PTE: 24bd000 => 8000000003670025
              PAGE: 3670000  

                  PTE         PHYSICAL  FLAGS
            8000000003670025   3670000  (PRESENT|USER|ACCESSED|NX)

                  VMA           START       END     FLAGS FILE
            ffff8a15501ffc78     400000     401000 8000071 /bin/busybox

                  PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS
            fffff3c1800d9c00  3670000 ffff8a1542448828        0  8 fffffc008003e referenced,uptodate,dirty,lru,active,swapbacked

            """)
        // The same task by its task_struct address (crash's `set`: PID 1 is TASK ffff8a15411f8000).
        #expect(try Self.run("vtop -c ffff8a15411f8000 0x400000", session) == text)
        // The user page itself is excluded at dump level 31: reading it says so.
        let space = try session.addressSpace()
        let kernel = try session.crashedKernel()
        let task = try #require(try kernel.tasks().tasks(pid: 1).first)
        #expect(task.address == 0xffff_8a15_411f_8000)
        let pgd = try #require(try kernel.userPageTable(of: task))
        #expect(pgd == 0x10aa_0000)
        #expect(throws: DumpError.excludedPage(paddr: 0x367_0000)) { try space.load(UInt64.self, virtual: 0x40_0000, userPGD: pgd) }
    }

    @Test func qemuDumpOtherBoot() throws {
        // crash 8.0.6 on qemu.elf: `ptov 1121aa40`, and vtop -c 1 0x400000 without its VMA block.
        let session = try Self.session("qemu.elf")
        let space = try session.addressSpace()
        #expect(space.pageOffsetBase == 0xffff_8ebc_c000_0000)
        let initTask = try #require(session.kernelSymbols().symbol(named: "init_task")).address
        #expect(initTask == 0xffff_ffff_8d41_aa40)
        #expect(try Self.run("ptov 1121aa40", session) == "VIRTUAL           PHYSICAL        \nffff8ebcd121aa40  1121aa40        \n")
    }

    @Test func withoutVmlinuxTheWalkIsTheSame() throws {
        // No vmlinux: the kernel's kallsyms and BTF (pageflags enum, page.index) give crash's
        // whole answer, struct page line included.
        let session = try Self.session("dump.kdump", vmlinux: false)
        let text = try Self.run("vtop 0xffffffffb201aa40", session)
        let ref = try Self.reference("dump.kdump", "vtop 0xffffffffb201aa40")
        #expect(text == ref)
    }

    @Test func json() throws {
        let session = try Self.session("dump.kdump")
        let result = try VtopCommand.run(["ffffcf3c00000000"], in: session).renderJSON()
        guard case let .array(items) = result, let first = items.first else { Issue.record("not an array"); return }
        #expect(first["physical"] == .string("0x1f002000"))
        #expect(first["page_size"] == .uint(4096))
        guard case let .array(levels)? = first["levels"] else { Issue.record("no levels"); return }
        #expect(levels.map { $0["level"] } == ["PGD", "PUD", "PMD", "PTE"].map { JSONValue.string($0) })
        #expect(levels.last?["entry"] == .string("0x800000001f002163"))
        #expect(first["struct_page"]?["flag_names"] == .array([.string("reserved")]))
        let ptov = try PtovCommand.run(["1021aa40"], in: session).renderJSON()
        #expect(ptov == .array([.object([("virtual", .string("0xffff8a155021aa40")), ("physical", .string("0x1021aa40"))])]))
    }

    /// One bad argument does not lose the others: vtop and ptov print what they could translate,
    /// one error line for each bad argument on standard error, and exit 1 (a partial result);
    /// the JSON list has the bad one in its place as {"argument", "error"}.
    @Test func badArgumentKeepsTheGoodOnes() throws {
        let dump = Harness.fixture("dump.kdump"), vmlinux = Harness.fixture(Harness.vmlinuxName)
        let session = try Self.session("dump.kdump")
        let vtop = try Harness.run(["-c", "vtop ffffffffb201aa40 zz ffffcf3c00000000", dump, vmlinux])
        let expected = try Self.run("vtop ffffffffb201aa40 ffffcf3c00000000", session)
        #expect(vtop.stdout == expected)
        #expect(vtop.stderr == "vtop: invalid address: zz\n")
        #expect(vtop.exitCode == 1)
        let ptov = try Harness.run(["-c", "ptov 1021aa40 zz 2000", dump, vmlinux])
        #expect(ptov.stdout == "VIRTUAL           PHYSICAL        \nffff8a155021aa40  1021aa40        \n\n"
                    + "VIRTUAL           PHYSICAL        \nffff8a1540002000  2000            \n")
        #expect(ptov.stderr == "ptov: invalid physical address: zz\n")
        #expect(ptov.exitCode == 1)
        let none = try Harness.run(["-c", "ptov zz yy", dump, vmlinux])
        #expect(none.stdout.isEmpty && none.stderr == "ptov: invalid physical address: zz; invalid physical address: yy\n")
        let json = try Harness.run(["--json", "-c", "ptov 1021aa40 zz", dump, vmlinux])
        let line = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let items = try #require(line["result"] as? [[String: String]])
        #expect(items == [["virtual": "0xffff8a155021aa40", "physical": "0x1021aa40"],
                          ["argument": "zz", "error": "invalid physical address: zz"]])
    }
}

import Foundation
import TestSupport
import Testing
@testable import Commands
@testable import DumpModel

/// sadump dumps made from qemu.elf (`GeneratedDumps.qemuSadump`, `.qemuSadumpDiskSet`): the same
/// memory, some frame-buffer and BIOS pages left out, the CPUs as SMRAM states and no VMCOREINFO.
/// Pages read as qemu.elf's; the kernel is placed from the CPU states; the commands give
/// crash 8.0.6's answers on qemu.elf, with the vmlinux and without it (kallsyms).
@Suite(Harness.needsFixtureSet)
struct SadumpTests {
    static let layouts = ["single partition", "disk set"]

    static func files(_ layout: String) throws -> [String] {
        let made = layout == "disk set" ? GeneratedDumps.qemuSadumpDiskSet : GeneratedDumps.qemuSadump
        return try #require(made, "no fixture set").get()
    }

    static func dump(_ layout: String) throws -> SadumpFile {
        try #require(try DumpOpener.open(paths: files(layout)) as? SadumpFile)
    }

    static func session(_ layout: String) throws -> Session {
        Session(dump: try dump(layout), vmlinuxPath: try Harness.fixture(Harness.vmlinuxName))
    }

    static func page(_ d: any DumpFile, _ pfn: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: d.pageSize)
        try out.withUnsafeMutableBytes { try d.readPage(pfn: pfn, into: $0) }
        return out
    }

    /// Every pfn has qemu.elf's state but the excluded ones; sampled pages (every 61st, the first
    /// and last of each run, both sides of the disk boundary) read qemu.elf's bytes.
    @Test(arguments: layouts)
    func pagesEqualQemuElf(layout: String) throws {
        let elf = try DumpOpener.open(path: Harness.fixture("qemu.elf"))
        let d = try Self.dump(layout)
        #expect(d.layout == (layout == "disk set" ? .diskSet : .singlePartition))
        #expect(d.disks.count == (layout == "disk set" ? 2 : 1))
        let excluded = GeneratedDumps.sadumpExcludedPFNs(maxMapnr: d.maxMapnr)
        #expect(excluded.count == 1398)
        var mismatches: [UInt64] = [], sampled = 0, present: UInt64 = 0
        var previous = PageState.notInDump
        for pfn in 0 ..< d.maxMapnr + 16 {
            let expected = elf.pageState(pfn: pfn)
            let state = d.pageState(pfn: pfn)
            if excluded.contains(pfn) {
                if state != .excluded { mismatches.append(pfn) }
                #expect(throws: DumpError.excludedPage(paddr: pfn * 4096)) { try Self.page(d, pfn) }
            } else if state != expected {
                mismatches.append(pfn)
            }
            if state == .present {
                present += 1
                if pfn % 61 == 0 || previous != .present || d.pageState(pfn: pfn + 1) != .present {
                    sampled += 1
                    if try Self.page(d, pfn) != Self.page(elf, pfn) { mismatches.append(pfn) }
                }
            }
            previous = state
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5).map { String($0, radix: 16) })")
        #expect(sampled > 2000)
        #expect(d.summary().pagesPresent == present)
        #expect(d.summary().pagesExcluded == UInt64(excluded.count))
        if d.disks.count == 2 {
            // The pages on either side of where disk 1's data ends.
            let first = d.disks[0].dataBytes / 4096
            let pfns = Array(d.presentPages().dropFirst(Int(first) - 2).prefix(4))
            for pfn in pfns { #expect(try Self.page(d, pfn) == Self.page(elf, pfn), "pfn \(pfn)") }
            #expect(try d.pageLocation(pfn: pfns[2]).disk.path == d.disks[1].path)
        }
    }

    /// The SMRAM states give qemu.elf's KASLR slide and phys_base, and `sys`, `ps`, `log` are
    /// crash's answers on qemu.elf; `bt -a` traces what it traces on qemu.elf.
    @Test(arguments: layouts)
    func commandsEqualQemuElf(layout: String) throws {
        let original = try KernelViewTests.session("qemu.elf")
        let info = try #require(original.vmcoreinfo)
        let session = try Self.session(layout)
        #expect(session.vmcoreinfo == nil)
        #expect(session.dump.qemuCPUStates.count == 2)
        // bt finds each CPU's SMRAM state by the APIC id the kernel gave the CPU.
        #expect(try session.crashedKernel().perCPU().apicIDs() == [0, 1])
        #expect(try session.kernelSlide().offset == info.kernelOffset)
        #expect(try session.addressSpace().physBase == info.number("phys_base").map { UInt64(bitPattern: $0) })
        for (command, file) in [("ps", "ps.txt"), ("log", "log.txt")] {
            #expect(Harness.runCommand(session, command) == .output(try KernelViewTests.reference("qemu.elf", file)), "\(command)")
        }
        guard case let .output(sys) = Harness.runCommand(session, "sys") else {
            Issue.record("sys failed")
            return
        }
        func facts(_ text: String) -> [Substring] {
            text.split(separator: "\n").filter { !$0.contains("KERNEL: ") && !$0.contains("DUMPFILE: ") }
        }
        #expect(facts(sys) == facts(try KernelViewTests.reference("qemu.elf", "sys.txt")))
        #expect(facts(sys).count == 11)
        guard case let .output(expected) = Harness.runCommand(original, "bt -a") else {
            Issue.record("bt -a failed on qemu.elf")
            return
        }
        #expect(Harness.runCommand(session, "bt -a") == .output(expected))
        #expect(expected.contains(" panic at "))
    }

    /// Without a vmlinux (none anywhere: empty HOME and XDG_CACHE_HOME) the kernel image is found
    /// by CPU 0's page tables and kallsyms in it: `ps` and `log` are crash's answers on qemu.elf.
    @Test(arguments: layouts)
    func withoutVmlinuxCommandsEqualCrash(layout: String) throws {
        let files = try Self.files(layout)
        let note = "no vmlinux: symbols from kallsyms (no VMCOREINFO: found in the kernel image at ffffffff8ba00000 by CPU 0's page tables), types from the kernel's BTF\n"
        let home = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        for (command, file) in [("ps", "ps.txt"), ("log", "log.txt")] {
            let run = try Harness.run(["-c", command] + files, environment: ["HOME": home.path, "XDG_CACHE_HOME": ""],
                                      cwd: URL(fileURLWithPath: Harness.fixture(".")))
            #expect(run.stderr == note, "\(layout): \(command)")
            #expect(run.stdout == (try KernelViewTests.reference("qemu.elf", file)), "\(layout): \(command)")
        }
    }

    /// `dumpinfo` shows the sadump headers and each CPU's SMRAM state.
    @Test func dumpinfoShowsTheHeaders() throws {
        let session = try Self.session("disk set")
        guard case let .output(text) = Harness.runCommand(session, "dumpinfo") else {
            Issue.record("dumpinfo failed")
            return
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains("            format: SADUMP"))
        #expect(lines.contains("       compression: none"))
        #expect(lines.contains("    pages_excluded: 1398"))
        #expect(lines.contains("             flags: 2 (SADUMP_LOCAL|SADUMP_DISKSET)"))
        #expect(lines.contains("            disk_num: 2"))
        let cr3 = session.dump.qemuCPUStates[0].controlRegisters[3]
        #expect(lines.contains { $0.contains(" CR3: " + DumpinfoCommand.hex(cr3, 16) + " CR4: ") })
        #expect(lines.filter { $0.contains("APIC ID: ") }.count == 2)
        // The JSON line follows dumpinfo's schema.
        let run = try Harness.run(["--json", "-c", "dumpinfo"] + (try Self.files("disk set")) + [Harness.fixture(Harness.vmlinuxName)])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let result = try #require(object["result"] as? [String: Any])
        #expect(result["format"] as? String == "SADUMP")
        var problems: [String] = []
        SchemaValidator.validate(result, against: try JSONSchemaTests.schema("dumpinfo"), at: "dumpinfo", problems: &problems)
        SchemaValidator.checkIntegers(result, at: "dumpinfo", problems: &problems)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }
}

import Foundation
import Testing
@testable import Commands
import DumpModel

/// `kmem -i`, `kmem -v` and the DMI part of `sys -i` on every fixture dump, against what crash
/// 8.0.6 printed (refs/crash-8.0.6/<dump>/kmem_-i.txt, kmem_-v.txt, sys_-i.txt); and
/// MemoryStatistics read through layouts that hide or rename what older kernels lack or call
/// otherwise.
@Suite(Harness.needsFixtureSet)
struct KmemTests {
    static let allDumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps

    static func session(_ dump: String) throws -> Session {
        try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
    }

    static func reference(_ dump: String, _ file: String) throws -> String {
        try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/\(dump)/\(file)"), encoding: .utf8)
    }

    /// The PAGES column of a `kmem -i` text, by row label ("TOTAL MEM" -> 71108).
    static func pageColumn(_ text: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let label = line.prefix(13).trimmingCharacters(in: .whitespaces)
            let rest = line.dropFirst(13).split(separator: " ")
            if !label.isEmpty, let first = rest.first, let pages = UInt64(first) { out[label] = pages }
        }
        return out
    }

    @Test(arguments: allDumps)
    func kmemInfoEqualsCrash(_ dump: String) throws {
        let session = try Self.session(dump)
        let expected = try Self.reference(dump, "kmem_-i.txt")
        #expect(Harness.runCommand(session, "kmem -i") == .output(expected))
    }

    @Test(arguments: allDumps)
    func kmemVmallocEqualsCrash(_ dump: String) throws {
        let session = try Self.session(dump)
        let expected = try Self.reference(dump, "kmem_-v.txt")
        #expect(Harness.runCommand(session, "kmem -v") == .output(expected))
    }

    @Test(arguments: allDumps)
    func sysDMIEqualsCrash(_ dump: String) throws {
        let session = try Self.session(dump)
        let expected = try Self.reference(dump, "sys_-i.txt")
        #expect(try SysDMICommandPart.dmiResult(session: session).renderText() == expected)
        let json = try SysDMICommandPart.dmiResult(session: session).renderJSON()
        #expect(json["DMI_SYS_VENDOR"] == .string("QEMU"))
        #expect(json["DMI_PRODUCT_SERIAL"] == .string(""))
        #expect(json["DMI_BOARD_NAME"] == nil, "a field whose pointer is NULL is left out, as crash does")
    }

    /// The JSON carries the same page counts as crash's text, bytes as decimal strings, and crash's percentages.
    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func kmemInfoJSONHasCrashValues(_ dump: String) throws {
        let session = try Self.session(dump)
        session.jsonOutput = true
        let result = try Harness.jsonObject(session, "kmem -i")
        let expected = Self.pageColumn(try Self.reference(dump, "kmem_-i.txt"))
        #expect(expected.count == 14)
        let keys = ["TOTAL MEM": "total_mem", "FREE": "free", "USED": "used", "SHARED": "shared", "BUFFERS": "buffers",
                    "CACHED": "cached", "SLAB": "slab", "TOTAL HUGE": "total_huge", "HUGE FREE": "huge_free",
                    "TOTAL SWAP": "total_swap", "SWAP USED": "swap_used", "SWAP FREE": "swap_free",
                    "COMMIT LIMIT": "commit_limit", "COMMITTED": "committed"]
        for (label, pages) in expected {
            let key = try #require(keys[label])
            let row = try #require(result[key] as? [String: Any], "\(label)")
            #expect(row["pages"] as? Int == Int(pages), "\(dump): \(label)")
            #expect(row["bytes"] as? String == String(pages * 4096), "\(dump): \(label)")
        }
        #expect(result["page_size"] as? Int == 4096)
        let free = try #require(result["free"] as? [String: Any])
        #expect(free["percent"] as? Int == (dump == "qemu.elf" ? 88 : 74))
    }

    @Test func otherOptionsAreOneClearError() throws {
        let session = try Self.session("dump.kdump")
        #expect(Harness.runCommand(session, "kmem -s") == .failure("kmem: option -s not supported yet (usage: kmem -i | -v)"))
        #expect(Harness.runCommand(session, "kmem") == .failure("kmem: an option is needed (usage: kmem -i | -v)"))
    }

    /// Without a vmlinux the kernel's kallsyms and BTF give the same figures (NoVmlinuxTests
    /// compares them with crash's); a dump without kallsyms in VMCOREINFO says so.
    @Test func withoutVmlinuxKmemReadsTheKernelsOwnTables() throws {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: nil)
        let reference = try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/dump.kdump/kmem_-i.txt"), encoding: .utf8)
        #expect(Harness.runCommand(session, "kmem -i") == .output(reference))
    }

    // MARK: - Layout variants

    /// The session's layout with some names hidden or renamed, as an older or differently built
    /// kernel would present them.
    struct EditedLayout: KernelLayout {
        var base: any KernelLayout
        var hiddenSymbols: Set<String> = []
        var extraSymbols: [String: String] = [:]
        var renamedEnumerators: [String: String] = [:]
        var memberOffsetShift: [String: Int] = [:]

        func symbolAddress(_ name: String) -> UInt64? {
            if hiddenSymbols.contains(name) { return nil }
            if let other = extraSymbols[name] { return base.symbolAddress(other) }
            return base.symbolAddress(name)
        }
        func typeSize(_ type: String) -> Int? { base.typeSize(type) }
        func memberOffset(_ type: String, _ member: String) -> Int? {
            base.memberOffset(type, member).map { $0 + (memberOffsetShift["\(type).\(member)"] ?? 0) }
        }
        func memberSize(_ type: String, _ member: String) -> Int? { base.memberSize(type, member) }
        func number(_ name: String) -> Int64? { base.number(name) }
        func enumerators(_ enumType: String) -> [(name: String, value: Int64)]? {
            base.enumerators(enumType)?.map { (renamedEnumerators[$0.name] ?? $0.name, $0.value) }
        }
        func length(_ name: String) -> Int? { base.length(name) }
    }

    static func space(_ session: Session, _ edit: (inout EditedLayout) -> Void) throws -> KernelAddressSpace {
        let real = try session.addressSpace()
        var layout = EditedLayout(base: real.layout)
        edit(&layout)
        return try KernelAddressSpace(memory: session.memory, vmcoreinfo: session.vmcoreinfo, layout: layout,
                                      physBase: session.dump.headerPhysBase)
    }

    /// Pre-5.0 `totalram_pages` (a plain unsigned long at the same place: the counter is the
    /// atomic's first member) and pre-5.9 slab counter names read the same figures.
    @Test func olderKernelNamesReadTheSameFigures() throws {
        let session = try Self.session("dump.kdump")
        let current = try MemoryStatistics.read(from: session.addressSpace())
        let older = try MemoryStatistics.read(from: Self.space(session) {
            $0.hiddenSymbols = ["_totalram_pages"]
            $0.extraSymbols = ["totalram_pages": "_totalram_pages"]
            $0.renamedEnumerators = ["NR_SLAB_RECLAIMABLE_B": "NR_SLAB_RECLAIMABLE",
                                     "NR_SLAB_UNRECLAIMABLE_B": "NR_SLAB_UNRECLAIMABLE"]
        })
        #expect(try older.totalRAM.get() == 71108)
        #expect(try older.slab.get() == 4291)
        #expect(try older.slab.get() == current.slab.get())
        #expect(try older.cached.get() == 11429)
    }

    /// A figure that cannot be read says why in its row; the others still print.
    @Test func oneMissingFigureLeavesTheOthers() throws {
        let session = try Self.session("dump.kdump")
        let stats = try MemoryStatistics.read(from: Self.space(session) {
            $0.hiddenSymbols = ["_totalram_pages", "totalram_pages", "vm_node_stat"]
        })
        #expect(throws: KernelReadError.self) { try stats.totalRAM.get() }
        #expect(throws: KernelReadError.self) { try stats.slab.get() }
        #expect(try stats.free.get() == 52653)
        #expect(try stats.shared.get() == 440)
        let text = KmemCommand.MemoryInfoResult(statistics: stats).renderText()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[1] == "    TOTAL MEM  (missing: symbol _totalram_pages or totalram_pages)")
        #expect(lines[2] == "         FREE    52653     205.7 MB")
        #expect(lines[7].hasPrefix("         SLAB  (missing: "))
        #expect(lines[7].contains("NR_SLAB"))
        #expect(text.contains("   TOTAL HUGE        0            0         ----\n"))
        #expect(text.hasSuffix(" COMMIT LIMIT  (missing: symbol _totalram_pages or totalram_pages)\n"
                               + "    COMMITTED  (missing: symbol _totalram_pages or totalram_pages)\n"))
    }

    /// Wrong member offsets (a layout that does not describe the dump) give errors or wrong
    /// figures, never a trap or an endless walk.
    @Test func wrongOffsetsNeverTrap() throws {
        let session = try Self.session("dump.kdump")
        let space = try Self.space(session) {
            $0.memberOffsetShift = ["vmap_area.list": 8, "inode.i_sb_list": 24, "zone.vm_stat": 4096,
                                    "mem_section.section_mem_map": 8, "swap_info_struct.flags": 100_000]
        }
        let stats = try MemoryStatistics.read(from: space)
        #expect((try? stats.free.get()) != 52653)
        // The list links are still followed (they do not depend on the offset): every area is
        // misread, none is lost, the walk ends.
        let right = try VmallocAreas.read(from: session.addressSpace())
        let wrong = try VmallocAreas.read(from: space)
        #expect(wrong.count >= right.count)
        #expect(wrong.first != right.first)
    }

    @Test func theCensusStopsWhenInterrupted() throws {
        let session = try Self.session("dump.kdump")
        #expect(throws: InterruptedByUser.self) {
            try MemoryStatistics.read(from: session.addressSpace(), interrupted: { true })
        }
    }

    @Test func pagesToSizeRoundsAsPrintf() {
        let size = { KmemCommand.pagesToSize($0, pageSize: 4096) }
        #expect(size(0) == "0")
        #expect(size(1) == "4 KB")
        #expect(size(255) == "1020 KB")
        #expect(size(256) == "1 MB")
        // 1.25 and 1.75 MB are exact binary ties: "%.1f" rounds them to even.
        #expect(size(320) == "1.2 MB")
        #expect(size(448) == "1.8 MB")
        #expect(size(71108) == "277.8 MB")
        #expect(size(262143) == "1024 MB")
        #expect(size(262144) == "1 GB")
        #expect(size(262144 + 26215) == "1.1 GB")
        #expect(size(UInt64.max) == "70368744177664 GB")
    }
}

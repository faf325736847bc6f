import Foundation
import Testing
@testable import DumpModel

/// The fixture dumps and crash 8.0.6's references, found as `FormatFixtures` finds them
/// (../shared/fixtures/prepare.sh or $CRASHSH_FIXTURES); the tests skip when neither is there.
enum TranslationFixtures {
    static var dir: String? { FormatFixtures.dir }
    static var available: Bool { FormatFixtures.available }

    static let dumps = ["dump.kdump", "dump-lzo.kdump", "dump-zstd.kdump", "dump.flat", "dump.elf", "vmcore",
                        "qemu.elf", "qemu.kdump"]

    static func ref(_ dump: String, _ command: String) -> String? {
        guard let dir else { return nil }
        return try? String(contentsOfFile: "\(dir)/refs/crash-8.0.6/\(dump)/\(command).txt", encoding: .utf8)
    }

    static func open(_ name: String) throws -> (any DumpFile, KernelAddressSpace) {
        let dump = try DumpOpener.open(path: dir! + "/" + name)
        let info = dump.vmcoreinfo
        let headerPhysBase = (dump as? KdumpCompressedFile)?.subHeader.physBase
        let space = try KernelAddressSpace(memory: PhysicalMemory(dump: dump), vmcoreinfo: info, physBase: headerPhysBase)
        return (dump, space)
    }
}

/// What crash's `vtop` printed for a kernel address, parsed.
struct CrashVtopRef {
    var virtual: UInt64 = 0
    var physical: UInt64?
    var pgdDirectory: UInt64?
    var pageDirectory: UInt64?
    /// (level, entry address, entry value) for the PUD/PMD/PTE (and P4D) lines.
    var levels: [(String, UInt64, UInt64)] = []
    var page: UInt64?
    var leaf: UInt64?
    var flags: [String] = []
    /// struct page line: address, physical, count, flags.
    var pageStruct: (UInt64, UInt64, Int32, UInt64)?

    init(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func hexValue(_ s: Substring) -> UInt64? { UInt64(s.hasPrefix("0x") ? s.dropFirst(2) : s, radix: 16) }
        var sawFlagsHeader = false
        for (i, line) in lines.enumerated() {
            let words = line.split(separator: " ")
            if i == 1, words.count >= 1 {
                virtual = hexValue(words[0]) ?? 0
                if words.count >= 2 { physical = hexValue(words[1]) }
            } else if line.hasPrefix("PGD DIRECTORY: ") {
                pgdDirectory = hexValue(words[2])
            } else if line.hasPrefix("PAGE DIRECTORY: ") {
                pageDirectory = hexValue(words[2])
            } else if line.hasPrefix("   ") && words.count == 4 && words[2] == "=>" {
                levels.append((String(words[0].dropLast()), hexValue(words[1]) ?? 0, hexValue(words[3]) ?? 0))
            } else if line.hasPrefix("  PAGE: ") {
                page = hexValue(words[1])
            } else if words.first == "PTE" && words.contains("FLAGS") {
                sawFlagsHeader = true
            } else if sawFlagsHeader, line.hasSuffix(")"), let open = line.firstIndex(of: "(") {
                leaf = hexValue(words[0])
                flags = line[line.index(after: open)..<line.index(before: line.endIndex)].split(separator: "|").map(String.init)
                sawFlagsHeader = false
            } else if words.count >= 6, !line.hasPrefix(" "), let a = hexValue(words[0]), a > 0xffff_0000_0000_0000,
                      let p = hexValue(words[1]), let cnt = Int32(words[4]), let f = hexValue(words[5]) {
                pageStruct = (a, p, cnt, f)
            }
        }
    }
}

@Suite(.enabled(if: TranslationFixtures.available, "fixtures unavailable (../shared/fixtures/prepare.sh)"))
struct TranslationFixtureTests {
    /// init_task's run-time address on a dump: the address crash was given on dump.kdump (the name of
    /// its reference file) moved by the difference of the two dumps' KERNELOFFSET.
    static func initTaskAddress(_ info: VMCoreInfo) throws -> UInt64 {
        let kdumpRef: UInt64 = 0xffff_ffff_b201_aa40   // vtop_0xffffffffb201aa40.txt on dump.kdump
        let kdumpInfo = try #require(TranslationFixtures.open("dump.kdump").0.vmcoreinfoText)
        let kdumpOffset = try #require(VMCoreInfo(raw: kdumpInfo).kernelOffset)
        return kdumpRef &- kdumpOffset &+ (try #require(info.kernelOffset))
    }

    /// The lowest vmalloc address in use: the first `vmap_area` on `vmap_area_list` (all from VMCOREINFO).
    static func firstVmallocAddress(_ space: KernelAddressSpace, _ info: VMCoreInfo) throws -> UInt64 {
        let head = try #require(info.symbol("vmap_area_list"))
        let listOff = UInt64(try #require(info.offset("vmap_area.list")))
        let startOff = UInt64(try #require(info.offset("vmap_area.va_start")))
        let first = try space.load(UInt64.self, virtual: head)
        return try space.load(UInt64.self, virtual: first &- listOff &+ startOff)
    }

    func check(_ dumpName: String, _ address: UInt64, _ space: KernelAddressSpace) throws {
        let command = "vtop_" + (address >= 0xffff_ffff_8000_0000 ? "0x" : "") + String(address, radix: 16)
        let text = try #require(TranslationFixtures.ref(dumpName, command), "no reference \(dumpName)/\(command).txt")
        let ref = CrashVtopRef(text)
        #expect(ref.virtual == address)
        let walk = space.walk(address)
        // The value crash prints first (arithmetic for the kernel image, the walk for vmalloc).
        #expect(try space.translate(address) == ref.physical)
        #expect(walk.physicalAddress == ref.physical)
        #expect(walk.rootVirtual == ref.pgdDirectory)
        #expect(walk.steps.first?.entry.raw == ref.pageDirectory)
        let below = walk.steps.dropFirst().map { ($0.level.rawValue, $0.entryAddress, $0.entry.raw) }
        #expect(below.map(\.0) == ref.levels.map(\.0))
        #expect(below.map(\.1) == ref.levels.map(\.1))
        #expect(below.map(\.2) == ref.levels.map(\.2))
        if case let .mapped(_, base, _) = walk.outcome { #expect(base == ref.page) } else { Issue.record("not mapped") }
        #expect(walk.leafEntry?.raw == ref.leaf)
        #expect(walk.leafEntry?.flagNames == ref.flags)
        // The struct page line: its address through vmemmap_base (derived from mem_section), flags, count.
        let (pageAddr, pagePhys, count, flags) = try #require(ref.pageStruct)
        let pfn = try #require(ref.physical) >> 12
        #expect(pagePhys == pfn << 12)
        let desc = try KernelMemory(space: space).pageDescriptor(pfn: pfn)
        #expect(desc.address == pageAddr)
        #expect(desc.flags == flags)
        #expect(desc.refcount == count)
        #expect(desc.mapping == 0)
    }

    @Test(arguments: TranslationFixtures.dumps)
    func vtopMatchesCrash(_ name: String) throws {
        let (dump, space) = try TranslationFixtures.open(name)
        let info = try #require(dump.vmcoreinfoText.map(VMCoreInfo.init(raw:)))
        // VMCOREINFO alone: page_offset_base and vmemmap_base come from mem_section.
        #expect(space.baseSources["page_offset_base"] == "SYMBOL(mem_section) through the page tables")
        #expect(space.baseSources["vmemmap_base"] == "mem_section[].section_mem_map")
        try check(name, try Self.initTaskAddress(info), space)
        try check(name, try Self.firstVmallocAddress(space, info), space)
    }

    @Test func basesAgreeWithCrash() throws {
        // crash 8.0.6 on dump.kdump: p page_offset_base / vmemmap_base (see the report of this work).
        let (_, space) = try TranslationFixtures.open("dump.kdump")
        #expect(space.pageOffsetBase == 0xffff_8a15_4000_0000)
        #expect(space.vmemmapBase == 0xffff_f3c1_8000_0000)
        #expect(try space.directMapAddress(physical: 0x1021_aa40) == 0xffff_8a15_5021_aa40)
        // A direct-map read agrees with the physical read it stands for.
        let v = try space.directMapAddress(physical: 0x1021_aa40)
        #expect(try space.load(UInt64.self, virtual: v) == space.memory.load(UInt64.self, physical: 0x1021_aa40))
    }

    @Test func unmappedAndExcluded() throws {
        let (_, space) = try TranslationFixtures.open("dump.kdump")
        // crash: "vtop ffffcf3c00500000" -> not mapped, the PTE is 0 (walk PGD..PTE).
        let w = space.walk(0xffff_cf3c_0050_0000)
        #expect(w.outcome == .notPresent(level: .pte))
        #expect(w.steps.first?.entry.raw == 0x1000067)
        #expect(Array(w.steps.dropFirst().map(\.entryAddress)) == [0x1000780, 0x11b2010, 0x24a2800])
        #expect(Array(w.steps.dropFirst().map(\.entry.raw)) == [0x11b2067, 0x24a2067, 0])
        #expect(throws: DumpError.translationFailed(vaddr: 0xffff_cf3c_0050_0000, level: "PTE", reason: "entry not present (0x0)")) {
            try space.translate(0xffff_cf3c_0050_0000)
        }
        // A user-space page of a level-31 dump: the direct-map address translates, the page is excluded.
        var excludedPFN: UInt64?
        for pfn in stride(from: UInt64(0x1000), to: 0x10000, by: 1) where space.memory.dump.pageState(pfn: pfn) == .excluded {
            excludedPFN = pfn; break
        }
        let pfn = try #require(excludedPFN)
        let v = try space.directMapAddress(physical: pfn << 12)
        #expect(throws: DumpError.excludedPage(paddr: pfn << 12)) { try space.load(UInt64.self, virtual: v) }
    }
}

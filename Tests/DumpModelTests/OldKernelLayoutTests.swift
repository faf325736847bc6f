import Testing
@testable import DumpModel

/// Kernels before 4.13 (RHEL 7, SLES 12): VMCOREINFO names the page table `init_level4_pgt`,
/// says phys_base only as SYMBOL(phys_base) (before 4.10), has no KERNEL_IMAGE_SIZE (before 4.14),
/// no pgtable_l5_enabled, and the direct map starts at 0xffff880000000000 (before 4.20).
/// And the kernel image found from a CPU's CR3 and IDT when there is no VMCOREINFO at all.
struct OldKernelLayoutTests {
    static let pgdVirtual: UInt64 = 0xffff_ffff_8180_a000
    static let physBase: UInt64 = 0x0100_0000

    /// A 3.10-style VMCOREINFO and a kernel image at 0xffffffff81000000 + `slide`, phys_base 16 MiB.
    static func oldKernel(slide: UInt64 = 0) -> (SyntheticDump, PageTableBuilder) {
        var info = """
        OSRELEASE=3.10.0-1160.el7.x86_64
        PAGESIZE=4096
        SYMBOL(swapper_pg_dir)=\(String(pgdVirtual + slide, radix: 16))
        SYMBOL(init_level4_pgt)=\(String(pgdVirtual + slide, radix: 16))
        SYMBOL(phys_base)=\(String(0xffff_ffff_8180_0010 + slide, radix: 16))
        SYMBOL(_stext)=\(String(0xffff_ffff_8100_0000 + slide, radix: 16))

        """
        if slide != 0 { info += "KERNELOFFSET=\(String(slide, radix: 16))\n" }
        let dump = SyntheticDump(vmcoreinfo: info)
        let root = pgdVirtual - KernelAddressSpace.startKernelMap + physBase
        let builder = PageTableBuilder(dump: dump, fiveLevel: false, root: root, firstFreeTable: 0x0400_0000)
        return (dump, builder)
    }

    static func space(_ dump: SyntheticDump, physBase: UInt64? = OldKernelLayoutTests.physBase) throws -> KernelAddressSpace {
        try KernelAddressSpace(memory: PhysicalMemory(dump: dump), vmcoreinfo: dump.vmcoreinfo, physBase: physBase)
    }

    @Test func initLevel4PgtAndTheOldDirectMap() throws {
        var (dump, builder) = Self.oldKernel()
        // The direct map of the first 2 MiB at the pre-4.20 base, and a vmalloc page.
        builder.map(0xffff_8800_0000_0000, to: 0, pageSize: 1 << 21)
        builder.map(0xffff_c900_0000_3000, to: 0x0777_7000)
        dump.write64(0x0777_7008, 0x1122_3344_5566_7788)
        let s = try Self.space(dump)
        #expect(s.kernelPGD == Self.pgdVirtual)
        #expect(s.kernelPGDPhysical == Self.pgdVirtual - KernelAddressSpace.startKernelMap + Self.physBase)
        #expect(!s.fiveLevel)
        #expect(s.kernelOffset == nil)
        #expect(s.kernelImageSize == 512 << 20)
        #expect(try s.translate(0xffff_ffff_8100_1234) == 0x0100_1234 + Self.physBase)
        #expect(s.pageOffsetBase == 0xffff_8800_0000_0000)
        #expect(s.baseSources["page_offset_base"] == "fixed layout (maps physical 0)")
        #expect(try s.translate(0xffff_8800_0000_5000) == 0x5000)
        #expect(try s.load(UInt64.self, virtual: 0xffff_c900_0000_3008) == 0x1122_3344_5566_7788)
        #expect(s.vmallocBase == 0xffff_c900_0000_0000)
    }

    /// No NUMBER(phys_base): the caller's (dump header) value is used; with none, one line says so.
    @Test func symbolPhysBaseIsNotAValue() throws {
        let (dump, _) = Self.oldKernel()
        #expect(throws: DumpError.missing(what: "phys_base (no VMCOREINFO NUMBER(phys_base), none in the dump header, none from the CPU state)")) {
            try Self.space(dump, physBase: nil)
        }
    }

    /// A KASLR kernel before 4.14 placed above 512 MiB: its page table is still in the image (1 GiB).
    @Test func relocatedWithoutImageSize() throws {
        let slide: UInt64 = 0x3000_0000
        let (dump, _) = Self.oldKernel(slide: slide)
        let s = try Self.space(dump)
        #expect(s.kernelImageSize == 1 << 30)
        #expect(s.kernelOffset == slide)
        #expect(s.kernelPGD == Self.pgdVirtual + slide)
        #expect(try s.translate(0xffff_ffff_8100_0000 + slide) == 0x0100_0000 + slide + Self.physBase)
    }

    /// Before 4.9 a task's CPU is in the thread_info at the base of its stack, not in task_struct.
    @Test func taskCPUFromTheStacksThreadInfo() throws {
        var (dump, builder) = Self.oldKernel()
        builder.map(0xffff_8800_0000_0000, to: 0, pageSize: 1 << 21)
        let task: UInt64 = 0xffff_8800_0001_0000, stack: UInt64 = 0xffff_8800_0002_0000
        dump.write64(0x10000 + 72, stack)
        dump.write(0x10000 + 16, [0x2a, 0, 0, 0, 0x2a, 0, 0, 0])
        dump.write(0x10000 + 32, Array("kworker/3:1".utf8))
        dump.write(0x20000 + 16, [3, 0, 0, 0])
        let layout = DictionaryLayout(
            offsets: ["task_struct.tasks": 0, "task_struct.pid": 16, "task_struct.tgid": 20, "task_struct.comm": 32,
                      "task_struct.mm": 48, "task_struct.flags": 56, "task_struct.state": 64, "task_struct.stack": 72,
                      "thread_info.cpu": 16],
            memberSizes: ["task_struct.pid": 4, "task_struct.tgid": 4, "task_struct.comm": 16, "task_struct.mm": 8,
                          "task_struct.flags": 4, "task_struct.state": 8, "task_struct.stack": 8, "thread_info.cpu": 4])
        let space = try KernelAddressSpace(memory: PhysicalMemory(dump: dump), vmcoreinfo: dump.vmcoreinfo,
                                           layout: layout, physBase: Self.physBase)
        let reader = TaskReader(memory: KernelMemory(space: space))
        try reader.check()
        #expect(reader.stateMember == "state")
        let t = try reader.read(task)
        #expect(t.pid == 42 && t.comm == "kworker/3:1")
        #expect(t.cpu == 3)
    }

    // MARK: - KernelImageLocator

    /// A QEMU "QEMU" note descriptor with CR3, CR4 and the IDT base set.
    static func cpuState(cr3: UInt64, cr4: UInt64 = 0x3606f0, idtBase: UInt64 = 0) throws -> QEMUCPUState {
        var d = [UInt8](repeating: 0, count: 440)
        func put(_ v: UInt64, _ at: Int) { for i in 0..<8 { d[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        put(1, 0)
        put(440, 4)
        put(idtBase, 152 + 24 * 9 + 16)
        put(cr3, 392 + 24)
        put(cr4, 392 + 32)
        return try #require(QEMUCPUState(desc: d))
    }

    /// A kernel image at link address 0xffffffff81000000 moved by `slide`, loaded at `load`
    /// (2 MiB pages), with "Linux version " at link 0xffffffff81e00100 and a PTI page-table pair.
    static func imageInMemory(slide: UInt64, load: UInt64, fiveLevel: Bool = false) -> (SyntheticDump, root: UInt64, LinkedKernelAddresses) {
        let dump = SyntheticDump()
        let root: UInt64 = 0x0200_0000
        var builder = PageTableBuilder(dump: dump, fiveLevel: fiveLevel, root: root, firstFreeTable: 0x0300_0000)
        let text: UInt64 = 0xffff_ffff_8100_0000
        for i in 0..<8 as Range<UInt64> {
            builder.map(text + slide + i << 21, to: load + i << 21, pageSize: 1 << 21)
        }
        let banner: UInt64 = 0xffff_ffff_81e0_0100
        dump.write(banner - text + load, Array("Linux version 3.10.0 (mockbuild)".utf8))
        let linked = LinkedKernelAddresses(imageStart: text, linuxBanner: banner, idtTable: 0xffff_ffff_81c0_0000,
                                           divideErrorEntry: 0xffff_ffff_8100_0990, pageTableIsolation: true)
        return (dump, root, linked)
    }

    @Test func slideAndPhysBaseFromCR3() throws {
        let slide: UInt64 = 0x1e00_0000, load: UInt64 = 0x0800_0000
        let (dump, root, linked) = Self.imageInMemory(slide: slide, load: load)
        // CPU 0 has no CR3 (not started); CPU 1 ran a user task: PTI's user half (bit 12) and a PCID.
        let cpus = [try Self.cpuState(cr3: 0), try Self.cpuState(cr3: root | 0x1000 | 0x5)]
        let p = try KernelImageLocator.locate(memory: PhysicalMemory(dump: dump), cpuStates: cpus, linked: linked)
        #expect(p == KernelImagePlacement(slide: slide, physBase: load &- (linked.imageStart &+ slide &- KernelAddressSpace.startKernelMap),
                                          cpu: 1, method: .pageTables))
    }

    /// CR4.LA57 says 5-level tables: the search walks them, and the placement says so.
    @Test func fiveLevelTablesFromCR4() throws {
        let slide: UInt64 = 0x0600_0000, load: UInt64 = 0x0800_0000
        let (dump, root, linked) = Self.imageInMemory(slide: slide, load: load, fiveLevel: true)
        let p = try KernelImageLocator.locate(memory: PhysicalMemory(dump: dump),
                                              cpuStates: [try Self.cpuState(cr3: root, cr4: 0x3606f0 | 1 << 12)], linked: linked)
        #expect(p.slide == slide && p.fiveLevel && p.method == .pageTables)
        #expect(throws: DumpError.self) {
            try KernelImageLocator.locate(memory: PhysicalMemory(dump: dump), cpuStates: [try Self.cpuState(cr3: root)], linked: linked)
        }
    }

    @Test func slideFromTheIDTWhenTheTablesMislead() throws {
        let slide: UInt64 = 0x0400_0000, load: UInt64 = 0x0a00_0000
        let (dump, root, linked) = Self.imageInMemory(slide: slide, load: load)
        // Vector 0's gate: handler split low 16 / middle 16 / high 32 bits, present.
        let handler = linked.divideErrorEntry! + slide
        let idtPhysical = linked.idtTable! - linked.imageStart + load
        var gate = [UInt8](repeating: 0, count: 16)
        gate[0] = UInt8(handler & 0xff); gate[1] = UInt8(handler >> 8 & 0xff)
        gate[2] = 0x10; gate[5] = 0x8e
        gate[6] = UInt8(handler >> 16 & 0xff); gate[7] = UInt8(handler >> 24 & 0xff)
        for i in 0..<4 { gate[8 + i] = UInt8(handler >> (32 + 8 * UInt64(i)) & 0xff) }
        dump.write(idtPhysical, gate)
        var misleading = linked
        misleading.imageStart += 1 << 21
        let cpus = [try Self.cpuState(cr3: root, idtBase: linked.idtTable! + slide)]
        let p = try KernelImageLocator.locate(memory: PhysicalMemory(dump: dump), cpuStates: cpus, linked: misleading)
        #expect(p.method == .idt)
        #expect(p.slide == slide)
        #expect(p.physBase == load &- (linked.imageStart &+ slide &- KernelAddressSpace.startKernelMap))
    }

    @Test func noBannerNoPlacement() throws {
        let (dump, root, linked) = Self.imageInMemory(slide: 0x0200_0000, load: 0x0800_0000)
        var other = linked
        other.linuxBanner += 8
        #expect(throws: DumpError.self) {
            try KernelImageLocator.locate(memory: PhysicalMemory(dump: dump), cpuStates: [try Self.cpuState(cr3: root)], linked: other)
        }
        #expect(throws: DumpError.missing(what: "the kernel's KASLR offset and phys_base (no VMCOREINFO, and no CPU state notes with CR3)")) {
            try KernelImageLocator.locate(memory: PhysicalMemory(dump: dump), cpuStates: [], linked: linked)
        }
    }
}

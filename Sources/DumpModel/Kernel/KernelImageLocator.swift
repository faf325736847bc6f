/// Link-time addresses from the vmlinux (before any KASLR slide) that finding the kernel image
/// in a dump without VMCOREINFO compares against.
public struct LinkedKernelAddresses: Sendable, Equatable {
    /// `_text`: the first byte of the kernel image. The kernel unmaps the part of the image mapping
    /// below it at boot, so it is the first page mapped at or after `__START_KERNEL_map`.
    public var imageStart: UInt64
    /// `linux_banner`, whose "Linux version " confirms a candidate slide.
    public var linuxBanner: UInt64
    /// `idt_table`, the IDT the IDTR points at once the kernel runs (through a read-only alias).
    public var idtTable: UInt64?
    /// The vector-0 (divide error) entry point: `asm_exc_divide_error`, `divide_error` before 5.8.
    public var divideErrorEntry: UInt64?
    /// The kernel isolates page tables (PTI: `pti_init` exists): CR3 bit 12 then selects the
    /// user half of an 8 KiB PGD pair, and the kernel half is the table below it.
    public var pageTableIsolation: Bool

    public init(imageStart: UInt64, linuxBanner: UInt64, idtTable: UInt64? = nil, divideErrorEntry: UInt64? = nil,
                pageTableIsolation: Bool = false) {
        self.imageStart = imageStart
        self.linuxBanner = linuxBanner
        self.idtTable = idtTable
        self.divideErrorEntry = divideErrorEntry
        self.pageTableIsolation = pageTableIsolation
    }
}

/// Where the kernel image was placed at boot, as found from one CPU's saved state.
public struct KernelImagePlacement: Sendable, Equatable {
    public enum Method: String, Sendable {
        /// The first page mapped at or after `__START_KERNEL_map` in CR3's tables is `_text`.
        case pageTables = "CR3 page tables"
        /// The IDT's vector-0 gate holds the run-time divide-error entry point.
        case idt = "IDT"
    }
    /// KASLR slide: run-time minus link-time address of any kernel-image symbol.
    public var slide: UInt64
    /// What the kernel's `__pa()` adds to an image address minus `__START_KERNEL_map` (two's
    /// complement: a kernel loaded below its link-time physical address has a "negative" one).
    public var physBase: UInt64
    /// The CPU (note order) whose state gave the answer.
    public var cpu: Int
    public var method: Method
    /// That CPU used 5-level paging (CR4.LA57).
    public var fiveLevel: Bool = false
}

/// Finds the KASLR slide and phys_base of the kernel image from the CPU state a dump holds
/// (QEMU's per-CPU notes, sadump's SMRAM states: CR3, CR4, the IDTR base), for dumps that carry
/// no VMCOREINFO.
///
/// For each CPU with a CR3: first the page tables (the first mapped page of the kernel image
/// mapping is `_text`; its physical address gives phys_base), then the IDT (its vector-0 gate
/// points at the divide-error entry; the IDT's physical page is `idt_table`'s). A candidate is
/// taken only when `linux_banner` moved by it reads "Linux version " through the CPU's page
/// tables and lies where phys_base says the image is.
/// Not handled: a dump taken while the kdump kernel ran (its CR3 and IDT are the second kernel's).
public enum KernelImageLocator {
    static let bannerPrefix = Array("Linux version ".utf8)
    /// The kernel image lies in the first GiB of the mapping (KERNEL_IMAGE_SIZE with KASLR).
    static let imageMappingSize: UInt64 = 1 << 30
    /// CR4.LA57: the CPU used 5-level paging.
    static let cr4LA57: UInt64 = 1 << 12

    /// - Throws: `DumpError.missing` naming what could not be found when no CPU's state leads
    ///   to a kernel image whose banner checks.
    public static func locate(memory: PhysicalMemory, cpuStates: [QEMUCPUState],
                              linked: LinkedKernelAddresses) throws -> KernelImagePlacement {
        guard !cpuStates.isEmpty else {
            throw DumpError.missing(what: "the kernel's KASLR offset and phys_base (no VMCOREINFO, and no CPU state notes with CR3)")
        }
        for (cpu, state) in cpuStates.enumerated() {
            guard state.controlRegisters.count == 5 else { continue }
            let cr3 = state.controlRegisters[3], cr4 = state.controlRegisters[4]
            guard cr3 != 0 else { continue }
            var root = cr3 & PageTableEntry.frameMask
            if linked.pageTableIsolation { root &= ~UInt64(1 << 12) }
            let walker = PageTableWalker(memory: memory, fiveLevel: cr4 & cr4LA57 != 0)
            if var p = fromPageTables(walker, root: root, linked: linked, cpu: cpu),
               bannerChecks(p, walker: walker, root: root, linked: linked) {
                p.fiveLevel = walker.fiveLevel
                return p
            }
            if state.segments.count > 9, var p = fromIDT(walker, root: root, idtBase: state.segments[9].base,
                                                         linked: linked, cpu: cpu),
               bannerChecks(p, walker: walker, root: root, linked: linked) {
                p.fiveLevel = walker.fiveLevel
                return p
            }
        }
        throw DumpError.missing(what: "the kernel's KASLR offset and phys_base (no VMCOREINFO, and no CPU's CR3 page tables or IDT lead to this vmlinux's linux_banner)")
    }

    /// The first page mapped in `[__START_KERNEL_map, +1 GiB)`, taken as `_text`.
    static func fromPageTables(_ walker: PageTableWalker, root: UInt64, linked: LinkedKernelAddresses,
                               cpu: Int) -> KernelImagePlacement? {
        guard let (va, physical) = firstImagePage(walker, root: root), va >= linked.imageStart else { return nil }
        return KernelImagePlacement(slide: va &- linked.imageStart, physBase: physical &- (va &- KernelAddressSpace.startKernelMap),
                                    cpu: cpu, method: .pageTables)
    }

    /// The first page mapped in `[__START_KERNEL_map, +1 GiB)` and its physical address. Unmapped
    /// ranges are skipped a whole table entry at a time, so the scan costs at most a few thousand walks.
    static func firstImagePage(_ walker: PageTableWalker, root: UInt64) -> (virtual: UInt64, physical: UInt64)? {
        let start = KernelAddressSpace.startKernelMap
        let end = start &+ imageMappingSize
        var va = start
        var walks = 0
        while va < end, walks < 1 << 16 {
            walks += 1
            let w = walker.walk(va, root: root)
            let level: PagingLevel
            switch w.outcome {
            case let .mapped(physical, _, _): return (va, physical)
            case let .notPresent(l): level = l
            case let .unreadable(l, _): level = l
            }
            let size: UInt64 = 1 << level.shift(fiveLevel: walker.fiveLevel)
            let (next, overflow) = (va & ~(size - 1)).addingReportingOverflow(size)
            if overflow { return nil }
            va = next
        }
        return nil
    }

    /// Where the kernel image may start by each CPU's page tables, for a dump with neither
    /// VMCOREINFO nor a vmlinux: the first mapped page of the image mapping is `_text`. With
    /// page-table isolation a CPU in user mode has the user PGD in CR3 (bit 12 set), whose
    /// kernel half maps only the entry code: the kernel PGD below it is tried first. What the
    /// kernel image holds must confirm a candidate (kallsyms' `_text` there).
    public static func imageStartCandidates(memory: PhysicalMemory, cpuStates: [QEMUCPUState]) -> [KernelImageStart] {
        var out: [KernelImageStart] = []
        for (cpu, state) in cpuStates.enumerated() {
            guard state.controlRegisters.count == 5 else { continue }
            let cr3 = state.controlRegisters[3], cr4 = state.controlRegisters[4]
            guard cr3 != 0 else { continue }
            let walker = PageTableWalker(memory: memory, fiveLevel: cr4 & cr4LA57 != 0)
            let frame = cr3 & PageTableEntry.frameMask
            for root in Set([frame & ~UInt64(1 << 12), frame]).sorted() {
                guard let (va, physical) = firstImagePage(walker, root: root) else { continue }
                let candidate = KernelImageStart(text: va, textPhysical: physical,
                                                 physBase: physical &- (va &- KernelAddressSpace.startKernelMap),
                                                 cpu: cpu, fiveLevel: walker.fiveLevel)
                if !out.contains(where: { $0.text == va && $0.textPhysical == physical }) { out.append(candidate) }
            }
        }
        return out
    }

    /// The slide from the IDT's vector-0 gate, phys_base from where the IDT lies.
    static func fromIDT(_ walker: PageTableWalker, root: UInt64, idtBase: UInt64, linked: LinkedKernelAddresses,
                        cpu: Int) -> KernelImagePlacement? {
        guard idtBase != 0, let idtTable = linked.idtTable, let entry = linked.divideErrorEntry,
              let idtPhysical = walker.walk(idtBase, root: root).physicalAddress,
              let gate = try? walker.memory.bytes(physical: idtPhysical, count: 16) else { return nil }
        func u16(_ at: Int) -> UInt64 { UInt64(gate[at]) | UInt64(gate[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt64 { u16(at) | u16(at + 2) << 16 }
        // Present bit of the type byte: an empty gate says nothing.
        guard gate[5] & 0x80 != 0 else { return nil }
        let handler = u16(0) | u16(6) << 16 | u32(8) << 32
        guard handler >= entry else { return nil }
        let slide = handler &- entry
        guard slide & 0xfff == 0 else { return nil }
        let physBase = idtPhysical &- (idtTable &+ slide &- KernelAddressSpace.startKernelMap)
        return KernelImagePlacement(slide: slide, physBase: physBase, cpu: cpu, method: .idt)
    }

    /// `linux_banner` moved by the slide starts with "Linux version " through the CPU's page
    /// tables, at the physical address phys_base gives it.
    static func bannerChecks(_ p: KernelImagePlacement, walker: PageTableWalker, root: UInt64,
                             linked: LinkedKernelAddresses) -> Bool {
        let va = linked.linuxBanner &+ p.slide
        guard va >= KernelAddressSpace.startKernelMap,
              let physical = walker.walk(va, root: root).physicalAddress,
              physical == va &- KernelAddressSpace.startKernelMap &+ p.physBase,
              let bytes = try? walker.memory.bytes(physical: physical, count: bannerPrefix.count) else { return false }
        return bytes == bannerPrefix
    }
}

/// Where the kernel image starts, by one CPU's page tables (see `KernelImageLocator.imageStartCandidates`).
public struct KernelImageStart: Sendable, Equatable {
    /// Run-time `_text`.
    public var text: UInt64
    public var textPhysical: UInt64
    /// What `__pa()` adds to an image address minus `__START_KERNEL_map`.
    public var physBase: UInt64
    /// The CPU (note order) whose CR3 gave it.
    public var cpu: Int
    public var fiveLevel: Bool
}

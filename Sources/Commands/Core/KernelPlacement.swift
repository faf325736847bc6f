import DumpModel
import SymbolResolver

/// Dumps without VMCOREINFO (QEMU's dump-guest-memory without `-device vmcoreinfo`, sadump): the
/// KASLR slide and phys_base come from the CPU state QEMU or sadump saved, compared with the vmlinux
/// (`KernelImageLocator`), as crash's kaslr_helper does.
extension Session {
    /// True when the dump itself does not say phys_base (no VMCOREINFO NUMBER(phys_base)) but
    /// holds CPU state to find it from.
    var placementFromCPUState: Bool {
        vmcoreinfo?.number("phys_base") == nil && !dump.qemuCPUStates.isEmpty
    }

    /// Where the kernel image lies by the CPU state, or nil when the dump says it otherwise.
    /// Throws why it could not be found (or why the vmlinux cannot be opened).
    public func imagePlacement() throws -> KernelImagePlacement? {
        guard placementFromCPUState else { return nil }
        _ = try kernel()
        return try imagePlacementState?.get()
    }

    /// Runs the search with the link-time addresses of `kernel` (called when it is opened); nil
    /// when the dump needs none.
    func locateImage(kernel: KernelImage) -> Result<KernelImagePlacement, Error>? {
        guard placementFromCPUState else { return nil }
        return Result {
            let table = try kernel.symbols()
            func address(_ names: String...) -> UInt64? {
                names.lazy.compactMap { table.symbol(named: $0)?.address }.first
            }
            guard let start = address("_text", "_stext"), let banner = address("linux_banner") else {
                throw DumpError.missing(what: "_text or linux_banner in \(kernel.path) (needed to place the kernel without VMCOREINFO)")
            }
            let linked = LinkedKernelAddresses(imageStart: start, linuxBanner: banner, idtTable: address("idt_table"),
                                               divideErrorEntry: address("asm_exc_divide_error", "divide_error"),
                                               pageTableIsolation: address("pti_init") != nil)
            return try KernelImageLocator.locate(memory: memory, cpuStates: dump.qemuCPUStates, linked: linked)
        }
    }

    /// `count` bytes at kernel-image address `address`: through VMCOREINFO's address space, else
    /// linearly through the placement's phys_base (the image mapping is linear).
    func readKernelImage(_ address: UInt64, _ count: Int, placement: Result<KernelImagePlacement, Error>?) -> [UInt8]? {
        if let space = vmcoreinfoAddressSpace() { return try? space.bytes(virtual: address, count: count) }
        guard let p = try? placement?.get(), address >= KernelAddressSpace.startKernelMap else { return nil }
        return try? memory.bytes(physical: address &- KernelAddressSpace.startKernelMap &+ p.physBase, count: count)
    }
}

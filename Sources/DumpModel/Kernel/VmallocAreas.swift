/// The kernel's vmalloc areas, as crash's `kmem -v` lists them: the `vmap_area`s on the global
/// `vmap_area_list` (in address order) that are vmalloc/ioremap mappings, i.e. that have a
/// `vm_struct` (kernels with `vmap_area.flags` and `purge_list`, before 5.4, mark those with
/// VM_VM_AREA instead).
///
/// Linux 6.9 replaced `vmap_area_list` by per-node trees; those kernels are not read yet.
public enum VmallocAreas {
    public struct Area: Sendable, Equatable {
        /// The `struct vmap_area`.
        public var vmapArea: UInt64
        /// Its `vm` (`struct vm_struct`).
        public var vmStruct: UInt64
        public var start: UInt64
        /// First address past the area (the guard page included, as the kernel counts it).
        public var end: UInt64
        public var size: UInt64 { end &- start }
    }

    /// Most areas a list may hold: a corrupt list stops there.
    public static let limit = 1 << 22

    /// The areas in list order.
    /// - Throws: `DumpError.missing` when the kernel lacks the list or a member, or naming why the
    ///   list has no proper end (a NULL or repeated link); `MemoryFault` when a link or an area
    ///   cannot be read; `InterruptedByUser` when `interrupted` says so.
    public static func read(from memory: KernelMemory, interrupted: @escaping () -> Bool = { false }) throws -> [Area] {
        let layout = memory.layout
        guard let head = layout.symbolAddress("vmap_area_list") else {
            throw DumpError.missing(what: "symbol vmap_area_list (kernels from 6.9 keep vmap areas per node: not read yet)")
        }
        // Checked before the walk, so a kernel without these members fails with their names.
        let probe = memory.object(0, "vmap_area")
        for member in ["list", "va_start", "va_end", "vm"] { _ = try probe.offset(member) }
        // Before 5.4 a busy area's vm could be set for other kinds too; flags said which were vmalloc.
        let flagsMember: String? = probe.has("purge_list") && probe.has("flags") ? "flags" : nil
        let vmVMArea: UInt64 = 0x4

        // The walk polls `interrupted` every few hundred nodes; poll it once up front too, so a
        // request made before the walk is honoured even on a short list.
        if interrupted() { throw InterruptedByUser() }
        let walk = KernelLists(memory: memory, interrupted: interrupted).listHead(head, limit: limit)
        switch walk.stop {
        case .complete: break
        case .interrupted: throw InterruptedByUser()
        case let .brokenLink(_, fault): throw fault
        default:
            throw DumpError.missing(what: "the end of vmap_area_list (\(walk.stop) after \(walk.nodes.count) entries)")
        }
        var areas: [Area] = []
        for node in walk.nodes {
            let area = try KernelObject.container(of: node, type: "vmap_area", member: "list", memory: memory)
            let vm = try area.pointer("vm")
            let keep = try flagsMember.map { try area.unsigned($0) == vmVMArea } ?? (vm != 0)
            if keep {
                areas.append(Area(vmapArea: area.address, vmStruct: vm, start: try area.pointer("va_start"),
                                  end: try area.pointer("va_end")))
            }
        }
        return areas
    }

    /// The areas, read through `space`'s memory.
    public static func read(from space: KernelAddressSpace, interrupted: @escaping () -> Bool = { false }) throws -> [Area] {
        try read(from: KernelMemory(space: space), interrupted: interrupted)
    }
}

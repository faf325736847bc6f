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
    /// - Throws: `DumpError` when the list cannot be walked (missing symbol or member, a link that
    ///   cannot be read, a loop), `WalkInterrupted` when `interrupted` says so.
    public static func read(from space: KernelAddressSpace, interrupted: () -> Bool = { false }) throws -> [Area] {
        let layout = space.layout
        guard let head = layout.symbolAddress("vmap_area_list") else {
            throw DumpError.missing(what: "symbol vmap_area_list (kernels from 6.9 keep vmap areas per node: not read yet)")
        }
        let listOffset = try space.requireOffset("vmap_area", "list")
        let startOffset = try space.requireOffset("vmap_area", "va_start")
        let endOffset = try space.requireOffset("vmap_area", "va_end")
        let vmOffset = try space.requireOffset("vmap_area", "vm")
        // Before 5.4 a busy area's vm could be set for other kinds too; flags said which were vmalloc.
        let flagsOffset = layout.memberOffset("vmap_area", "purge_list") != nil
            ? layout.memberOffset("vmap_area", "flags").flatMap { UInt64(exactly: $0) } : nil
        let vmVMArea: UInt64 = 0x4

        var areas: [Area] = []
        var seen: Set<UInt64> = [head]
        var node = try space.readWord(at: head)
        var count = 0
        while node != head {
            if interrupted() { throw WalkInterrupted() }
            guard node != 0, seen.insert(node).inserted, count < limit else {
                throw DumpError.missing(what: "the end of vmap_area_list (a NULL or repeated link after \(count) entries)")
            }
            count += 1
            let area = node &- listOffset
            let vm = try space.readWord(at: area &+ vmOffset)
            let keep: Bool
            if let flagsOffset {
                keep = try space.readWord(at: area &+ flagsOffset) == vmVMArea
            } else {
                keep = vm != 0
            }
            if keep {
                areas.append(Area(vmapArea: area, vmStruct: vm, start: try space.readWord(at: area &+ startOffset),
                                  end: try space.readWord(at: area &+ endOffset)))
            }
            node = try space.readWord(at: node)
        }
        return areas
    }
}

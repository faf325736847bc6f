/// The kernel's slab caches (`slab_caches`) and which one an address belongs to: what crash's
/// `bt -F` shows in brackets for a stack word that points into a slab object.
///
/// An address belongs to a cache when its page (or the head of its compound page) has the slab
/// flag and the page's `slab_cache` (in `struct slab` since 5.17, in `struct page` before) is one
/// of the caches on the list. Kernels that mark slab pages with a page type instead of
/// `PG_slab` (6.10+) are not recognised: `cache(containing:)` answers nil there.
public struct SlabCaches {
    public let memory: KernelMemory
    /// Cache name by `struct kmem_cache` address.
    public let names: [UInt64: String]
    /// Why the list walk stopped (`.complete` when it read the whole list).
    public let stop: WalkStop

    private let slabFlagBit: UInt64?
    private let flagsOffset: UInt64?
    private let compoundHeadOffset: UInt64?
    private let slabCacheOffset: UInt64?

    /// Reads the cache list (at most `limit` caches).
    public init(memory: KernelMemory, limit: Int = 4096) {
        self.memory = memory
        let layout = memory.layout
        var names: [UInt64: String] = [:]
        var stop = WalkStop.complete
        if let head = layout.symbolAddress("slab_caches"), let listOffset = layout.memberOffset("kmem_cache", "list"),
           listOffset >= 0 {
            let walk = KernelLists(memory: memory).listHead(head, limit: limit)
            stop = walk.stop
            for node in walk.nodes {
                let cache = KernelObject(address: node &- UInt64(listOffset), type: "kmem_cache", memory: memory)
                if let name = try? cache.string("name", maxLength: 64) { names[cache.address] = name }
            }
        } else {
            stop = .corrupt(at: 0, detail: "the layout lacks slab_caches or kmem_cache.list")
        }
        self.names = names
        self.stop = stop
        func offset(_ type: String, _ member: String) -> UInt64? {
            layout.memberOffset(type, member).flatMap { UInt64(exactly: $0) }
        }
        slabFlagBit = layout.enumerators("pageflags")?.first { $0.name == "PG_slab" }
            .flatMap { $0.value >= 0 && $0.value < 64 ? UInt64($0.value) : nil }
        flagsOffset = offset("page", "flags")
        compoundHeadOffset = offset("page", "compound_head")
        slabCacheOffset = offset("slab", "slab_cache") ?? offset("page", "slab_cache")
    }

    /// The name of the slab cache `address` (a kernel virtual address) lies in, or nil.
    public func cache(containing address: UInt64) -> String? {
        guard let bit = slabFlagBit, let flagsOffset, let slabCacheOffset, !names.isEmpty else { return nil }
        let space = memory.space
        guard let physical = try? space.translate(address), let page = space.pageStructAddress(pfn: physical >> 12) else {
            return nil
        }
        func flags(_ page: UInt64) -> UInt64? { try? memory.load(UInt64.self, page &+ flagsOffset) }
        var head = page
        if let compoundHeadOffset, let link = try? memory.load(UInt64.self, page &+ compoundHeadOffset), link & 1 == 1 {
            head = link &- 1
        }
        guard let f = flags(page), f & (1 << bit) != 0 || (head != page && (flags(head) ?? 0) & (1 << bit) != 0) else {
            return nil
        }
        guard let cache = try? memory.load(UInt64.self, head &+ slabCacheOffset) else { return nil }
        return names[cache]
    }
}

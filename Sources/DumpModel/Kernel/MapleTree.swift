/// One entry of a maple tree: the entry pointer and the index range it covers (both ends
/// inclusive, as the kernel stores pivots).
public struct MapleEntry: Sendable, Equatable {
    public var first: UInt64
    public var last: UInt64
    public var entry: UInt64

    public init(first: UInt64, last: UInt64, entry: UInt64) {
        self.first = first
        self.last = last
        self.entry = entry
    }
}

/// What a maple tree walk read: the non-NULL entries in index order, and why it stopped.
public struct MapleWalk: Sendable {
    public var entries: [MapleEntry]
    public var stop: WalkStop
}

/// Where the parts of the maple tree's nodes are, from the layout (Linux 6.1+,
/// include/linux/maple_tree.h). The node pointer encoding itself is not in the types: a node
/// pointer (an "enode") is the 256-byte aligned node address with the node type in bits 3-6
/// (and bit 2 set); the tree's root pointer also carries the XArray internal-entry tag 0b10 in
/// bits 0-1, which tells a root node from a single entry stored in the root.
struct MapleNodeLayout {
    struct Kind {
        var pivots: Int
        var pivotCount: Int
        var slots: Int
        var slotCount: Int
        /// Offset of `meta.end` (the index of the last used slot), when the kernel keeps one.
        var metaEnd: Int?
    }

    var rootOffset: Int
    var nodeSize: Int
    /// maple_range_64 (also used by maple_leaf_64 nodes).
    var range: Kind
    /// maple_arange_64 (ranges with gap tracking: the VMA tree's internal nodes).
    var allocRange: Kind?
    /// maple_dense: one slot per index.
    var denseSlots: Int?
    var denseSlotCount: Int
    var typeDense: UInt64
    var typeLeaf: UInt64
    var typeRange: UInt64
    var typeAllocRange: UInt64

    static let nodeAlignmentMask: UInt64 = 255
    static let typeShift: UInt64 = 3
    static let typeMask: UInt64 = 0xf
    /// The kernel's XA_ZERO_ENTRY, xa_mk_internal(257): a reserved index with no entry.
    static let zeroEntry: UInt64 = (257 << 2) | 2

    init(layout: any KernelLayout) throws {
        guard let root = layout.memberOffset("maple_tree", "ma_root") else {
            throw DumpError.missing(what: "maple_tree.ma_root")
        }
        rootOffset = root
        func kind(_ type: String, unionMember: String) -> Kind? {
            guard let base = layout.memberOffset("maple_node", unionMember),
                  let p = layout.memberOffset(type, "pivot"), let s = layout.memberOffset(type, "slot"),
                  let pc = layout.length("\(type).pivot"), let sc = layout.length("\(type).slot"),
                  pc >= 1, sc == pc + 1, sc <= 64 else { return nil }
            return Kind(pivots: base + p, pivotCount: pc, slots: base + s, slotCount: sc,
                        metaEnd: layout.memberOffset(type, "meta.end").map { base + $0 })
        }
        guard let range = kind("maple_range_64", unionMember: "mr64") else {
            throw DumpError.missing(what: "maple_range_64 pivots and slots")
        }
        self.range = range
        allocRange = kind("maple_arange_64", unionMember: "ma64")
        denseSlots = layout.memberOffset("maple_node", "slot")
        denseSlotCount = min(max(layout.length("maple_node.slot") ?? 0, 0), 64)
        nodeSize = max(layout.typeSize("maple_node") ?? 256, 64)
        func value(_ name: String, _ fallback: UInt64) -> UInt64 {
            layout.number(name).flatMap { UInt64(exactly: $0) } ?? fallback
        }
        typeDense = value("maple_dense", 0)
        typeLeaf = value("maple_leaf_64", 1)
        typeRange = value("maple_range_64", 2)
        typeAllocRange = value("maple_arange_64", 3)
    }

    /// A root pointer that is an encoded node (internal entry above the first page), as opposed
    /// to a single entry.
    static func isRootNode(_ entry: UInt64) -> Bool { entry & 3 == 2 && entry > 4096 }

    /// A child slot of an internal node that can be an encoded node: not NULL, not in the
    /// first page, and without the tag bits a root or an entry has.
    static func isChildNode(_ entry: UInt64) -> Bool { entry & 3 == 0 && entry > 4096 }
}

extension KernelLists {
    /// The entries of the maple tree (`struct maple_tree`) at `tree`, in index order, with
    /// their ranges. Iterative (an explicit stack), cycle-safe, bounded by `limit` nodes and
    /// entries and by the kernel's tree height; a node whose ranges do not nest in its parent's
    /// stops the walk as `.corrupt`. Reserved (zero) entries are skipped.
    public func mapleTree(_ tree: UInt64, limit: Int = 1 << 20) -> MapleWalk {
        let shape: MapleNodeLayout
        do { shape = try MapleNodeLayout(layout: memory.layout) } catch {
            return MapleWalk(entries: [], stop: .corrupt(at: tree, detail: "\(error)"))
        }
        let root: UInt64
        do { root = try memory.load(UInt64.self, tree &+ UInt64(shape.rootOffset)) } catch {
            return MapleWalk(entries: [], stop: .brokenLink(at: tree, fault: error))
        }
        if !MapleNodeLayout.isRootNode(root) {
            // A tree of one entry keeps it in the root, at index 0.
            let single = root != 0 && root & 3 != 2
            return MapleWalk(entries: single ? [MapleEntry(first: 0, last: 0, entry: root)] : [], stop: .complete)
        }
        // The kernel's trees are at most 31 levels high (MAPLE_HEIGHT_MAX).
        let maxDepth = 64
        var entries: [MapleEntry] = []
        var pending: [(node: UInt64, min: UInt64, max: UInt64, depth: Int)] = [(root, 0, UInt64.max, 1)]
        var seen: Set<UInt64> = []
        while let (enode, low, high, depth) = pending.popLast() {
            let node = enode & ~MapleNodeLayout.nodeAlignmentMask
            guard seen.insert(node).inserted else { return MapleWalk(entries: entries, stop: .cycle(at: node)) }
            if seen.count > limit || entries.count >= limit { return MapleWalk(entries: entries, stop: .limit(limit)) }
            if seen.count & 63 == 0, interrupted() { return MapleWalk(entries: entries, stop: .interrupted) }
            guard depth <= maxDepth else {
                return MapleWalk(entries: entries, stop: .corrupt(at: node, detail: "deeper than \(maxDepth) levels"))
            }
            let bytes: [UInt8]
            do { bytes = try memory.bytes(node, count: shape.nodeSize) } catch {
                return MapleWalk(entries: entries, stop: .brokenLink(at: node, fault: error))
            }
            func word(_ offset: Int) -> UInt64? {
                guard offset >= 0, offset + 8 <= bytes.count else { return nil }
                var v: UInt64 = 0
                for i in 0..<8 { v |= UInt64(bytes[offset + i]) << UInt64(i * 8) }
                return v
            }
            func keep(_ entry: UInt64) -> Bool { entry != 0 && entry != MapleNodeLayout.zeroEntry }
            let type = (enode >> MapleNodeLayout.typeShift) & MapleNodeLayout.typeMask

            if type == shape.typeDense {
                guard let slots = shape.denseSlots else {
                    return MapleWalk(entries: entries, stop: .corrupt(at: node, detail: "dense node, but no maple_node.slot in the layout"))
                }
                for i in 0..<shape.denseSlotCount {
                    let (index, overflow) = low.addingReportingOverflow(UInt64(i))
                    if overflow || index > high { break }
                    guard let e = word(slots + i * 8) else { break }
                    if keep(e) { entries.append(MapleEntry(first: index, last: index, entry: e)) }
                }
                continue
            }
            let kind: MapleNodeLayout.Kind
            let isLeaf: Bool
            if type == shape.typeLeaf || type == shape.typeRange {
                kind = shape.range
                isLeaf = type == shape.typeLeaf
            } else if type == shape.typeAllocRange, let a = shape.allocRange {
                kind = a
                isLeaf = false
            } else {
                return MapleWalk(entries: entries, stop: .corrupt(at: node, detail: "unknown node type \(type)"))
            }
            guard let end = dataEnd(kind, isAllocRange: type == shape.typeAllocRange, max: high, word: word, bytes: bytes) else {
                return MapleWalk(entries: entries, stop: .corrupt(at: node, detail: "no end of data"))
            }
            var children: [(UInt64, UInt64, UInt64, Int)] = []
            var first = low
            for offset in 0...end {
                let last: UInt64
                if offset < end {
                    guard let p = word(kind.pivots + offset * 8) else { break }
                    last = p
                } else {
                    last = high
                }
                guard last >= first, last <= high else {
                    return MapleWalk(entries: entries, stop: .corrupt(
                        at: node, detail: "slot \(offset) ends at 0x\(String(last, radix: 16)), outside 0x\(String(first, radix: 16))-0x\(String(high, radix: 16))"))
                }
                guard let slot = word(kind.slots + offset * 8) else { break }
                if isLeaf {
                    if keep(slot) { entries.append(MapleEntry(first: first, last: last, entry: slot)) }
                } else {
                    guard MapleNodeLayout.isChildNode(slot) else {
                        return MapleWalk(entries: entries, stop: .corrupt(at: node, detail: "slot \(offset) of an internal node is not a node"))
                    }
                    children.append((slot, first, last, depth + 1))
                }
                if last == UInt64.max { break }
                first = last + 1
            }
            // Reversed so the lowest range is taken from the stack first.
            pending += children.reversed()
        }
        return MapleWalk(entries: entries, stop: .complete)
    }

    /// The offset of the node's last used slot (the kernel's ma_data_end): an allocation-range
    /// node says it in its metadata; a range node too when its last pivot is 0, else its data
    /// runs to the last pivot (when that is the node's maximum) or to the slot after it.
    private func dataEnd(_ kind: MapleNodeLayout.Kind, isAllocRange: Bool, max: UInt64,
                         word: (Int) -> UInt64?, bytes: [UInt8]) -> Int? {
        func metaEnd() -> Int? {
            guard let at = kind.metaEnd else {
                // No metadata in this kernel's nodes: the data ends at the first zero pivot
                // after slot 0, or at the pivot that is the node's maximum.
                for i in 0..<kind.pivotCount {
                    guard let p = word(kind.pivots + i * 8) else { return nil }
                    if p == 0 && i > 0 { return i - 1 }
                    if p == max { return i }
                }
                return kind.pivotCount
            }
            guard at >= 0, at < bytes.count else { return nil }
            let end = Int(bytes[at])
            return end < kind.slotCount ? end : nil
        }
        if isAllocRange { return metaEnd() }
        let lastOffset = kind.pivotCount - 1
        guard let lastPivot = word(kind.pivots + lastOffset * 8) else { return nil }
        if lastPivot == 0 { return metaEnd() }
        if lastPivot == max { return lastOffset }
        return kind.pivotCount
    }
}

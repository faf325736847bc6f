/// Why a walk of a kernel linked structure ended.
public enum WalkStop: Sendable, Equatable, CustomStringConvertible {
    /// The structure ended where it should (back at the head, a NULL link).
    case complete
    /// A link could not be read: the rest of the structure is out of reach.
    case brokenLink(at: UInt64, fault: MemoryFault)
    /// A node was reached a second time other than through the head: the links are corrupt.
    case cycle(at: UInt64)
    /// More nodes than the walk allows: a corrupt list, or one longer than any kernel keeps.
    case limit(Int)
    /// The user pressed Ctrl-C.
    case interrupted
    /// A node was read but what it says is impossible (ranges out of order, an unknown node
    /// type, a tree deeper than the kernel builds): the rest is not trusted.
    case corrupt(at: UInt64, detail: String)

    public var description: String {
        switch self {
        case let .corrupt(at, detail): return "corrupt node at 0x\(String(at, radix: 16)): \(detail)"
        case .complete: return "complete"
        case let .brokenLink(at, fault): return "broken link at 0x\(String(at, radix: 16)): \(fault)"
        case let .cycle(at): return "the links loop back to 0x\(String(at, radix: 16))"
        case let .limit(n): return "stopped after \(n) entries"
        case .interrupted: return "interrupted"
        }
    }
}

/// A long read of kernel objects stopped because the user pressed Ctrl-C.
public struct InterruptedByUser: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted" }
}

/// What a walk read: the node addresses in order, and why it stopped.
public struct KernelWalk: Sendable {
    public var nodes: [UInt64]
    public var stop: WalkStop
}

/// Bounded, cycle-safe walks of the kernel's linked structures. Each returns what it read and
/// why it stopped; none loops or traps on corrupt links.
public struct KernelLists {
    public let memory: KernelMemory
    /// Polled every few hundred nodes; true ends the walk with `.interrupted`.
    public let interrupted: () -> Bool

    public init(memory: KernelMemory, interrupted: @escaping () -> Bool = { false }) {
        self.memory = memory
        self.interrupted = interrupted
    }

    /// The `struct list_head` nodes after the head at `head` (the head itself excluded), following
    /// `next`. The addresses are of the list_head members: subtract the member's offset for the
    /// containing objects.
    public func listHead(_ head: UInt64, limit: Int = 1 << 20) -> KernelWalk {
        var nodes: [UInt64] = []
        var seen: Set<UInt64> = [head]
        var node = head
        while true {
            if nodes.count >= limit { return KernelWalk(nodes: nodes, stop: .limit(limit)) }
            if nodes.count & 255 == 255, interrupted() { return KernelWalk(nodes: nodes, stop: .interrupted) }
            let next: UInt64
            do { next = try memory.load(UInt64.self, node) } catch {
                return KernelWalk(nodes: nodes, stop: .brokenLink(at: node, fault: error))
            }
            if next == head { return KernelWalk(nodes: nodes, stop: .complete) }
            if next == 0 {
                return KernelWalk(nodes: nodes, stop: .brokenLink(
                    at: node, fault: MemoryFault(address: node, space: .kernel, reason: .refused(detail: "NULL next pointer"))))
            }
            guard seen.insert(next).inserted else { return KernelWalk(nodes: nodes, stop: .cycle(at: next)) }
            nodes.append(next)
            node = next
        }
    }

    /// The `struct hlist_node`s of the `hlist_head` at `head` (first, then each `next`, to NULL).
    public func hlist(_ head: UInt64, limit: Int = 1 << 20) -> KernelWalk {
        var nodes: [UInt64] = []
        var seen: Set<UInt64> = []
        var link = head
        while true {
            if nodes.count >= limit { return KernelWalk(nodes: nodes, stop: .limit(limit)) }
            if nodes.count & 255 == 255, interrupted() { return KernelWalk(nodes: nodes, stop: .interrupted) }
            let next: UInt64
            do { next = try memory.load(UInt64.self, link) } catch {
                return KernelWalk(nodes: nodes, stop: .brokenLink(at: link, fault: error))
            }
            if next == 0 { return KernelWalk(nodes: nodes, stop: .complete) }
            guard seen.insert(next).inserted else { return KernelWalk(nodes: nodes, stop: .cycle(at: next)) }
            nodes.append(next)
            // hlist_node.next is its first member.
            link = next
        }
    }

    /// The `struct rb_node`s of the red-black tree whose root node pointer is `rootNode`, in
    /// order (leftmost first), without recursion: an explicit stack bounded by `limit`.
    /// rb_node is { __rb_parent_color, rb_right, rb_left }; the layout says where the children are.
    public func rbTree(rootNode: UInt64, limit: Int = 1 << 20) -> KernelWalk {
        let layout = memory.layout
        let right = UInt64(layout.memberOffset("rb_node", "rb_right") ?? 8)
        let left = UInt64(layout.memberOffset("rb_node", "rb_left") ?? 16)
        var nodes: [UInt64] = []
        var stack: [UInt64] = []
        var seen: Set<UInt64> = []
        var current = rootNode
        while current != 0 || !stack.isEmpty {
            while current != 0 {
                guard seen.insert(current).inserted else { return KernelWalk(nodes: nodes, stop: .cycle(at: current)) }
                if seen.count > limit { return KernelWalk(nodes: nodes, stop: .limit(limit)) }
                stack.append(current)
                do { current = try memory.load(UInt64.self, current &+ left) } catch {
                    return KernelWalk(nodes: nodes, stop: .brokenLink(at: current &+ left, fault: error))
                }
            }
            guard let node = stack.popLast() else { break }
            nodes.append(node)
            if nodes.count & 255 == 255, interrupted() { return KernelWalk(nodes: nodes, stop: .interrupted) }
            do { current = try memory.load(UInt64.self, node &+ right) } catch {
                return KernelWalk(nodes: nodes, stop: .brokenLink(at: node &+ right, fault: error))
            }
        }
        return KernelWalk(nodes: nodes, stop: .complete)
    }

    /// The non-NULL entries of the XArray (or radix tree of the same layout) whose
    /// `struct xarray` is at `xarray`, with their indexes, in index order. Internal entries
    /// (pointers to `xa_node`s, tagged 0b10) are descended; value entries (tagged 1) and
    /// retry/zero entries are skipped. Depth is bounded by the index width.
    public func xarray(_ xarray: UInt64, limit: Int = 1 << 20) -> (entries: [(index: UInt64, entry: UInt64)], stop: WalkStop) {
        let layout = memory.layout
        var entries: [(UInt64, UInt64)] = []
        guard let headOffset = layout.memberOffset("xarray", "xa_head") else {
            return ([], .brokenLink(at: xarray, fault: MemoryFault(address: xarray, space: .kernel,
                                                                   reason: .refused(detail: "no xarray.xa_head in the layout"))))
        }
        let slotsOffset = UInt64(layout.memberOffset("xa_node", "slots") ?? 40)
        let shiftOffset = UInt64(layout.memberOffset("xa_node", "shift") ?? 0)
        let slotCount = UInt64(max(1, min(layout.length("xa_node.slots") ?? 64, 256)))
        let chunkShift = UInt64(slotCount.trailingZeroBitCount)
        let head: UInt64
        do { head = try memory.load(UInt64.self, xarray &+ UInt64(headOffset)) } catch {
            return ([], .brokenLink(at: xarray, fault: error))
        }
        func isNode(_ e: UInt64) -> Bool { e & 3 == 2 && e > 4096 }
        if head == 0 { return ([], .complete) }
        if !isNode(head) {
            return head & 1 == 0 ? ([(0, head)], .complete) : ([], .complete)
        }
        // (node address, base index) pairs still to visit, deepest last; bounded by `limit`.
        var pending: [(node: UInt64, base: UInt64)] = [(head & ~3, 0)]
        var visited = 0
        var seen: Set<UInt64> = []
        while let (node, base) = pending.popLast() {
            visited += 1
            if visited > limit || entries.count >= limit { return (entries, .limit(limit)) }
            if visited & 63 == 0, interrupted() { return (entries, .interrupted) }
            guard seen.insert(node).inserted else { return (entries, .cycle(at: node)) }
            let shift: UInt64
            let slots: [UInt8]
            do {
                shift = UInt64(try memory.load(UInt8.self, node &+ shiftOffset))
                slots = try memory.bytes(node &+ slotsOffset, count: Int(slotCount) * 8)
            } catch {
                return (entries, .brokenLink(at: node, fault: error))
            }
            guard shift < 64 else { return (entries, .cycle(at: node)) }
            var children: [(UInt64, UInt64)] = []
            for i in 0..<Int(slotCount) {
                var e: UInt64 = 0
                for b in 0..<8 { e |= UInt64(slots[i * 8 + b]) << UInt64(b * 8) }
                if e == 0 { continue }
                let index = base &+ (UInt64(i) << shift)
                if isNode(e) {
                    // A sibling entry (an internal entry below the slot count) names a slot of this node.
                    if e >> 2 < slotCount { continue }
                    guard shift >= chunkShift else { continue }
                    children.append((e & ~3, index))
                } else if e & 1 == 0 {
                    entries.append((index, e))
                }
            }
            // Reversed so the lowest index is visited first.
            pending += children.reversed()
        }
        return (entries, .complete)
    }
}

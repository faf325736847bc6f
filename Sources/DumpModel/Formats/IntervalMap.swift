/// A sorted list of disjoint half-open intervals `[start, end)`, each owned by one input piece,
/// built from pieces that may overlap: where pieces overlap, the one with the lowest `rank` wins.
///
/// ELF cores can map one physical range twice (makedumpfile -E writes the kernel text both at its
/// own address and in the direct map); flattened files can write one logical range twice (the later
/// record wins, like a second write(2)). Resolving once at open makes every lookup a binary search.
struct IntervalMap: Sendable {
    private(set) var starts: [UInt64] = []
    private(set) var ends: [UInt64] = []
    /// Index of the input piece that owns each interval.
    private(set) var owners: [Int] = []

    var count: Int { starts.count }

    /// `pieces[i] = (start, end, rank)`; empty pieces are ignored. O(n log n).
    init(pieces: [(start: UInt64, end: UInt64, rank: Int)]) {
        let order = pieces.indices.filter { pieces[$0].start < pieces[$0].end }
            .sorted { pieces[$0].start != pieces[$1].start ? pieces[$0].start < pieces[$1].start
                                                           : pieces[$0].rank < pieces[$1].rank }
        guard !order.isEmpty else { return }
        starts.reserveCapacity(order.count)
        ends.reserveCapacity(order.count)
        owners.reserveCapacity(order.count)

        // Common case: nothing overlaps; keep the pieces as they are.
        var overlapping = false
        for k in 1 ..< order.count where pieces[order[k]].start < pieces[order[k - 1]].end {
            overlapping = true
            break
        }
        if !overlapping {
            for i in order { append(pieces[i].start, pieces[i].end, i) }
            return
        }

        // Sweep over every boundary with a min-heap of the active pieces by rank. A piece that has
        // ended is dropped lazily when it reaches the top.
        var bounds: [UInt64] = []
        bounds.reserveCapacity(order.count * 2)
        for i in order { bounds.append(pieces[i].start); bounds.append(pieces[i].end) }
        bounds.sort()
        var heap = MinHeap()
        var next = 0
        var previous: UInt64? = nil
        for b in bounds {
            if b == previous { continue }
            previous = b
            while next < order.count, pieces[order[next]].start <= b {
                heap.push(rank: pieces[order[next]].rank, item: order[next])
                next += 1
            }
            while let top = heap.top, pieces[top.item].end <= b { heap.pop() }
            guard let top = heap.top else { continue }
            // The winner covers at least up to the next boundary, since every end is a boundary.
            let segmentEnd = nextBoundary(after: b, in: bounds)
            append(b, segmentEnd, top.item)
        }
    }

    private func nextBoundary(after b: UInt64, in bounds: [UInt64]) -> UInt64 {
        var lo = 0, hi = bounds.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if bounds[mid] <= b { lo = mid + 1 } else { hi = mid }
        }
        return lo < bounds.count ? bounds[lo] : b
    }

    private mutating func append(_ s: UInt64, _ e: UInt64, _ owner: Int) {
        guard s < e else { return }
        if let last = owners.last, last == owner, let lastEnd = ends.last, lastEnd == s {
            ends[ends.count - 1] = e
            return
        }
        starts.append(s); ends.append(e); owners.append(owner)
    }

    /// The interval containing `x`, if any.
    func index(containing x: UInt64) -> Int? {
        let i = firstIndex(endingAfter: x)
        return i < count && starts[i] <= x ? i : nil
    }

    /// The first interval whose end is past `x` (== count when none).
    func firstIndex(endingAfter x: UInt64) -> Int { ends.firstIndex(endingAfter: x) }
}

extension Array where Element == UInt64 {
    /// For sorted exclusive range ends: the first range whose end is past `x` (== count when
    /// none). The one binary search behind IntervalMap and the flattened-file index.
    func firstIndex(endingAfter x: UInt64) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if self[mid] <= x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// A binary min-heap of (rank, item), smallest rank on top.
private struct MinHeap {
    private var a: [(rank: Int, item: Int)] = []
    var top: (rank: Int, item: Int)? { a.first }

    mutating func push(rank: Int, item: Int) {
        a.append((rank, item))
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if a[p].rank <= a[i].rank { break }
            a.swapAt(p, i)
            i = p
        }
    }

    mutating func pop() {
        guard !a.isEmpty else { return }
        a.swapAt(0, a.count - 1)
        a.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < a.count, a[l].rank < a[m].rank { m = l }
            if r < a.count, a[r].rank < a[m].rank { m = r }
            if m == i { break }
            a.swapAt(i, m)
            i = m
        }
    }
}

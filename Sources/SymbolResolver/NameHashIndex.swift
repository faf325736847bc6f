#if canImport(Glibc)
import Glibc
#endif

/// An open-addressing hash table from byte strings to entry numbers, built in one pass over
/// names that already live in the mapped file (no Swift String per name, which is what makes a
/// `Dictionary<String, _>` of 100k names cost tens of milliseconds).
///
/// Several entries may share a name; `forEachMatch` visits all of them in insertion order. A slot
/// holds the first entry of one distinct name and the others are chained behind it, so that a
/// name repeated many times (a crafted vmlinux can repeat one a million times) costs one probe
/// sequence, not one per copy: building stays linear instead of quadratic.
struct NameHashIndex: Sendable {
    private var slots: [UInt32]   // 0 = empty, else the first entry with this name + 1
    private var next: [UInt32]    // per entry: the next entry with the same name + 1, 0 = none
    private var mask: Int

    /// `count` entries; `name(i)` gives entry i's bytes or nil to leave it out.
    init(count: Int, name: (Int) -> UnsafeRawBufferPointer?) {
        var size = 16
        while size < count * 2 { size <<= 1 }
        mask = size - 1
        slots = [UInt32](repeating: 0, count: size)
        next = [UInt32](repeating: 0, count: max(0, count))
        var tails = [UInt32](repeating: 0, count: size)   // last entry of each slot's chain + 1
        let m = mask
        slots.withUnsafeMutableBufferPointer { table in
            next.withUnsafeMutableBufferPointer { chain in
                for i in 0..<count {
                    guard let key = name(i) else { continue }
                    var at = Int(truncatingIfNeeded: NameHashIndex.hash(key)) & m
                    var placed = false
                    while table[at] != 0 {
                        if let head = name(Int(table[at]) - 1), NameHashIndex.same(head, key) {
                            chain[Int(tails[at]) - 1] = UInt32(truncatingIfNeeded: i &+ 1)
                            tails[at] = UInt32(truncatingIfNeeded: i &+ 1)
                            placed = true
                            break
                        }
                        at = (at &+ 1) & m
                    }
                    if !placed {
                        table[at] = UInt32(truncatingIfNeeded: i &+ 1)
                        tails[at] = table[at]
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return a.count == 0 }
        return memcmp(pa, pb, a.count) == 0
    }

    /// FNV-1a over the bytes: short identifiers, so a simple byte loop is fast enough.
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h ^ (h >> 29)
    }

    /// Calls `body` with each entry whose bytes equal `key` (`equals(i, key)` decides).
    func forEachMatch(_ key: UnsafeRawBufferPointer, equals: (Int, UnsafeRawBufferPointer) -> Bool,
                      _ body: (Int) -> Void) {
        var at = Int(truncatingIfNeeded: NameHashIndex.hash(key)) & mask
        var probes = 0
        while probes <= mask {
            let v = slots[at]
            if v == 0 { return }
            let head = Int(v) - 1
            if equals(head, key) {
                // Every entry of this chain has the head's name; the chain ends (each link
                // points to a later entry, so it cannot loop).
                var i = head
                while true {
                    body(i)
                    let n = next[i]
                    if n == 0 { return }
                    i = Int(n) - 1
                }
            }
            at = (at &+ 1) & mask
            probes += 1
        }
    }
}

extension String {
    /// Runs `body` with the UTF-8 bytes of the string (no NUL).
    @inline(__always)
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var copy = self
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

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
    private var tags: [UInt32]    // per slot: the high half of its name's hash
    private var next: [UInt32]    // per entry: the next entry with the same name + 1, 0 = none
    private var mask: Int

    /// `count` entries; `name(i)` gives entry i's bytes or nil to leave it out.
    init(count: Int, name: (Int) -> UnsafeRawBufferPointer?) {
        var size = 16
        while size < count * 2 { size <<= 1 }
        mask = size - 1
        slots = [UInt32](repeating: 0, count: size)
        tags = [UInt32](repeating: 0, count: size)
        next = [UInt32](repeating: 0, count: max(0, count))
        var tails = [UInt32](repeating: 0, count: size)   // last entry of each slot's chain + 1
        let m = mask
        slots.withUnsafeMutableBufferPointer { table in
            tags.withUnsafeMutableBufferPointer { tag in
                next.withUnsafeMutableBufferPointer { chain in
                    for i in 0..<count {
                        guard let key = name(i) else { continue }
                        let h = NameHashIndex.hash(key)
                        let t = UInt32(truncatingIfNeeded: h >> 32)
                        var at = Int(truncatingIfNeeded: h) & m
                        var placed = false
                        // A slot whose tag differs holds another name: only equal tags compare bytes.
                        while table[at] != 0 {
                            if tag[at] == t, let head = name(Int(table[at]) - 1), NameHashIndex.same(head, key) {
                                chain[Int(tails[at]) - 1] = UInt32(truncatingIfNeeded: i &+ 1)
                                tails[at] = UInt32(truncatingIfNeeded: i &+ 1)
                                placed = true
                                break
                            }
                            at = (at &+ 1) & m
                        }
                        if !placed {
                            table[at] = UInt32(truncatingIfNeeded: i &+ 1)
                            tag[at] = t
                            tails[at] = table[at]
                        }
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

    /// A multiply-xorshift hash over the bytes, eight at a time (the last word overlaps the one
    /// before it; the length is mixed in first, so that does not make equal hashes of unequal
    /// keys likelier). Identifiers are short: this is a handful of operations per name, where a
    /// byte-at-a-time hash costs several per byte.
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        let k: UInt64 = 0x9e37_79b9_7f4a_7c15
        let n = key.count
        var h = (0xcbf2_9ce4_8422_2325 ^ UInt64(truncatingIfNeeded: n)) &* k
        guard let p = key.baseAddress, n > 0 else { return h ^ (h >> 29) }
        @inline(__always) func mix(_ w: UInt64) {
            h = (h ^ w) &* k
            h ^= h >> 32
        }
        if n >= 8 {
            var i = 0
            while i + 8 < n {
                mix(p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                i += 8
            }
            mix(p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
        } else {
            // 1 to 7 bytes: up to three loads (4, 2, 1 bytes), each at its own place.
            var w: UInt64 = 0
            var i = 0
            if n & 4 != 0 { w = UInt64(p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)); i = 4 }
            if n & 2 != 0 { w |= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt16.self)) << (UInt64(i) * 8); i += 2 }
            if n & 1 != 0 { w |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << (UInt64(i) * 8) }
            mix(w)
        }
        return h ^ (h >> 29)
    }

    /// Calls `body` with each entry whose bytes equal `key` (`equals(i, key)` decides).
    func forEachMatch(_ key: UnsafeRawBufferPointer, equals: (Int, UnsafeRawBufferPointer) -> Bool,
                      _ body: (Int) -> Void) {
        let h = NameHashIndex.hash(key)
        let t = UInt32(truncatingIfNeeded: h >> 32)
        var at = Int(truncatingIfNeeded: h) & mask
        var probes = 0
        while probes <= mask {
            let v = slots[at]
            if v == 0 { return }
            let head = Int(v) - 1
            if tags[at] == t, equals(head, key) {
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

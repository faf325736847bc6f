#if canImport(Glibc)
import Glibc
#endif

/// An open-addressing hash table from byte strings to entry numbers, built in one pass over
/// names that already live in the mapped file (no Swift String per name, which is what makes a
/// `Dictionary<String, _>` of 100k names cost tens of milliseconds).
///
/// Several entries may share a name; `forEachMatch` visits all of them in insertion order.
struct NameHashIndex: Sendable {
    private var slots: [UInt32]   // 0 = empty, else entry + 1
    private var mask: Int

    /// `count` entries; `name(i)` gives entry i's bytes or nil to leave it out.
    init(count: Int, name: (Int) -> UnsafeRawBufferPointer?) {
        var size = 16
        while size < count * 2 { size <<= 1 }
        mask = size - 1
        slots = [UInt32](repeating: 0, count: size)
        let m = mask
        slots.withUnsafeMutableBufferPointer { table in
            for i in 0..<count {
                guard let key = name(i) else { continue }
                var at = Int(truncatingIfNeeded: NameHashIndex.hash(key)) & m
                while table[at] != 0 { at = (at &+ 1) & m }
                table[at] = UInt32(truncatingIfNeeded: i &+ 1)
            }
        }
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
            let i = Int(v) - 1
            if equals(i, key) { body(i) }
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

/// One bit per page frame, stored in a dump file: which pfns are RAM, or which have their bytes in
/// the dump. Gives each bit, counts and the rank of a pfn (the set bits before it), which is where
/// formats that store the present pages back to back (sadump) find a page's bytes.
///
/// The bits are read in place from a mapped file; for a reader that cannot point at them they are
/// copied once, on first use, up to `copyLimit` bytes (past it, words are fetched one by one). The
/// rank index (a prefix count per 512 bits, 1/64 of the bitmap) is built on first use in one pass.
/// Not thread-safe.
final class PageBitmap {
    /// In which bit of its byte a pfn is: the lowest (makedumpfile's kdump bitmaps) or the highest
    /// (sadump: pfn 0 is bit 7 of byte 0).
    enum BitOrder { case lowestFirst, highestFirst }

    let reader: any ByteReader
    let offset: UInt64
    /// The pfns described: `0 ..< bitCount` (the bitmap's bytes hold at least that many bits).
    let bitCount: UInt64
    let order: BitOrder
    private let copyLimit: UInt64
    private var words: UnsafeRawPointer?
    private var copy: UnsafeMutableRawBufferPointer?
    private var copyFailed = false
    private var rankIndex: [UInt64]?

    /// The default `copyLimit`: 128 MiB of bits describe 4 TiB of 4 KiB pages.
    static let defaultCopyLimit: UInt64 = 128 << 20

    /// `bitCount` must fit the `(bitCount + 63) / 64` words at `offset`, which the caller checked lie in the file.
    init(reader: any ByteReader, offset: UInt64, bitCount: UInt64, order: BitOrder,
         copyLimit: UInt64 = PageBitmap.defaultCopyLimit) {
        self.reader = reader
        self.offset = offset
        self.bitCount = bitCount
        self.order = order
        self.copyLimit = copyLimit
        words = reader.directPointer(at: offset, count: byteCount)
    }

    deinit { copy?.deallocate() }

    /// Bytes that hold the bits of `0 ..< bitCount`, rounded up to whole words (the last word may
    /// run past the bitmap's own bytes only when the caller allowed it).
    var byteCount: UInt64 { wordCount * 8 }
    var wordCount: UInt64 { (bitCount + 63) / 64 }

    /// 64 bits starting at pfn `w * 64`, bit i for pfn `w * 64 + i`, pfns past `bitCount` clear.
    @inline(__always)
    func word(_ w: UInt64) -> UInt64 {
        if words == nil && !copyFailed { loadCopy() }
        var raw: UInt64
        if let p = words {
            raw = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: Int(w * 8), as: UInt64.self))
        } else {
            raw = (try? reader.load(UInt64.self, at: offset &+ w &* 8)) ?? 0
        }
        if order == .highestFirst { raw = PageBitmap.reverseBitsInBytes(raw) }
        return raw & validMask(w)
    }

    /// Reverses the bit order inside each byte, leaving the bytes in place.
    @inline(__always)
    static func reverseBitsInBytes(_ x: UInt64) -> UInt64 {
        var v = x
        v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
        v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
        v = ((v >> 4) & 0x0f0f_0f0f_0f0f_0f0f) | ((v & 0x0f0f_0f0f_0f0f_0f0f) << 4)
        return v
    }

    @inline(__always)
    private func validMask(_ w: UInt64) -> UInt64 {
        let first = w &* 64
        if bitCount >= first &+ 64 { return ~0 }
        return bitCount > first ? (1 << (bitCount - first)) - 1 : 0
    }

    private func loadCopy() {
        let bytes = byteCount
        guard bytes <= copyLimit else { copyFailed = true; return }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(max(bytes, 8)), alignment: 8)
        guard let base = buffer.baseAddress else { buffer.deallocate(); copyFailed = true; return }
        do {
            try reader.fetch(from: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0 ..< Int(bytes)]),
                             what: "page bitmap")
            copy = buffer
            words = UnsafeRawPointer(base)
        } catch {
            buffer.deallocate()
            copyFailed = true
        }
    }

    @inline(__always)
    func contains(_ pfn: UInt64) -> Bool {
        pfn < bitCount && word(pfn >> 6) & (1 << (pfn & 63)) != 0
    }

    /// Set bits before `pfn` (`pfn` <= `bitCount`).
    func rank(_ pfn: UInt64) -> UInt64 {
        let index = rankIndex ?? buildRankIndex()
        let superblock = pfn >> 9
        var r = index[Int(superblock)]
        var w = superblock * 8
        let target = pfn >> 6
        while w < target { r += UInt64(word(w).nonzeroBitCount); w += 1 }
        guard target < wordCount else { return r }
        let below: UInt64 = (1 << (pfn & 63)) &- 1
        return r + UInt64((word(target) & below).nonzeroBitCount)
    }

    private func buildRankIndex() -> [UInt64] {
        var index: [UInt64] = []
        index.reserveCapacity(Int(wordCount / 8) + 2)
        var total: UInt64 = 0
        var w: UInt64 = 0
        while w < wordCount {
            if w & 7 == 0 { index.append(total) }
            total += UInt64(word(w).nonzeroBitCount)
            w += 1
        }
        if w & 7 == 0 { index.append(total) }
        rankIndex = index
        return index
    }
}

extension PageBitmap {
    /// The pfns whose bit is set in `word(w)` for words `firstWord ..< endWord`, in order, each
    /// word fetched only when the walk reaches it (a bitmap of millions of pages is never
    /// expanded). `word` gives the already combined and masked bits of word `w`.
    static func setBits(words firstWord: UInt64, to endWord: UInt64,
                        _ word: @escaping (UInt64) -> UInt64) -> AnyIterator<UInt64> {
        var w = firstWord
        var bits: UInt64 = 0
        var loaded = false
        return AnyIterator {
            while true {
                if !loaded {
                    guard w < endWord else { return nil }
                    bits = word(w)
                    loaded = true
                }
                if bits != 0 {
                    let b = UInt64(bits.trailingZeroBitCount)
                    bits &= bits - 1
                    return w * 64 + b
                }
                loaded = false
                w += 1
            }
        }
    }
}

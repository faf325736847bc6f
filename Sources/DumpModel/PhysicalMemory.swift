/// Byte-granular reads of the crashed machine's physical memory, on top of a dump's page reads,
/// with a small bounded cache of whole (decompressed) pages.
///
/// Not thread-safe: one session reads from one thread.
public final class PhysicalMemory {
    public let dump: any DumpFile
    public let pageSize: Int
    private let pageShift: UInt64
    private let capacity: Int
    /// pfn -> slot in `pages`; `order` holds the slots from least to most recently used.
    private var slotOfPFN: [UInt64: Int] = [:]
    private var pfnOfSlot: [UInt64] = []
    private var lastUse: [UInt64] = []
    private var pages: [UInt8]
    private var clock: UInt64 = 0
    public private(set) var hits = 0
    public private(set) var misses = 0

    /// `cachePages` bounds memory use: at most that many decompressed pages are kept.
    public init(dump: any DumpFile, cachePages: Int = 64) {
        self.dump = dump
        pageSize = dump.pageSize
        pageShift = UInt64(dump.pageSize.trailingZeroBitCount)
        capacity = max(1, cachePages)
        pages = []
    }

    /// Copies `buffer.count` bytes at physical address `paddr` into `buffer`.
    /// Throws the first page's error (`.excludedPage`, `.notInDump`, `.corruptPage`).
    public func read(physical paddr: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard let dst = buffer.baseAddress, buffer.count > 0 else { return }
        var done = 0
        var addr = paddr
        let mask = UInt64(pageSize - 1)
        while done < buffer.count {
            let pfn = addr >> pageShift
            let inPage = Int(addr & mask)
            let n = min(pageSize - inPage, buffer.count - done)
            try withPage(pfn: pfn) { (page: UnsafeRawBufferPointer) throws in
                (dst + done).copyMemory(from: page.baseAddress! + inPage, byteCount: n)
            }
            done += n
            let (next, overflow) = addr.addingReportingOverflow(UInt64(n))
            if overflow && done < buffer.count { throw DumpError.notInDump(paddr: addr) }
            addr = next
        }
    }

    /// Calls `body` with the bytes of page frame `pfn`, from the cache or the dump.
    public func withPage<R>(pfn: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        clock &+= 1
        let slot: Int
        if let s = slotOfPFN[pfn] {
            hits += 1
            slot = s
        } else {
            misses += 1
            if pfnOfSlot.count < capacity {
                slot = pfnOfSlot.count
                pfnOfSlot.append(pfn)
                lastUse.append(0)
                pages.append(contentsOf: repeatElement(0, count: pageSize))
            } else {
                // Evict the least recently used slot (linear scan: the cache is small).
                var victim = 0
                for i in 1..<lastUse.count where lastUse[i] < lastUse[victim] { victim = i }
                slotOfPFN[pfnOfSlot[victim]] = nil
                slot = victim
            }
            let size = pageSize
            var failure: DumpError?
            pages.withUnsafeMutableBytes { all in
                let window = UnsafeMutableRawBufferPointer(rebasing: all[(slot * size)..<((slot + 1) * size)])
                do { try dump.readPage(pfn: pfn, into: window) } catch let e as DumpError { failure = e } catch { failure = .missing(what: "page \(pfn): \(error)") }
            }
            if let failure {
                // Leave the slot unusable rather than holding partial bytes.
                pfnOfSlot[slot] = UInt64.max
                lastUse[slot] = 0
                throw failure
            }
            pfnOfSlot[slot] = pfn
            slotOfPFN[pfn] = slot
        }
        lastUse[slot] = clock
        let size = pageSize
        return try pages.withUnsafeBytes { (all) -> R in
            try body(UnsafeRawBufferPointer(rebasing: all[(slot * size)..<((slot + 1) * size)]))
        }
    }

    /// One little-endian integer at a physical address.
    public func load<T: FixedWidthInteger>(_: T.Type = T.self, physical paddr: UInt64) throws -> T {
        var v: T = 0
        try withUnsafeMutableBytes(of: &v) { (b) in try read(physical: paddr, into: b) }
        return T(littleEndian: v)
    }

    /// `count` bytes at a physical address.
    public func bytes(physical paddr: UInt64, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(0, count))
        try out.withUnsafeMutableBytes { (b) in try read(physical: paddr, into: b) }
        return out
    }
}

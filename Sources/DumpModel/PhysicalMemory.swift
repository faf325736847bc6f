/// Byte-granular reads of the crashed machine's physical memory, on top of a dump's page reads,
/// with a small bounded cache of whole (decompressed) pages, least recently used out first.
///
/// The page storage is allocated once, at the first miss: `cachePages + 1` frames of `pageSize`
/// bytes. The extra frame is the one a miss reads into; only when the read succeeds does it join
/// the cache (taking the place of the least recently used page, whose frame becomes the next read
/// target). So a failed read (an excluded page, a corrupt one) neither takes a slot nor evicts a
/// good page, and a cached page never holds partial bytes.
///
/// Not thread-safe: one session reads from one thread. `withPage`'s body must not read through
/// the same `PhysicalMemory` (a nested miss may reuse the frame it is looking at).
public final class PhysicalMemory {
    public let dump: any DumpFile
    public let pageSize: Int
    private let pageShift: UInt64
    /// Most pages kept.
    public let capacity: Int
    /// Page storage: `capacity + 1` frames, allocated on first use (nil before).
    private var frames: UnsafeMutableRawBufferPointer?
    /// pfn -> frame holding it.
    private var frameOfPFN: [UInt64: Int] = [:]
    /// Per frame: the pfn it holds (nil: free or the read target) and when it was last used.
    private var pfnOfFrame: [UInt64?]
    private var lastUse: [UInt64]
    /// The frame the next miss reads into (never in `frameOfPFN`).
    private var readTarget = 0
    /// Frames below this have been used; the next ones are fresh.
    private var framesUsed = 1
    private var clock: UInt64 = 0
    public private(set) var hits = 0
    public private(set) var misses = 0
    /// Read pages the dump tool excluded as zeros instead of failing (crash's `--zero_excluded`,
    /// libkdumpfile's zero_excluded). Pages the dump says nothing of still fail. Set it before
    /// the first read: pages read before keep what they read.
    public var zeroExcluded = false

    /// `cachePages` bounds memory use: at most that many decompressed pages are kept (plus the
    /// one a miss reads into).
    public init(dump: any DumpFile, cachePages: Int = 64) {
        self.dump = dump
        pageSize = dump.pageSize
        pageShift = UInt64(dump.pageSize.trailingZeroBitCount)
        capacity = max(1, cachePages)
        pfnOfFrame = Array(repeating: nil, count: capacity + 1)
        lastUse = Array(repeating: 0, count: capacity + 1)
    }

    deinit { frames?.deallocate() }

    /// Number of pages in the cache now (at most `capacity`).
    public var cachedPageCount: Int { frameOfPFN.count }

    /// True when page frame `pfn` is in the cache.
    public func isCached(pfn: UInt64) -> Bool { frameOfPFN[pfn] != nil }

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
                guard let src = page.baseAddress else { return }
                (dst + done).copyMemory(from: src + inPage, byteCount: n)
            }
            done += n
            let (next, overflow) = addr.addingReportingOverflow(UInt64(n))
            if overflow && done < buffer.count { throw DumpError.notInDump(paddr: addr) }
            addr = next
        }
    }

    /// The bytes of frame `k`.
    @inline(__always)
    private func frame(_ k: Int, in storage: UnsafeMutableRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[(k * pageSize) ..< ((k + 1) * pageSize)])
    }

    /// Calls `body` with the bytes of page frame `pfn`, from the cache or the dump.
    public func withPage<R>(pfn: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let storage: UnsafeMutableRawBufferPointer
        if let frames { storage = frames } else {
            // Uninitialised: a frame is read into before it is ever looked at.
            storage = UnsafeMutableRawBufferPointer.allocate(byteCount: (capacity + 1) * pageSize, alignment: 16)
            frames = storage
        }
        clock &+= 1
        if let k = frameOfPFN[pfn] {
            hits += 1
            lastUse[k] = clock
            return try body(UnsafeRawBufferPointer(frame(k, in: storage)))
        }
        misses += 1
        let k = readTarget
        do {
            try dump.readPage(pfn: pfn, into: frame(k, in: storage))
        } catch DumpError.excludedPage where zeroExcluded {
            frame(k, in: storage).initializeMemory(as: UInt8.self, repeating: 0)
        } catch let e as DumpError {
            throw e
        } catch {
            throw DumpError.missing(what: "page \(pfn): \(error)")
        }
        // The page is good: it joins the cache; the next read target is a fresh frame, or the
        // least recently used page's (a linear scan: the cache is small).
        if frameOfPFN.count < capacity {
            readTarget = framesUsed
            framesUsed += 1
        } else {
            var victim = -1
            for f in 0 ..< framesUsed where f != k && pfnOfFrame[f] != nil {
                if victim < 0 || lastUse[f] < lastUse[victim] { victim = f }
            }
            if victim >= 0 {
                if let old = pfnOfFrame[victim] { frameOfPFN[old] = nil }
                pfnOfFrame[victim] = nil
                readTarget = victim
            }
        }
        pfnOfFrame[k] = pfn
        frameOfPFN[pfn] = k
        lastUse[k] = clock
        return try body(UnsafeRawBufferPointer(frame(k, in: storage)))
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

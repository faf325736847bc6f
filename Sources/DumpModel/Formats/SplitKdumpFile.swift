/// A dump that makedumpfile --split wrote as several kdump-compressed files: each holds the same
/// headers and bitmaps, and the pages of one pfn range (`start_pfn ..< end_pfn` of its
/// sub-header). Reads go to the part whose range holds the pfn, as crash's diskdump.c does.
///
/// The parts must be all of one dump: the same disk_dump_header, ranges that do not overlap and
/// leave no pfn below max_mapnr uncovered (a missing part would make its pages look absent).
public final class SplitKdumpFile: DumpFile {
    /// The parts, in pfn order.
    public let parts: [KdumpCompressedFile]
    public let path: String
    public var format: DumpFormat { parts[0].format }
    public var pageSize: Int { parts[0].pageSize }
    public var vmcoreinfo: VMCoreInfo? { parts[0].vmcoreinfo }
    public var notes: [DumpNote] { parts[0].notes }
    public var prstatus: [PRStatus] { parts[0].prstatus }
    public var headerPhysBase: UInt64? { parts[0].headerPhysBase }
    public var qemuCPUStates: [QEMUCPUState] { parts[0].qemuCPUStates }

    /// Checks that `parts` make one whole split dump and puts them in pfn order.
    public init(parts given: [KdumpCompressedFile]) throws {
        guard let first = given.first else { throw DumpError.missing(what: "the parts of the split dump") }
        for part in given where part.splitRange == nil {
            throw DumpError.unsupported(path: part.path,
                                        what: "not part of a makedumpfile --split dump; give one whole dump, or all the parts of a split one")
        }
        for part in given.dropFirst() where part.header != first.header || part.maxMapnr != first.maxMapnr {
            throw DumpError.badHeader(path: part.path, field: "disk_dump_header", value: "differs from \(first.path)'s",
                                      reason: "the parts of a split dump come from one vmcore")
        }
        let sorted = given.sorted { ($0.splitRange?.lowerBound ?? 0) < ($1.splitRange?.lowerBound ?? 0) }
        var covered: UInt64 = 0
        for (k, part) in sorted.enumerated() {
            guard let r = part.splitRange else { continue }
            if r.lowerBound < covered {
                throw DumpError.badHeader(path: part.path, field: "start_pfn", value: String(r.lowerBound),
                                          reason: "overlaps \(sorted[k - 1].path) (pfns up to \(covered)); the same part given twice?")
            }
            if r.lowerBound > covered {
                throw DumpError.missing(what: "the part of the split dump with pfns \(covered)-\(r.lowerBound - 1) (\(hex(covered))-\(hex(r.lowerBound - 1))): give all parts")
            }
            covered = r.upperBound
        }
        if covered < first.maxMapnr {
            throw DumpError.missing(what: "the part of the split dump with pfns \(covered)-\(first.maxMapnr - 1) (\(hex(covered))-\(hex(first.maxMapnr - 1))): give all parts")
        }
        parts = sorted
        path = sorted.map(\.path).joined(separator: " ")
    }

    /// The part holding `pfn` (binary search over the sorted ranges).
    private func part(for pfn: UInt64) -> KdumpCompressedFile? {
        var lo = 0, hi = parts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if (parts[mid].splitRange?.upperBound ?? 0) <= pfn { lo = mid + 1 } else { hi = mid }
        }
        guard lo < parts.count, let r = parts[lo].splitRange, r.contains(pfn) else { return nil }
        return parts[lo]
    }

    public func readPage(pfn: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard let part = part(for: pfn) else { throw DumpError.notInDump(paddr: pfn &* UInt64(pageSize)) }
        try part.readPage(pfn: pfn, into: buffer)
    }

    public func pageState(pfn: UInt64) -> PageState {
        part(for: pfn)?.pageState(pfn: pfn) ?? .notInDump
    }

    public func presentPages() -> AnySequence<UInt64> {
        AnySequence(parts.lazy.flatMap { $0.presentPages() })
    }

    public func summary() -> DumpSummary {
        var s = parts[0].summary()
        s.path = path
        s.pagesPresent = parts.reduce(0) { $0 + $1.pagesPresent }
        s.pagesExcluded = parts.reduce(0) { $0 + $1.pagesExcluded }
        return s
    }
}

import DumpModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// crashsh-bench: throughput measurements for the closing notes (not a test; numbers depend on
/// the machine and on whether the dump is in the page cache).
///
///     crashsh-bench pages [--passes N] DUMP...
///
/// For each dump: reads every present page through the public `DumpFile.readPage` into one
/// reused buffer and prints pages, MiB, seconds and MiB/s (best of N passes, default 5). For
/// kdump-compressed files (plain or flattened) it also times `PageDecompressor.decompress` alone on
/// the same pages' stored bytes, gathered beforehand, which is the limit a reader can reach.

let usage = "usage: crashsh-bench pages [--passes N] DUMP..."

/// Seconds on a monotonic clock.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Writes one line to standard error.
func warn(_ message: String) {
    let line = "crashsh-bench: " + message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

func fail(_ message: String) -> Never {
    warn(message)
    exit(1)
}

/// The stored bytes of every present page of a kdump-compressed file, back to back, and per page
/// where its bytes are and how they are compressed: the input of the decompressor-only timing.
struct StoredPages {
    var bytes: [UInt8] = []
    var ranges: [(start: Int, count: Int, kind: PageCompression)] = []
}

/// Pages that share stored bytes (makedumpfile and QEMU point every zero page at one copy) share
/// them here too, so the decompressor sees the same memory-access pattern as the reader.
func gatherStoredPages(_ kdump: KdumpCompressedFile, pfns: [UInt64]) throws -> StoredPages {
    var out = StoredPages()
    out.ranges.reserveCapacity(pfns.count)
    var startOfOffset: [UInt64: Int] = [:]
    for pfn in pfns {
        let d = try kdump.pageDescriptor(pfn: pfn)
        guard let kind = d.compression(pageSize: kdump.pageSize), d.size > 0,
              Int(d.size) <= kdump.pageSize else { continue }
        if let start = startOfOffset[d.offset] {
            out.ranges.append((start, Int(d.size), kind))
            continue
        }
        let page = try kdump.reader.bytes(at: d.offset, count: Int(d.size), what: "page data")
        startOfOffset[d.offset] = out.bytes.count
        out.ranges.append((out.bytes.count, page.count, kind))
        out.bytes.append(contentsOf: page)
    }
    return out
}

/// Best-of-`passes` seconds to decompress every gathered page into one page buffer.
func timeDecompressor(_ stored: StoredPages, pageSize: Int, passes: Int) -> Double {
    let decoder = PageDecompressor()
    let dest = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 16)
    defer { dest.deallocate() }
    var best = Double.infinity
    stored.bytes.withUnsafeBytes { all in
        for _ in 0..<passes {
            var failures = 0
            let t0 = now()
            for r in stored.ranges {
                let src = UnsafeRawBufferPointer(rebasing: all[r.start ..< r.start + r.count])
                if decoder.decompress(r.kind, source: src, into: dest) != nil { failures += 1 }
            }
            best = min(best, now() - t0)
            if failures > 0 { warn("\(failures) pages failed to decompress") }
        }
    }
    return best
}

/// `value` with `digits` decimals (no Foundation in this tool).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int64((value * scale).rounded())
    let whole = String(n / Int64(scale))
    guard digits > 0 else { return whole }
    let frac = String(abs(n) % Int64(scale))
    return (n < 0 && whole == "0" ? "-" : "") + whole + "." + String(repeating: "0", count: digits - frac.count) + frac
}

/// `s` right-aligned in `width` columns.
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

/// `s` left-aligned in `width` columns.
func padRight(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// Best-of-`passes` seconds to read `pfns` through `DumpFile.readPage` into `buffer`.
func timeReads(_ dump: any DumpFile, pfns: [UInt64], passes: Int, buffer: UnsafeMutableRawBufferPointer) -> Double {
    var errors = 0
    return timeReads(dump, pfns: pfns, passes: passes, buffer: buffer, errors: &errors)
}

func timeReads(_ dump: any DumpFile, pfns: [UInt64], passes: Int, buffer: UnsafeMutableRawBufferPointer,
               errors: inout Int) -> Double {
    var best = Double.infinity
    var checksum: UInt64 = 0
    for _ in 0..<passes {
        errors = 0
        let t0 = now()
        for pfn in pfns {
            do {
                try dump.readPage(pfn: pfn, into: buffer)
                // Use the bytes, so the copy cannot be optimised away.
                checksum &+= buffer.load(fromByteOffset: 0, as: UInt64.self)
            } catch { errors += 1 }
        }
        best = min(best, now() - t0)
    }
    if checksum == 1 { warn("checksum 1") }
    return best
}

func mib(_ bytes: Double) -> String { fixed(bytes / 1048576, 1) + " MiB" }
func rate(_ bytes: Double, _ seconds: Double) -> String {
    fixed(seconds > 0 ? bytes / 1048576 / seconds : 0, 0) + " MiB/s"
}

func benchPages(path: String, passes: Int) {
    let dump: any DumpFile
    do { dump = try DumpOpener.open(path: path) } catch { fail("\(error)") }
    let pfns = Array(dump.presentPages())
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: dump.pageSize, alignment: 16)
    defer { buffer.deallocate() }
    let kdump = dump as? KdumpCompressedFile
    var stored: StoredPages?
    var storedError: Error?
    if let kdump {
        do { stored = try gatherStoredPages(kdump, pfns: pfns) } catch { storedError = error }
    }
    // Reader and bare decompressor pass by pass, alternating, so both see the same machine load.
    var errors = 0
    var best = Double.infinity, decompressorBest = Double.infinity
    for _ in 0..<passes {
        best = min(best, timeReads(dump, pfns: pfns, passes: 1, buffer: buffer, errors: &errors))
        if let stored { decompressorBest = min(decompressorBest, timeDecompressor(stored, pageSize: dump.pageSize, passes: 1)) }
    }
    let bytes = Double(pfns.count) * Double(dump.pageSize)
    let name = path.split(separator: "/").last.map(String.init) ?? path
    var line: String = padRight(name, 16)
    line += " " + padRight(kdump?.compressionName ?? "ELF", 5)
    line += " " + pad(String(pfns.count), 7) + " pages"
    line += " " + pad(mib(bytes), 10)
    line += " " + pad(fixed(best, 3), 7) + " s"
    line += " " + pad(rate(bytes, best), 10)
    if errors > 0 { line += "  (\(errors) pages failed)" }
    if dump is ElfCoreFile, let excluded = dump.summary().pagesExcluded, excluded > 0 {
        // makedumpfile -E's [p_filesz, p_memsz) tails are excluded pages: not read, not counted above.
        line += "  (\(excluded) pages excluded past p_filesz)"
    }
    if let stored {
        let decoded = Double(stored.ranges.count) * Double(dump.pageSize)
        let storedTotal = stored.ranges.reduce(0) { $0 + $1.count }
        let ratio: Double = decoded / Double(max(1, storedTotal))
        var extra: String = "  (decompressor alone: " + rate(decoded, decompressorBest)
        extra += "; ratio " + fixed(ratio, 2) + ")"
        line += extra
    } else if let storedError {
        line += "  (decompressor timing failed: \(storedError))"
    }
    print(line)
}

var args = Array(CommandLine.arguments.dropFirst())
guard args.first == "pages" else { fail(usage) }
args.removeFirst()
var passes = 5
if args.first == "--passes" {
    guard args.count >= 2, let n = Int(args[1]), n > 0 else { fail(usage) }
    passes = n
    args.removeFirst(2)
}
guard !args.isEmpty else { fail(usage) }
for path in args { benchPages(path: path, passes: passes) }

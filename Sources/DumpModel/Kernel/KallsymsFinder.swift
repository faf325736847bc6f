/// Finds the kallsyms table in the bytes of a kernel image when nothing names its parts (a dump
/// without VMCOREINFO, and no vmlinux). The layout is scripts/kallsyms.c's: every part starts
/// at an 8-byte boundary (its labels are `.balign 8`), and
/// - `kallsyms_token_table` is 256 NUL-terminated tokens, indexed by byte value; a byte that
///   occurs in symbol names stands for itself, so the digits' entries read "0\01\0...9\0";
/// - `kallsyms_token_index` (256 u16 offsets of the tokens in the table) follows the table;
/// - before the table: `kallsyms_num_syms` (u32), `kallsyms_names`, `kallsyms_markers` (u32
///   per 256 symbols: where that symbol's name starts), then, from 6.2 (and in some stable
///   kernels before it), `kallsyms_seqs_of_names` (3 bytes per symbol);
/// - `kallsyms_offsets` (s32 per symbol) and `kallsyms_relative_base` (u64) lie before
///   `kallsyms_num_syms` (up to 6.3), or after the token index (6.4's reordering); a kernel
///   built without CONFIG_KALLSYMS_BASE_RELATIVE (x86_64 before 4.6) has `kallsyms_addresses`
///   (u64 per symbol) right before `kallsyms_num_syms` instead.
/// Each candidate is checked: the token index must describe the token table exactly, and the
/// names must decode to the symbol count with the markers where the names walk puts them.
/// Which offsets placement is right is for the caller to check (`_text` where the image starts).
public enum KallsymsFinder {
    /// Where the digits' single-character tokens lie in a token table.
    static let digitTokens: [UInt8] = Array("0\u{0}1\u{0}2\u{0}3\u{0}4\u{0}5\u{0}6\u{0}7\u{0}8\u{0}9\u{0}".utf8)
    /// Tokens are short pairs expanded a few times; a table is a few KiB at most.
    static let maxTokenTableSize = 1 << 16
    /// How far before the token table the names may start (a kernel's names are a few MiB).
    static let maxNamesReach = 32 << 20

    /// Candidate tables in `image` (the kernel image's bytes from `imageStart`), the first the
    /// likeliest: one per offsets placement for each consistent token table, names and markers.
    /// Checks `interrupted` now and then.
    public static func candidates(in image: [UInt8], imageStart: UInt64,
                                  interrupted: () -> Bool = { false }) -> [KallsymsLocation] {
        var found: [KallsymsLocation] = []
        var from = 0
        var polls = 0
        while let p = firstIndex(of: digitTokens, in: image, from: from) {
            from = p + 1
            polls += 1
            if polls & 0xff == 0, interrupted() { break }
            guard let (table, index) = tokenTable(around: p, in: image) else { continue }
            for names in namesCandidates(tokenTable: table, in: image) {
                let count = names.count
                let at: (Int) -> UInt64 = { imageStart &+ UInt64($0) }
                // Up to 6.3: offsets, relative_base, num_syms.
                let base = names.numSyms - 8
                let offsetsBefore = base - align8(count * 4)
                if offsetsBefore >= 0 {
                    found.append(KallsymsLocation(names: at(names.names), symbolCount: at(names.numSyms), tokenTable: at(table),
                                                  tokenIndex: at(index),
                                                  addressing: .relative(offsets: at(offsetsBefore), relativeBase: at(base))))
                }
                // Before 4.6 (absolute addresses): addresses, num_syms.
                let addressesBefore = names.numSyms - count * 8
                if addressesBefore >= 0 {
                    found.append(KallsymsLocation(names: at(names.names), symbolCount: at(names.numSyms), tokenTable: at(table),
                                                  tokenIndex: at(index), addressing: .absolute(addresses: at(addressesBefore))))
                }
                // From 6.4: token_index, offsets, relative_base.
                let offsetsAfter = align8(index + 512)
                let baseAfter = offsetsAfter + align8(count * 4)
                if baseAfter + 8 <= image.count {
                    found.append(KallsymsLocation(names: at(names.names), symbolCount: at(names.numSyms), tokenTable: at(table),
                                                  tokenIndex: at(index),
                                                  addressing: .relative(offsets: at(offsetsAfter), relativeBase: at(baseAfter))))
                }
            }
        }
        return found
    }

    static func align8(_ v: Int) -> Int { (v + 7) & ~7 }

    static func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 }

    static func u32(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
    }

    static func firstIndex(of pattern: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard let first = pattern.first, bytes.count >= pattern.count else { return nil }
        var i = max(0, from)
        let last = bytes.count - pattern.count
        while i <= last {
            if bytes[i] == first {
                var k = 1
                while k < pattern.count, bytes[i + k] == pattern[k] { k += 1 }
                if k == pattern.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// The token table holding the digit tokens at `digits`, and its index: the first 8-byte
    /// aligned place after `digits` where 256 u16s put token '0' at `digits`, each token ending
    /// (NUL) just before the next begins, and the index right after the last token.
    static func tokenTable(around digits: Int, in b: [UInt8]) -> (table: Int, index: Int)? {
        var x = align8(digits + digitTokens.count)
        let limit = min(b.count - 512, digits + maxTokenTableSize)
        while x <= limit {
            defer { x += 8 }
            guard u16(b, x) == 0 else { continue }
            let zeroAt = u16(b, x + 2 * 0x30)
            let table = digits - zeroAt
            guard table >= 0, table % 8 == 0 else { continue }
            var ok = true
            var previous = 0
            for t in 0..<256 {
                let start = u16(b, x + 2 * t)
                guard t == 0 || start > previous else { ok = false; break }
                previous = start
                let next = t < 255 ? table + u16(b, x + 2 * (t + 1)) : -1
                // Token t runs from its start to a NUL: at next - 1 (or, for the last, anywhere
                // before the index, with only alignment padding after it).
                var i = table + start
                guard i < x, b[i] != 0 else { ok = false; break }
                while i < x, b[i] != 0 { i += 1 }
                if t < 255 {
                    guard i == next - 1 else { ok = false; break }
                } else {
                    guard i < x, align8(i + 1) == x else { ok = false; break }
                }
            }
            if ok { return (table, x) }
        }
        return nil
    }

    struct NamesPlacement: Equatable {
        var numSyms: Int
        var names: Int
        var count: Int
    }

    /// `kallsyms_num_syms` and `kallsyms_names` before the token table at `table`: a u32 count at
    /// an aligned place, names from the next aligned place whose walk of `count` entries ends
    /// where the markers begin (with or without `kallsyms_seqs_of_names` between them and the
    /// table), the markers holding the walk's offsets of every 256th name.
    static func namesCandidates(tokenTable table: Int, in b: [UInt8]) -> [NamesPlacement] {
        var out: [NamesPlacement] = []
        var p = (table - 16) & ~7
        let lowest = max(0, table - maxNamesReach)
        while p >= lowest {
            defer { p -= 8 }
            let count = u32(b, p)
            // Each name takes at least two bytes (length and one token).
            guard count > 0, count <= KallsymsTable.maxSymbols, u32(b, p + 4) == 0,
                  p + 8 + 2 * count < table else { continue }
            let names = p + 8
            let markerCount = (count + 255) / 256
            let seqs = align8(count * 3)
            for seqsBytes in [0, seqs] {
                let markersEnd = table - seqsBytes
                // Markers are 4 bytes each, the part after them starts 8-aligned.
                let markers = markersEnd - align8(markerCount * 4)
                guard markers > names, u32(b, markers) == 0,
                      namesWalk(from: names, count: count, markers: markers, in: b) else { continue }
                out.append(NamesPlacement(numSyms: p, names: names, count: count))
            }
        }
        return out
    }

    /// Walks `count` length-prefixed names from `names`: true when every 256th starts where the
    /// markers say and the last ends within alignment of `markers`.
    static func namesWalk(from names: Int, count: Int, markers: Int, in b: [UInt8]) -> Bool {
        var at = names
        for i in 0..<count {
            if i & 0xff == 0 {
                guard u32(b, markers + 4 * (i >> 8)) == at - names else { return false }
            }
            guard at < markers else { return false }
            var length = Int(b[at])
            at += 1
            if length & 0x80 != 0 {
                guard at < markers else { return false }
                length = (length & 0x7f) | Int(b[at]) << 7
                at += 1
            }
            guard length > 0 else { return false }
            at += length
        }
        return at <= markers && align8(at) == markers
    }

    /// The kallsyms table of the kernel image whose bytes from `imageStart` (its `_text`) are
    /// `image`: the first candidate that decodes with `_text` at `imageStart`.
    /// - Throws: `DumpError.missing` when no candidate does.
    public static func table(in image: [UInt8], imageStart: UInt64,
                             interrupted: () -> Bool = { false }) throws -> (KallsymsTable, KallsymsLocation) {
        let read: (UInt64, Int) throws -> [UInt8] = { address, count in
            guard address >= imageStart, address &- imageStart < UInt64(image.count) else {
                throw DumpError.missing(what: "kernel image byte at \(hex(address)) (past the \(image.count) bytes read)")
            }
            let from = Int(address &- imageStart)
            return Array(image[from..<min(image.count, from + max(0, count))])
        }
        let found = candidates(in: image, imageStart: imageStart, interrupted: interrupted)
        for location in found {
            guard let table = try? KallsymsTable.decode(at: location, stext: nil, read: read),
                  table.address(of: "_text") == imageStart else { continue }
            return (table, location)
        }
        throw DumpError.missing(what: found.isEmpty
            ? "a kallsyms token table in the \(image.count >> 20) MiB of the kernel image at \(hex(imageStart))"
            : "a kallsyms table with _text at \(hex(imageStart)) (\(found.count) candidates checked)")
    }
}

/// The kernel found without VMCOREINFO or vmlinux: where its image lies and its kallsyms table.
public struct KernelFoundFromCPUState: Sendable {
    public var start: KernelImageStart
    public var table: KallsymsTable
    public var location: KallsymsLocation
}

extension KallsymsFinder {
    /// How much of the image is searched: kallsyms lies in its read-only data, within the first
    /// tens of MiB of even a large kernel.
    static let imageSearchLength = 96 << 20
    static let readChunk = 2 << 20

    /// The kernel image from the CPUs' page tables and its kallsyms table from the image's bytes
    /// (read linearly from `_text`'s physical address: the image is physically contiguous).
    /// - Throws: `DumpError.missing` saying what was not found.
    public static func locate(memory: PhysicalMemory, cpuStates: [QEMUCPUState],
                              interrupted: () -> Bool = { false }) throws -> KernelFoundFromCPUState {
        let starts = KernelImageLocator.imageStartCandidates(memory: memory, cpuStates: cpuStates)
        guard !starts.isEmpty else {
            throw DumpError.missing(what: "the kernel image: no CPU state note whose CR3 page tables map the kernel image mapping")
        }
        var why: Error?
        for start in starts {
            var image: [UInt8] = []
            while image.count < imageSearchLength, !interrupted() {
                let (physical, overflow) = start.textPhysical.addingReportingOverflow(UInt64(image.count))
                guard !overflow, let chunk = try? memory.bytes(physical: physical, count: readChunk), !chunk.isEmpty else { break }
                image += chunk
                if chunk.count < readChunk { break }
            }
            do {
                let (table, location) = try table(in: image, imageStart: start.text, interrupted: interrupted)
                return KernelFoundFromCPUState(start: start, table: table, location: location)
            } catch {
                why = error
            }
        }
        throw why ?? DumpError.missing(what: "kallsyms in the kernel image")
    }
}

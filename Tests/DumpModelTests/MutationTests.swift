import Foundation
import Testing
import TestSupport
@testable import DumpModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic mutation test: corrupts the headers, sub-headers, notes, bitmaps, page
/// descriptors, page data and flattened records of real fixture dumps in thousands of seeded
/// ways and checks that every reader ends cleanly on each (a `DumpError` or a good result):
/// no trap, no hang, no unbounded allocation.
///
/// A trap would kill the test process, so reaching the end of a case is the first assertion;
/// on top of that every error must be a `DumpError`, and the mutations must reach the
/// parser's checks (some cases refused, some opened).
///
/// Where each structure lies is computed from the fixture's own headers (block size, sub-header
/// and bitmap block counts, note offsets, program headers, flattened records), never assumed.
@Suite struct MutationTests {
    /// SplitMix64 (TestSupport): the same sequence on every machine for a seed.
    typealias SeededGenerator = SplitMix64

    /// A fixture mapped privately and writable: copy-on-write, so a case changes bytes in place
    /// (the file on disk never changes, only touched pages cost memory) and `restore()` puts them
    /// back. It hands out direct pointers like `MappedFile`, so the readers take the same paths as
    /// on a real file; `size` below the real length simulates a truncated file.
    final class MutableFile: ByteReader {
        let base: UnsafeMutableRawPointer
        let length: Int
        var size: UInt64
        let name: String
        private var saved: [(Int, UInt8)] = []

        init?(path: String) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_size > 0 else { return nil }
            length = Int(st.st_size)
            guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
                return nil
            }
            base = p
            size = UInt64(length)
            name = (path as NSString).lastPathComponent
        }

        deinit { munmap(base, length) }

        subscript(_ i: Int) -> UInt8 { base.load(fromByteOffset: i, as: UInt8.self) }

        func set(_ i: Int, _ v: UInt8) {
            guard i >= 0, i < length else { return }
            saved.append((i, self[i]))
            base.storeBytes(of: v, toByteOffset: i, as: UInt8.self)
        }

        /// Stores `v` at `at` in the given byte order.
        func set<T: FixedWidthInteger>(_ at: Int, _ v: T, order: ByteOrder = .little) {
            let n = MemoryLayout<T>.size
            for b in 0..<n {
                let shift = 8 * (order == .little ? b : n - 1 - b)
                set(at + b, UInt8(truncatingIfNeeded: v >> shift))
            }
        }

        func load<T: FixedWidthInteger>(_: T.Type, _ at: Int, order: ByteOrder = .little) -> T {
            let v = base.loadUnaligned(fromByteOffset: at, as: T.self)
            return order == .little ? T(littleEndian: v) : T(bigEndian: v)
        }

        /// Undoes every change since the last restore, and the truncation.
        func restore() {
            for (i, v) in saved.reversed() { base.storeBytes(of: v, toByteOffset: i, as: UInt8.self) }
            saved.removeAll(keepingCapacity: true)
            size = UInt64(length)
        }

        func fetch(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
            let (end, overflow) = offset.addingReportingOverflow(UInt64(buffer.count))
            guard !overflow, end <= size else { throw truncated(what, at: offset, length: UInt64(buffer.count)) }
            guard buffer.count > 0, let dst = buffer.baseAddress else { return }
            dst.copyMemory(from: base + Int(offset), byteCount: buffer.count)
        }

        func directPointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer? {
            let (end, overflow) = offset.addingReportingOverflow(count)
            guard !overflow, end <= size else { return nil }
            return UnsafeRawPointer(base + Int(offset))
        }
    }

    /// How one case ended.
    enum Outcome: String {
        case opened = "opened"
        case openedSomePagesRefused = "opened, some pages refused"
        case refused = "refused"
        /// An error that is not a `DumpError`: the readers' contract says this never happens.
        case foreignError = "refused with a non-DumpError"
    }

    /// One case: open the (mutated) file and use everything a command would use, then read the
    /// `targets` (the pages whose descriptors or data the case changed), the first present pages
    /// and random frames. "Some pages refused" counts only pages the dump says are present.
    static func exercise(_ file: MutableFile, targets: [UInt64], rng: inout SeededGenerator) -> Outcome {
        do {
            let dump = try DumpOpener.open(reader: file)
            // dumpinfo's summary: every case (a flattened file's bitmaps are copied once, not
            // fetched word by word).
            _ = dump.summary()
            if let text = dump.vmcoreinfoText {
                let info = VMCoreInfo(raw: text)
                _ = (info.osRelease, info.pageSize, info.kernelOffset, info.crashTime)
            }
            _ = (dump.prstatus, dump.notes.count, dump.headerPhysBase, dump.qemuCPUStates)
            // The pages a command would read, through the page cache and across a page boundary,
            // so two pages go through it, with a cache of two pages.
            let memory = PhysicalMemory(dump: dump, cachePages: 2)
            var buf = [UInt8](repeating: 0, count: 64)
            var readErrors = 0
            for pfn in targets + Array(dump.presentPages().prefix(16)) {
                do {
                    try buf.withUnsafeMutableBytes { try memory.read(physical: pfn &<< 12 | 0xff0, into: $0) }
                } catch is DumpError {
                    readErrors += 1
                } catch {
                    return .foreignError
                }
            }
            // Random frames and absurd ones, straight from the dump: almost all are not in it.
            var frames: [UInt64] = [UInt64.max >> 12, UInt64.max, (dump as? KdumpCompressedFile)?.maxMapnr ?? 1 << 40]
            for _ in 0..<16 { frames.append(UInt64.random(in: 0..<0x2_0000, using: &rng)) }
            let page = UnsafeMutableRawBufferPointer.allocate(byteCount: max(dump.pageSize, 1), alignment: 16)
            defer { page.deallocate() }
            for pfn in frames {
                let state = dump.pageState(pfn: pfn)
                do {
                    try dump.readPage(pfn: pfn, into: page)
                } catch is DumpError {
                    if state == .present { readErrors += 1 }
                } catch {
                    return .foreignError
                }
            }
            return readErrors == 0 ? .opened : .openedSomePagesRefused
        } catch is DumpError {
            return .refused
        } catch {
            return .foreignError
        }
    }

    // MARK: where things are

    /// The regions of a kdump-compressed file, from its own header. Offsets are logical (for a
    /// flattened file, offsets in the file it reassembles).
    struct KdumpLayout {
        var blockSize: Int
        var subHeader: Range<Int>
        var notes: Range<Int>
        var vmcoreinfo: Range<Int>
        var bitmap1: Range<Int>
        var bitmap2: Range<Int>
        /// The page_desc table: one 24-byte entry per present page, in pfn order.
        var pageDescs: Range<Int>
        /// Present pfns in order (entry k of the table describes `present[k]`) and their descriptors.
        var present: [UInt64]
        var descriptors: [KdumpCompressedFile.PageDescriptor]
    }

    static func kdumpLayout(_ logical: any ByteReader) throws -> KdumpLayout {
        func i32(_ o: UInt64) throws -> Int { Int(try logical.load(Int32.self, at: o)) }
        func u64(_ o: UInt64) throws -> Int { Int(try logical.load(UInt64.self, at: o)) }
        let block = try i32(428), subBlocks = try i32(432), bitmapBlocks = try i32(436)
        let sub = block
        let bitmapStart = (1 + subBlocks) * block
        let half = bitmapBlocks * block / 2
        let table = bitmapStart + 2 * half
        let opened = try KdumpCompressedFile(reader: logical)
        let present = Array(opened.presentPages())
        let descriptors = try present.map { try opened.pageDescriptor(pfn: $0) }
        let vmcoreinfoAt = try u64(UInt64(sub) + 32), vmcoreinfoSize = try u64(UInt64(sub) + 40)
        let notesAt = try u64(UInt64(sub) + 48), notesSize = try u64(UInt64(sub) + 56)
        return KdumpLayout(blockSize: block, subHeader: sub ..< sub + 104,
                           notes: notesAt ..< notesAt + notesSize,
                           vmcoreinfo: vmcoreinfoAt ..< vmcoreinfoAt + vmcoreinfoSize,
                           bitmap1: bitmapStart ..< bitmapStart + half,
                           bitmap2: bitmapStart + half ..< table,
                           pageDescs: table ..< table + 24 * present.count,
                           present: present, descriptors: descriptors)
    }

    /// makedumpfile -F records: where each record header is, and where each logical byte lies in the file.
    struct FlatRecords {
        var headers: [Int] = []
        var logical: [(start: Int, end: Int, data: Int)] = []

        init(_ file: MutableFile) {
            var pos = 4096
            while pos + 16 <= file.length {
                let off = file.load(Int64.self, pos, order: .big), len = file.load(Int64.self, pos + 8, order: .big)
                if off == -1 { break }
                headers.append(pos)
                logical.append((Int(off), Int(off + len), pos + 16))
                pos += 16 + Int(len)
            }
        }

        /// The file offset holding logical byte `offset` (the last record that writes it wins).
        func fileOffset(_ offset: Int) -> Int? {
            logical.last { $0.start <= offset && offset < $0.end }.map { $0.data + (offset - $0.start) }
        }
    }

    // MARK: mutations

    static let extremes32: [UInt32] = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1000, 0xfff, 0x200, 0x10000]

    static func extremes64(fileSize: Int) -> [UInt64] {
        [0, 1, UInt64.max, 1 << 63, 0x7fff_ffff_ffff_ffff, UInt64(fileSize), UInt64(fileSize) - 1,
         UInt64(fileSize) + 4096, 0xffff_ffff, 1 << 40]
    }

    /// Runs `cases` mutations of the kdump-compressed file `name` (plain or flattened).
    static func runKdump(_ name: String, seed: UInt64, cases: Int) throws -> Tally {
        guard let dir = FormatFixtures.dir, let file = MutableFile(path: dir + "/" + name) else { return Tally() }
        let flat: FlatRecords? = FlattenedFile.hasSignature(file) ? FlatRecords(file) : nil
        let logical: any ByteReader = flat != nil ? try FlattenedFile(base: file) : file
        let layout = try kdumpLayout(logical)
        var rng = SeededGenerator(state: seed)
        var tally = Tally()
        let size = file.length
        let hot = min(size, 64 * 1024)

        /// Sets logical bytes (mapped through the flattened records when there are some).
        func setLogicalByte(_ at: Int, _ v: UInt8) {
            if let flat { if let p = flat.fileOffset(at) { file.set(p, v) } } else { file.set(at, v) }
        }
        func setLogical<T: FixedWidthInteger>(_ at: Int, _ v: T) {
            for b in 0..<MemoryLayout<T>.size { setLogicalByte(at + b, UInt8(truncatingIfNeeded: v >> (8 * b))) }
        }
        func pick(_ r: Range<Int>) -> Int { r.isEmpty ? r.lowerBound : Int.random(in: r, using: &rng) }
        func pick32() -> UInt32 { extremes32[Int.random(in: 0..<extremes32.count, using: &rng)] }
        func pick64() -> UInt64 {
            let e = extremes64(fileSize: Int(logical.size))
            return e[Int.random(in: 0..<e.count, using: &rng)]
        }
        /// A page_desc entry: the first ones (read by every case) or any.
        func pickEntry() -> Int {
            Bool.random(using: &rng) ? Int.random(in: 0..<min(16, layout.present.count), using: &rng)
                : Int.random(in: 0..<layout.present.count, using: &rng)
        }

        for _ in 0..<cases {
            var targets: [UInt64] = []
            let kind = Int.random(in: 0..<(flat == nil ? 10 : 11), using: &rng)
            switch kind {
            case 0: // disk_dump_header: an aligned 32-bit field to an extreme
                setLogical(pick(0..<464 / 4) * 4, pick32())
            case 1: // disk_dump_header or the tasks[] after it: random bytes
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    setLogical(pick(0..<layout.blockSize), UInt8.random(in: 0...255, using: &rng))
                }
            case 2: // kdump_sub_header: a 64-bit field (or dump_level / split) to an extreme
                if Bool.random(using: &rng) {
                    setLogical(layout.subHeader.lowerBound + pick(0..<13) * 8, pick64())
                } else {
                    setLogical(layout.subHeader.lowerBound + 8 + 4 * pick(0..<2), pick32())
                }
            case 3: // ELF notes and VMCOREINFO: note header words to extremes, or random bytes
                let region = Bool.random(using: &rng) ? layout.notes : layout.vmcoreinfo
                if Bool.random(using: &rng) {
                    setLogical(region.lowerBound + pick(0..<min(256, region.count / 4)) * 4, pick32())
                } else {
                    for _ in 0..<Int.random(in: 1...8, using: &rng) {
                        setLogical(pick(region), UInt8.random(in: 0...255, using: &rng))
                    }
                }
            case 4: // bitmaps: flipped bits, or a run of 0x00 / 0xff
                let map = Bool.random(using: &rng) ? layout.bitmap1 : layout.bitmap2
                // Mostly where the present pages are, so the reads below see the change.
                let firstPresentByte = map.lowerBound + Int(layout.present.first ?? 0) / 8
                let near = firstPresentByte ..< min(map.upperBound, firstPresentByte + 512)
                if Bool.random(using: &rng) {
                    for _ in 0..<Int.random(in: 1...8, using: &rng) {
                        let at = pick(Bool.random(using: &rng) ? near : map)
                        setLogical(at, (try? logical.load(UInt8.self, at: UInt64(at))).map {
                            $0 ^ UInt8(1 << Int.random(in: 0..<8, using: &rng)) } ?? 0xff)
                    }
                } else {
                    let at = pick(Bool.random(using: &rng) ? near : map)
                    let fill: UInt8 = Bool.random(using: &rng) ? 0 : 0xff
                    for i in at ..< min(at + Int.random(in: 1...256, using: &rng), map.upperBound) { setLogical(i, fill) }
                }
            case 5, 6: // page_desc entries: offset, size, flags or page_flags to extremes / random
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let k = pickEntry()
                    let entry = layout.pageDescs.lowerBound + 24 * k
                    targets.append(layout.present[k])
                    switch Int.random(in: 0..<6, using: &rng) {
                    case 0: setLogical(entry, pick64())                                   // offset
                    case 1: setLogical(entry + 8, pick32())                               // size
                    case 2: // flags: each compression bit, several, none, all
                        let flags: [UInt32] = [0, 1, 2, 4, 8, 0x20, 0x3, 0x25, 0xffff_ffff]
                        setLogical(entry + 12, flags[Int.random(in: 0..<flags.count, using: &rng)])
                    case 3: setLogical(entry + 16, pick64())                              // page_flags
                    case 4: // another page's offset with this page's size (or the reverse)
                        let other = layout.descriptors[pickEntry()]
                        if Bool.random(using: &rng) { setLogical(entry, other.offset) } else { setLogical(entry + 8, other.size) }
                    default:
                        for _ in 0..<Int.random(in: 1...6, using: &rng) {
                            setLogical(entry + pick(0..<24), UInt8.random(in: 0...255, using: &rng))
                        }
                    }
                }
            case 7: // a page's stored (compressed) bytes
                let k = pickEntry()
                let d = layout.descriptors[k]
                targets.append(layout.present[k])
                let stored = Int(d.offset) ..< Int(d.offset) + max(1, Int(d.size))
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    setLogical(pick(stored), UInt8.random(in: 0...255, using: &rng))
                }
            case 8: // random bytes anywhere in the first 64 KiB of the file as stored
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    file.set(pick(0..<hot), UInt8.random(in: 0...255, using: &rng))
                }
            case 9: // truncation: in the headers, the bitmaps, the page_desc table, or the page data
                let cut: Int
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: cut = pick(0..<layout.bitmap1.lowerBound)
                case 1: cut = pick(layout.bitmap1.lowerBound ..< layout.pageDescs.lowerBound)
                case 2: cut = pick(layout.pageDescs)
                default: cut = pick(layout.pageDescs.upperBound ..< Int(logical.size))
                }
                // For a flattened file, cut the stored file where that logical byte is.
                file.size = UInt64(flat.flatMap { $0.fileOffset(cut) } ?? cut)
                targets.append(layout.present[Int.random(in: 0..<layout.present.count, using: &rng)])
            default: // flattened record headers: offset or size to an extreme, negative, or past the end
                guard let flat else { break }
                let r = flat.headers[Bool.random(using: &rng) ? pick(0..<min(8, flat.headers.count))
                                                               : pick(0..<flat.headers.count)]
                let values: [Int64] = [-1, -2, 0, 1, Int64.max, Int64.min, Int64(size), Int64(size) * 4, 1 << 40]
                file.set(r + 8 * Int.random(in: 0..<2, using: &rng), values[Int.random(in: 0..<values.count, using: &rng)],
                         order: .big)
            }
            tally.record { exercise(file, targets: targets, rng: &rng) }
            file.restore()
        }
        return tally
    }

    /// The regions of an ELF core, from its own ELF and program headers.
    struct ElfLayout {
        var programHeaders: Int
        var phnum: Int
        var notes: [Range<Int>]
        var loads: [Range<Int>]
    }

    static func elfLayout(_ file: MutableFile) -> ElfLayout {
        let phoff = Int(file.load(UInt64.self, 32)), phnum = Int(file.load(UInt16.self, 56))
        var notes: [Range<Int>] = [], loads: [Range<Int>] = []
        for i in 0..<phnum {
            let p = phoff + 56 * i
            let type = file.load(UInt32.self, p)
            let off = Int(file.load(UInt64.self, p + 8)), filesz = Int(file.load(UInt64.self, p + 32))
            if type == 4 { notes.append(off ..< off + filesz) }
            if type == 1, filesz > 0 { loads.append(off ..< off + filesz) }
        }
        return ElfLayout(programHeaders: phoff, phnum: phnum, notes: notes, loads: loads)
    }

    /// Runs `cases` mutations of the ELF core `name`.
    static func runElf(_ name: String, seed: UInt64, cases: Int) -> Tally {
        guard let dir = FormatFixtures.dir, let file = MutableFile(path: dir + "/" + name) else { return Tally() }
        let layout = elfLayout(file)
        var rng = SeededGenerator(state: seed)
        var tally = Tally()
        let hot = min(file.length, 64 * 1024)
        func pick(_ r: Range<Int>) -> Int { r.isEmpty ? r.lowerBound : Int.random(in: r, using: &rng) }
        let e64 = extremes64(fileSize: file.length)
        for _ in 0..<cases {
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: // e_ident bytes, e_type, e_machine, e_phentsize, e_phnum, e_shnum ...
                let fields16 = [16, 18, 52, 54, 56, 58, 60, 62]
                if Bool.random(using: &rng) {
                    file.set(pick(0..<16), UInt8.random(in: 0...255, using: &rng))
                } else {
                    let values: [UInt16] = [0, 1, 2, 4, 0xffff, 0x8000, 55, 57, 112]
                    file.set(fields16[pick(0..<fields16.count)], values[pick(0..<values.count)])
                }
            case 1: // e_phoff, e_shoff, e_entry
                file.set([24, 32, 40][pick(0..<3)], e64[pick(0..<e64.count)])
            case 2, 3: // a program header field: p_type, p_flags (32-bit) or p_offset .. p_align (64-bit)
                for _ in 0..<Int.random(in: 1...2, using: &rng) {
                    let p = layout.programHeaders + 56 * pick(0..<layout.phnum)
                    let field = pick(0..<8)
                    if field < 2 { file.set(p + 4 * field, extremes32[pick(0..<extremes32.count)]) }
                    else { file.set(p + 8 * (field - 1), e64[pick(0..<e64.count)]) }
                }
            case 4: // notes: a word of a note header to an extreme, or random bytes
                let region = layout.notes[pick(0..<layout.notes.count)]
                if Bool.random(using: &rng) {
                    file.set(region.lowerBound + 4 * pick(0..<min(512, region.count / 4)), extremes32[pick(0..<extremes32.count)])
                } else {
                    for _ in 0..<Int.random(in: 1...8, using: &rng) { file.set(pick(region), UInt8.random(in: 0...255, using: &rng)) }
                }
            case 5: // random bytes in the first 64 KiB
                for _ in 0..<Int.random(in: 1...8, using: &rng) { file.set(pick(0..<hot), UInt8.random(in: 0...255, using: &rng)) }
            default: // truncation: in the headers, the notes, or the PT_LOAD data
                switch pick(0..<3) {
                case 0: file.size = UInt64(pick(0..<layout.programHeaders + 56 * layout.phnum))
                case 1: file.size = UInt64(pick(layout.notes[pick(0..<layout.notes.count)]))
                default: file.size = UInt64(pick(layout.loads[pick(0..<layout.loads.count)]))
                }
            }
            tally.record { exercise(file, targets: [], rng: &rng) }
            file.restore()
        }
        return tally
    }

    /// How the cases of one file ended, and the slowest one.
    struct Tally {
        var counts: [Outcome: Int] = [:]
        var slowest: Duration = .zero
        subscript(_ o: Outcome) -> Int? { counts[o] }
        subscript(_ o: Outcome, default d: Int) -> Int { counts[o] ?? d }
        var total: Int { counts.values.reduce(0, +) }

        mutating func record(_ run: () -> Outcome) {
            var outcome = Outcome.refused
            let took = ContinuousClock().measure { outcome = run() }
            counts[outcome, default: 0] += 1
            slowest = max(slowest, took)
        }
    }

    static func check(_ name: String, _ tally: Tally, cases: Int) {
        let shown = tally.counts.map { "\($0.key.rawValue): \($0.value)" }.sorted().joined(separator: ", ")
            + "; slowest case \(tally.slowest)"
        #expect(tally.total == cases, "\(name): \(shown)")
        // The slowest case is printed below, not asserted: hangs are for benchmarks to catch, and
        // a wall-clock bound in a test fails on a busy machine.
        #expect(tally[.foreignError] == nil, "\(name): errors other than DumpError: \(shown)")
        // The mutations must reach the parser's checks, and must not all be fatal either.
        #expect(tally[.refused, default: 0] > 0, "\(name): no mutation was refused: \(shown)")
        #expect(tally[.openedSomePagesRefused, default: 0] + tally[.opened, default: 0] > 0, "\(name): nothing opened: \(shown)")
        print("mutation \(name): \(cases) cases: \(shown)")
    }

    /// Cases per file; $CRASHSH_MUTATION_CASES raises it for a longer exploratory run (and
    /// $CRASHSH_MUTATION_SEED shifts the seeds to explore other cases).
    static let casesPerFile = ProcessInfo.processInfo.environment["CRASHSH_MUTATION_CASES"].flatMap { Int($0) } ?? 1000
    static let seedShift = ProcessInfo.processInfo.environment["CRASHSH_MUTATION_SEED"].flatMap { UInt64($0) } ?? 0

    @Test(.enabled(if: FormatFixtures.available, Comment(rawValue: SharedFixtures.setMissing)),
          arguments: [
        ("dump.kdump", UInt64(1)),
        ("dump-lzo.kdump", UInt64(2)),
        ("dump-zstd.kdump", UInt64(3)),
        ("dump.flat", UInt64(4)),
        ("qemu.kdump", UInt64(5)),
    ])
    func mutatedKdumpFilesEndCleanly(name: String, seed: UInt64) throws {
        Self.check(name, try Self.runKdump(name, seed: seed &+ Self.seedShift &* 100, cases: Self.casesPerFile), cases: Self.casesPerFile)
    }

    @Test(.enabled(if: FormatFixtures.available, Comment(rawValue: SharedFixtures.setMissing)),
          arguments: [("dump.elf", UInt64(6)), ("qemu.elf", UInt64(7))])
    func mutatedElfCoresEndCleanly(name: String, seed: UInt64) throws {
        let cases = name == "dump.elf" ? Self.casesPerFile : Self.casesPerFile / 2
        Self.check(name, Self.runElf(name, seed: seed &+ Self.seedShift &* 100, cases: cases), cases: cases)
    }
}

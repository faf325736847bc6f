/// Writes sadump (Fujitsu) dumps for tests, byte by byte from the layout crash's sadump.h and
/// makedumpfile's sadump_mod.h describe: partition header (with its check sequence), optional
/// disk-set or media header, dump header, sub-header (APIC ids, SMRAM CPU states), the RAM and
/// dumpable bitmaps (pfn 0 in bit 7 of byte 0), then each dumpable page, uncompressed, in pfn order.
public struct SadumpWriter {
    public enum Layout: Equatable, Sendable {
        case singlePartition
        case mediaBackup
        /// Page data spread over `disks` files; disk 1 also holds the headers.
        case diskSet(disks: Int)
    }

    /// One CPU's saved state, placed at its SMRAM offsets.
    public struct CPU: Sendable {
        public var apicID: UInt64 = 0
        public var ldr: UInt64 = 0
        /// rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8 ... r15.
        public var general: [UInt64] = Array(repeating: 0, count: 16)
        public var rip: UInt64 = 0, rflags: UInt64 = 0
        public var cr0: UInt64 = 0, cr3: UInt64 = 0, cr4: UInt32 = 0
        public var gdtBase: UInt64 = 0, gdtLimit: UInt32 = 0
        public var idtBase: UInt64 = 0, idtLimit: UInt32 = 0
        /// cs, ds, es, fs, gs, ss selectors.
        public var cs: UInt32 = 0, ds: UInt32 = 0, es: UInt32 = 0, fs: UInt32 = 0, gs: UInt32 = 0, ss: UInt32 = 0
        public var tr: UInt32 = 0
        public var efer: UInt64 = 0
        public init() {}

        /// The 1024-byte SMRAM state.
        public var smram: [UInt8] {
            var b = [UInt8](repeating: 0, count: 1024)
            func put32(_ v: UInt32, _ o: Int) { for i in 0 ..< 4 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) } }
            func put64(_ v: UInt64, _ o: Int) { put32(UInt32(truncatingIfNeeded: v), o); put32(UInt32(truncatingIfNeeded: v >> 32), o + 4) }
            put32(UInt32(truncatingIfNeeded: gdtBase >> 32), 464)
            put32(UInt32(truncatingIfNeeded: idtBase >> 32), 472)
            put32(cr4, 576)
            put32(UInt32(truncatingIfNeeded: gdtBase), 652); put32(gdtLimit, 656)
            put32(UInt32(truncatingIfNeeded: idtBase), 660); put32(idtLimit, 664)
            // The SMRAM map's order: r15 ... r8, rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi.
            let g = general
            let smramOrder = [g[15], g[14], g[13], g[12], g[11], g[10], g[9], g[8], g[0], g[2], g[3], g[1], g[6], g[7], g[4], g[5]]
            for (k, v) in smramOrder.enumerated() { put64(v, 796 + 8 * k) }
            put32(es, 936); put32(cs, 940); put32(ss, 944); put32(ds, 948); put32(fs, 952); put32(gs, 956)
            put32(tr, 964)
            put64(rip, 984); put64(efer, 992); put64(rflags, 1000); put64(cr3, 1008); put64(cr0, 1016)
            return b
        }
    }

    public var blockSize = 4096
    public var maxMapnr: UInt64
    /// The RAM pages: the RAM bitmap's set bits.
    public var ram: [Range<UInt64>]
    /// RAM pages left out (RAM bitmap set, dumpable bitmap clear).
    public var excluded: Set<UInt64> = []
    public var cpus: [CPU] = []
    /// Sub-header entries that are all zeros (an APIC the machine does not use), after the CPUs.
    public var unusedCPUEntries = 0
    public var headerVersion: UInt32 = 1
    public var sadumpID: [UInt8] = (0 ..< 16).map { UInt8($0 + 1) }
    public var diskSetID: [UInt8] = (0 ..< 16).map { UInt8(0x40 + $0) }
    /// 2025-01-02 03:04:05, zone unspecified.
    public var time: [UInt8] = [0xe9, 0x07, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0xff, 0x07, 0, 0]

    public init(maxMapnr: UInt64, ram: [Range<UInt64>]) {
        self.maxMapnr = maxMapnr
        self.ram = ram
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func put<T: FixedWidthInteger>(_ v: T, at o: Int, in b: inout [UInt8]) {
        b.replaceSubrange(o ..< o + MemoryLayout<T>.size, with: le(v))
    }

    /// The pfns whose bytes are written, in order.
    public var dumpablePFNs: [UInt64] {
        ram.flatMap { Array($0) }.filter { $0 < maxMapnr && !excluded.contains($0) }.sorted()
    }

    /// A partition header with a valid check sequence.
    public func partitionHeader(setDiskSet: UInt32, volumeID: [UInt8], usedDevice: UInt64) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: blockSize)
        b.replaceSubrange(0 ..< 8, with: Array("sadump".utf8) + [0, 0])
        Self.put(UInt32(1), at: 8, in: &b)                      // enable
        b.replaceSubrange(88 ..< 104, with: sadumpID)
        b.replaceSubrange(104 ..< 120, with: diskSetID)
        b.replaceSubrange(120 ..< 136, with: volumeID)
        b.replaceSubrange(136 ..< 152, with: time)
        Self.put(setDiskSet, at: 152, in: &b)
        Self.put(usedDevice, at: 160, in: &b)
        var m: UInt32 = 0x5341_4455
        for i in 0 ..< 982 {
            if i > 0 { m = (m &+ 7) &* 11 }
            Self.put(m, at: 168 + 4 * i, in: &b)
        }
        return b
    }

    func volumeID(disk: Int) -> [UInt8] { (0 ..< 16).map { UInt8(truncatingIfNeeded: 0x80 + 16 * disk + $0) } }

    /// Blocks holding `bytes`.
    func blocks(_ bytes: Int) -> Int { (bytes + blockSize - 1) / blockSize }

    /// Writes every file: `sink(disk, offset, bytes)` for the headers and each dumpable page
    /// (`page(pfn)` gives its bytes, nil for a page of zeros, which is not written). Returns each
    /// file's size.
    public func write(layout: Layout, page: (UInt64) throws -> [UInt8]?,
                      sink: (Int, Int, [UInt8]) throws -> Void) throws -> [Int] {
        let b = blockSize
        let pfns = dumpablePFNs
        let entries = cpus.count + unusedCPUEntries
        let subBytes = entries > 0 ? 4 + 16 * entries + 1024 * entries : 0
        let subBlocks = blocks(subBytes)
        let bitmapBlocks = max(1, blocks(Int((maxMapnr + 7) / 8)))
        let headerBlocksBefore: Int
        switch layout {
        case .singlePartition: headerBlocksBefore = 1
        case .mediaBackup, .diskSet: headerBlocksBefore = 2
        }
        let dumpHeaderAt = headerBlocksBefore * b
        let dataAt = dumpHeaderAt + b + (subBlocks + 2 * bitmapBlocks) * b
        let diskCount: Int
        if case let .diskSet(n) = layout { diskCount = n } else { diskCount = 1 }
        // Pages per disk: an even share, the last disk taking the rest.
        let share = (pfns.count + diskCount - 1) / max(diskCount, 1)
        var perDisk = [Int](repeating: share, count: diskCount)
        perDisk[diskCount - 1] = pfns.count - share * (diskCount - 1)
        let dataOffsets = [dataAt] + [Int](repeating: b, count: diskCount - 1)
        let used = (0 ..< diskCount).map { dataOffsets[$0] + perDisk[$0] * b }

        // Dump header.
        var dh = [UInt8](repeating: 0, count: b)
        dh.replaceSubrange(0 ..< 8, with: Array("sadump".utf8) + [0, 0])
        Self.put(headerVersion, at: 8, in: &dh)
        dh.replaceSubrange(16 ..< 32, with: time)
        Self.put(UInt32(b), at: 40, in: &dh)
        Self.put(UInt32(subBlocks), at: 48, in: &dh)
        Self.put(UInt32(bitmapBlocks), at: 52, in: &dh)
        Self.put(UInt32(bitmapBlocks), at: 56, in: &dh)
        Self.put(UInt32(clamping: maxMapnr), at: 60, in: &dh)
        let ramPages = ram.reduce(0) { $0 + $1.count }
        Self.put(UInt32(clamping: ramPages), at: 64, in: &dh)
        Self.put(UInt32(clamping: used.reduce(0, +) / b), at: 68, in: &dh)
        Self.put(UInt32(clamping: pfns.count), at: 72, in: &dh)
        Self.put(UInt32(entries), at: 80, in: &dh)
        Self.put(maxMapnr, at: 88, in: &dh)
        Self.put(UInt64(ramPages), at: 96, in: &dh)
        Self.put(UInt64(used.reduce(0, +) / b), at: 104, in: &dh)
        Self.put(UInt64(pfns.count), at: 112, in: &dh)
        try sink(0, dumpHeaderAt, dh)

        // Sub-header.
        if entries > 0 {
            var sub = Self.le(UInt32(1024 * entries))
            for k in 0 ..< entries {
                sub += k < cpus.count ? Self.le(cpus[k].apicID) + Self.le(cpus[k].ldr) : [UInt8](repeating: 0, count: 16)
            }
            for k in 0 ..< entries { sub += k < cpus.count ? cpus[k].smram : [UInt8](repeating: 0, count: 1024) }
            try sink(0, dumpHeaderAt + b, sub)
        }

        // Bitmaps.
        var ramBits = [UInt8](repeating: 0, count: bitmapBlocks * b)
        var dumpBits = ramBits
        for r in ram { for pfn in r where pfn < maxMapnr { ramBits[Int(pfn >> 3)] |= 0x80 >> UInt8(pfn & 7) } }
        for pfn in pfns { dumpBits[Int(pfn >> 3)] |= 0x80 >> UInt8(pfn & 7) }
        let bitmapAt = dumpHeaderAt + b + subBlocks * b
        try sink(0, bitmapAt, ramBits)
        try sink(0, bitmapAt + bitmapBlocks * b, dumpBits)

        // Partition headers, disk-set or media header.
        switch layout {
        case .singlePartition:
            try sink(0, 0, partitionHeader(setDiskSet: 0, volumeID: volumeID(disk: 1), usedDevice: UInt64(used[0])))
        case .mediaBackup:
            var media = [UInt8](repeating: 0, count: b)
            media.replaceSubrange(0 ..< 16, with: sadumpID)
            media.replaceSubrange(16 ..< 32, with: diskSetID)
            media.replaceSubrange(32 ..< 48, with: time)
            media[48] = 1                                       // sequential_num
            try sink(0, 0, media)
            try sink(0, b, partitionHeader(setDiskSet: 0, volumeID: volumeID(disk: 1), usedDevice: UInt64(used[0])))
        case .diskSet:
            for d in 0 ..< diskCount {
                try sink(d, 0, partitionHeader(setDiskSet: UInt32(d + 1), volumeID: volumeID(disk: d + 1), usedDevice: UInt64(used[d])))
            }
            var set = [UInt8](repeating: 0, count: b)
            Self.put(UInt32(1), at: 0, in: &set)
            Self.put(UInt32(diskCount), at: 4, in: &set)
            Self.put(UInt64(used.reduce(0, +)), at: 8, in: &set)
            for d in 1 ..< diskCount {
                let at = 16 + 32 * (d - 1)
                set.replaceSubrange(at ..< at + 16, with: volumeID(disk: d + 1))
                Self.put(UInt64(used[d]), at: at + 16, in: &set)
            }
            try sink(0, b, set)
        }

        // Pages.
        var disk = 0, onDisk = 0
        for pfn in pfns {
            while disk < diskCount - 1, onDisk == perDisk[disk] { disk += 1; onDisk = 0 }
            if let bytes = try page(pfn) { try sink(disk, dataOffsets[disk] + onDisk * b, bytes) }
            onDisk += 1
        }
        return used
    }

    /// The files in memory.
    public func build(layout: Layout, page: (UInt64) -> [UInt8]?) -> [[UInt8]] {
        var files: [[UInt8]] = []
        let sizes = (try? write(layout: layout, page: page) { disk, offset, bytes in
            while files.count <= disk { files.append([]) }
            if files[disk].count < offset + bytes.count {
                files[disk] += [UInt8](repeating: 0, count: offset + bytes.count - files[disk].count)
            }
            files[disk].replaceSubrange(offset ..< offset + bytes.count, with: bytes)
        }) ?? []
        for (k, size) in sizes.enumerated() where k < files.count && files[k].count < size {
            files[k] += [UInt8](repeating: 0, count: size - files[k].count)
        }
        return files
    }
}

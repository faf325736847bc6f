/// The ORC entry layouts the kernel has used. The six bytes of an entry are `s16 sp_offset,
/// s16 bp_offset` and a 16-bit field word: `sp_reg:4 bp_reg:4` in its low byte, then
/// - `.v4_14` (Linux 4.14-6.2): `type:2 end:1`, types CALL, REGS, REGS_PARTIAL;
/// - `.v6_3` (6.3): `type:2 signal:1 end:1`;
/// - `.v6_4` (6.4 and later): `type:3 signal:1`, types UNDEFINED, END_OF_STACK, CALL, REGS,
///   REGS_PARTIAL (the end bit became a type).
public enum ORCFormat: String, Sendable, Equatable, CaseIterable {
    case v4_14 = "type:2 end:1"
    case v6_3 = "type:2 signal:1 end:1"
    case v6_4 = "type:3 signal:1"
}

/// Why an ORC table could not be used.
public enum ORCTableError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The ip table and the entry table disagree in their number of entries.
    case sizeMismatch(ips: Int, entries: Int)
    case empty

    public var description: String {
        switch self {
        case let .sizeMismatch(ips, entries):
            return "ORC tables disagree: \(ips) instruction addresses, \(entries) entries"
        case .empty: return "empty ORC table"
        }
    }
}

/// One ORC table (the kernel image's, or one module's): sorted instruction addresses, each
/// starting a range of code that one entry describes.
public struct ORCTable: Sendable {
    public let format: ORCFormat
    /// How the format was decided: "orc_header" or "plausibility".
    public let formatSource: String
    /// Run-time address where each entry's range starts, ascending.
    public let addresses: [UInt64]
    /// The raw six-byte entries, in the order of `addresses`.
    let entries: [UInt8]

    /// ORC's register numbers (unchanged since 4.14).
    static let registerNames: [UInt16: UnwindRow.Register] = [
        0: .undefined, 1: .cfa, 2: .dx, 3: .di, 4: .bp, 5: .sp, 6: .r10, 7: .r13, 8: .bpIndirect, 9: .spIndirect,
    ]

    /// Reads a table from the bytes of `.orc_unwind_ip` (signed 32-bit offsets, each relative to
    /// its own address; `ipTableAddress` is the run-time address of the first) and `.orc_unwind`.
    /// `hasHeader`: the image has `.orc_header` (6.4+ and backports of that format); `format`
    /// forces a layout (tests); otherwise the entries decide.
    public init(ipTable: [UInt8], ipTableAddress: UInt64, entries: [UInt8], hasHeader: Bool,
                format forced: ORCFormat? = nil) throws(ORCTableError) {
        let n = ipTable.count / 4
        guard n > 0 else { throw .empty }
        guard entries.count / 6 == n else { throw .sizeMismatch(ips: n, entries: entries.count / 6) }
        var ips = [UInt64](repeating: 0, count: n)
        ipTable.withUnsafeBytes { raw in
            for i in 0..<n {
                let rel = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
                ips[i] = ipTableAddress &+ UInt64(i * 4) &+ UInt64(bitPattern: Int64(rel))
            }
        }
        var entryBytes = Array(entries.prefix(n * 6))
        // The build sorts the tables (sorttable); a table that is not sorted is sorted here,
        // entries along with their addresses, so one binary search serves every table.
        var sorted = true
        for i in 1..<n where ips[i - 1] > ips[i] { sorted = false; break }
        if !sorted {
            let order = (0..<n).sorted { ips[$0] < ips[$1] }
            var newEntries = [UInt8](repeating: 0, count: n * 6)
            for (k, i) in order.enumerated() {
                for b in 0..<6 { newEntries[k * 6 + b] = entryBytes[i * 6 + b] }
            }
            ips = order.map { ips[$0] }
            entryBytes = newEntries
        }
        addresses = ips
        self.entries = entryBytes
        if let forced {
            format = forced
            formatSource = "given"
        } else if hasHeader {
            format = .v6_4
            formatSource = "orc_header"
        } else {
            format = ORCTable.plausibleFormat(entries: entryBytes)
            formatSource = "plausibility"
        }
    }

    public var count: Int { addresses.count }

    private init(format: ORCFormat, formatSource: String, addresses: [UInt64], entries: [UInt8]) {
        self.format = format
        self.formatSource = formatSource
        self.addresses = addresses
        self.entries = entries
    }

    /// The table with only the entries whose address lies in one of `ranges`; nil when none does.
    public func keeping(_ ranges: [Range<UInt64>]) -> ORCTable? {
        var kept: [UInt64] = []
        var keptEntries: [UInt8] = []
        for (i, a) in addresses.enumerated() where ranges.contains(where: { $0.contains(a) }) {
            kept.append(a)
            keptEntries += entries[(i * 6)..<(i * 6 + 6)]
        }
        guard !kept.isEmpty else { return nil }
        return ORCTable(format: format, formatSource: formatSource, addresses: kept, entries: keptEntries)
    }

    /// The layout the entries are most plausibly written in. Ordinary functions make up most of
    /// any table and their entries are "CFA = sp + n, return address below": a CALL entry based
    /// on sp. Read with the 6.4 layout CALL is type 2; with the older ones it is type 0 (and
    /// a type-2 reading would make most functions partial register frames, which they are not).
    /// Between the two older layouts, only 6.3's has bit 11 (end) set, or bit 10 (signal) set on
    /// an entry that has a CFA rule (4.14's bit 10, end, only marks entries without one).
    public static func plausibleFormat(entries: [UInt8]) -> ORCFormat {
        var spBasedType2 = 0, spBasedType0 = 0, typeAbove4 = 0, bit11 = 0, bit10WithRule = 0
        let n = entries.count / 6
        for i in 0..<n {
            let word = UInt16(entries[i * 6 + 4]) | UInt16(entries[i * 6 + 5]) << 8
            let spReg = word & 0xf
            let type3 = (word >> 8) & 7
            if spReg == 5 {
                if type3 == 2 { spBasedType2 += 1 } else if type3 == 0 { spBasedType0 += 1 }
            }
            if type3 > 4 { typeAbove4 += 1 }
            if word & 0x800 != 0 { bit11 += 1 }
            if word & 0x400 != 0, spReg != 0 { bit10WithRule += 1 }
        }
        if typeAbove4 == 0, spBasedType2 > spBasedType0 { return .v6_4 }
        if bit11 > 0 || bit10WithRule > 0 { return .v6_3 }
        return .v4_14
    }

    /// Decodes one six-byte entry in `format`.
    public static func decode(_ b: ArraySlice<UInt8>, format: ORCFormat) -> UnwindRow {
        let s = b.startIndex
        let spOffset = Int16(bitPattern: UInt16(b[s]) | UInt16(b[s + 1]) << 8)
        let bpOffset = Int16(bitPattern: UInt16(b[s + 2]) | UInt16(b[s + 3]) << 8)
        let word = UInt16(b[s + 4]) | UInt16(b[s + 5]) << 8
        let spReg = registerNames[word & 0xf] ?? .undefined
        let bpReg = registerNames[(word >> 4) & 0xf] ?? .undefined
        var kind: UnwindRow.Kind
        var signal = false
        switch format {
        case .v4_14, .v6_3:
            let type = (word >> 8) & 3
            let end = format == .v4_14 ? word & 0x400 != 0 : word & 0x800 != 0
            if format == .v6_3 { signal = word & 0x400 != 0 }
            switch type {
            case 0: kind = .call
            case 1: kind = .regs
            case 2: kind = .regsPartial
            default: kind = .undefined
            }
            if spReg == .undefined { kind = end ? .endOfStack : .undefined }
        case .v6_4:
            switch (word >> 8) & 7 {
            case 0: kind = .undefined
            case 1: kind = .endOfStack
            case 2: kind = .call
            case 3: kind = .regs
            case 4: kind = .regsPartial
            default: kind = .undefined
            }
            signal = word & 0x800 != 0
            if spReg == .undefined, kind != .endOfStack { kind = .undefined }
        }
        // Register frames are entered by an interrupt or exception in every layout.
        if kind == .regs || kind == .regsPartial { signal = true }
        return UnwindRow(kind: kind, cfaRegister: spReg, cfaOffset: Int32(spOffset), bpRegister: bpReg,
                         bpOffset: Int32(bpOffset), signal: signal, source: .orc)
    }

    /// The rule for code at `pc` (a run-time address), or nil when `pc` is before the table.
    public func row(at pc: UInt64) -> UnwindRow? {
        guard let i = lastIndex(in: addresses, atOrBelow: pc) else { return nil }
        return ORCTable.decode(entries[(i * 6)..<(i * 6 + 6)], format: format)
    }

    /// Whether `pc` is in the range the table covers (from its first address to its last).
    public func covers(_ pc: UInt64) -> Bool {
        guard let first = addresses.first, let last = addresses.last else { return false }
        return pc >= first && pc <= last
    }
}

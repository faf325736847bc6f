import CDwarf

/// One unit's line table arranged the way gdb (and so crash's `sym`) answers "which line is at
/// this address".
///
/// The DWARF line program can hold several rows at one address (an inlined helper starts where
/// its caller's line does). eu-addr2line reports the last row at the address; gdb instead
/// builds one table per source file while decoding the program, and in doing so drops rows
/// that cannot be breakpoints:
/// - a switch to another file closes the previous file's run with an end marker (line 0) at
///   the switch address, which removes that file's earlier rows at the same address;
/// - a switch to another file at the same address by a row that is not a statement, after a
///   statement row there, is ignored (it would otherwise hide the statement);
/// - line 0 rows are ignored, and a repeated line with a non-zero discriminator is coalesced.
/// A lookup then takes, in every file's table, the last entry at or below the address, and
/// keeps the one with the greatest address (ties go to the file seen first); an entry that is
/// not a statement gives way to a statement entry at the same address just before it.
struct UnitLineTable {
    struct Entry {
        var address: UInt64
        var line: Int32
        var column: Int32
        var isStatement: Bool
    }

    /// File names as libdw resolves them (include directory joined), in first-use order.
    private(set) var files: [String] = []
    /// Per file, entries sorted by address; at one address end markers (line 0) come first.
    private(set) var entries: [[Entry]] = []

    /// One row of the decoded line program, in program order.
    struct Row {
        var address: UInt64
        var file: Int
        var line: Int32
        var column: Int32
        var isStatement: Bool
        var endSequence: Bool
        var discriminator: UInt32
    }

    init() {}

    /// Builds the per-file tables from rows in program order (sequences one after another).
    init(files: [String], rows: [Row]) {
        self.files = files
        entries = Array(repeating: [], count: files.count)
        var lastFile: Int? = nil
        var lastLine: Int32 = 0
        var lastAddress: UInt64 = 0
        var statementAtAddress = false
        var previousRow: Row? = nil
        var lineHasDiscriminator = false
        var recording = true
        for row in rows {
            guard row.file >= 0, row.file < files.count else { continue }
            if previousRow == nil {
                // A sequence at address 0 is a function the linker discarded: gdb skips it.
                recording = row.address != 0
            }
            if let p = previousRow, p.file == row.file, p.line == row.line {
                lineHasDiscriminator = lineHasDiscriminator || row.discriminator != 0
            } else {
                lineHasDiscriminator = row.discriminator != 0
            }
            if row.endSequence {
                if recording, let f = lastFile { record(file: f, line: 0, column: 0, address: row.address, isStatement: true) }
                lastFile = nil
                lastLine = 0
                lastAddress = 0
                statementAtAddress = false
                previousRow = nil
                continue
            }
            let fileChanged = lastFile != row.file
            let ignore = (fileChanged && lastAddress == row.address && !row.isStatement && statementAtAddress)
                || row.line == 0
            if fileChanged && !ignore, recording, let f = lastFile {
                record(file: f, line: 0, column: 0, address: row.address, isStatement: true)
            }
            if !ignore {
                if fileChanged || row.line != lastLine || !lineHasDiscriminator {
                    if recording {
                        record(file: row.file, line: row.line, column: row.column, address: row.address,
                               isStatement: row.isStatement)
                    }
                }
                lastFile = row.file
                lastLine = row.line
            }
            if lastAddress != row.address {
                statementAtAddress = false
                lastAddress = row.address
            }
            statementAtAddress = statementAtAddress || row.isStatement
            previousRow = row
        }
        for f in entries.indices {
            // Stable: the decode order of entries at one address is kept, end markers first.
            entries[f] = entries[f].enumerated().sorted { a, b in
                if a.element.address != b.element.address { return a.element.address < b.element.address }
                let am = a.element.line == 0, bm = b.element.line == 0
                if am != bm { return am }
                return a.offset < b.offset
            }.map(\.element)
        }
    }

    private mutating func record(file: Int, line: Int32, column: Int32, address: UInt64, isStatement: Bool) {
        if line == 0 {
            // An end marker replaces what the file had at this very address.
            while let last = entries[file].last, last.address == address { entries[file].removeLast() }
        }
        entries[file].append(Entry(address: address, line: line, column: column, isStatement: isStatement))
    }

    /// The file and entry that describe `address`, or nil when no file has a line for it.
    func lookup(_ address: UInt64) -> (file: String, entry: Entry)? {
        var best: (file: Int, entry: Entry)? = nil
        for f in entries.indices {
            let e = entries[f]
            // The first entry above the address.
            var lo = 0, hi = e.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if e[mid].address <= address { lo = mid + 1 } else { hi = mid }
            }
            guard lo > 0 else { continue }
            var at = lo - 1
            guard e[at].line != 0, best == nil || e[at].address > best!.entry.address else { continue }
            if !e[at].isStatement {
                var k = at
                while k > 0, e[k - 1].address == e[k].address, e[k - 1].line != 0, !e[k].isStatement { k -= 1 }
                if e[k].isStatement { at = k }
            }
            best = (f, e[at])
        }
        return best.map { (files[$0.file], $0.entry) }
    }
}

extension DwarfIndex {
    /// Reads the line rows of the unit `cu` from libdw. libdw sorts rows by address and puts
    /// an end-of-sequence row before other rows at its address; sequences do not overlap in
    /// the kernel, so that order is program order except for a zero-length row at a
    /// sequence's very end, which gdb discards anyway.
    func lineTable(unit cu: inout Dwarf_Die) -> UnitLineTable? {
        var lines: OpaquePointer? = nil
        var count = 0
        guard dwarf_getsrclines(&cu, &lines, &count) == 0, let lines, count > 0 else { return nil }
        var files: [String] = []
        var fileIndex: [String: Int] = [:]
        var byPointer: [UnsafePointer<CChar>: Int] = [:]
        var rows: [UnitLineTable.Row] = []
        rows.reserveCapacity(count)
        for i in 0..<count {
            guard let line = dwarf_onesrcline(lines, i) else { continue }
            var address: Dwarf_Addr = 0
            var number: Int32 = 0, column: Int32 = 0
            var statement = false, end = false
            var discriminator: UInt32 = 0
            guard dwarf_lineaddr(line, &address) == 0, let name = dwarf_linesrc(line, nil, nil) else { continue }
            _ = dwarf_lineno(line, &number)
            _ = dwarf_linecol(line, &column)
            _ = dwarf_linebeginstatement(line, &statement)
            _ = dwarf_lineendsequence(line, &end)
            _ = dwarf_linediscriminator(line, &discriminator)
            let file: Int
            if let f = byPointer[name] {
                file = f
            } else {
                let s = String(cString: name)
                if let f = fileIndex[s] {
                    file = f
                } else {
                    file = files.count
                    files.append(s)
                    fileIndex[s] = file
                }
                byPointer[name] = file
            }
            rows.append(UnitLineTable.Row(address: address, file: file, line: number, column: column,
                                          isStatement: statement, endSequence: end, discriminator: discriminator))
        }
        return UnitLineTable(files: files, rows: rows)
    }
}

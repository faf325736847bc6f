import Foundation
import Testing

/// `crashsh -c dumpinfo` (text and --json) on every fixture against what crash 8.0.6 printed
/// for `help -D` (refs/crash-8.0.6/DUMP/help_-D.txt): every header field both print is compared
/// value by value, in order, and the PRSTATUS registers of each CPU.
@Suite struct DumpinfoTests {
    static let dumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps

    /// "name: value" lines (one pair per line; lines with several pairs are register and note
    /// blocks), and "name:" headings with an empty value, in order.
    static func fields(_ text: Substring) -> [(name: String, value: String)] {
        var out: [(String, String)] = []
        for line in text.split(separator: "\n") {
            if let r = line.range(of: ": ") {
                if line[r.upperBound...].contains(": ") { continue }
                out.append((line[..<r.lowerBound].trimmingCharacters(in: .whitespaces),
                            line[r.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if line.hasSuffix(":") {
                out.append((line.dropLast().trimmingCharacters(in: .whitespaces), ""))
            }
        }
        return out
    }

    /// Fields where crash prints an address inside its own process (the buffer it read a header
    /// or note into), which no other program can reproduce; crashsh prints nothing or the file
    /// offset there.
    static let crashHeapPointers: Set<String> = ["sub_header_kdump", "header", "ofp", "dfd", "bitmap",
                                                  "dumpable_bitmap", "compressed_page", "curbufptr",
                                                  "page_cache_buf", "valid_pages", "pg_bufptr"]

    /// A value as both programs should print it: crash's `notes[N]: <its pointer> (NT_PRSTATUS)`
    /// compares by the note type after the pointer; `filename` by the last path component (crash
    /// was run in the fixture directory with a relative name, crashsh is given a full path).
    static func comparable(_ name: String, _ value: String) -> String {
        if name.hasPrefix("notes["), let space = value.firstIndex(of: " ") { return String(value[space...]) }
        if name == "filename" { return (value as NSString).lastPathComponent }
        return value
    }

    /// Compares `ours` with crash's fields for every name both have; returns how many values
    /// were compared.
    static func compareWithCrash(_ ours: [(name: String, value: String)], _ theirs: [(name: String, value: String)],
                                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        let shared = Set(ours.map(\.name)).intersection(theirs.map(\.name)).subtracting(crashHeapPointers)
        var compared = 0
        for name in shared.sorted() {
            let a = ours.filter { $0.name == name }.map { comparable(name, $0.value) }
            let b = theirs.filter { $0.name == name }.map { comparable(name, $0.value) }
            #expect(a == b, "\(what): \(name)", sourceLocation: sourceLocation)
            compared += b.count
        }
        return compared
    }

    /// True when a typed JSON header value states what the text's value (first line, trimmed)
    /// says: the same number (decimal, or hex for "0x..." strings), the same string or names.
    static func states(_ json: Any?, _ text: String) -> Bool {
        let lead = text.split(separator: " ").first.map(String.init) ?? ""
        func number(_ n: Any?) -> UInt64? {
            guard let n = n as? NSNumber else { return nil }
            return n.int64Value < 0 ? UInt64(bitPattern: n.int64Value) : n.uint64Value
        }
        switch json {
        case nil, is NSNull: return text.isEmpty || text == "(unknown)" || text == "(unused)"
        case let s as String:
            if s.hasPrefix("0x"), let v = UInt64(s.dropFirst(2), radix: 16) { return UInt64(lead, radix: 16) == v }
            return text == s || text == "\"\(s)\""
        case let n as NSNumber:
            return lead == n.stringValue
        case let list as [Any]:
            guard let first = list.first else { return text.isEmpty }
            if let s = first as? String { return states(s, lead) }
            return states((first as? [String: Any])?["offset"], lead)
        case let object as [String: Any]:
            if let offset = object["offset"] as? String { return states(offset, lead) }
            if let type = object["type"] { return lead == "\(type)" }
            if let size = object["size"] { return lead == "\(size)" }
            guard let value = number(object["value"]) else { return false }
            // The status bits are the one coded value crash prints in hex.
            let names = object["names"] as? [String] ?? []
            let asHex = names.contains { $0.hasPrefix("DUMP_DH_") }
            return asHex ? UInt64(lead, radix: 16) == value : Int64(lead).map { UInt64(bitPattern: $0) } == value
        default:
            return false
        }
    }

    /// crash's per-CPU PRSTATUS register sets in help -D: each starts at a line whose first pair
    /// is R15 and runs while lines hold only register pairs. Names as crashsh's JSON spells them.
    static func crashRegisterSets(_ text: String) -> [[String: UInt64]] {
        let spelling = ["RFLAGS": "eflags"]
        var sets: [[String: UInt64]] = []
        var current: [String: UInt64]? = nil
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            let pairs = stride(from: 0, to: words.count - 1, by: 2).map { (words[$0], words[$0 + 1]) }
            let isRegisterLine = !words.isEmpty && words.count % 2 == 0 && pairs.allSatisfy { name, value in
                name.hasSuffix(":") && name.dropLast().allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" }
                    && UInt64(value, radix: 16) != nil
            }
            if isRegisterLine && words.first == "R15:" {
                if let c = current { sets.append(c) }
                current = [:]
            }
            guard var set = current else { continue }
            guard isRegisterLine else { sets.append(set); current = nil; continue }
            for (name, value) in pairs {
                let key = String(name.dropLast())
                set[spelling[key] ?? key.lowercased()] = UInt64(value, radix: 16)
            }
            current = set
        }
        if let c = current { sets.append(c) }
        return sets
    }

    static func reference(_ dump: String) throws -> String {
        try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/\(dump)/help_-D.txt"), encoding: .utf8)
    }

    /// The text output: crashsh's own summary paragraph first (format, compression, counts: no
    /// crash equivalent), then the header blocks in crash's layout.
    static func splitSummary(_ stdout: String) -> (summary: [(name: String, value: String)], blocks: Substring) {
        guard let gap = stdout.range(of: "\n\n") else { return ([], Substring(stdout)) }
        return (fields(stdout[..<gap.lowerBound]), stdout[gap.upperBound...])
    }

    @Test(Harness.needsFixtureSet, arguments: dumps)
    func textHeaderFieldsMatchCrash(dump: String) throws {
        let run = try Harness.run(["-c", "dumpinfo", Harness.fixture(dump)])
        #expect(run.exitCode == 0)
        #expect(run.stderr == "")
        let (summary, blocks) = Self.splitSummary(run.stdout)
        let theirs = Self.fields(Substring(try Self.reference(dump)))
        let compared = Self.compareWithCrash(Self.fields(blocks), theirs, dump)
        // Every kdump header and sub-header field, or every ELF header, program header and note header.
        #expect(compared >= 40, "\(dump): only \(compared) values compared")

        // The summary's facts against the header values crash shows.
        let value = { (name: String) in summary.first { $0.name == name }?.value }
        let crash = { (name: String) in theirs.first { $0.name == name }?.value }
        #expect(value("page_size") == "4096")
        if dump.hasSuffix(".elf") || dump == "vmcore" {
            #expect(value("format") == "ELF")
            #expect(value("nr_cpus") == crash("num_prstatus_notes"))
            // makedumpfile -E's [p_filesz, p_memsz) tails are excluded pages (counted from the
            // program headers in FormatFixtureTests.elfPageCounts); the other cores have none.
            #expect(value("pages_excluded") == (dump == "dump.elf" ? "65048" : "0"))
            if dump == "dump.elf" { #expect(value("pages_present") == "16740") }
        } else {
            // "KDUMP", or "FLATTENED (makedumpfile -F)".
            let format = value("format")?.split(separator: " ").first.map(String.init)
            #expect(format == (dump.hasSuffix(".kdump") && dump != "qemu.kdump" ? "KDUMP" : "FLATTENED"))
            #expect(value("max_mapnr") == crash("max_mapnr"))
            #expect(value("nr_cpus") == crash("nr_cpus"))
            #expect(value("pages_present") == crash("total_valid_pages"))
            // "31 (0x1f) (DUMP_EXCLUDE_ZERO|...)": the number.
            #expect(value("dump_level") == crash("dump_level")?.split(separator: " ").first.map(String.init))
            let status = crash("status") ?? ""
            let compression = value("compression") ?? ""
            #expect(status.lowercased().contains("compressed_" + compression), "\(dump): \(status) vs \(compression)")
        }
    }

    @Test(Harness.needsFixtureSet, arguments: dumps)
    func jsonAgreesWithTextAndCrash(dump: String) throws {
        let text = try Harness.run(["-c", "dumpinfo", Harness.fixture(dump)])
        let run = try Harness.run(["--json", "-c", "dumpinfo", Harness.fixture(dump)])
        #expect(run.exitCode == 0)
        #expect(run.stderr == "")
        let json = try Harness.jsonResult(run.stdout, command: "dumpinfo")

        // The summary keys hold the values the text prints.
        let (summary, blocks) = Self.splitSummary(text.stdout)
        for (name, value) in summary where name != "crashsh dumpinfo" {
            let first = value.split(separator: " ").first.map(String.init) ?? ""
            switch json[name] {
            case let s as String: #expect(s == value || s == first, "\(dump): \(name)")
            case let n as NSNumber: #expect(n.stringValue == first, "\(dump): \(name)")
            default: Issue.record("\(dump): JSON has no \(name) (text: \(value))")
            }
        }
        #expect(json["path"] as? String == Harness.fixture(dump))

        // The sections: the same fields as the text, in the same order, each JSON value stating
        // the text's (which textHeaderFieldsMatchCrash holds to crash's).
        let sections = try #require(json["sections"] as? [[String: Any]])
        var jsonFields: [(name: String, value: Any?)] = []
        for section in sections {
            if let title = section["title"] as? String, title.hasSuffix(":") {
                jsonFields.append((String(title.dropLast()).trimmingCharacters(in: .whitespaces), nil))
            }
            for f in section["fields"] as? [[String: Any]] ?? [] {
                jsonFields.append((f["name"] as? String ?? "", f["value"]))
            }
        }
        // The names both parsers see: the text has register lines with one pair (FS_BASE: ...)
        // that are part of a multi-line value in JSON.
        let both = Set(jsonFields.map(\.name)).intersection(Self.fields(blocks).map(\.name))
        let textFields = Self.fields(blocks).filter { both.contains($0.name) }
        let comparableJSON = jsonFields.filter { both.contains($0.name) }
        #expect(comparableJSON.count >= 40)
        #expect(comparableJSON.map(\.name) == textFields.map(\.name), "\(dump): field order")
        for (ours, text) in zip(comparableJSON, textFields) {
            #expect(Self.states(ours.value, text.value), "\(dump): \(ours.name): \(String(describing: ours.value)) vs \(text.value)")
        }

        // PRSTATUS: every register crash printed for each CPU, and the pid.
        let prstatus = try #require(json["prstatus"] as? [[String: Any]])
        let crashSets = Self.crashRegisterSets(try Self.reference(dump))
        #expect(prstatus.count == crashSets.count, "\(dump): \(prstatus.count) PRSTATUS notes, crash shows \(crashSets.count)")
        #expect(json["nr_cpus"] as? Int == crashSets.count)
        for (i, (ours, theirs)) in zip(prstatus, crashSets).enumerated() {
            let registers = ours["registers"] as? [String: String] ?? [:]
            #expect(theirs.count >= 26, "\(dump): CPU \(i): crash's set has \(theirs.count) registers")
            for (name, value) in theirs {
                let mine = registers[name].flatMap { UInt64($0.dropFirst(2), radix: 16) }
                #expect(mine == value, "\(dump): CPU \(i) \(name)")
            }
        }
    }
}

import Foundation
import Testing
@testable import DumpModel
import TestSupport

/// The shared fixture dumps for the format tests: $CRASHSH_FIXTURES, else what
/// ../shared/fixtures/prepare.sh prints; nil (tests skip) when neither is there.
enum FormatFixtures {
    static var dir: String? { SharedFixtures.setDirectory }
    static var available: Bool { dir != nil }

    /// The dumps of the kdump crash, and of the QEMU crash.
    static let kdumpCrash = ["vmcore", "dump.kdump", "dump-lzo.kdump", "dump-zstd.kdump", "dump.flat", "dump.elf"]
    static let qemuCrash = ["qemu.elf", "qemu.kdump"]
    static var all: [String] { kdumpCrash + qemuCrash }

    static func path(_ name: String) -> String { dir! + "/" + name }

    static func ref(_ dump: String, _ command: String) throws -> String {
        try String(contentsOfFile: dir! + "/refs/crash-8.0.6/\(dump)/\(command).txt", encoding: .utf8)
    }

    /// Opened dumps, one per file per process.
    nonisolated(unsafe) private static var cache: [String: any DumpFile] = [:]
    private static let lock = NSLock()
    static func open(_ name: String) throws -> any DumpFile {
        lock.lock(); defer { lock.unlock() }
        if let d = cache[name] { return d }
        let d = try DumpOpener.open(path: path(name))
        cache[name] = d
        return d
    }

    static func run(_ tool: String, _ args: [String]) throws -> Tool.Output { try Tool.run(tool, args) }

    /// "name: value" lines of a crash `help -D` reference, in order (value trimmed).
    static func refFields(_ text: String) -> [(name: String, value: String)] {
        var out: [(String, String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let s = String(line)
            if let r = s.range(of: ": ") {
                // Lines with several "name: value" pairs are register and note blocks, not header fields.
                if s[r.upperBound...].contains(": ") { continue }
                out.append((s[..<r.lowerBound].trimmingCharacters(in: .whitespaces),
                            s[r.upperBound...].trimmingCharacters(in: .whitespaces)))
            } else if s.hasSuffix(":") {
                out.append((String(s.dropLast()).trimmingCharacters(in: .whitespaces), ""))
            }
        }
        return out
    }

    /// The typed values of `name` in our summary's sections, in order.
    static func ourValues(_ sections: [HeaderSection], _ name: String) -> [HeaderValue] {
        sections.flatMap { $0.fields }.filter { $0.name == name }.map(\.value)
    }

    /// True when crash's text for a field (its first line, trimmed) states `value`: the same
    /// number in the base crash prints it in, the same names and strings. This checks the facts
    /// the model returns; DumpinfoTests checks dumpinfo's rendering of them against crash's text.
    static func states(_ crash: String, _ value: HeaderValue) -> Bool {
        let words = crash.split(separator: " ").map(String.init)
        let lead = words.first ?? ""
        // "(NAME|NAME)" after the number(s), without the parentheses.
        let names = words.dropFirst().last.map { String($0.dropFirst().dropLast()) } ?? ""
        switch value {
        case .heading: return crash.isEmpty
        case let .text(s): return crash == s
        case let .quoted(s): return crash == "\"\(s)\""
        case let .decimal(v): return Int64(crash) == v
        case let .hex(v, _): return UInt64(crash, radix: 16) == v
        case let .decimalAndHex(v, _), let .vmcoreinfoSize(v, _): return UInt64(lead) == v
        case let .named(v, n): return UInt64(lead) == v && names == n.joined(separator: "|")
        case let .nameSize(v, name): return UInt64(lead) == v && names == "\"\(name)\""
        case let .statusBits(v, n): return UInt64(lead, radix: 16) == v && names == n.joined()
        case let .dumpLevel(v, n): return Int64(lead) == v && (v == 0 || names == n.joined(separator: "|"))
        case let .hexList(values): return values.first.map { UInt64(lead, radix: 16) == $0 } ?? crash.isEmpty
        case .unknown: return crash == "(unknown)"
        case .unused: return crash == "(unused)"
        case let .note(n):
            switch n.lead {
            case let .type(t): return UInt32(lead) == t
            case let .offset(o): return UInt64(lead, radix: 16) == o
            }
        case let .noteOffsets(offsets): return offsets.first.map { UInt64(lead, radix: 16) == $0.offset } ?? false
        // sadump's values: no crash reference holds them.
        case .time, .uuid, .cpuState: return false
        }
    }

    /// PRSTATUS register sets that crash printed: one [name: value] per note, names as crash
    /// prints them (R15, RFLAGS, FS_BASE, CS ...).
    static func refRegisters(_ text: String) -> [[String: UInt64]] {
        var sets: [[String: UInt64]] = []
        var current: [String: UInt64]? = nil
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("si.signo:") {
                if let c = current { sets.append(c) }
                current = [:]
                continue
            }
            guard current != nil else { continue }
            if t.hasPrefix("version:") || t.hasPrefix("n_namesz") || t.hasPrefix("notes[") || t.hasPrefix("snapshot_task") {
                sets.append(current!); current = nil; continue
            }
            let words = t.split(separator: " ", omittingEmptySubsequences: true)
            var i = 0
            while i + 1 < words.count {
                if words[i].hasSuffix(":"), let v = UInt64(words[i + 1], radix: 16) {
                    current![String(words[i].dropLast())] = v
                    i += 2
                } else { i += 1 }
            }
        }
        if let c = current { sets.append(c) }
        return sets.filter { $0["RIP"] != nil }
    }

    /// `eu-readelf -n` PRSTATUS registers, one [name: value] per note (names as eu-readelf prints).
    static func readelfRegisters(_ path: String) throws -> [[String: UInt64]]? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/eu-readelf") else { return nil }
        let out = try run("eu-readelf", ["-n", path])
        guard out.status == 0 else { return nil }
        var sets: [[String: UInt64]] = []
        var current: [String: UInt64]? = nil
        for line in out.stdout.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            let words = t.split(separator: " ", omittingEmptySubsequences: true)
            if words.count >= 3, !words[0].hasSuffix(":"), Int(words[1]) != nil {
                // A note header: "OWNER SIZE TYPE".
                if let c = current { sets.append(c) }
                current = words[0] == "CORE" && words[2] == "PRSTATUS" ? [:] : nil
                continue
            }
            guard current != nil else { continue }
            var i = 0
            while i + 1 < words.count {
                if words[i].hasSuffix(":") {
                    let name = String(words[i].dropLast())
                    var v = String(words[i + 1])
                    if v.hasSuffix(",") { v.removeLast() }
                    let value: UInt64? = v.hasPrefix("0x") ? UInt64(v.dropFirst(2), radix: 16)
                        : Int64(v).map { UInt64(bitPattern: $0) }
                    if let value { current![name] = value }
                    i += 2
                } else { i += 1 }
            }
        }
        if let c = current { sets.append(c) }
        return sets
    }
}

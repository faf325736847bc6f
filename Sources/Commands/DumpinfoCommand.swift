#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DumpModel

/// `dumpinfo`: what crash's `help -D` shows about the dump file: format, header fields,
/// compression, dump level, pages present and excluded, and each CPU's PRSTATUS registers.
public enum DumpinfoCommand: CrashCommand {
    public static let name = "dumpinfo"
    public static let summary = "print the dump file's header (crash's help -D)"
    public static let usage = """
    NAME
      dumpinfo - dump file header information

    SYNOPSIS
      dumpinfo

    DESCRIPTION
      Prints what the dump file says about itself, shaped like crash's "help -D":
      first a summary (format, compression, dump level, page counts, CPUs, crash
      time), then the format's own header blocks with crash's field names:
        kdump-compressed   disk_dump_header, kdump_sub_header (phys_base, dump_level,
                           VMCOREINFO, notes with each CPU's NT_PRSTATUS registers),
                           data_offset, bitmap_len, total_valid_pages
        flattened          the makedumpfile header and record count, then the same
        ELF core           the PT_LOAD ranges, the ELF header, every program header
                           and every note (PRSTATUS registers, VMCOREINFO, QEMU CPU state)
      Only facts from the file are shown, none of crash's in-memory pointers; where
      crash prints a note's address, dumpinfo prints its file offset (hex).

    EXAMPLES
      crash> dumpinfo
      crash> dumpinfo | grep -A 30 num_prstatus_notes
    """

    public struct Result: CommandResult {
        public var summary: DumpSummary

        public func renderText() -> String {
            var out = ""
            let s = summary
            var facts: [(String, String)] = [
                ("format", s.format == .flattened ? "FLATTENED (makedumpfile -F)" : s.format.rawValue),
            ]
            if let c = s.compression { facts.append(("compression", c)) }
            if let l = s.dumpLevel { facts.append(("dump_level", String(l))) }
            facts.append(("page_size", String(s.pageSize)))
            facts.append(("max_mapnr", String(s.maxMapnr)))
            facts.append(("pages_present", String(s.pagesPresent)))
            if let e = s.pagesExcluded { facts.append(("pages_excluded", String(e))) }
            if let n = s.nrCPUs { facts.append(("nr_cpus", String(n))) }
            if let p = s.panicCPU { facts.append(("panic_cpu", String(p))) }
            if let t = s.crashTime { facts.append(("crash_time", "\(t) (\(DumpinfoCommand.utcDate(t)))")) }
            out += "crashsh dumpinfo: \(s.path)\n"
            for (k, v) in facts { out += rjust(k, 18) + ": " + v + "\n" }
            out += "\n"
            for section in s.sections { DumpinfoCommand.render(section, into: &out) }
            return out
        }

        public func renderJSON() -> JSONValue {
            let s = summary
            var pairs: [(String, JSONValue)] = [
                ("path", .string(s.path)),
                ("format", .string(s.format.rawValue)),
                ("compression", s.compression.map { .string($0) } ?? .null),
                ("dump_level", s.dumpLevel.map { .int(Int64($0)) } ?? .null),
                ("page_size", .int(Int64(s.pageSize))),
                ("max_mapnr", .uint(s.maxMapnr)),
                ("pages_present", .uint(s.pagesPresent)),
                ("pages_excluded", s.pagesExcluded.map { .uint($0) } ?? .null),
                ("nr_cpus", s.nrCPUs.map { .int(Int64($0)) } ?? .null),
                ("panic_cpu", s.panicCPU.map { .int(Int64($0)) } ?? .null),
                ("crash_time", s.crashTime.map { .int($0) } ?? .null),
            ]
            if let u = s.utsname {
                pairs.append(("utsname", .object(["sysname", "nodename", "release", "version", "machine", "domainname"]
                    .compactMap { k in u[k].map { (k, JSONValue.string($0)) } })))
            }
            pairs.append(("prstatus", .array(s.prstatus.map { p in
                .object([
                    ("index", .int(Int64(p.index))),
                    ("pid", .int(Int64(p.pid))),
                    ("signo", .int(Int64(p.signo))),
                    ("cursig", .int(Int64(p.cursig))),
                    ("registers", .object(zip(X86Registers.names, p.registers.words).map { ($0.0, .address($0.1)) })),
                ])
            })))
            pairs.append(("sections", .array(s.sections.map { sec in
                .object([
                    ("title", .string(sec.title)),
                    ("fields", .array(sec.fields.map { f in
                        .object([("name", .string(f.name)), ("value", .string(f.value)), ("depth", .int(Int64(f.depth)))])
                    })),
                ])
            })))
            return .object(pairs)
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard arguments.isEmpty else { throw CommandError("dumpinfo: takes no arguments") }
        return Result(summary: session.dump.summary())
    }

    /// crash's layout: names right-aligned to the section's width (plus 2 per nesting level),
    /// further lines of a value under the value column.
    static func render(_ section: HeaderSection, into out: inout String) {
        out += section.title.isEmpty ? "\n" : section.title + "\n"
        for f in section.fields {
            let width = section.nameWidth + 2 * f.depth
            let lines = f.value.split(separator: "\n", omittingEmptySubsequences: false)
            let first = lines.first.map(String.init) ?? ""
            out += rjust(f.name, width) + ":" + (first.isEmpty ? "" : " " + first) + "\n"
            let indent = String(repeating: " ", count: width + 2)
            for line in lines.dropFirst() { out += indent + line + "\n" }
        }
    }

    /// "YYYY-MM-DD HH:MM:SS UTC".
    static func utcDate(_ t: Int64) -> String {
        var time = time_t(t)
        var tmv = tm()
        guard gmtime_r(&time, &tmv) != nil else { return "?" }
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tmv.tm_year + 1900)-\(two(tmv.tm_mon + 1))-\(two(tmv.tm_mday)) "
            + "\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec)) UTC"
    }
}

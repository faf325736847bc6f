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
        sadump             the partition header, the dump header, each used CPU's SMRAM
                           state (registers, CR0/CR3/CR4, GDT/IDT), the disk-set or
                           media header, and each disk of a disk set
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
                        .object([("name", .string(f.name)), ("value", DumpinfoCommand.json(f.value)), ("depth", .int(Int64(f.depth)))])
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
            let lines = text(f.value)
            let first = lines.first ?? ""
            out += rjust(f.name, width) + ":" + (first.isEmpty ? "" : " " + first) + "\n"
            let indent = String(repeating: " ", count: width + 2)
            for line in lines.dropFirst() { out += indent + line + "\n" }
        }
    }

    // MARK: crash's spelling of header values (help -D)

    /// Lower-case hex without a prefix (crash's `%lx`), zero-padded to `digits`.
    static func hex(_ v: UInt64, _ digits: Int = 0) -> String {
        let s = String(v, radix: 16)
        return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
    }

    /// A header value as crash prints it: its first line, then the lines under the value column.
    static func text(_ value: HeaderValue) -> [String] {
        switch value {
        case .heading: return [""]
        case let .text(s): return [s]
        case let .quoted(s): return ["\"\(s)\""]
        case let .decimal(v): return [String(v)]
        case let .hex(v, digits): return [hex(v, digits)]
        case let .decimalAndHex(v, prefixed): return ["\(v) (\(prefixed ? "0x" : "")\(hex(v)))"]
        case let .named(v, names): return ["\(v) (\(names.joined(separator: "|")))"]
        case let .nameSize(v, name): return ["\(v) (\"\(name)\")"]
        // crash runs the status names together.
        case let .statusBits(v, names): return ["\(hex(v)) (\(names.joined()))"]
        case let .dumpLevel(v, names):
            return ["\(v) (0x\(String(v, radix: 16)))" + (v == 0 ? " " : " (" + names.joined(separator: "|") + ")")]
        case let .hexList(values): return values.isEmpty ? [""] : values.map { hex($0) }
        case .unknown: return ["(unknown)"]
        case .unused: return ["(unused)"]
        case let .vmcoreinfoSize(size, text):
            var lines = ["\(size) (0x\(hex(size)))"]
            if let text {
                var body = textLines(text)
                if body.last == "" { body.removeLast() }
                lines += body
            }
            return lines
        case let .note(n): return noteLines(n)
        case let .noteOffsets(offsets): return offsets.map { "\(hex($0.offset)) (\($0.kind))" }
        case let .time(t): return [t.map { utcDate($0) } ?? "(invalid)"]
        case let .uuid(u): return [u]
        case let .cpuState(c): return smramLines(c)
        }
    }

    /// A sadump CPU state as crash's sadump_memory_dump prints it.
    static func smramLines(_ c: SadumpCPUState) -> [String] {
        let r = c.registers
        func h(_ v: UInt64, _ d: Int = 16) -> String { hex(v, d) }
        func h32(_ v: UInt32) -> String { hex(UInt64(v), 8) }
        return [
            "APIC ID: \(c.apicID)",
            "    RIP: \(h(r.rip)) RSP: \(h(r.rsp)) RBP: \(h(r.rbp))",
            "    RAX: \(h(r.rax)) RBX: \(h(r.rbx)) RCX: \(h(r.rcx))",
            "    RDX: \(h(r.rdx)) RSI: \(h(r.rsi)) RDI: \(h(r.rdi))",
            "    R08: \(h(r.r8)) R09: \(h(r.r9)) R10: \(h(r.r10))",
            "    R11: \(h(r.r11)) R12: \(h(r.r12)) R13: \(h(r.r13))",
            "    R14: \(h(r.r14)) R15: \(h(r.r15))",
            "    SMM REV: \(h32(c.smmRevision)) SMM BASE \(h32(c.smbase))",
            "    CS : \(h(r.cs, 8)) DS: \(h(r.ds, 8)) SS: \(h(r.ss, 8)) ES: \(h(r.es, 8)) FS: \(h(r.fs, 8))",
            "    GS : \(h(r.gs, 8))",
            "    CR0: \(h(c.cr0)) CR3: \(h(c.cr3)) CR4: \(h(c.cr4, 8))",
            "    GDT: \(h(c.gdtBase)) LDT: \(h(c.ldtBase)) IDT: \(h(c.idtBase))",
            "    GDTlim: \(h32(c.gdtLimit)) LDTlim: \(h32(c.ldtLimit)) IDTlim: \(h32(c.idtLimit))",
            "    LDTR: \(h32(c.ldtr)) TR: \(h32(c.tr)) RFLAGS: \(h(r.rflags))",
            "    EPTP: \(h(c.eptp)) EPTP_SETTING: \(h32(c.eptpSetting))",
            "    DR6: \(h(c.dr6)) DR7: \(h(c.dr7))",
            "    Ia32Efer: \(h(c.efer))",
            "    IoMemAddr: \(h(c.ioMemAddress)) IoEip: \(h(c.ioEip))",
            "    IoMisc: \(h32(c.ioMisc)) LdtInfo: \(h32(c.ldtInfo))",
            "    IoInstructionRestart: \(hex(UInt64(c.ioInstructionRestart), 4)) AutoHaltRestart: \(hex(UInt64(c.autoHaltRestart), 4))",
        ]
    }

    static func noteLines(_ n: NoteSummary) -> [String] {
        var first: String
        switch n.lead {
        case let .type(t): first = String(t)
        case let .offset(o): first = hex(o)
        }
        if let kind = n.kind { first += " (\(kind))" }
        var lines = [first]
        if let p = n.prstatus { lines += prstatusLines(p) }
        if let q = n.qemu { lines += qemuLines(q) }
        if let t = n.text { lines += textLines(t) }
        if let words = n.words {
            // Two words a line, each followed by a blank, as crash dumps a note's descriptor.
            var k = 0
            while k < words.count {
                lines.append(words[k..<min(k + 2, words.count)].map { hex($0, 16) + " " }.joined())
                k += 2
            }
        }
        return lines
    }

    /// VMCOREINFO text as lines (NULs dropped; a trailing newline gives crash's final empty line).
    static func textLines(_ text: String) -> [String] {
        text.filter { $0 != "\0" }.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// A timeval as seconds.microseconds.
    static func timeval(_ t: (sec: Int64, usec: Int64)) -> String {
        let u = String(t.usec)
        return "\(t.sec)." + (u.count < 6 ? String(repeating: "0", count: 6 - u.count) + u : u)
    }

    /// The NT_PRSTATUS block as crash prints it under a note (x86_64).
    static func prstatusLines(_ p: PRStatus) -> [String] {
        let t = p.times + Array(repeating: (sec: Int64(0), usec: Int64(0)), count: max(0, 4 - p.times.count))
        let r = p.registers
        func pair(_ a: String, _ av: UInt64, _ b: String, _ bv: UInt64) -> String {
            rjust(a, 8) + ": " + hex(av, 16) + "  " + rjust(b, 3) + ": " + hex(bv, 16)
        }
        return [
            "si.signo: \(p.signo)  si.code: \(p.code)  si.errno: \(p.errno)",
            "cursig: \(p.cursig)  sigpend: \(hex(p.sigpend))  sighold: \(hex(p.sighold))",
            "pid: \(p.pid)  ppid: \(p.ppid)  pgrp: \(p.pgrp)  sid:\(p.sid)",
            "utime: \(timeval(t[0]))  stime: \(timeval(t[1]))",
            "cutime: \(timeval(t[2]))  cstime: \(timeval(t[3]))",
            "ORIG_RAX: \(hex(r.origRax))  fpvalid: \(p.fpvalid)",
            pair("R15", r.r15, "R14", r.r14),
            pair("R13", r.r13, "R12", r.r12),
            pair("RBP", r.rbp, "RBX", r.rbx),
            pair("R11", r.r11, "R10", r.r10),
            pair("R9", r.r9, "R8", r.r8),
            pair("RAX", r.rax, "RCX", r.rcx),
            pair("RDX", r.rdx, "RSI", r.rsi),
            pair("RDI", r.rdi, "RIP", r.rip),
            pair("RFLAGS", r.rflags, "RSP", r.rsp),
            rjust("FS_BASE", 8) + ": " + hex(r.fsBase, 16),
            rjust("GS_BASE", 8) + ": " + hex(r.gsBase, 16),
            rjust("CS", 8) + ": " + hex(r.cs, 4) + "  SS: " + hex(r.ss, 4) + "  DS: " + hex(r.ds, 4),
            rjust("ES", 8) + ": " + hex(r.es, 4) + "  FS: " + hex(r.fs, 4) + "  GS: " + hex(r.gs, 4),
        ]
    }

    /// A QEMU CPU-state note as crash prints it.
    static func qemuLines(_ q: QEMUCPUState) -> [String] {
        var out = ["version: \(q.version)  size: \(q.size)"]
        let g = q.generalRegisters
        let names = QEMUCPUState.generalNames
        // crash's order: RAX..RBP pairs, then RIP/RFLAGS, then R8..R15.
        let order = [(0, 1), (2, 3), (4, 5), (6, 7), (16, 17), (8, 9), (10, 11), (12, 13), (14, 15)]
        for (a, b) in order where b < g.count {
            out.append(rjust(names[a], 3) + ": " + hex(g[a], 16) + "  " + rjust(names[b], 6) + ": " + hex(g[b], 16))
        }
        for (i, s) in q.segments.enumerated() where i < QEMUCPUState.segmentNames.count {
            out.append(rjust(QEMUCPUState.segmentNames[i], 3) + ": selector: " + hex(UInt64(s.selector), 4)
                       + "  limit: " + hex(UInt64(s.limit), 8) + "  flags: " + hex(UInt64(s.flags), 8))
            out.append("     pad: " + hex(UInt64(s.pad), 8) + "   base: " + hex(s.base, 16))
        }
        let c = q.controlRegisters
        var i = 0
        while i < c.count {
            var line = "CR\(i): " + hex(c[i], 16)
            if i + 1 < c.count { line += "  CR\(i + 1): " + hex(c[i + 1], 16) }
            out.append(line)
            i += 2
        }
        return out
    }

    // MARK: JSON of header values

    /// A header value as JSON: numbers as numbers, addresses, offsets and masks as "0x..."
    /// strings, codes and flags with their names, notes decoded.
    static func json(_ value: HeaderValue) -> JSONValue {
        switch value {
        case .heading, .unknown, .unused: return .null
        case let .text(s), let .quoted(s): return .string(s)
        case let .decimal(v): return .int(v)
        case let .hex(v, _): return .address(v)
        case let .decimalAndHex(v, _): return .uint(v)
        case let .named(v, names), let .statusBits(v, names):
            return .object([("value", .uint(v)), ("names", .array(names.map { .string($0) }))])
        case let .dumpLevel(v, names):
            return .object([("value", .int(v)), ("names", .array(names.map { .string($0) }))])
        case let .nameSize(v, name): return .object([("value", .uint(v)), ("name", .string(name))])
        case let .hexList(values): return .array(values.map { .address($0) })
        case let .vmcoreinfoSize(size, text):
            return .object([("size", .uint(size)), ("text", text.map { .string($0) } ?? .null)])
        case let .noteOffsets(offsets):
            return .array(offsets.map { .object([("offset", .address($0.offset)), ("kind", .string($0.kind))]) })
        case let .time(t): return t.map { .int($0) } ?? .null
        case let .uuid(u): return .string(u)
        case let .cpuState(c):
            return .object([
                ("apic_id", .uint(c.apicID)),
                ("registers", .object(zip(X86Registers.names, c.registers.words).map { ($0.0, .address($0.1)) })),
                ("cr0", .address(c.cr0)), ("cr3", .address(c.cr3)), ("cr4", .address(c.cr4)),
                ("gdt", .address(c.gdtBase)), ("idt", .address(c.idtBase)), ("ldt", .address(c.ldtBase)),
                ("efer", .address(c.efer)),
            ])
        case let .note(n):
            var pairs: [(String, JSONValue)] = []
            switch n.lead {
            case let .type(t): pairs.append(("type", .int(Int64(t))))
            case let .offset(o): pairs.append(("offset", .address(o)))
            }
            pairs.append(("kind", n.kind.map { .string($0) } ?? .null))
            if let p = n.prstatus {
                pairs.append(("prstatus", .object([
                    ("index", .int(Int64(p.index))), ("pid", .int(Int64(p.pid))), ("signo", .int(Int64(p.signo))),
                    ("cursig", .int(Int64(p.cursig))),
                    ("registers", .object(zip(X86Registers.names, p.registers.words).map { ($0.0, .address($0.1)) })),
                ])))
            }
            if let q = n.qemu {
                pairs.append(("qemu", .object([
                    ("version", .int(Int64(q.version))), ("size", .int(Int64(q.size))),
                    ("registers", .object(zip(QEMUCPUState.generalNames.map { $0.lowercased() }, q.generalRegisters)
                        .map { ($0.0, .address($0.1)) })),
                    ("control_registers", .array(q.controlRegisters.map { .address($0) })),
                ])))
            }
            if let t = n.text { pairs.append(("text", .string(t))) }
            if let w = n.words { pairs.append(("words", .array(w.map { .address($0) }))) }
            return .object(pairs)
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

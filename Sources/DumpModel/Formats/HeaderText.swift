/// Value formatting shared by the formats' `summary()`: the shapes crash's `help -D` uses, so that
/// `dumpinfo` reads like it. Multi-line blocks are returned as lines relative to the value column.
enum HeaderText {
    /// Lower-case hex without a prefix (crash's `%lx`).
    static func x(_ v: UInt64) -> String { String(v, radix: 16) }
    /// Zero-padded lower-case hex of `width` digits (`%016lx`, `%04lx`).
    static func x(_ v: UInt64, width: Int) -> String {
        let s = String(v, radix: 16)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
    /// "decimal (0xhex)".
    static func decHex0x(_ v: UInt64) -> String { "\(v) (0x\(x(v)))" }
    /// "decimal (hex)".
    static func decHex(_ v: UInt64) -> String { "\(v) (\(x(v)))" }

    static func rjust(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
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
            rjust(a, 8) + ": " + x(av, width: 16) + "  " + rjust(b, 3) + ": " + x(bv, width: 16)
        }
        return [
            "si.signo: \(p.signo)  si.code: \(p.code)  si.errno: \(p.errno)",
            "cursig: \(p.cursig)  sigpend: \(x(p.sigpend))  sighold: \(x(p.sighold))",
            "pid: \(p.pid)  ppid: \(p.ppid)  pgrp: \(p.pgrp)  sid:\(p.sid)",
            "utime: \(timeval(t[0]))  stime: \(timeval(t[1]))",
            "cutime: \(timeval(t[2]))  cstime: \(timeval(t[3]))",
            "ORIG_RAX: \(x(r.origRax))  fpvalid: \(p.fpvalid)",
            pair("R15", r.r15, "R14", r.r14),
            pair("R13", r.r13, "R12", r.r12),
            pair("RBP", r.rbp, "RBX", r.rbx),
            pair("R11", r.r11, "R10", r.r10),
            pair("R9", r.r9, "R8", r.r8),
            pair("RAX", r.rax, "RCX", r.rcx),
            pair("RDX", r.rdx, "RSI", r.rsi),
            pair("RDI", r.rdi, "RIP", r.rip),
            pair("RFLAGS", r.rflags, "RSP", r.rsp),
            rjust("FS_BASE", 8) + ": " + x(r.fsBase, width: 16),
            rjust("GS_BASE", 8) + ": " + x(r.gsBase, width: 16),
            rjust("CS", 8) + ": " + x(r.cs, width: 4) + "  SS: " + x(r.ss, width: 4) + "  DS: " + x(r.ds, width: 4),
            rjust("ES", 8) + ": " + x(r.es, width: 4) + "  FS: " + x(r.fs, width: 4) + "  GS: " + x(r.gs, width: 4),
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
            out.append(rjust(names[a], 3) + ": " + x(g[a], width: 16) + "  " + rjust(names[b], 6) + ": " + x(g[b], width: 16))
        }
        for (i, s) in q.segments.enumerated() where i < QEMUCPUState.segmentNames.count {
            out.append(rjust(QEMUCPUState.segmentNames[i], 3) + ": selector: " + x(UInt64(s.selector), width: 4)
                       + "  limit: " + x(UInt64(s.limit), width: 8) + "  flags: " + x(UInt64(s.flags), width: 8))
            out.append("     pad: " + x(UInt64(s.pad), width: 8) + "   base: " + x(s.base, width: 16))
        }
        let c = q.controlRegisters
        var i = 0
        while i < c.count {
            var line = "CR\(i): " + x(c[i], width: 16)
            if i + 1 < c.count { line += "  CR\(i + 1): " + x(c[i + 1], width: 16) }
            out.append(line)
            i += 2
        }
        return out
    }

    /// A note descriptor as 64-bit words, two per line (crash's raw dump under ELF notes).
    static func wordLines(_ desc: [UInt8]) -> [String] {
        var out: [String] = []
        var line = ""
        var n = 0
        var i = 0
        while i < desc.count {
            var w: UInt64 = 0
            for k in 0..<8 where i + k < desc.count { w |= UInt64(desc[i + k]) << (8 * UInt64(k)) }
            line += x(w, width: 16) + " "
            n += 1
            if n == 2 { out.append(line); line = ""; n = 0 }
            i += 8
        }
        if !line.isEmpty { out.append(line) }
        return out
    }

    /// VMCOREINFO text as lines (NULs dropped; a trailing newline gives crash's final empty line).
    static func textLines(_ text: String) -> [String] {
        let clean = text.filter { $0 != "\0" }
        return clean.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// A value followed by further lines.
    static func block(_ first: String, _ lines: [String]) -> String {
        ([first] + lines).joined(separator: "\n")
    }
}

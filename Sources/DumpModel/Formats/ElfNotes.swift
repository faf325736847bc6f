/// ELF note parsing shared by the ELF core reader (PT_NOTE segments) and the kdump-compressed
/// reader (the note block at `offset_note`): both hold the kernel's crash notes in the same form.
enum ElfNotes {
    static let ntPRStatus: UInt32 = 1
    /// Largest note block crashsh reads. Real blocks are a few KiB per CPU; this bounds the memory
    /// an absurd header can make us allocate.
    static let maxBlockSize: UInt64 = 64 << 20
    /// Size of x86_64 `struct elf_prstatus`.
    static let prstatusSize = 336
    /// Where x86_64 `pr_reg` ends: a note this long holds every register. The kernel's note is
    /// `prstatusSize` bytes; pr_fpvalid and the padding after the registers are optional, as
    /// libkdumpfile reads them (its own test dumps end at the registers).
    static let prstatusRegistersEnd = 328

    /// Parses the notes in `offset ..< offset+size` of `reader`, appending them to `notes`.
    /// Notes are 4-byte aligned (name and descriptor each padded to 4). A note that runs past the
    /// block ends the walk: what came before is kept.
    static func parse(_ reader: any ByteReader, offset: UInt64, size: UInt64, into notes: inout [DumpNote]) throws {
        guard size > 0 else { return }
        guard size <= maxBlockSize else {
            throw DumpError.badHeader(path: reader.name, field: "note size", value: String(size),
                                      reason: "larger than \(maxBlockSize) bytes")
        }
        let block = try reader.bytes(at: offset, count: Int(size), what: "note block")
        var pos = 0
        let end = block.count
        func u32(_ at: Int) -> UInt32 {
            UInt32(block[at]) | UInt32(block[at + 1]) << 8 | UInt32(block[at + 2]) << 16 | UInt32(block[at + 3]) << 24
        }
        while end - pos >= 12 {
            let namesz = Int(u32(pos)), descsz = Int(u32(pos + 4)), type = u32(pos + 8)
            if namesz == 0 && descsz == 0 && type == 0 { break }  // zero padding after the last note
            let nameStart = pos + 12
            let nameLen = (namesz + 3) & ~3
            let descStart = nameStart + nameLen
            let descLen = (descsz + 3) & ~3
            // The values are < 2^32 each, so these sums cannot overflow Int on 64-bit.
            guard nameStart + namesz <= end, descStart + descsz <= end else { break }
            let rawName = block[nameStart ..< nameStart + namesz]
            let nameEnd = rawName.firstIndex(of: 0) ?? rawName.endIndex
            let name = String(decoding: rawName[..<nameEnd], as: UTF8.self)
            let desc = Array(block[descStart ..< descStart + descsz])
            notes.append(DumpNote(name: name, type: type, desc: desc, fileOffset: offset &+ UInt64(pos)))
            pos = descStart + descLen
        }
    }

    /// The NT_PRSTATUS notes ("CORE", type 1, x86_64 layout) in order.
    static func prstatus(in notes: [DumpNote]) -> [PRStatus] {
        var out: [PRStatus] = []
        for note in notes where note.name == "CORE" && note.type == ntPRStatus {
            if let p = parsePRStatus(note.desc, index: out.count) { out.append(p) }
        }
        return out
    }

    /// x86_64 `struct elf_prstatus`: pr_info (3 × int32), pr_cursig (int16, padded), pr_sigpend,
    /// pr_sighold, pid/ppid/pgrp/sid (int32), four timevals, pr_reg (27 × u64) at 112, pr_fpvalid at 328
    /// (optional); nil when the note is too short for the registers.
    static func parsePRStatus(_ d: [UInt8], index: Int) -> PRStatus? {
        guard d.count >= prstatusRegistersEnd else { return nil }
        let b = ByteBuffer(d, name: "NT_PRSTATUS")
        do {
            var p = PRStatus(index: index)
            p.signo = try b.load(Int32.self, at: 0)
            p.code = try b.load(Int32.self, at: 4)
            p.errno = try b.load(Int32.self, at: 8)
            p.cursig = try b.load(Int16.self, at: 12)
            p.sigpend = try b.load(UInt64.self, at: 16)
            p.sighold = try b.load(UInt64.self, at: 24)
            p.pid = try b.load(Int32.self, at: 32)
            p.ppid = try b.load(Int32.self, at: 36)
            p.pgrp = try b.load(Int32.self, at: 40)
            p.sid = try b.load(Int32.self, at: 44)
            for t in 0..<4 {
                let at = UInt64(48 + 16 * t)
                p.times.append((try b.load(Int64.self, at: at), try b.load(Int64.self, at: at + 8)))
            }
            var words: [UInt64] = []
            words.reserveCapacity(27)
            for i in 0..<27 { words.append(try b.load(UInt64.self, at: UInt64(112 + 8 * i))) }
            guard let regs = X86Registers(words: words) else { return nil }
            p.registers = regs
            if d.count >= prstatusRegistersEnd + 4 { p.fpvalid = try b.load(Int32.self, at: 328) }
            return p
        } catch {
            return nil
        }
    }

    /// The VMCOREINFO note's text, if there is one.
    static func vmcoreinfo(in notes: [DumpNote]) -> String? {
        guard let n = notes.first(where: { $0.name == "VMCOREINFO" }) else { return nil }
        return String(decoding: n.desc, as: UTF8.self)
    }

    /// The QEMU CPU-state notes (name "QEMU") in order.
    static func qemuCPUStates(in notes: [DumpNote]) -> [QEMUCPUState] {
        notes.filter { $0.name == "QEMU" }.compactMap { QEMUCPUState(desc: $0.desc) }
    }
}

/// One segment register as QEMU saves it (`QEMUCPUSegment`).
public struct QEMUSegment: Sendable, Equatable {
    public var selector: UInt32, limit: UInt32, flags: UInt32, pad: UInt32
    public var base: UInt64
}

/// QEMU's per-CPU "QEMU" note (`QEMUCPUState`, x86_64): what PRSTATUS lacks, the segment
/// descriptors, GDT/IDT and the control registers (CR3 gives the page tables the CPU was using).
public struct QEMUCPUState: Sendable, Equatable {
    public var version: UInt32
    public var size: UInt32
    /// rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8 ... r15, rip, rflags in QEMU's order.
    public var generalRegisters: [UInt64]
    /// cs, ds, es, fs, gs, ss, ldt, tr, gdt, idt.
    public var segments: [QEMUSegment]
    /// cr0 ... cr4.
    public var controlRegisters: [UInt64]
    public var kernelGSBase: UInt64?

    public static let generalNames = ["RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RSP", "RBP", "R8", "R9",
                                      "R10", "R11", "R12", "R13", "R14", "R15", "RIP", "RFLAGS"]
    public static let segmentNames = ["CS", "DS", "ES", "FS", "GS", "SS", "LDT", "TR", "GDT", "IDT"]

    /// A state from its parts (another format's CPU state in this shape: sadump's SMRAM states).
    init(version: UInt32, size: UInt32, generalRegisters: [UInt64], segments: [QEMUSegment],
         controlRegisters: [UInt64], kernelGSBase: UInt64?) {
        self.version = version; self.size = size; self.generalRegisters = generalRegisters
        self.segments = segments; self.controlRegisters = controlRegisters; self.kernelGSBase = kernelGSBase
    }

    /// Parses the note descriptor; nil if it is shorter than the version-1 layout.
    public init?(desc d: [UInt8]) {
        let b = ByteBuffer(d, name: "QEMU note")
        do {
            version = try b.load(UInt32.self, at: 0)
            size = try b.load(UInt32.self, at: 4)
            var regs: [UInt64] = []
            for i in 0..<18 { regs.append(try b.load(UInt64.self, at: UInt64(8 + 8 * i))) }
            generalRegisters = regs
            var segs: [QEMUSegment] = []
            for i in 0..<10 {
                let at = UInt64(152 + 24 * i)
                segs.append(QEMUSegment(selector: try b.load(UInt32.self, at: at),
                                        limit: try b.load(UInt32.self, at: at + 4),
                                        flags: try b.load(UInt32.self, at: at + 8),
                                        pad: try b.load(UInt32.self, at: at + 12),
                                        base: try b.load(UInt64.self, at: at + 16)))
            }
            segments = segs
            var crs: [UInt64] = []
            for i in 0..<5 { crs.append(try b.load(UInt64.self, at: UInt64(392 + 8 * i))) }
            controlRegisters = crs
            kernelGSBase = d.count >= 440 ? try b.load(UInt64.self, at: 432) : nil
        } catch {
            return nil
        }
    }
}

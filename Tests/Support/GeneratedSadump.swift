import Foundation

/// sadump dumps made from qemu.elf: its RAM (the PT_LOAD segments) and its CPUs (PRSTATUS
/// registers; CR0/CR3/CR4 and the GDT/IDT from the QEMU notes), with some pages left out.
extension GeneratedDumps {
    /// The pages left out of the generated sadump dumps: every third page of the VGA frame buffer
    /// at 0xfd000000 and every other page of the BIOS at 0xfffc0000, which no command reads.
    public static func sadumpExcludedPFNs(maxMapnr: UInt64) -> Set<UInt64> {
        Set(stride(from: UInt64(0xfd000), to: 0xfe000, by: 3)).union(stride(from: UInt64(0xfffc0), to: 0x100000, by: 2))
            .filter { $0 < maxMapnr }
    }

    /// A single-partition sadump file of qemu.elf.
    public static let qemuSadump: Result<[String], GeneratedDumpError>? = sadump(layout: .singlePartition, name: "qemu.sadump")

    /// The two disks of a sadump disk set of qemu.elf.
    public static let qemuSadumpDiskSet: Result<[String], GeneratedDumpError>? = sadump(layout: .diskSet(disks: 2), name: "qemu-diskset.sadump")

    static func sadump(layout: SadumpWriter.Layout, name: String) -> Result<[String], GeneratedDumpError>? {
        guard let set = SharedFixtures.setDirectory else { return nil }
        do {
            return .success(try generateSadump(from: set + "/qemu.elf", name: name, layout: layout))
        } catch {
            return .failure(GeneratedDumpError("\(name): \(error)"))
        }
    }

    static func generateSadump(from source: String, name: String, layout: SadumpWriter.Layout) throws -> [String] {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("crashsh-generated-\(getuid())")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let count: Int
        if case let .diskSet(n) = layout { count = n } else { count = 1 }
        let targets = (0 ..< count).map { dir.appendingPathComponent(count == 1 ? name : "\(name).\($0 + 1)").path }
        let attributes = try fm.attributesOfItem(atPath: source)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let stamp = "sadump v1 \(source) \(size) \(modified)\n"
        let stampPath = targets[0] + ".source"
        if targets.allSatisfy({ fm.fileExists(atPath: $0) }), (try? String(contentsOfFile: stampPath, encoding: .utf8)) == stamp {
            return targets
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: source), options: .alwaysMapped)
        let elf = [UInt8](data.prefix(1 << 20))
        func u16(_ o: Int) -> Int { Int(elf[o]) | Int(elf[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        guard elf.count >= 64, elf[0 ..< 4] == [0x7f, 0x45, 0x4c, 0x46] else { throw GeneratedDumpError("not an ELF file") }
        let phoff = Int(u64(32)), phentsize = u16(54), phnum = u16(56)
        var loads: [(paddr: UInt64, offset: UInt64, size: UInt64)] = []
        var prstatus: [[UInt64]] = [], qemu: [Int] = []
        for i in 0 ..< phnum {
            let ph = phoff + i * phentsize
            if u32(ph) == 1 { loads.append((u64(ph + 24), u64(ph + 8), u64(ph + 32))) }
            guard u32(ph) == 4 else { continue }
            var pos = Int(u64(ph + 8))
            let end = pos + Int(u64(ph + 32))
            while pos + 12 <= end {
                let namesz = u32(pos), descsz = u32(pos + 4), type = u32(pos + 8)
                let desc = pos + 12 + ((namesz + 3) & ~3)
                let noteName = String(decoding: elf[pos + 12 ..< pos + 12 + max(namesz - 1, 0)], as: UTF8.self)
                if noteName == "CORE", type == 1 { prstatus.append((0 ..< 27).map { u64(desc + 112 + 8 * $0) }) }
                if noteName == "QEMU" { qemu.append(desc) }
                pos = desc + ((descsz + 3) & ~3)
            }
        }
        guard !loads.isEmpty, prstatus.count == qemu.count else { throw GeneratedDumpError("no PT_LOAD, or PRSTATUS and QEMU notes do not pair") }
        let page: UInt64 = 4096
        let maxMapnr = loads.map { ($0.paddr + $0.size + page - 1) / page }.max() ?? 0
        var writer = SadumpWriter(maxMapnr: maxMapnr, ram: loads.map { ($0.paddr / page) ..< (($0.paddr + $0.size) / page) })
        writer.excluded = sadumpExcludedPFNs(maxMapnr: maxMapnr)
        writer.cpus = zip(prstatus, qemu).enumerated().map { k, pair in
            let (w, q) = pair
            var c = SadumpWriter.CPU()
            c.apicID = UInt64(k)
            // user_regs_struct order: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss ...
            c.general = [w[10], w[5], w[11], w[12], w[13], w[14], w[19], w[4], w[9], w[8], w[7], w[6], w[3], w[2], w[1], w[0]]
            c.rip = w[16]; c.rflags = w[18]
            c.cs = UInt32(truncatingIfNeeded: w[17]); c.ss = UInt32(truncatingIfNeeded: w[20])
            c.ds = UInt32(truncatingIfNeeded: w[23]); c.es = UInt32(truncatingIfNeeded: w[24])
            c.fs = UInt32(truncatingIfNeeded: w[25]); c.gs = UInt32(truncatingIfNeeded: w[26])
            // QEMUCPUState: segments (selector, limit, flags, pad, base) from 152, CR0-CR4 from 392.
            func segment(_ i: Int) -> (selector: UInt32, limit: UInt32, base: UInt64) {
                let at = q + 152 + 24 * i
                return (UInt32(u32(at)), UInt32(u32(at + 4)), u64(at + 16))
            }
            c.tr = segment(7).selector
            (c.gdtBase, c.gdtLimit) = (segment(8).base, segment(8).limit)
            (c.idtBase, c.idtLimit) = (segment(9).base, segment(9).limit)
            c.cr0 = u64(q + 392); c.cr3 = u64(q + 392 + 24); c.cr4 = UInt32(truncatingIfNeeded: u64(q + 392 + 32))
            return c
        }
        let temporaries = targets.map { $0 + ".\(getpid()).tmp" }
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        for t in temporaries {
            let fd = open(t, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw GeneratedDumpError("cannot create \(t)") }
            fds.append(fd)
        }
        let sizes = try data.withUnsafeBytes { (all: UnsafeRawBufferPointer) -> [Int] in
            try writer.write(layout: layout, page: { pfn in
                let paddr = pfn * page
                guard let l = loads.first(where: { $0.paddr <= paddr && paddr + page <= $0.paddr + $0.size }) else { return nil }
                let at = Int(l.offset + (paddr - l.paddr))
                guard at + Int(page) <= all.count else { return nil }
                let bytes = UnsafeRawBufferPointer(rebasing: all[at ..< at + Int(page)])
                return bytes.contains(where: { $0 != 0 }) ? Array(bytes) : nil
            }, sink: { disk, offset, bytes in
                let n = bytes.withUnsafeBytes { pwrite(fds[disk], $0.baseAddress, $0.count, off_t(offset)) }
                guard n == bytes.count else { throw GeneratedDumpError("cannot write \(temporaries[disk])") }
            })
        }
        for (k, fd) in fds.enumerated() {
            guard ftruncate(fd, off_t(sizes[k])) == 0 else { throw GeneratedDumpError("cannot size \(temporaries[k])") }
        }
        for (t, target) in zip(temporaries, targets) {
            try? fm.removeItem(atPath: target)
            try fm.moveItem(atPath: t, toPath: target)
        }
        try stamp.write(toFile: stampPath, atomically: true, encoding: .utf8)
        return targets
    }
}

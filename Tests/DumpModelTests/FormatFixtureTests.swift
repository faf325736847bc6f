import Foundation
import Testing
@testable import DumpModel

/// The format readers on the real fixture dumps, compared with what crash 8.0.6 printed
/// (refs/crash-8.0.6/*/help_-D.txt) and with eu-readelf.
@Suite(.enabled(if: FormatFixtures.available, "fixtures not prepared (../shared/fixtures/prepare.sh)"))
struct FormatFixtureTests {
    static let expectedFormat: [String: DumpFormat] = [
        "vmcore": .elfCore, "dump.elf": .elfCore, "qemu.elf": .elfCore,
        "dump.kdump": .kdumpCompressed, "dump-lzo.kdump": .kdumpCompressed, "dump-zstd.kdump": .kdumpCompressed,
        "dump.flat": .flattened, "qemu.kdump": .flattened,
    ]

    @Test(arguments: FormatFixtures.all)
    func opensByContent(_ name: String) throws {
        let d = try FormatFixtures.open(name)
        #expect(d.format == Self.expectedFormat[name])
        #expect(d.pageSize == 4096)
        #expect(try DumpOpener.classify(path: FormatFixtures.path(name)) == .dump(Self.expectedFormat[name]!))
    }

    @Test func vmlinuxIsClassifiedAsKernel() throws {
        let vmlinux = FormatFixtures.path("vmlinux-6.1.0-56-cloud-amd64")
        try #require(FileManager.default.fileExists(atPath: vmlinux), "no \(vmlinux) in the fixture set")
        #expect(try DumpOpener.classify(path: vmlinux) == .vmlinux)
        #expect(throws: DumpError.self) { _ = try DumpOpener.open(path: vmlinux) }
    }

    @Test func vmcoreinfoIsTheSameInEveryFileOfOneCrash() throws {
        for group in [FormatFixtures.kdumpCrash, FormatFixtures.qemuCrash] {
            let texts = try group.map { try #require(FormatFixtures.open($0).vmcoreinfoText) }
            let parsed = texts.map { VMCoreInfo(raw: $0) }
            for (i, p) in parsed.enumerated() {
                #expect(p.entries.map { "\($0.key)=\($0.value)" } == parsed[0].entries.map { "\($0.key)=\($0.value)" },
                        "\(group[i]) differs from \(group[0])")
            }
            #expect(parsed[0].osRelease == "6.1.0-56-cloud-amd64")
            #expect(parsed[0].buildID == "3b43fad5034874490492495d552c0af6a5fab235")
        }
        // The two crashes had different KASLR slides.
        #expect(try VMCoreInfo(raw: FormatFixtures.open("vmcore").vmcoreinfoText!).kernelOffset == 0x2f600000)
        #expect(try VMCoreInfo(raw: FormatFixtures.open("qemu.elf").vmcoreinfoText!).kernelOffset == 0xaa00000)
    }

    /// crash's register names -> our registers.
    static func crashName(_ regs: X86Registers) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (name, v) in zip(X86Registers.names, regs.words) {
            let n = name == "eflags" ? "RFLAGS" : name == "orig_rax" ? "ORIG_RAX" : name.uppercased()
            out[n] = v
        }
        return out
    }

    @Test(arguments: FormatFixtures.all)
    func prstatusMatchesCrash(_ name: String) throws {
        let d = try FormatFixtures.open(name)
        let ref = FormatFixtures.refRegisters(try FormatFixtures.ref(name, "help_-D"))
        #expect(d.prstatus.count == 2)
        #expect(ref.count == d.prstatus.count)
        // crash prints the pid in decimal ("pid: 116  ppid: 0").
        let refPIDs = try FormatFixtures.ref(name, "help_-D").split(separator: "\n")
            .compactMap { line -> Int32? in
                let t = line.trimmingCharacters(in: .whitespaces)
                guard t.hasPrefix("pid: ") else { return nil }
                return Int32(t.dropFirst(5).prefix { $0 != " " })
            }
        for (p, r) in zip(d.prstatus, ref) {
            let ours = Self.crashName(p.registers)
            for (k, v) in r where ours[k] != nil {
                #expect(ours[k] == v, "\(name) note \(p.index) \(k)")
            }
            #expect(r.count >= 24)
            #expect(p.pid == refPIDs[p.index])
        }
    }

    /// Not qemu.elf: it has section headers but no SHT_NOTE section, and eu-readelf -n then shows no notes.
    @Test(arguments: ["vmcore", "dump.elf"])
    func prstatusMatchesReadelf(_ name: String) throws {
        let d = try FormatFixtures.open(name)
        let sets = try #require(try FormatFixtures.readelfRegisters(FormatFixtures.path(name)), "eu-readelf -n failed or is missing")
        #expect(sets.count == d.prstatus.count)
        for (p, r) in zip(d.prstatus, sets) {
            let regs = p.registers
            let ours: [String: UInt64] = [
                "r15": regs.r15, "r14": regs.r14, "r13": regs.r13, "r12": regs.r12, "rbp": regs.rbp, "rbx": regs.rbx,
                "r11": regs.r11, "r10": regs.r10, "r9": regs.r9, "r8": regs.r8, "rax": regs.rax, "rcx": regs.rcx,
                "rdx": regs.rdx, "rsi": regs.rsi, "rdi": regs.rdi, "orig_rax": regs.origRax, "rip": regs.rip,
                "rflags": regs.rflags, "rsp": regs.rsp, "fs.base": regs.fsBase, "gs.base": regs.gsBase,
                "cs": regs.cs, "ss": regs.ss, "ds": regs.ds, "es": regs.es, "fs": regs.fs, "gs": regs.gs,
                "pid": UInt64(bitPattern: Int64(p.pid)),
            ]
            #expect(r.count >= 28)
            for (k, v) in ours { #expect(r[k] == v, "\(name) note \(p.index) \(k)") }
        }
    }

    @Test func pageBytesAgreeAcrossFormats() throws {
        let base = try FormatFixtures.open("dump.kdump")
        let others = try ["dump-lzo.kdump", "dump-zstd.kdump", "dump.flat", "dump.elf", "vmcore"].map {
            ($0, try FormatFixtures.open($0))
        }
        var a = [UInt8](repeating: 0, count: 4096), b = a
        var checked = 0
        for (i, pfn) in base.presentPages().enumerated() where i % 97 == 0 {
            try a.withUnsafeMutableBytes { try base.readPage(pfn: pfn, into: $0) }
            for (name, other) in others {
                b = [UInt8](repeating: 0xa5, count: 4096)
                // dump.kdump keeps some zero pages (all pointing at one stored zero page) that
                // makedumpfile -E counted as excluded and left in a [p_filesz, p_memsz) tail
                // (1240 pages, all zero in vmcore): dump.elf reports those as excluded.
                if name == "dump.elf", other.pageState(pfn: pfn) == .excluded {
                    #expect(a.allSatisfy { $0 == 0 }, "pfn \(pfn): excluded in dump.elf, not zero in dump.kdump")
                    #expect(throws: DumpError.excludedPage(paddr: pfn * 4096)) {
                        try b.withUnsafeMutableBytes { try other.readPage(pfn: pfn, into: $0) }
                    }
                    continue
                }
                try b.withUnsafeMutableBytes { try other.readPage(pfn: pfn, into: $0) }
                #expect(a == b, "pfn \(pfn) differs in \(name)")
            }
            checked += 1
        }
        #expect(checked > 150)
    }

    @Test func qemuPagesAgreeBetweenElfAndKdump() throws {
        let kd = try FormatFixtures.open("qemu.kdump"), elf = try FormatFixtures.open("qemu.elf")
        var a = [UInt8](repeating: 0, count: 4096), b = a
        var checked = 0
        for (i, pfn) in kd.presentPages().enumerated() where i % 997 == 0 {
            try a.withUnsafeMutableBytes { try kd.readPage(pfn: pfn, into: $0) }
            try b.withUnsafeMutableBytes { try elf.readPage(pfn: pfn, into: $0) }
            #expect(a == b, "pfn \(pfn)")
            checked += 1
        }
        #expect(checked > 100)
    }

    @Test(arguments: ["dump.kdump", "dump-lzo.kdump", "dump-zstd.kdump", "dump.flat"])
    func everyPresentPageDecompresses(_ name: String) throws {
        let d = try FormatFixtures.open(name)
        var page = [UInt8](repeating: 0, count: 4096)
        var n = 0
        try page.withUnsafeMutableBytes { buf in
            for pfn in d.presentPages() { try d.readPage(pfn: pfn, into: buf); n += 1 }
        }
        #expect(UInt64(n) == d.summary().pagesPresent)
        #expect(n == 17567)
    }

    @Test func excludedAndMissingPagesAreErrors() throws {
        for name in ["dump.kdump", "dump.flat"] {
            let d = try FormatFixtures.open(name)
            let kd = try #require(d as? KdumpCompressedFile)
            let excluded = try #require((0..<kd.maxMapnr).first { d.pageState(pfn: $0) == .excluded })
            var page = [UInt8](repeating: 0, count: 4096)
            page.withUnsafeMutableBytes { buf in
                #expect(throws: DumpError.excludedPage(paddr: excluded * 4096)) { try d.readPage(pfn: excluded, into: buf) }
                #expect(throws: DumpError.notInDump(paddr: kd.maxMapnr * 4096)) { try d.readPage(pfn: kd.maxMapnr, into: buf) }
            }
            let s = d.summary()
            #expect(s.pagesExcluded! > 0)
            #expect(s.pagesPresent + s.pagesExcluded! <= kd.maxMapnr)
        }
        // The ELF core of all RAM (512 MiB) has pfn 1 and nothing at 4 GiB.
        let vmcore = try FormatFixtures.open("vmcore")
        #expect(vmcore.pageState(pfn: 1) == .present)
        #expect(vmcore.pageState(pfn: 0x100000) == .notInDump)
        var page = [UInt8](repeating: 0, count: 4096)
        page.withUnsafeMutableBytes { buf in
            #expect(throws: DumpError.notInDump(paddr: 0x100000 * 4096)) { try vmcore.readPage(pfn: 0x100000, into: buf) }
            return ()
        }
    }

    /// makedumpfile -E ends a segment's file data where a run of >= 256 excluded pages starts and
    /// keeps the rest of the range as [p_filesz, p_memsz): those pages are excluded, not zeros.
    @Test func elfTailPagesAreExcludedLikeInKdump() throws {
        let elf = try #require(try FormatFixtures.open("dump.elf") as? ElfCoreFile)
        let kdump = try #require(try FormatFixtures.open("dump.kdump") as? KdumpCompressedFile)
        let tails = elf.physicalRanges.filter { $0.fileOffset == nil }
        #expect(!tails.isEmpty)
        var inTail = 0
        for pfn in 0 ..< kdump.maxMapnr where kdump.pageState(pfn: pfn) == .excluded {
            let start = pfn * 4096
            guard tails.contains(where: { $0.start <= start && start < $0.end }) else { continue }
            #expect(elf.pageState(pfn: pfn) == .excluded, "pfn \(pfn)")
            inTail += 1
        }
        // Most of what dump.kdump excluded (64220 pages) lies in dump.elf's tails; the rest is in
        // runs shorter than 256 pages, written in full.
        #expect(inTail > 60000)
        var page = [UInt8](repeating: 0, count: 4096)
        let long = try #require(tails.first { $0.end - $0.start >= 0x2000 })
        page.withUnsafeMutableBytes { buf in
            let pfn = (long.start + 0xfff) >> 12
            #expect(throws: DumpError.excludedPage(paddr: pfn * 4096)) { try elf.readPage(pfn: pfn, into: buf) }
            return ()
        }
    }

    /// Every page with file bytes in dump.elf holds what the full vmcore holds.
    @Test func elfFileDataAgreesWithVmcore() throws {
        let elf = try FormatFixtures.open("dump.elf"), vmcore = try FormatFixtures.open("vmcore")
        var a = [UInt8](repeating: 0, count: 4096), b = a
        var checked = 0
        for pfn in elf.presentPages() {
            #expect(elf.pageState(pfn: pfn) == .present)
            try a.withUnsafeMutableBytes { try elf.readPage(pfn: pfn, into: $0) }
            try b.withUnsafeMutableBytes { try vmcore.readPage(pfn: pfn, into: $0) }
            if a != b { Issue.record("pfn \(pfn) differs from vmcore"); break }
            checked += 1
        }
        #expect(UInt64(checked) == elf.summary().pagesPresent)
    }

    /// The page counts of dump.elf against its program headers as eu-readelf -l prints them,
    /// counted here page by page in a set (a different method from the reader's ranges).
    @Test func elfPageCounts() throws {
        let s = try FormatFixtures.open("dump.elf").summary()
        // Counted from the program headers: 16740 pages with file bytes, 65048 distinct pages only
        // in tails (23 segments have tails, 67045 pages counting the kernel text twice).
        #expect(s.pagesPresent == 16740)
        #expect(s.pagesExcluded == 65048)
        // The full vmcore has no tails: every RAM page of dump.kdump's 1st bitmap (present 17567 +
        // excluded 64220), and pfn 0x9f, of which RAM holds 0x9f000-0x9fbff only (no bit in the bitmap).
        let v = try FormatFixtures.open("vmcore").summary()
        #expect(v.pagesExcluded == 0)
        #expect(v.pagesPresent == 17567 + 64220 + 1)
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/eu-readelf"), "eu-readelf (elfutils) is needed")
        let out = try FormatFixtures.run("eu-readelf", ["-l", FormatFixtures.path("dump.elf")])
        var data = Set<UInt64>(), tail = Set<UInt64>()
        for line in out.stdout.split(separator: "\n") {
            let w = line.split(separator: " ")
            guard w.first == "LOAD", w.count >= 6, let paddr = UInt64(w[3].dropFirst(2), radix: 16),
                  let filesz = UInt64(w[4].dropFirst(2), radix: 16), let memsz = UInt64(w[5].dropFirst(2), radix: 16) else { continue }
            var a = paddr
            while a < paddr + filesz { data.insert(a >> 12); a = (a | 0xfff) + 1 }
            a = paddr + filesz
            while a < paddr + memsz { tail.insert(a >> 12); a = (a | 0xfff) + 1 }
        }
        // No page of dump.elf has both file bytes and tail bytes, so page sets suffice here.
        #expect(tail.isDisjoint(with: data))
        #expect(UInt64(tail.count) == s.pagesExcluded)
        #expect(UInt64(data.count) == s.pagesPresent)
    }

    static let kdumpFieldNames = [
        "signature", "header_version", "sysname", "nodename", "release", "version", "machine", "domainname",
        "tv_sec", "tv_usec", "status", "block_size", "sub_hdr_size", "bitmap_blocks", "max_mapnr", "total_ram_blocks",
        "device_blocks", "written_blocks", "current_cpu", "nr_cpus", "phys_base", "dump_level", "split", "start_pfn",
        "end_pfn", "offset_vmcoreinfo", "size_vmcoreinfo", "offset_note", "size_note", "num_prstatus_notes",
        "num_qemu_notes", "offset_eraseinfo", "size_eraseinfo", "start_pfn_64", "end_pfn_64", "max_mapnr_64",
        "data_offset", "block_shift", "bitmap_len", "total_valid_pages", "type", "num_array", "machine_type",
        "num_vmcoredd_notes", "tasks[nr_cpus]",
    ]
    static let elfFieldNames = [
        "header_size", "num_pt_load_segments", "file_offset", "phys_start", "phys_end", "zero_fill",
        "num_prstatus_notes", "num_qemu_notes", "size_vmcoreinfo", "e_ident", "e_ident[EI_CLASS]", "e_ident[EI_DATA]",
        "e_ident[EI_VERSION]", "e_ident[EI_OSABI]", "e_ident[EI_ABIVERSION]", "e_type", "e_machine", "e_version",
        "e_entry", "e_phoff", "e_shoff", "e_flags", "e_ehsize", "e_phentsize", "e_phnum", "e_shentsize", "e_shnum",
        "e_shstrndx", "p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags", "p_align",
        "n_namesz", "n_descsz", "n_type",
    ]

    @Test(arguments: FormatFixtures.all)
    func headerFieldsMatchCrash(_ name: String) throws {
        let d = try FormatFixtures.open(name)
        let s = d.summary()
        let ref = FormatFixtures.refFields(try FormatFixtures.ref(name, "help_-D"))
        let names = d.format == .elfCore ? Self.elfFieldNames : Self.kdumpFieldNames
        var compared = 0
        for field in names {
            let theirs = ref.filter { $0.name == field }.map(\.value)
            let ours = FormatFixtures.ourValues(s.sections, field)
            #expect(ours.count == theirs.count, "\(name): \(field)")
            for (value, text) in zip(ours, theirs) {
                #expect(FormatFixtures.states(text, value), "\(name): \(field): \(value) vs crash's \(text)")
            }
            compared += theirs.count
        }
        #expect(compared > 30)
    }

    @Test func summaryFacts() throws {
        let k = try FormatFixtures.open("dump.kdump").summary()
        #expect(k.compression == "zlib")
        #expect(k.dumpLevel == 31)
        #expect(k.maxMapnr == 131037)
        #expect(k.pagesPresent == 17567)
        #expect(k.nrCPUs == 2)
        #expect(k.utsname?["release"] == "6.1.0-56-cloud-amd64")
        #expect(k.crashTime == 0x6b09a8a0)
        #expect(try FormatFixtures.open("dump-lzo.kdump").summary().compression == "lzo")
        #expect(try FormatFixtures.open("dump-zstd.kdump").summary().compression == "zstd")
        let q = try FormatFixtures.open("qemu.kdump").summary()
        #expect(q.format == .flattened)
        #expect(q.pagesPresent == 135200)
        #expect(q.dumpLevel == 1)
        // No timestamp in QEMU's header: the crash time comes from VMCOREINFO.
        let e = try FormatFixtures.open("vmcore").summary()
        #expect(e.crashTime == 1795795104)
        #expect(e.nrCPUs == 2)
    }
}

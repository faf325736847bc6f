extension ElfCoreFile {
    /// crash's `help -D` blocks for an ELF core: vmcore_data (the facts from the file), the ELF
    /// header, each program header and each note.
    func elfSections() -> [HeaderSection] {
        var out: [HeaderSection] = []
        if let flat = reader as? FlattenedFile { out.append(flat.headerSection()) }
        let loads = programHeaders.filter { $0.type == ElfProgramHeader.load }
        // crash's header_size: where the first PT_LOAD's data starts (everything before is headers and notes).
        var headerSize = header.phoff &+ UInt64(programHeaders.count) &* ElfConst.phdrSize
        if let first = loads.first { headerSize = first.offset }
        var vd: [HeaderField] = [
            HeaderField("header_size", .decimal(Int64(clamping: headerSize))),
            HeaderField("num_pt_load_segments", .decimal(Int64(clamping: loads.count))),
        ]
        for (i, ph) in loads.enumerated() {
            vd.append(HeaderField("pt_load_segment[\(i)]", .heading))
            vd.append(HeaderField("file_offset", .hex(ph.offset, digits: 0)))
            vd.append(HeaderField("phys_start", .hex(ph.paddr, digits: 0)))
            vd.append(HeaderField("phys_end", .hex(ph.paddr &+ ph.filesz, digits: 0)))
            // crash's name for the end of [p_filesz, p_memsz), which it reads as zeros; crashsh
            // reads those pages as excluded (see ElfCoreFile).
            vd.append(HeaderField("zero_fill", .hex(ph.memsz > ph.filesz ? ph.paddr &+ ph.memsz : 0, digits: 0)))
        }
        vd.append(HeaderField("num_prstatus_notes", .decimal(Int64(clamping: prstatus.count))))
        vd.append(HeaderField("num_qemu_notes", .decimal(Int64(clamping: qemuCPUStates.count))))
        if let v = vmcoreinfoText { vd.append(HeaderField("size_vmcoreinfo", .decimal(Int64(clamping: v.utf8.count)))) }
        out.append(HeaderSection(title: "vmcore_data:", fields: vd, nameWidth: 23))

        let h = header
        func named(_ v: UInt64, _ names: [UInt64: String]) -> HeaderValue { .named(v, names: [names[v] ?? "?"]) }
        out.append(HeaderSection(title: "Elf64_Ehdr:", fields: [
            HeaderField("e_ident", .text("\\177ELF")),
            HeaderField("e_ident[EI_CLASS]", .named(2, names: ["ELFCLASS64"])),
            HeaderField("e_ident[EI_DATA]", .named(1, names: ["ELFDATA2LSB"])),
            HeaderField("e_ident[EI_VERSION]", named(UInt64(h.identVersion), [1: "EV_CURRENT"])),
            HeaderField("e_ident[EI_OSABI]", named(UInt64(h.osabi), [0: "ELFOSABI_SYSV", 3: "ELFOSABI_LINUX"])),
            HeaderField("e_ident[EI_ABIVERSION]", .decimal(Int64(clamping: h.abiVersion))),
            HeaderField("e_type", named(UInt64(h.type), [4: "ET_CORE"])),
            HeaderField("e_machine", .named(UInt64(h.machine), names: [ElfConst.machines[h.machine]?.constant ?? "?"])),
            HeaderField("e_version", named(UInt64(h.version), [1: "EV_CURRENT"])),
            HeaderField("e_entry", .hex(h.entry, digits: 0)),
            HeaderField("e_phoff", .hex(h.phoff, digits: 0)),
            HeaderField("e_shoff", .hex(h.shoff, digits: 0)),
            HeaderField("e_flags", .hex(UInt64(h.flags), digits: 0)),
            HeaderField("e_ehsize", .hex(UInt64(h.ehsize), digits: 0)),
            HeaderField("e_phentsize", .hex(UInt64(h.phentsize), digits: 0)),
            HeaderField("e_phnum", .hex(UInt64(programHeaders.count), digits: 0)),
            HeaderField("e_shentsize", .hex(UInt64(h.shentsize), digits: 0)),
            HeaderField("e_shnum", .hex(UInt64(h.shnum), digits: 0)),
            HeaderField("e_shstrndx", .hex(UInt64(h.shstrndx), digits: 0)),
        ], nameWidth: 23))

        for ph in programHeaders {
            let typeName = [1: "PT_LOAD", 4: "PT_NOTE", 0: "PT_NULL", 2: "PT_DYNAMIC", 3: "PT_INTERP", 6: "PT_PHDR"][ph.type] ?? "?"
            var flagNames: [String] = []
            if ph.flags & 1 != 0 { flagNames.append("PF_X") }
            if ph.flags & 2 != 0 { flagNames.append("PF_W") }
            if ph.flags & 4 != 0 { flagNames.append("PF_R") }
            out.append(HeaderSection(title: "Elf64_Phdr:", fields: [
                HeaderField("p_type", .named(UInt64(ph.type), names: [typeName])),
                HeaderField("p_offset", .decimalAndHex(ph.offset, prefixed: false)),
                HeaderField("p_vaddr", .hex(ph.vaddr, digits: 0)),
                HeaderField("p_paddr", .hex(ph.paddr, digits: 0)),
                HeaderField("p_filesz", .decimalAndHex(ph.filesz, prefixed: false)),
                HeaderField("p_memsz", .decimalAndHex(ph.memsz, prefixed: false)),
                HeaderField("p_flags", .named(UInt64(ph.flags), names: flagNames)),
                HeaderField("p_align", .decimal(Int64(clamping: ph.align))),
            ], nameWidth: 23))
        }

        var prIndex = 0
        for note in notes {
            let namesz = note.name.utf8.count + 1
            var summary = NoteSummary(lead: .type(note.type), kind: nil, words: NoteSummary.words(of: note.desc))
            if note.name == "CORE" && note.type == ElfNotes.ntPRStatus,
               let p = ElfNotes.parsePRStatus(note.desc, index: prIndex) {
                prIndex += 1
                summary.kind = "NT_PRSTATUS"
                summary.prstatus = p
            } else if note.name == "VMCOREINFO" {
                summary.kind = "unused"
                summary.text = String(decoding: note.desc, as: UTF8.self)
                summary.words = nil
            } else if note.name == "QEMU", let q = QEMUCPUState(desc: note.desc) {
                summary.kind = "QEMUCPUState"
                summary.qemu = q
            }
            out.append(HeaderSection(title: "Elf64_Nhdr:", fields: [
                HeaderField("n_namesz", .nameSize(UInt64(namesz), name: note.name)),
                HeaderField("n_descsz", .decimal(Int64(clamping: note.desc.count))),
                HeaderField("n_type", .note(summary)),
            ], nameWidth: 23))
        }
        return out
    }
}

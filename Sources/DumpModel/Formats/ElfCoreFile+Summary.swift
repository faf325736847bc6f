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
            HeaderField("header_size", String(headerSize)),
            HeaderField("num_pt_load_segments", String(loads.count)),
        ]
        for (i, ph) in loads.enumerated() {
            vd.append(HeaderField("pt_load_segment[\(i)]", ""))
            vd.append(HeaderField("file_offset", HeaderText.x(ph.offset)))
            vd.append(HeaderField("phys_start", HeaderText.x(ph.paddr)))
            vd.append(HeaderField("phys_end", HeaderText.x(ph.paddr &+ ph.filesz)))
            // crash's name for the end of [p_filesz, p_memsz), which it reads as zeros; crashsh
            // reads those pages as excluded (see ElfCoreFile).
            vd.append(HeaderField("zero_fill", HeaderText.x(ph.memsz > ph.filesz ? ph.paddr &+ ph.memsz : 0)))
        }
        vd.append(HeaderField("num_prstatus_notes", String(prstatus.count)))
        vd.append(HeaderField("num_qemu_notes", String(qemuCPUStates.count)))
        if let v = vmcoreinfoText { vd.append(HeaderField("size_vmcoreinfo", String(v.utf8.count))) }
        out.append(HeaderSection(title: "vmcore_data:", fields: vd, nameWidth: 23))

        let h = header
        func named(_ v: UInt64, _ names: [UInt64: String]) -> String { "\(v) (\(names[v] ?? "?"))" }
        out.append(HeaderSection(title: "Elf64_Ehdr:", fields: [
            HeaderField("e_ident", "\\177ELF"),
            HeaderField("e_ident[EI_CLASS]", "2 (ELFCLASS64)"),
            HeaderField("e_ident[EI_DATA]", "1 (ELFDATA2LSB)"),
            HeaderField("e_ident[EI_VERSION]", named(UInt64(h.identVersion), [1: "EV_CURRENT"])),
            HeaderField("e_ident[EI_OSABI]", named(UInt64(h.osabi), [0: "ELFOSABI_SYSV", 3: "ELFOSABI_LINUX"])),
            HeaderField("e_ident[EI_ABIVERSION]", String(h.abiVersion)),
            HeaderField("e_type", named(UInt64(h.type), [4: "ET_CORE"])),
            HeaderField("e_machine", "\(h.machine) (\(ElfConst.machines[h.machine]?.constant ?? "?"))"),
            HeaderField("e_version", named(UInt64(h.version), [1: "EV_CURRENT"])),
            HeaderField("e_entry", HeaderText.x(h.entry)),
            HeaderField("e_phoff", HeaderText.x(h.phoff)),
            HeaderField("e_shoff", HeaderText.x(h.shoff)),
            HeaderField("e_flags", HeaderText.x(UInt64(h.flags))),
            HeaderField("e_ehsize", HeaderText.x(UInt64(h.ehsize))),
            HeaderField("e_phentsize", HeaderText.x(UInt64(h.phentsize))),
            HeaderField("e_phnum", HeaderText.x(UInt64(programHeaders.count))),
            HeaderField("e_shentsize", HeaderText.x(UInt64(h.shentsize))),
            HeaderField("e_shnum", HeaderText.x(UInt64(h.shnum))),
            HeaderField("e_shstrndx", HeaderText.x(UInt64(h.shstrndx))),
        ], nameWidth: 23))

        for ph in programHeaders {
            let typeName = [1: "PT_LOAD", 4: "PT_NOTE", 0: "PT_NULL", 2: "PT_DYNAMIC", 3: "PT_INTERP", 6: "PT_PHDR"][ph.type] ?? "?"
            var flagNames: [String] = []
            if ph.flags & 1 != 0 { flagNames.append("PF_X") }
            if ph.flags & 2 != 0 { flagNames.append("PF_W") }
            if ph.flags & 4 != 0 { flagNames.append("PF_R") }
            out.append(HeaderSection(title: "Elf64_Phdr:", fields: [
                HeaderField("p_type", "\(ph.type) (\(typeName))"),
                HeaderField("p_offset", HeaderText.decHex(ph.offset)),
                HeaderField("p_vaddr", HeaderText.x(ph.vaddr)),
                HeaderField("p_paddr", HeaderText.x(ph.paddr)),
                HeaderField("p_filesz", HeaderText.decHex(ph.filesz)),
                HeaderField("p_memsz", HeaderText.decHex(ph.memsz)),
                HeaderField("p_flags", "\(ph.flags) (\(flagNames.joined(separator: "|")))"),
                HeaderField("p_align", String(ph.align)),
            ], nameWidth: 23))
        }

        var prIndex = 0, qemuIndex = 0
        for note in notes {
            let namesz = note.name.utf8.count + 1
            var typeText: String
            if note.name == "CORE" && note.type == ElfNotes.ntPRStatus,
               let p = ElfNotes.parsePRStatus(note.desc, index: prIndex) {
                prIndex += 1
                typeText = HeaderText.block("1 (NT_PRSTATUS)", HeaderText.prstatusLines(p) + HeaderText.wordLines(note.desc))
            } else if note.name == "VMCOREINFO" {
                typeText = HeaderText.block("\(note.type) (unused)", HeaderText.textLines(String(decoding: note.desc, as: UTF8.self)))
            } else if note.name == "QEMU", let q = QEMUCPUState(desc: note.desc) {
                qemuIndex += 1
                typeText = HeaderText.block("\(note.type) (QEMUCPUState)", HeaderText.qemuLines(q) + HeaderText.wordLines(note.desc))
            } else {
                typeText = HeaderText.block(String(note.type), HeaderText.wordLines(note.desc))
            }
            out.append(HeaderSection(title: "Elf64_Nhdr:", fields: [
                HeaderField("n_namesz", "\(namesz) (\"\(note.name)\")"),
                HeaderField("n_descsz", String(note.desc.count)),
                HeaderField("n_type", typeText),
            ], nameWidth: 23))
        }
        return out
    }
}

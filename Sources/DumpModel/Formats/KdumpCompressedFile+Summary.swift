extension KdumpCompressedFile {
    /// Names of the header status bits, in crash's order (it prints them without separators).
    static func statusNames(_ st: UInt32) -> String {
        var s = ""
        if st & compressedZlib != 0 { s += "DUMP_DH_COMPRESSED_ZLIB" }
        if st & compressedLZO != 0 { s += "DUMP_DH_COMPRESSED_LZO" }
        if st & compressedSnappy != 0 { s += "DUMP_DH_COMPRESSED_SNAPPY" }
        if st & compressedZstd != 0 { s += "DUMP_DH_COMPRESSED_ZSTD" }
        if st & incomplete != 0 { s += "DUMP_DH_COMPRESSED_INCOMPLETE" }
        if st & excludedVmemmap != 0 { s += "DUMP_DH_EXCLUDED_VMEMMAP" }
        return s
    }

    /// makedumpfile's dump level bits by name.
    static func dumpLevelText(_ level: Int32) -> String {
        var text = "\(level) (0x\(String(level, radix: 16)))"
        guard level != 0 else { return text + " " }
        let names = ["DUMP_EXCLUDE_ZERO", "DUMP_EXCLUDE_CACHE", "DUMP_EXCLUDE_CACHE_PRI",
                     "DUMP_EXCLUDE_USER_DATA", "DUMP_EXCLUDE_FREE"]
        let set = names.enumerated().filter { level & (1 << Int32($0.offset)) != 0 }.map(\.element)
        text += " (" + set.joined(separator: "|") + ")"
        return text
    }

    /// crash's `help -D` blocks for a kdump-compressed file: the facts from the file only (crash's
    /// own pointers and page-cache statistics are left out; a note's "address" is its file offset).
    func kdumpSections(pagesPresent: UInt64) -> [HeaderSection] {
        var out: [HeaderSection] = []
        if let flat = reader as? FlattenedFile { out.append(flat.headerSection()) }
        let h = header, s = subHeader
        var dd = [HeaderField("filename", path)]
        if h.utsname.count > 4, h.utsname[4] == "x86_64" { dd.append(HeaderField("machine_type", "62 (EM_X86_64)")) }
        out.append(HeaderSection(title: "diskdump_data:", fields: dd, nameWidth: 18))

        var hf = [
            HeaderField("signature", "\"\(h.signature)\""),
            HeaderField("header_version", String(h.headerVersion)),
            HeaderField("utsname", ""),
        ]
        for (k, name) in KdumpHeader.utsnameFields.enumerated() where k < h.utsname.count {
            hf.append(HeaderField(name, h.utsname[k], depth: 1))
        }
        hf += [
            HeaderField("timestamp", ""),
            HeaderField("tv_sec", HeaderText.x(UInt64(bitPattern: h.timestampSec)), depth: 1),
            HeaderField("tv_usec", HeaderText.x(UInt64(bitPattern: h.timestampUsec)), depth: 1),
            HeaderField("status", "\(HeaderText.x(UInt64(h.status))) (\(KdumpCompressedFile.statusNames(h.status)))"),
            HeaderField("block_size", String(h.blockSize)),
            HeaderField("sub_hdr_size", String(h.subHeaderBlocks)),
            HeaderField("bitmap_blocks", String(h.bitmapBlocks)),
            HeaderField("max_mapnr", String(h.maxMapnr32)),
            HeaderField("total_ram_blocks", String(h.totalRAMBlocks)),
            HeaderField("device_blocks", String(h.deviceBlocks)),
            HeaderField("written_blocks", String(h.writtenBlocks)),
            HeaderField("current_cpu", String(h.currentCPU)),
            HeaderField("nr_cpus", String(h.nrCPUs)),
        ]
        if !h.tasks.isEmpty {
            hf.append(HeaderField("tasks[nr_cpus]", h.tasks.map { HeaderText.x($0) }.joined(separator: "\n")))
        }
        out.append(HeaderSection(title: "", fields: hf, nameWidth: 20))

        let v = h.headerVersion
        var sf = [
            HeaderField("phys_base", HeaderText.x(s.physBase)),
            HeaderField("dump_level", v >= 1 ? KdumpCompressedFile.dumpLevelText(s.dumpLevel) : "(unknown)"),
        ]
        let split = s.split != 0
        if v >= 2 {
            sf.append(HeaderField("split", String(s.split)))
            sf.append(HeaderField("start_pfn", split ? HeaderText.decHex0x(s.startPFN) : "(unused)"))
            sf.append(HeaderField("end_pfn", split ? HeaderText.decHex0x(s.endPFN) : "(unused)"))
        }
        if v >= 3 {
            sf.append(HeaderField("offset_vmcoreinfo", HeaderText.decHex0x(s.offsetVmcoreinfo)))
            var size = HeaderText.decHex0x(s.sizeVmcoreinfo)
            if let text = vmcoreinfoText, s.offsetVmcoreinfo != 0, s.sizeVmcoreinfo != 0 {
                var lines = HeaderText.textLines(text)
                if lines.last == "" { lines.removeLast() }
                size = HeaderText.block(size, lines)
            }
            sf.append(HeaderField("size_vmcoreinfo", size))
        }
        if v >= 4 {
            sf.append(HeaderField("offset_note", HeaderText.decHex0x(s.offsetNote)))
            sf.append(HeaderField("size_note", HeaderText.decHex0x(s.sizeNote)))
            sf.append(HeaderField("num_vmcoredd_notes", String(notes.filter { $0.name == "LINUX" && $0.type == 0x700 }.count)))
            sf.append(HeaderField("num_prstatus_notes", String(prstatus.count)))
            let prNotes = notes.filter { $0.name == "CORE" && $0.type == ElfNotes.ntPRStatus }
            for (i, p) in prstatus.enumerated() where i < prNotes.count {
                sf.append(HeaderField("notes[\(i)]", HeaderText.block("\(HeaderText.x(prNotes[i].fileOffset)) (NT_PRSTATUS)",
                                                                       HeaderText.prstatusLines(p))))
            }
            sf.append(HeaderField("num_qemu_notes", String(qemuCPUStates.count)))
            let qNotes = notes.filter { $0.name == "QEMU" }
            for (i, q) in qemuCPUStates.enumerated() where i < qNotes.count {
                sf.append(HeaderField("notes[\(i)]", HeaderText.block("\(HeaderText.x(qNotes[i].fileOffset)) (QEMUCPUState)",
                                                                       HeaderText.qemuLines(q))))
            }
            let offsets = notes.compactMap { n -> String? in
                if n.name == "CORE" && n.type == ElfNotes.ntPRStatus { return "\(HeaderText.x(n.fileOffset)) (NT_PRSTATUS)" }
                if n.name == "QEMU" { return "\(HeaderText.x(n.fileOffset)) (QEMU)" }
                return nil
            }
            if !offsets.isEmpty { sf.append(HeaderField("NOTE offsets", offsets.joined(separator: "\n"))) }
        }
        if v >= 5 {
            sf.append(HeaderField("offset_eraseinfo", HeaderText.decHex0x(s.offsetEraseinfo)))
            sf.append(HeaderField("size_eraseinfo", HeaderText.decHex0x(s.sizeEraseinfo)))
        }
        if v >= 6 {
            sf.append(HeaderField("start_pfn_64", split ? HeaderText.decHex0x(s.startPFN64) : "(unused)"))
            sf.append(HeaderField("end_pfn_64", split ? HeaderText.decHex0x(s.endPFN64) : "(unused)"))
            sf.append(HeaderField("max_mapnr_64", HeaderText.decHex0x(s.maxMapnr64)))
        }
        out.append(HeaderSection(title: "\n  sub_header_kdump:", fields: sf, nameWidth: 20))

        out.append(HeaderSection(title: "", fields: [
            HeaderField("data_offset", HeaderText.x(dataOffset)),
            HeaderField("block_size", String(pageSize)),
            HeaderField("block_shift", String(pageSize.trailingZeroBitCount)),
            HeaderField("bitmap_len", String(bitmapLength)),
            HeaderField("max_mapnr", HeaderText.decHex0x(maxMapnr)),
            HeaderField("total_valid_pages", String(pagesPresent)),
        ], nameWidth: 18))
        return out
    }
}

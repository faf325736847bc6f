extension KdumpCompressedFile {
    /// Names of the header status bits that are set, in crash's order.
    static func statusNames(_ st: UInt32) -> [String] {
        [(compressedZlib, "DUMP_DH_COMPRESSED_ZLIB"), (compressedLZO, "DUMP_DH_COMPRESSED_LZO"),
         (compressedSnappy, "DUMP_DH_COMPRESSED_SNAPPY"), (compressedZstd, "DUMP_DH_COMPRESSED_ZSTD"),
         (incomplete, "DUMP_DH_COMPRESSED_INCOMPLETE"), (excludedVmemmap, "DUMP_DH_EXCLUDED_VMEMMAP")]
            .filter { st & $0.0 != 0 }.map(\.1)
    }

    /// makedumpfile's dump level bits that are set, by name.
    static func dumpLevelNames(_ level: Int32) -> [String] {
        let names = ["DUMP_EXCLUDE_ZERO", "DUMP_EXCLUDE_CACHE", "DUMP_EXCLUDE_CACHE_PRI",
                     "DUMP_EXCLUDE_USER_DATA", "DUMP_EXCLUDE_FREE"]
        return names.enumerated().filter { level & (1 << Int32($0.offset)) != 0 }.map(\.element)
    }

    /// crash's `help -D` blocks for a kdump-compressed file: the facts from the file only (crash's
    /// own pointers and page-cache statistics are left out; a note's "address" is its file offset).
    func kdumpSections(pagesPresent: UInt64) -> [HeaderSection] {
        var out: [HeaderSection] = []
        if let flat = reader as? FlattenedFile { out.append(flat.headerSection()) }
        let h = header, s = subHeader
        var dd = [HeaderField("filename", .text(path))]
        if h.utsname.count > 4, h.utsname[4] == "x86_64" { dd.append(HeaderField("machine_type", .named(62, names: ["EM_X86_64"]))) }
        out.append(HeaderSection(title: "diskdump_data:", fields: dd, nameWidth: 18))

        var hf = [
            HeaderField("signature", .quoted(h.signature)),
            HeaderField("header_version", .decimal(Int64(clamping: h.headerVersion))),
            HeaderField("utsname", .heading),
        ]
        for (k, name) in KdumpHeader.utsnameFields.enumerated() where k < h.utsname.count {
            hf.append(HeaderField(name, .text(h.utsname[k]), depth: 1))
        }
        hf += [
            HeaderField("timestamp", .heading),
            HeaderField("tv_sec", .hex(UInt64(bitPattern: h.timestampSec), digits: 0), depth: 1),
            HeaderField("tv_usec", .hex(UInt64(bitPattern: h.timestampUsec), digits: 0), depth: 1),
            HeaderField("status", .statusBits(UInt64(h.status), names: KdumpCompressedFile.statusNames(h.status))),
            HeaderField("block_size", .decimal(Int64(clamping: h.blockSize))),
            HeaderField("sub_hdr_size", .decimal(Int64(clamping: h.subHeaderBlocks))),
            HeaderField("bitmap_blocks", .decimal(Int64(clamping: h.bitmapBlocks))),
            HeaderField("max_mapnr", .decimal(Int64(clamping: h.maxMapnr32))),
            HeaderField("total_ram_blocks", .decimal(Int64(clamping: h.totalRAMBlocks))),
            HeaderField("device_blocks", .decimal(Int64(clamping: h.deviceBlocks))),
            HeaderField("written_blocks", .decimal(Int64(clamping: h.writtenBlocks))),
            HeaderField("current_cpu", .decimal(Int64(clamping: h.currentCPU))),
            HeaderField("nr_cpus", .decimal(Int64(clamping: h.nrCPUs))),
        ]
        if !h.tasks.isEmpty {
            hf.append(HeaderField("tasks[nr_cpus]", .hexList(h.tasks)))
        }
        out.append(HeaderSection(title: "", fields: hf, nameWidth: 20))

        let v = h.headerVersion
        var sf = [
            HeaderField("phys_base", .hex(s.physBase, digits: 0)),
            HeaderField("dump_level", v >= 1 ? .dumpLevel(Int64(s.dumpLevel), names: KdumpCompressedFile.dumpLevelNames(s.dumpLevel)) : .unknown),
        ]
        let split = s.split != 0
        if v >= 2 {
            sf.append(HeaderField("split", .decimal(Int64(clamping: s.split))))
            sf.append(HeaderField("start_pfn", split ? .decimalAndHex(s.startPFN, prefixed: true) : .unused))
            sf.append(HeaderField("end_pfn", split ? .decimalAndHex(s.endPFN, prefixed: true) : .unused))
        }
        if v >= 3 {
            sf.append(HeaderField("offset_vmcoreinfo", .decimalAndHex(s.offsetVmcoreinfo, prefixed: true)))
            let text = s.offsetVmcoreinfo != 0 && s.sizeVmcoreinfo != 0 ? vmcoreinfoText : nil
            sf.append(HeaderField("size_vmcoreinfo", .vmcoreinfoSize(s.sizeVmcoreinfo, text: text)))
        }
        if v >= 4 {
            sf.append(HeaderField("offset_note", .decimalAndHex(s.offsetNote, prefixed: true)))
            sf.append(HeaderField("size_note", .decimalAndHex(s.sizeNote, prefixed: true)))
            sf.append(HeaderField("num_vmcoredd_notes", .decimal(Int64(clamping: notes.filter { $0.name == "LINUX" && $0.type == 0x700 }.count))))
            sf.append(HeaderField("num_prstatus_notes", .decimal(Int64(clamping: prstatus.count))))
            let prNotes = notes.filter { $0.name == "CORE" && $0.type == ElfNotes.ntPRStatus }
            for (i, p) in prstatus.enumerated() where i < prNotes.count {
                sf.append(HeaderField("notes[\(i)]", .note(NoteSummary(lead: .offset(prNotes[i].fileOffset), kind: "NT_PRSTATUS", prstatus: p))))
            }
            sf.append(HeaderField("num_qemu_notes", .decimal(Int64(clamping: qemuCPUStates.count))))
            let qNotes = notes.filter { $0.name == "QEMU" }
            for (i, q) in qemuCPUStates.enumerated() where i < qNotes.count {
                sf.append(HeaderField("notes[\(i)]", .note(NoteSummary(lead: .offset(qNotes[i].fileOffset), kind: "QEMUCPUState", qemu: q))))
            }
            let offsets = notes.compactMap { n -> NoteOffset? in
                if n.name == "CORE" && n.type == ElfNotes.ntPRStatus { return NoteOffset(offset: n.fileOffset, kind: "NT_PRSTATUS") }
                if n.name == "QEMU" { return NoteOffset(offset: n.fileOffset, kind: "QEMU") }
                return nil
            }
            if !offsets.isEmpty { sf.append(HeaderField("NOTE offsets", .noteOffsets(offsets))) }
        }
        if v >= 5 {
            sf.append(HeaderField("offset_eraseinfo", .decimalAndHex(s.offsetEraseinfo, prefixed: true)))
            sf.append(HeaderField("size_eraseinfo", .decimalAndHex(s.sizeEraseinfo, prefixed: true)))
        }
        if v >= 6 {
            sf.append(HeaderField("start_pfn_64", split ? .decimalAndHex(s.startPFN64, prefixed: true) : .unused))
            sf.append(HeaderField("end_pfn_64", split ? .decimalAndHex(s.endPFN64, prefixed: true) : .unused))
            sf.append(HeaderField("max_mapnr_64", .decimalAndHex(s.maxMapnr64, prefixed: true)))
        }
        out.append(HeaderSection(title: "\n  sub_header_kdump:", fields: sf, nameWidth: 20))

        out.append(HeaderSection(title: "", fields: [
            HeaderField("data_offset", .hex(dataOffset, digits: 0)),
            HeaderField("block_size", .decimal(Int64(clamping: pageSize))),
            HeaderField("block_shift", .decimal(Int64(clamping: pageSize.trailingZeroBitCount))),
            HeaderField("bitmap_len", .decimal(Int64(clamping: bitmapLength))),
            HeaderField("max_mapnr", .decimalAndHex(maxMapnr, prefixed: true)),
            HeaderField("total_valid_pages", .decimal(Int64(clamping: pagesPresent))),
        ], nameWidth: 18))
        return out
    }
}

extension SadumpFile {
    public func summary() -> DumpSummary {
        var s = DumpSummary(path: path, format: format, pageSize: pageSize)
        s.compression = "none"
        s.maxMapnr = maxMapnr
        let counts = pageCounts
        s.pagesPresent = counts.present
        s.pagesExcluded = counts.excluded
        s.crashTime = header.timestamp.secondsSinceEpoch
        s.nrCPUs = Int(header.nrCPUs)
        s.panicCPU = nil
        s.prstatus = prstatus
        s.sections = sadumpSections()
        return s
    }

    /// crash's `help -D` blocks for sadump (sadump_memory_dump): the file's facts, the partition
    /// header, the dump header, the sub-header's CPU states (the used ones), the disk-set or media
    /// header, and each disk; crash's own pointers and descriptors are left out.
    func sadumpSections() -> [HeaderSection] {
        var flags = ["SADUMP_LOCAL"]
        if layout == .diskSet { flags.append("SADUMP_DISKSET") }
        if layout == .mediaBackup { flags.append("SADUMP_MEDIA") }
        var out = [HeaderSection(title: "sadump_data:", fields: [
            HeaderField("filename", .text(disks[0].path)),
            HeaderField("layout", .text(layout.rawValue)),
            HeaderField("flags", .named(UInt64(flags.count), names: flags)),
            HeaderField("machine_type", .named(62, names: ["EM_X86_64"])),
        ], nameWidth: 18)]

        out.append(HeaderSection(title: "\n            header:", fields: partitionFields(partitionHeader), nameWidth: 20))

        let h = header
        var hf: [HeaderField] = [
            HeaderField("signature", .text("sadump")),
            HeaderField("header_version", .decimal(Int64(h.headerVersion))),
            HeaderField("timestamp", .time(h.timestamp.secondsSinceEpoch)),
            HeaderField("status", .decimal(Int64(h.status))),
            HeaderField("compress", .decimal(Int64(h.compress))),
            HeaderField("block_size", .decimal(Int64(h.blockSize))),
            HeaderField("extra_hdr_size", .decimal(Int64(h.extraHeaderBlocks))),
            HeaderField("sub_hdr_size", .decimal(Int64(h.subHeaderBlocks))),
            HeaderField("bitmap_blocks", .decimal(Int64(h.bitmapBlocks))),
            HeaderField("dumpable_bitmap_blocks", .decimal(Int64(h.dumpableBitmapBlocks))),
            HeaderField("max_mapnr", .decimal(Int64(h.maxMapnr32))),
            HeaderField("total_ram_blocks", .decimal(Int64(h.totalRAMBlocks32))),
            HeaderField("device_blocks", .decimal(Int64(h.deviceBlocks32))),
            HeaderField("written_blocks", .decimal(Int64(h.writtenBlocks32))),
            HeaderField("current_cpu", .decimal(Int64(h.currentCPU))),
            HeaderField("nr_cpus", .decimal(Int64(h.nrCPUs))),
        ]
        if h.headerVersion >= 1 {
            hf += [
                HeaderField("max_mapnr_64", .decimal(Int64(clamping: h.maxMapnr64))),
                HeaderField("total_ram_blocks_64", .decimal(Int64(clamping: h.totalRAMBlocks64))),
                HeaderField("device_blocks_64", .decimal(Int64(clamping: h.deviceBlocks64))),
                HeaderField("written_blocks_64", .decimal(Int64(clamping: h.writtenBlocks64))),
            ]
        }
        out.append(HeaderSection(title: "\n       dump header:", fields: hf, nameWidth: 20))

        var sub: [HeaderField] = []
        if h.subHeaderBlocks > 0 {
            sub.append(HeaderField("size", .decimal(Int64(clamping: cpuStatesSize))))
            for e in cpuEntries {
                sub.append(HeaderField("apic_id[\(e.index)]", .text("ApicId \(e.apicID): Ldr: \(e.logicalDestination)")))
            }
            for e in cpuEntries where e.inUse { sub.append(HeaderField("cpu_state[\(e.index)]", .cpuState(e))) }
        } else {
            sub.append(HeaderField("sub header", .unknown))
        }
        out.append(HeaderSection(title: "\n   dump sub header:", fields: sub, nameWidth: 20))

        if let d = diskSetHeader {
            var df = [
                HeaderField("disk_set_header_size", .decimal(Int64(d.headerBlocks))),
                HeaderField("disk_num", .decimal(Int64(d.diskCount))),
                HeaderField("disk_set_size", .decimal(Int64(clamping: d.diskSetSize))),
            ]
            for (i, v) in d.volumes.enumerated() {
                df += [
                    HeaderField("vol_info[\(i)]", .heading),
                    HeaderField("id", .uuid(SadumpPartitionHeader.uuidText(v.id)), depth: 1),
                    HeaderField("vol_size", .decimal(Int64(clamping: v.size)), depth: 1),
                    HeaderField("status", .decimal(Int64(v.status)), depth: 1),
                    HeaderField("cache_size", .decimal(Int64(v.cacheSize)), depth: 1),
                ]
            }
            out.append(HeaderSection(title: "\n   disk set header:", fields: df, nameWidth: 20))
        }
        if let m = mediaHeader {
            out.append(HeaderSection(title: "\n      media header:", fields: [
                HeaderField("sadump_id", .uuid(SadumpPartitionHeader.uuidText(m.sadumpID))),
                HeaderField("disk_set_id", .uuid(SadumpPartitionHeader.uuidText(m.diskSetID))),
                HeaderField("time_stamp", .time(m.timeStamp.secondsSinceEpoch)),
                HeaderField("sequential_num", .decimal(Int64(m.sequentialNumber))),
                HeaderField("term_cord", .decimal(Int64(m.terminationCord))),
                HeaderField("disk_set_header_size", .decimal(Int64(m.diskSetHeaderSize))),
                HeaderField("disks_in_use", .decimal(Int64(m.disksInUse))),
            ], nameWidth: 20))
        }

        out.append(HeaderSection(title: "", fields: [
            HeaderField("sub_hdr_offset", .hex(subHeaderOffset, digits: 0)),
            HeaderField("smram_cpu_state_size", .hex(cpuStateSize, digits: 0)),
            HeaderField("data_offset", .hex(dataOffset, digits: 0)),
            HeaderField("block_size", .decimal(Int64(pageSize))),
            HeaderField("block_shift", .decimal(Int64(pageSize.trailingZeroBitCount))),
            HeaderField("max_mapnr", .decimal(Int64(clamping: maxMapnr))),
            HeaderField("sd_list_len", .decimal(Int64(layout == .diskSet ? disks.count : 0))),
        ], nameWidth: 20))
        if layout == .diskSet {
            for (i, d) in disks.enumerated() {
                out.append(HeaderSection(title: "\n        sd_list[\(i)]:",
                                         fields: [HeaderField("filename", .text(d.path))] + partitionFields(d.partitionHeader)
                                            + [HeaderField("data_offset", .hex(d.dataOffset, digits: 0))],
                                         nameWidth: 20))
            }
        }
        return out
    }

    private func partitionFields(_ p: SadumpPartitionHeader) -> [HeaderField] {
        [
            HeaderField("enable", .decimal(Int64(p.enable))),
            HeaderField("reboot", .decimal(Int64(p.reboot))),
            HeaderField("compress", .decimal(Int64(p.compress))),
            HeaderField("recycle", .decimal(Int64(p.recycle))),
            HeaderField("sadump_id", .uuid(SadumpPartitionHeader.uuidText(p.sadumpID))),
            HeaderField("disk_set_id", .uuid(SadumpPartitionHeader.uuidText(p.diskSetID))),
            HeaderField("vol_id", .uuid(SadumpPartitionHeader.uuidText(p.volumeID))),
            HeaderField("time_stamp", .time(p.timeStamp.secondsSinceEpoch)),
            HeaderField("set_disk_set", .decimal(Int64(p.setDiskSet))),
            HeaderField("used_device", .decimal(Int64(clamping: p.usedDevice))),
            HeaderField("magicnum", .text("(valid)")),
        ]
    }
}

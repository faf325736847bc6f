#!/usr/bin/env python3
"""Writes a synthetic makedumpfile -F (flattened) dump for scripts/bench.sh's `flat` section.

    scripts/make-flat-bench-dump.py OUT [RAM_GIB [DATA_GIB]]

The dumped machine has RAM_GIB (default 64) of RAM; every 16th page is in the dump, stored raw,
so the page data is RAM_GIB/16 (4 GiB for 64) plus the page_desc table, written as makedumpfile
writes a flattened file: 64 KiB records (its cache: page_size << block_order 4) of page_desc table
and page data interleaved, each behind a big-endian {offset, size} header. The header carries a
VMCOREINFO note so `crashsh -c vmcoreinfo` has something to print. Not committed: generate it in
/tmp and delete it after.
"""
import os
import struct
import sys

PAGE = 4096
RECORD = PAGE << 4


def main():
    out = sys.argv[1]
    ram_gib = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    max_mapnr = (ram_gib << 30) // PAGE
    present = list(range(0, max_mapnr, 16))
    bitmap_bytes = max_mapnr // 8
    bitmap_blocks = 2 * ((bitmap_bytes + PAGE - 1) // PAGE)
    sub_hdr_blocks = 1
    data_offset = PAGE * (1 + sub_hdr_blocks + bitmap_blocks)
    pages_offset = data_offset + 24 * len(present)

    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def record(offset, data):
        os.write(fd, struct.pack(">qq", offset, len(data)))
        os.write(fd, data)

    os.write(fd, b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1) + bytes(PAGE - 32))

    # disk_dump_header (x86_64 layout) and kdump_sub_header (version 6).
    head = bytearray(PAGE)
    head[0:8] = b"KDUMP   "
    struct.pack_into("<i", head, 8, 6)
    for k, s in enumerate([b"Linux", b"bench", b"6.1.0-bench", b"#1 SMP", b"x86_64", b"(none)"]):
        head[12 + 65 * k:12 + 65 * k + len(s)] = s
    struct.pack_into("<qq", head, 408, 1700000000, 0)
    struct.pack_into("<IiiII", head, 424, 0, PAGE, sub_hdr_blocks, bitmap_blocks, min(max_mapnr, 0xffffffff))
    struct.pack_into("<i", head, 460, 1)
    sub = bytearray(PAGE)
    vmcoreinfo = b"OSRELEASE=6.1.0-bench\nPAGESIZE=4096\nCRASHTIME=1700000000\n"
    name = b"VMCOREINFO\0"
    note = struct.pack("<III", len(name), len(vmcoreinfo), 0) + name.ljust(12, b"\0") + vmcoreinfo.ljust((len(vmcoreinfo) + 3) & ~3, b"\0")
    note_offset = PAGE + 128
    sub[128:128 + len(note)] = note
    struct.pack_into("<Qi", sub, 0, 0x1000000, 31)
    struct.pack_into("<QQQQ", sub, 32, note_offset + 12 + 12, len(vmcoreinfo), note_offset, len(note))
    struct.pack_into("<QQQ", sub, 80, 0, 0, max_mapnr)
    record(0, bytes(head))
    record(PAGE, bytes(sub))

    # 1st bitmap: all RAM; 2nd: every 16th pfn (bit 0 of every other byte).
    half = bitmap_blocks // 2 * PAGE
    first = PAGE * (1 + sub_hdr_blocks)
    ones = b"\xff" * RECORD
    every16 = b"\x01\x00" * (RECORD // 2)
    for at in range(0, half, RECORD):
        n = min(RECORD, half - at)
        record(first + at, ones[:n])
        record(first + half + at, every16[:n])

    # page_desc records and page data records, interleaved as makedumpfile flushes them.
    descs_per_record = RECORD // 24
    pages_per_record = RECORD // PAGE
    page = bytearray(PAGE)
    desc_at = data_offset
    data_at = pages_offset
    pending = bytearray()
    data = bytearray()
    for i, pfn in enumerate(present):
        pending += struct.pack("<QIIQ", pages_offset + i * PAGE, PAGE, 0, 0)
        struct.pack_into("<Q", page, 0, pfn)
        struct.pack_into("<Q", page, PAGE - 8, pfn)
        data += page
        if len(data) == pages_per_record * PAGE:
            record(data_at, bytes(data))
            data_at += len(data)
            data = bytearray()
        if len(pending) >= descs_per_record * 24:
            record(desc_at, bytes(pending))
            desc_at += len(pending)
            pending = bytearray()
    if data:
        record(data_at, bytes(data))
    if pending:
        record(desc_at, bytes(pending))
    os.write(fd, struct.pack(">qq", -1, -1))
    os.close(fd)


if __name__ == "__main__":
    main()

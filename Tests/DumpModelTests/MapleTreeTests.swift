import Testing
@testable import DumpModel

/// The maple tree walk, the VMA reader and file paths on hand-made kernel objects in the
/// kernel image mapping of a synthetic kernel (virtual = physical + 0xffffffff80000000 -
/// 0x1000000). The node layout is 6.1's (maple_range_64: 15 pivots, 16 slots, metadata in the
/// last slot; maple_arange_64: 9 pivots, 10 slots, gaps, metadata) but comes from the layout.
@Suite struct MapleTreeTests {
    static func phys(_ v: UInt64) -> UInt64 { v - 0xffff_ffff_8000_0000 + 0x0100_0000 }
    /// Maple nodes at 0xffffffff82000000 + i * 256.
    static func node(_ i: Int) -> UInt64 { 0xffff_ffff_8200_0000 + UInt64(i) * 256 }
    static let tree: UInt64 = 0xffff_ffff_8210_0040
    static let leaf: UInt64 = 1, range: UInt64 = 2, arange: UInt64 = 3

    /// A child pointer: the node, its type, and bit 2 as the kernel sets it.
    static func enode(_ n: UInt64, _ type: UInt64) -> UInt64 { n | type << 3 | 4 }
    /// The root pointer: a child pointer with the internal-entry tag.
    static func root(_ n: UInt64, _ type: UInt64) -> UInt64 { enode(n, type) | 2 }

    static func layout() -> DictionaryLayout {
        DictionaryLayout(
            sizes: ["maple_node": 256],
            offsets: [
                "maple_tree.ma_root": 8,
                "maple_node.mr64": 0, "maple_node.ma64": 0, "maple_node.slot": 8,
                "maple_range_64.pivot": 8, "maple_range_64.slot": 128, "maple_range_64.meta.end": 248,
                "maple_arange_64.pivot": 8, "maple_arange_64.slot": 80, "maple_arange_64.meta.end": 240,
            ],
            lengths: ["maple_range_64.pivot": 15, "maple_range_64.slot": 16,
                      "maple_arange_64.pivot": 9, "maple_arange_64.slot": 10, "maple_node.slot": 31])
    }

    static func put(_ dump: SyntheticDump, _ value: UInt64, at virtual: UInt64) { dump.write64(phys(virtual), value) }

    /// A range or leaf node: pivots, slots, and meta.end.
    static func rangeNode(_ dump: SyntheticDump, _ n: UInt64, pivots: [UInt64], slots: [UInt64], end: UInt8) {
        for (i, p) in pivots.enumerated() { put(dump, p, at: n + 8 + UInt64(i) * 8) }
        for (i, s) in slots.enumerated() { put(dump, s, at: n + 128 + UInt64(i) * 8) }
        dump.write(phys(n + 248), [end])
    }

    static func arangeNode(_ dump: SyntheticDump, _ n: UInt64, pivots: [UInt64], slots: [UInt64], end: UInt8) {
        for (i, p) in pivots.enumerated() { put(dump, p, at: n + 8 + UInt64(i) * 8) }
        for (i, s) in slots.enumerated() { put(dump, s, at: n + 80 + UInt64(i) * 8) }
        dump.write(phys(n + 240), [end])
    }

    static func walk(_ dump: SyntheticDump, _ layout: DictionaryLayout = layout(), limit: Int = 1 << 20) throws -> MapleWalk {
        KernelLists(memory: KernelMemory(space: try space(dump, layout: layout))).mapleTree(tree, limit: limit)
    }

    static let a: UInt64 = 0xffff_ffff_8300_0000, b: UInt64 = 0xffff_ffff_8300_0100, c: UInt64 = 0xffff_ffff_8300_0200

    @Test func leafRootGivesItsEntriesWithTheirRanges() throws {
        let (dump, _) = syntheticKernel()
        Self.put(dump, Self.root(Self.node(0), Self.leaf), at: Self.tree + 8)
        // [0, 3fffff] empty, [400000, 400fff] a, [401000, 584fff] b, the rest empty: meta.end 3.
        Self.rangeNode(dump, Self.node(0), pivots: [0x3f_ffff, 0x40_0fff, 0x58_4fff], slots: [0, Self.a, Self.b, 0], end: 3)
        let w = try Self.walk(dump)
        #expect(w.stop == .complete)
        #expect(w.entries == [MapleEntry(first: 0x40_0000, last: 0x40_0fff, entry: Self.a),
                              MapleEntry(first: 0x40_1000, last: 0x58_4fff, entry: Self.b)])
    }

    /// An allocation-range root over two leaves; the second leaf is full (its last pivot is
    /// neither 0 nor the node's maximum, so its 16th slot runs to the maximum); a reserved
    /// (zero) entry is skipped.
    @Test func twoLevelsInIndexOrder() throws {
        let (dump, _) = syntheticKernel()
        Self.put(dump, Self.root(Self.node(0), Self.arange), at: Self.tree + 8)
        Self.arangeNode(dump, Self.node(0), pivots: [0x5f_ffff],
                        slots: [Self.enode(Self.node(1), Self.leaf), Self.enode(Self.node(2), Self.leaf)], end: 1)
        Self.rangeNode(dump, Self.node(1), pivots: [0x3f_ffff, 0x40_0fff],
                       slots: [0, Self.a, MapleNodeLayout.zeroEntry], end: 2)
        let pivots = (0..<15).map { 0x60_0fff + UInt64($0) * 0x1000 }
        var slots = (0..<16).map { $0 % 2 == 1 ? Self.b + UInt64($0) * 8 : 0 }
        slots[15] = Self.c
        Self.rangeNode(dump, Self.node(2), pivots: pivots, slots: slots, end: 0)
        let w = try Self.walk(dump)
        #expect(w.stop == .complete)
        #expect(w.entries.first == MapleEntry(first: 0x40_0000, last: 0x40_0fff, entry: Self.a))
        #expect(w.entries.count == 1 + 7 + 1)
        #expect(w.entries[1] == MapleEntry(first: 0x60_1000, last: 0x60_1fff, entry: Self.b + 8))
        #expect(w.entries.last == MapleEntry(first: 0x60_f000, last: UInt64.max, entry: Self.c))
        #expect(zip(w.entries, w.entries.dropFirst()).allSatisfy { $0.last < $1.first })
        // A limit on nodes ends the walk and says so.
        #expect(try Self.walk(dump, limit: 2).stop == .limit(2))
    }

    @Test func rangeNodeWhoseLastPivotIsTheMaximum() throws {
        let (dump, _) = syntheticKernel()
        Self.put(dump, Self.root(Self.node(0), Self.range), at: Self.tree + 8)
        var pivots = (0..<15).map { UInt64($0 + 1) * 0x1_0000 - 1 }
        pivots[14] = UInt64.max
        let children = (1...15).map { Self.enode(Self.node($0), Self.leaf) }
        Self.rangeNode(dump, Self.node(0), pivots: pivots, slots: children, end: 0)
        for i in 1...15 {
            // Each leaf holds one entry over its whole range.
            Self.rangeNode(dump, Self.node(i), pivots: [], slots: [Self.a + UInt64(i)], end: 0)
        }
        let w = try Self.walk(dump)
        #expect(w.stop == .complete)
        #expect(w.entries.count == 15)
        #expect(w.entries[0] == MapleEntry(first: 0, last: 0xffff, entry: Self.a + 1))
        #expect(w.entries[14] == MapleEntry(first: 0xe_0000, last: UInt64.max, entry: Self.a + 15))
    }

    @Test func emptyAndSingleEntryRoots() throws {
        let (dump, _) = syntheticKernel()
        Self.put(dump, 0, at: Self.tree + 8)
        #expect(try Self.walk(dump).entries.isEmpty)
        Self.put(dump, Self.a, at: Self.tree + 8)
        #expect(try Self.walk(dump).entries == [MapleEntry(first: 0, last: 0, entry: Self.a)])
    }

    @Test func denseNodeHasOneIndexPerSlot() throws {
        let (dump, _) = syntheticKernel()
        Self.put(dump, Self.root(Self.node(0), 0), at: Self.tree + 8)
        Self.put(dump, Self.a, at: Self.node(0) + 8 + 2 * 8)
        Self.put(dump, Self.b, at: Self.node(0) + 8 + 30 * 8)
        let w = try Self.walk(dump)
        #expect(w.entries == [MapleEntry(first: 2, last: 2, entry: Self.a), MapleEntry(first: 30, last: 30, entry: Self.b)])
    }

    @Test func corruptTreesStopAndSayWhy() throws {
        let (dump, _) = syntheticKernel()
        // A child that is its own parent: a cycle, not a loop.
        Self.put(dump, Self.root(Self.node(0), Self.arange), at: Self.tree + 8)
        Self.arangeNode(dump, Self.node(0), pivots: [0x5f_ffff],
                        slots: [Self.enode(Self.node(1), Self.leaf), Self.enode(Self.node(0), Self.arange)], end: 1)
        Self.rangeNode(dump, Self.node(1), pivots: [0x3f_ffff], slots: [0, Self.a], end: 1)
        var w = try Self.walk(dump)
        #expect(w.entries == [MapleEntry(first: 0x40_0000, last: 0x5f_ffff, entry: Self.a)])
        #expect(w.stop == .cycle(at: Self.node(0)))
        // A child outside the dump: a broken link after what was read.
        Self.put(dump, Self.enode(0xffff_ffff_bfff_0000, Self.leaf), at: Self.node(0) + 80 + 8)
        w = try Self.walk(dump)
        #expect(w.entries.count == 1)
        guard case .brokenLink(at: 0xffff_ffff_bfff_0000, _) = w.stop else { Issue.record("\(w.stop)"); return }
        // Pivots out of order.
        Self.rangeNode(dump, Self.node(1), pivots: [0x3f_ffff, 0x10], slots: [0, Self.a, Self.b], end: 2)
        w = try Self.walk(dump)
        guard case .corrupt(at: Self.node(1), _) = w.stop else { Issue.record("\(w.stop)"); return }
        // A type the kernel does not have.
        Self.put(dump, Self.root(Self.node(3), 9), at: Self.tree + 8)
        w = try Self.walk(dump)
        guard case .corrupt(at: Self.node(3), let detail) = w.stop else { Issue.record("\(w.stop)"); return }
        #expect(detail.contains("type 9"))
        // A metadata end past the slots.
        Self.put(dump, Self.root(Self.node(4), Self.leaf), at: Self.tree + 8)
        Self.rangeNode(dump, Self.node(4), pivots: [], slots: [Self.a], end: 40)
        guard case .corrupt = try Self.walk(dump).stop else { Issue.record("meta.end 40 accepted"); return }
        // An internal slot that is an entry, not a node.
        Self.put(dump, Self.root(Self.node(5), Self.range), at: Self.tree + 8)
        Self.rangeNode(dump, Self.node(5), pivots: [0x1000], slots: [Self.a | 2, 0], end: 1)
        guard case .corrupt = try Self.walk(dump).stop else { Issue.record("entry taken as a node"); return }
    }

    /// A layout without maple tree types: the walk says what is missing.
    @Test func layoutWithoutMapleTypes() throws {
        let (dump, _) = syntheticKernel()
        let w = try Self.walk(dump, DictionaryLayout())
        guard case let .corrupt(_, detail) = w.stop else { Issue.record("\(w.stop)"); return }
        #expect(detail.contains("maple_tree.ma_root"))
    }
}

/// VMAs and file paths on hand-made vm_area_structs, files, dentries and mounts.
@Suite struct VMAReaderTests {
    static func phys(_ v: UInt64) -> UInt64 { MapleTreeTests.phys(v) }
    static func obj(_ i: Int) -> UInt64 { 0xffff_ffff_8400_0000 + UInt64(i) * 0x100 }
    static let mm = obj(0)

    static func layout(maple: Bool = true) -> DictionaryLayout {
        var l = MapleTreeTests.layout()
        var offsets = [
            "vm_area_struct.vm_start": 0, "vm_area_struct.vm_end": 8, "vm_area_struct.vm_flags": 0x20,
            "vm_area_struct.vm_file": 0x40, "vm_area_struct.vm_pgoff": 0x38,
            "file.f_path.dentry": 0x10, "file.f_path.mnt": 0x18,
            "dentry.d_name.len": 0x24, "dentry.d_name.name": 0x28, "dentry.d_parent": 0x18, "dentry.d_iname": 0x38,
            "mount.mnt_parent": 0x10, "mount.mnt_mountpoint": 0x18, "mount.mnt": 0x20,
        ]
        if maple {
            offsets["mm_struct.mm_mt"] = 0x40
        } else {
            offsets["mm_struct.mmap"] = 0x8
            offsets["vm_area_struct.vm_next"] = 0x10
        }
        l.offsets.merge(offsets) { $1 }
        l.memberSizes = ["vm_area_struct.vm_flags": 8, "dentry.d_iname": 32]
        return l
    }

    static func put(_ dump: SyntheticDump, _ value: UInt64, at virtual: UInt64) { dump.write64(phys(virtual), value) }

    /// A dentry named `name` under `parent` (itself when nil); short names inline as the kernel
    /// keeps them, long ones in a separate string at `obj(index + 100)`.
    static func dentry(_ dump: SyntheticDump, _ index: Int, _ name: String, parent: UInt64?, length: Int? = nil) -> UInt64 {
        let d = obj(index)
        let bytes = Array(name.utf8)
        let nameAt = bytes.count < 32 ? d + 0x38 : obj(index + 100)
        dump.write(phys(nameAt), bytes + [0])
        dump.write(phys(d + 0x24), withUnsafeBytes(of: UInt32(length ?? bytes.count).littleEndian, Array.init))
        put(dump, nameAt, at: d + 0x28)
        put(dump, parent ?? d, at: d + 0x18)
        return d
    }

    /// A mount (container) whose vfsmount is at +0x20; the root mount is its own parent.
    static func mount(_ dump: SyntheticDump, _ index: Int, parent: UInt64?, mountpoint: UInt64) -> UInt64 {
        let m = obj(index)
        put(dump, parent ?? m, at: m + 0x10)
        put(dump, mountpoint, at: m + 0x18)
        return m + 0x20
    }

    static func file(_ dump: SyntheticDump, _ index: Int, dentry: UInt64, vfsmount: UInt64) -> UInt64 {
        let f = obj(index)
        put(dump, dentry, at: f + 0x10)
        put(dump, vfsmount, at: f + 0x18)
        return f
    }

    /// "/" with /bin/busybox, and a devtmpfs mounted on /dev holding "zero" and a long name.
    static func filesystem(_ dump: SyntheticDump) -> (busybox: UInt64, zero: UInt64, long: UInt64) {
        let root = dentry(dump, 10, "/", parent: nil)
        let bin = dentry(dump, 11, "bin", parent: root)
        let busybox = dentry(dump, 12, "busybox", parent: bin)
        let dev = dentry(dump, 13, "dev", parent: root)
        let rootMount = mount(dump, 14, parent: nil, mountpoint: root)
        let devRoot = dentry(dump, 15, "/", parent: nil)
        let zero = dentry(dump, 16, "zero", parent: devRoot)
        let long = dentry(dump, 17, String(repeating: "x", count: 40), parent: devRoot)
        let devMount = mount(dump, 18, parent: rootMount - 0x20, mountpoint: dev)
        return (file(dump, 20, dentry: busybox, vfsmount: rootMount), file(dump, 21, dentry: zero, vfsmount: devMount),
                file(dump, 22, dentry: long, vfsmount: devMount))
    }

    static func vma(_ dump: SyntheticDump, _ index: Int, _ start: UInt64, _ end: UInt64, flags: UInt64, file: UInt64, pgoff: UInt64 = 0) -> UInt64 {
        let v = obj(index)
        put(dump, start, at: v)
        put(dump, end, at: v + 8)
        put(dump, flags, at: v + 0x20)
        put(dump, file, at: v + 0x40)
        put(dump, pgoff, at: v + 0x38)
        return v
    }

    static func reader(_ dump: SyntheticDump, maple: Bool = true) throws -> VMAReader {
        VMAReader(memory: KernelMemory(space: try space(dump, layout: layout(maple: maple))))
    }

    @Test func pathsThroughDentriesAndMounts() throws {
        let (dump, _) = syntheticKernel()
        let files = Self.filesystem(dump)
        let r = try Self.reader(dump)
        #expect(try r.path(ofFile: files.busybox) == "/bin/busybox")
        #expect(try r.path(ofFile: files.zero) == "/dev/zero")
        #expect(try r.path(ofFile: files.long) == "/dev/" + String(repeating: "x", count: 40))
        // Without the mount, the path stops at the root of the dentry's own file system.
        #expect(try r.path(ofDentry: Self.obj(16), vfsmount: 0) == "/zero")
        // A file without a dentry has no path.
        #expect(try r.path(ofFile: Self.file(dump, 23, dentry: 0, vfsmount: 0)) == "")
    }

    @Test func badDentriesEndThePathWithoutLooping() throws {
        let (dump, _) = syntheticKernel()
        // A name whose length disagrees with the string: the path ends before it, as in crash.
        let root = Self.dentry(dump, 10, "/", parent: nil)
        let liar = Self.dentry(dump, 11, "etc", parent: root, length: 7)
        let leaf = Self.dentry(dump, 12, "passwd", parent: liar)
        let r = try Self.reader(dump)
        #expect(try r.path(ofDentry: leaf, vfsmount: 0) == "passwd")
        // Two dentries that are each other's parent: the walk is bounded, the path too.
        let a = Self.dentry(dump, 13, "a", parent: Self.obj(14))
        _ = Self.dentry(dump, 14, "b", parent: a)
        // (A new reader: the address space caches the pages it read.)
        let looped = try Self.reader(dump).path(ofDentry: a, vfsmount: 0)
        #expect(looped.utf8.count <= VMAReader.maxPathLength && looped.hasSuffix("b/a"), "\(looped)")
        // A parent outside the dump: the fault, not a made-up path.
        let orphan = Self.dentry(dump, 15, "x", parent: 0xffff_ffff_bfff_0000)
        #expect(throws: MemoryFault.self) { try Self.reader(dump).path(ofDentry: orphan, vfsmount: 0) }
    }

    @Test func areasFromTheMapleTree() throws {
        let (dump, _) = syntheticKernel()
        let files = Self.filesystem(dump)
        let text = Self.vma(dump, 30, 0x40_0000, 0x40_1000, flags: 0x800_0071, file: files.busybox)
        let code = Self.vma(dump, 31, 0x40_1000, 0x58_5000, flags: 0x800_0075, file: files.busybox, pgoff: 1)
        let anon = Self.vma(dump, 32, 0x7ffc_0000_0000, 0x7ffc_0002_1000, flags: 0x10_0173, file: 0)
        let tree = Self.mm + 0x40
        let leafNode = MapleTreeTests.node(0)
        Self.put(dump, MapleTreeTests.root(leafNode, MapleTreeTests.leaf), at: tree + 8)
        MapleTreeTests.rangeNode(dump, leafNode, pivots: [0x3f_ffff, 0x40_0fff, 0x58_4fff, 0x7ffb_ffff_ffff, 0x7ffc_0002_0fff],
                                 slots: [0, text, code, 0, anon, 0], end: 5)
        let map = try Self.reader(dump).areas(ofMM: Self.mm)
        #expect(map.stop == .complete)
        let areas = map.records.compactMap { r -> VirtualMemoryArea? in if case let .area(a) = r { return a } else { return nil } }
        #expect(areas.map(\.address) == [text, code, anon])
        #expect(areas[1] == VirtualMemoryArea(address: code, start: 0x40_1000, end: 0x58_5000, flags: 0x800_0075,
                                              file: files.busybox, pageOffset: 1, path: .success("/bin/busybox")))
        #expect(areas[2].path == nil)
        #expect(map.area(containing: 0x50_0abc)?.address == code)
        #expect(map.area(containing: 0x58_5000) == nil)
        #expect(areas[1].fileOffset(of: 0x50_0abc) == 0x10_0000)
        // A VMA outside the dump is one unreadable row; the others are still there.
        MapleTreeTests.rangeNode(dump, leafNode, pivots: [0x3f_ffff, 0x40_0fff, 0x58_4fff, 0x7ffb_ffff_ffff, 0x7ffc_0002_0fff],
                                 slots: [0, text, 0xffff_ffff_bfff_0000, 0, anon, 0], end: 5)
        let damaged = try Self.reader(dump).areas(ofMM: Self.mm)
        #expect(damaged.records.count == 3)
        guard case .unreadable(address: 0xffff_ffff_bfff_0000, _) = damaged.records[1] else { Issue.record("\(damaged.records[1])"); return }
    }

    /// Before 6.1: mm->mmap and vm_next, chosen because the mm_struct has `mmap`.
    @Test func areasFromTheOlderList() throws {
        let (dump, _) = syntheticKernel()
        let first = Self.vma(dump, 30, 0x40_0000, 0x40_1000, flags: 0x71, file: 0)
        let second = Self.vma(dump, 31, 0x40_1000, 0x50_0000, flags: 0x75, file: 0)
        Self.put(dump, first, at: Self.mm + 8)
        Self.put(dump, second, at: first + 0x10)
        let map = try Self.reader(dump, maple: false).areas(ofMM: Self.mm)
        #expect(map.stop == .complete)
        #expect(map.records.map(\.address) == [first, second])
        // vm_next back to the first: a cycle, reported.
        Self.put(dump, first, at: second + 0x10)
        let looped = try Self.reader(dump, maple: false).areas(ofMM: Self.mm)
        #expect(looped.records.map(\.address) == [first, second])
        #expect(looped.stop == .cycle(at: first))
        // Neither structure in the layout: said, not guessed.
        #expect(throws: DumpError.self) {
            try VMAReader(memory: KernelMemory(space: space(dump, layout: DictionaryLayout()))).areas(ofMM: Self.mm)
        }
    }
}

/// One `struct vm_area_struct`: a range of a process's address space.
public struct VirtualMemoryArea: Sendable, Equatable {
    /// The vm_area_struct's address.
    public var address: UInt64
    public var start: UInt64
    /// The first address past the area.
    public var end: UInt64
    /// `vm_flags` (VM_READ, VM_WRITE, ...), whatever its size in this kernel.
    public var flags: UInt64
    /// `vm_file` (a `struct file *`), 0 for anonymous memory.
    public var file: UInt64
    /// `vm_pgoff`: the area's offset in its file, in pages; nil when the kernel has none.
    public var pageOffset: UInt64?
    /// The mapped file's path (through the dentries and mounts), nil for anonymous memory.
    public var path: Result<String, MemoryFault>?

    public init(address: UInt64, start: UInt64, end: UInt64, flags: UInt64, file: UInt64,
                pageOffset: UInt64?, path: Result<String, MemoryFault>?) {
        self.address = address
        self.start = start
        self.end = end
        self.flags = flags
        self.file = file
        self.pageOffset = pageOffset
        self.path = path
    }

    public func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    /// The byte offset in the mapped file of the page holding `address` (the kernel's
    /// `vm_pgoff` plus the page's distance from the start), nil without a file offset.
    public func fileOffset(of address: UInt64, pageShift: UInt64 = 12) -> UInt64? {
        guard let pageOffset, contains(address) else { return nil }
        return (((address &- start) >> pageShift) &+ pageOffset) << pageShift
    }
}

/// One row of a process's VMA list: an area, or the address of one that could not be read.
public enum VMARecord: Sendable, Equatable {
    case area(VirtualMemoryArea)
    case unreadable(address: UInt64, fault: MemoryFault)

    public var address: UInt64 {
        switch self {
        case let .area(a): return a.address
        case let .unreadable(address, _): return address
        }
    }
}

/// A process's VMAs in address order, and why the walk of them stopped.
public struct VMAList: Sendable {
    public var records: [VMARecord]
    public var stop: WalkStop

    public init(records: [VMARecord], stop: WalkStop) {
        self.records = records
        self.stop = stop
    }

    /// The area that holds `address`, if one does.
    public func area(containing address: UInt64) -> VirtualMemoryArea? {
        for case let .area(a) in records where a.contains(address) { return a }
        return nil
    }
}

/// Reads a process's memory map: its VMAs from the maple tree (`mm_struct.mm_mt`, Linux 6.1+)
/// or the older `mm_struct.mmap` list (`vm_next`), whichever the mm_struct has, and the paths
/// of mapped files through the dentry tree and the mounts.
public struct VMAReader {
    public let memory: KernelMemory
    public let interrupted: () -> Bool
    /// The longest path built, as a corrupt dentry chain must not grow one without end.
    public static let maxPathLength = 4096
    /// The most dentries and mounts one path walks through.
    public static let maxPathSteps = 1024

    public init(memory: KernelMemory, interrupted: @escaping () -> Bool = { false }) {
        self.memory = memory
        self.interrupted = interrupted
    }

    /// The VMAs of the mm_struct at `mm`, in address order. Throws `DumpError.missing` when the
    /// layout has neither VMA structure, or lacks the vm_area_struct members.
    public func areas(ofMM mm: UInt64, limit: Int = 1 << 20) throws -> VMAList {
        let l = memory.layout
        let vmas: [UInt64]
        let stop: WalkStop
        if let mmap = l.memberOffset("mm_struct", "mmap") {
            // Before 6.1: a NULL-terminated list through vm_next.
            guard let next = l.memberOffset("vm_area_struct", "vm_next") else {
                throw DumpError.missing(what: "vm_area_struct.vm_next")
            }
            (vmas, stop) = linkedAreas(first: mm &+ UInt64(mmap), nextOffset: next, limit: limit)
        } else if let tree = l.memberOffset("mm_struct", "mm_mt") {
            let walk = KernelLists(memory: memory, interrupted: interrupted).mapleTree(mm &+ UInt64(tree), limit: limit)
            vmas = walk.entries.map(\.entry)
            stop = walk.stop
        } else {
            throw DumpError.missing(what: "mm_struct.mm_mt or mm_struct.mmap")
        }
        let fields = try VMAFields(layout: l)
        var records: [VMARecord] = []
        for (n, vma) in vmas.enumerated() {
            if n & 63 == 63, interrupted() { return VMAList(records: records, stop: .interrupted) }
            do {
                records.append(.area(try area(at: vma, fields)))
            } catch {
                records.append(.unreadable(address: vma, fault: error))
            }
        }
        return VMAList(records: records, stop: stop)
    }

    /// The `vm_area_struct` at `address`.
    public func area(at address: UInt64) throws -> VirtualMemoryArea {
        try area(at: address, VMAFields(layout: memory.layout))
    }

    private func area(at address: UInt64, _ f: VMAFields) throws(MemoryFault) -> VirtualMemoryArea {
        let start = try memory.load(UInt64.self, address &+ f.start)
        let end = try memory.load(UInt64.self, address &+ f.end)
        let flags = try memory.unsigned(address &+ f.flags, size: f.flagsSize)
        let file = try memory.load(UInt64.self, address &+ f.file)
        let pageOffset = try f.pageOffset.map { o throws(MemoryFault) in try memory.load(UInt64.self, address &+ o) }
        let path: Result<String, MemoryFault>? = file == 0 ? nil : Result { () throws(MemoryFault) in try self.path(ofFile: file) }
        return VirtualMemoryArea(address: address, start: start, end: end, flags: flags, file: file,
                                 pageOffset: pageOffset, path: path)
    }

    private func linkedAreas(first link: UInt64, nextOffset: Int, limit: Int) -> ([UInt64], WalkStop) {
        var out: [UInt64] = []
        var seen: Set<UInt64> = []
        var at = link
        while true {
            let vma: UInt64
            do { vma = try memory.load(UInt64.self, at) } catch { return (out, .brokenLink(at: at, fault: error)) }
            if vma == 0 { return (out, .complete) }
            guard seen.insert(vma).inserted else { return (out, .cycle(at: vma)) }
            if out.count >= limit { return (out, .limit(limit)) }
            if out.count & 255 == 255, interrupted() { return (out, .interrupted) }
            out.append(vma)
            at = vma &+ UInt64(nextOffset)
        }
    }

    /// The path of the open file at `file` (`struct file`): its dentry's name and its parents'
    /// up to the root of its mount, then on through the mount points to the root mount, as
    /// crash builds it. "" when the file has no dentry.
    public func path(ofFile file: UInt64) throws(MemoryFault) -> String {
        let l = memory.layout
        guard let dentryOffset = l.memberOffset("file", "f_path.dentry") ?? l.memberOffset("file", "f_dentry") else {
            throw MemoryFault(address: file, space: .kernel, reason: .refused(detail: "no file.f_path.dentry in the layout"))
        }
        let dentry = try memory.load(UInt64.self, file &+ UInt64(dentryOffset))
        guard dentry != 0 else { return "" }
        var mount: UInt64 = 0
        if let m = l.memberOffset("file", "f_path.mnt") ?? l.memberOffset("file", "f_vfsmnt") {
            mount = try memory.load(UInt64.self, file &+ UInt64(m))
        }
        return try path(ofDentry: dentry, vfsmount: mount)
    }

    /// The path of `dentry` seen through the `struct vfsmount` at `vfsmount` (0: the dentry
    /// tree alone, up to its root).
    public func path(ofDentry dentry: UInt64, vfsmount: UInt64) throws(MemoryFault) -> String {
        let l = memory.layout
        func need(_ type: String, _ member: String) throws(MemoryFault) -> UInt64 {
            guard let o = l.memberOffset(type, member), o >= 0 else {
                throw MemoryFault(address: dentry, space: .kernel, reason: .refused(detail: "no \(type).\(member) in the layout"))
            }
            return UInt64(o)
        }
        let nameLength = try need("dentry", "d_name.len")
        let namePointer = try need("dentry", "d_name.name")
        let parentOffset = try need("dentry", "d_parent")
        let inlineName = l.memberOffset("dentry", "d_iname").map { UInt64($0) }
        let inlineSize = l.memberSize("dentry", "d_iname") ?? 32
        // The mount that holds a vfsmount (struct mount, 3.3+), or the vfsmount itself (older
        // kernels, where vfsmount has the mount point).
        let mountLinks: (container: UInt64, parent: UInt64, mountpoint: UInt64)?
        if let mnt = l.memberOffset("mount", "mnt"), let p = l.memberOffset("mount", "mnt_parent"),
           let mp = l.memberOffset("mount", "mnt_mountpoint") {
            mountLinks = (UInt64(mnt), UInt64(p), UInt64(mp))
        } else if let p = l.memberOffset("vfsmount", "mnt_parent"), let mp = l.memberOffset("vfsmount", "mnt_mountpoint") {
            mountLinks = (0, UInt64(p), UInt64(mp))
        } else {
            mountLinks = nil
        }

        var path: [UInt8] = []
        var current = dentry
        var mount = vfsmount
        var steps = 0
        while steps < Self.maxPathSteps {
            steps += 1
            let length = try memory.load(UInt32.self, current &+ nameLength)
            if length == 0 { break }
            let name = try memory.load(UInt64.self, current &+ namePointer)
            if name == 0 { break }
            // The name is in the dentry (short names) or elsewhere; a length that disagrees
            // with the string ends the path, as in crash.
            let isInline = inlineName.map { name == current &+ $0 } ?? false
            let component = try nameBytes(at: name, max: isInline ? inlineSize : Self.maxPathLength)
            if component.count != Int(length) { break }
            if current == dentry {
                path = component
            } else if path.count + component.count < Self.maxPathLength {
                let isRoot = component == [UInt8(ascii: "/")]
                if !isRoot && path.first != UInt8(ascii: "/") {
                    path = component + [UInt8(ascii: "/")] + path
                } else {
                    path = component + path
                }
            }
            let parent = try memory.load(UInt64.self, current &+ parentOffset)
            if parent == current {
                // The root of a mount: go on from its mount point in the parent mount.
                guard let links = mountLinks, mount != 0 else { break }
                if path.starts(with: [UInt8(ascii: "/"), UInt8(ascii: "/")]) { path.removeFirst() }
                let container = mount &- links.container
                let mountpoint = try memory.load(UInt64.self, container &+ links.mountpoint)
                let parentMount = try memory.load(UInt64.self, container &+ links.parent)
                if parentMount == container || mountpoint == 0 { break }
                mount = parentMount &+ links.container
                current = mountpoint
                continue
            }
            if parent == 0 { break }
            current = parent
        }
        if path.count > 1 && path.last == UInt8(ascii: "/") { path.removeLast() }
        return String(decoding: path, as: UTF8.self)
    }

    /// The bytes of the NUL-terminated name at `address`, at most `max`.
    private func nameBytes(at address: UInt64, max: Int) throws(MemoryFault) -> [UInt8] {
        var out: [UInt8] = []
        var at = address
        while out.count < max {
            let n = Swift.min(Int(4096 - (at & 0xfff)), max - out.count)
            let chunk = try memory.bytes(at, count: n)
            if let nul = chunk.firstIndex(of: 0) { return out + chunk[..<nul] }
            out += chunk
            at = at &+ UInt64(n)
        }
        return out
    }
}

/// Where the vm_area_struct members are.
struct VMAFields {
    var start: UInt64
    var end: UInt64
    var flags: UInt64
    var flagsSize: Int
    var file: UInt64
    var pageOffset: UInt64?

    init(layout l: any KernelLayout) throws {
        func need(_ member: String) throws -> UInt64 {
            guard let o = l.memberOffset("vm_area_struct", member), o >= 0 else {
                throw DumpError.missing(what: "vm_area_struct.\(member)")
            }
            return UInt64(o)
        }
        start = try need("vm_start")
        end = try need("vm_end")
        flags = try need("vm_flags")
        flagsSize = l.memberSize("vm_area_struct", "vm_flags") ?? 8
        file = try need("vm_file")
        pageOffset = l.memberOffset("vm_area_struct", "vm_pgoff").map { UInt64($0) }
    }
}

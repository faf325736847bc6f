/// What a file on the command line is, told by its content (crash's "either order" rule).
public enum FileKind: Sendable, Equatable {
    /// A crash dump crashsh can open.
    case dump(DumpFormat)
    /// An ELF executable or shared object with sections: a kernel image (vmlinux) or debuginfo.
    case vmlinux
    /// Neither; the text says what was found.
    case unknown(String)
}

/// Opens a dump file, choosing the reader by the file's content (never its name).
public enum DumpOpener {
    static let elfMagic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]

    /// Maps `path` read-only and opens the dump in it. A flattened file's index is kept in and
    /// taken from `flatIndexCache` when one is given.
    /// Throws `.cannotOpen` (missing, no permission), `.isDirectory`, `.emptyFile`, `.unknownFormat`,
    /// or the format reader's `.truncated` / `.badHeader` / `.unsupported`.
    public static func open(path: String, flatIndexCache: FlatIndexCache? = nil) throws -> any DumpFile {
        let file = try MappedFile(path: path)
        return try open(reader: file, path: path, flatIndexCache: flatIndexCache)
    }

    /// Opens a dump given as several files: the parts of a makedumpfile --split dump, in any
    /// order (one path opens as `open(path:)` does).
    public static func open(paths: [String], flatIndexCache: FlatIndexCache? = nil) throws -> any DumpFile {
        guard paths.count > 1 else {
            guard let path = paths.first else { throw DumpError.missing(what: "the dump file") }
            return try open(path: path, flatIndexCache: flatIndexCache)
        }
        var files: [(reader: any ByteReader, path: String)] = []
        for path in paths { files.append((try MappedFile(path: path), path)) }
        // The disks of a sadump disk set each start with a partition header.
        if files.contains(where: { (try? $0.reader.bytes(at: 0, count: 8)) == SadumpPartitionHeader.signature }) {
            for file in files where (try? file.reader.bytes(at: 0, count: 8)) != SadumpPartitionHeader.signature {
                throw DumpError.unsupported(path: file.path, what: "not a disk of a sadump disk set; several dump files make one dump only when they are its disks or a split dump's parts")
            }
            return try SadumpFile(disks: files)
        }
        var parts: [KdumpCompressedFile] = []
        for (file, path) in files {
            guard let part = try openAllowingSplitPart(reader: file, path: path, flatIndexCache: flatIndexCache)
                    as? KdumpCompressedFile, part.splitRange != nil else {
                throw DumpError.unsupported(path: path, what: "not part of a makedumpfile --split dump; several dump files make one dump only when they are its parts")
            }
            parts.append(part)
        }
        return try SplitKdumpFile(parts: parts)
    }

    /// Opens the dump held by `reader` (a mapped file, an in-memory `ByteBuffer`, ...). Refuses one
    /// part of a split dump (`.splitPart`): alone, it lacks the other parts' pages.
    public static func open(reader: any ByteReader, path: String? = nil,
                            flatIndexCache: FlatIndexCache? = nil) throws -> any DumpFile {
        let dump = try openAllowingSplitPart(reader: reader, path: path, flatIndexCache: flatIndexCache)
        if let kdump = dump as? KdumpCompressedFile, let r = kdump.splitRange {
            throw DumpError.splitPart(path: kdump.path, startPFN: r.lowerBound, endPFN: r.upperBound, maxMapnr: kdump.maxMapnr)
        }
        return dump
    }

    static func openAllowingSplitPart(reader: any ByteReader, path: String? = nil,
                                      flatIndexCache: FlatIndexCache? = nil) throws -> any DumpFile {
        let path = path ?? reader.name
        guard reader.size > 0 else { throw DumpError.emptyFile(path: path) }
        if KdumpCompressedFile.hasSignature(reader) {
            return try KdumpCompressedFile(reader: reader, path: path)
        }
        if hasELFMagic(reader) {
            return try openELF(reader, path: path)
        }
        if FlattenedFile.hasSignature(reader) {
            let flat = try FlattenedFile(base: reader, cache: flatIndexCache)
            if KdumpCompressedFile.hasSignature(flat) { return try KdumpCompressedFile(reader: flat, path: path) }
            if hasELFMagic(flat) { return try ElfCoreFile(reader: flat, path: path) }
            throw DumpError.unknownFormat(path: path, detail: "flattened file holding neither a kdump-compressed file nor an ELF core")
        }
        if SadumpFile.hasSignature(reader) {
            return try SadumpFile(reader: reader, path: path)
        }
        if let what = otherDumpFormat(reader) {
            throw DumpError.unsupported(path: path, what: what)
        }
        throw DumpError.unknownFormat(path: path, detail: "no ELF, KDUMP or makedumpfile signature")
    }

    /// The name of a crash-dump format crashsh does not read, told by its signature.
    static func otherDumpFormat(_ reader: any ByteReader) -> String? {
        guard let head = try? reader.bytes(at: 0, count: 8) else { return nil }
        if head == Array("DISKDUMP".utf8) { return "diskdump (DISKDUMP) format, Red Hat's netdump/diskdump" }
        // LKCD: the dump header's magic number, in either byte order.
        let magic = UInt64(littleEndian: head.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        for lkcd: UInt64 in [0xa819_0173_618f_23ed, 0xa819_0173_618f_23cd, 0xa819_0173_618f_23fd]
        where magic == lkcd || magic.byteSwapped == lkcd {
            return "LKCD (Linux Kernel Crash Dump) format"
        }
        return nil
    }

    private static func hasELFMagic(_ reader: any ByteReader) -> Bool {
        (try? reader.bytes(at: 0, count: 4)) == elfMagic
    }

    private static func openELF(_ reader: any ByteReader, path: String) throws -> any DumpFile {
        if case .vmlinux = classify(reader: reader) {
            throw DumpError.unknownFormat(path: path, detail: "an ELF executable (a vmlinux?), not a dump; give the dump file first or as well")
        }
        return try ElfCoreFile(reader: reader, path: path)
    }

    /// Tells a dump from a vmlinux by content. Throws only when the file cannot be read at all
    /// (missing, no permission, directory, empty).
    public static func classify(path: String) throws -> FileKind {
        let file = try MappedFile(path: path)
        guard file.size > 0 else { throw DumpError.emptyFile(path: path) }
        return classify(reader: file)
    }

    /// Whether the ELF file in `reader` has a section called `name`; false when its section
    /// headers or their name table cannot be read. Bounded: at most 65535 headers are looked at
    /// and only the name table's first MiB is read.
    static func hasSection(named name: String, reader: any ByteReader, is64: Bool, order: ByteOrder) -> Bool {
        let wanted = Array(name.utf8)
        guard let shoff: UInt64 = is64 ? try? reader.load(UInt64.self, at: 40, order: order)
                                       : (try? reader.load(UInt32.self, at: 32, order: order)).map(UInt64.init),
              let entsize = try? reader.load(UInt16.self, at: is64 ? 58 : 46, order: order),
              let count = try? reader.load(UInt16.self, at: is64 ? 60 : 48, order: order),
              let stringsIndex = try? reader.load(UInt16.self, at: is64 ? 62 : 50, order: order),
              entsize >= (is64 ? 64 : 40), stringsIndex < count else { return false }
        // (offset, size) of section `index`'s contents.
        func extent(_ index: UInt16) -> (UInt64, UInt64)? {
            let (rel, overflow) = UInt64(index).multipliedReportingOverflow(by: UInt64(entsize))
            guard !overflow else { return nil }
            let (header, overflow2) = shoff.addingReportingOverflow(rel)
            guard !overflow2, header <= UInt64.max - 64 else { return nil }
            if is64 {
                guard let o = try? reader.load(UInt64.self, at: header &+ 24, order: order),
                      let s = try? reader.load(UInt64.self, at: header &+ 32, order: order) else { return nil }
                return (o, s)
            }
            guard let o = try? reader.load(UInt32.self, at: header &+ 16, order: order),
                  let s = try? reader.load(UInt32.self, at: header &+ 20, order: order) else { return nil }
            return (UInt64(o), UInt64(s))
        }
        guard let (stringsOffset, stringsSize) = extent(stringsIndex),
              stringsOffset < reader.size else { return false }
        let readable = min(stringsSize, reader.size - stringsOffset, 1 << 20)
        guard readable > 0, let strings = try? reader.bytes(at: stringsOffset, count: Int(readable)) else { return false }
        for index in 0 ..< count {
            let (headerOffset, overflow) = shoff.addingReportingOverflow(UInt64(index) * UInt64(entsize))
            guard !overflow, let nameOffset = try? reader.load(UInt32.self, at: headerOffset, order: order) else { return false }
            let start = Int(nameOffset)
            guard start < strings.count, strings.count - start > wanted.count else { continue }
            if strings[start ..< start + wanted.count].elementsEqual(wanted) && strings[start + wanted.count] == 0 {
                return true
            }
        }
        return false
    }

    /// Tells a dump from a vmlinux by the bytes in `reader`.
    public static func classify(reader: any ByteReader) -> FileKind {
        if KdumpCompressedFile.hasSignature(reader) { return .dump(.kdumpCompressed) }
        if FlattenedFile.hasSignature(reader) { return .dump(.flattened) }
        guard hasELFMagic(reader) else {
            if SadumpFile.hasSignature(reader) { return .dump(.sadump) }
            return .unknown(otherDumpFormat(reader).map { "\($0), which crashsh does not read" }
                            ?? "no ELF, KDUMP or makedumpfile signature")
        }
        guard let ident = try? reader.bytes(at: 0, count: 16) else { return .unknown("truncated ELF header") }
        let little = ident[5] == 1
        let order: ByteOrder = little ? .little : .big
        guard let type = try? reader.load(UInt16.self, at: 16, order: order) else { return .unknown("truncated ELF header") }
        switch type {
        case ElfConst.etCore:
            return .dump(.elfCore)
        case ElfConst.etExec, ElfConst.etDyn:
            let shnumOffset: UInt64 = ident[4] == 2 ? 60 : 48
            let shnum = (try? reader.load(UInt16.self, at: shnumOffset, order: order)) ?? 0
            guard shnum > 0 else { return .unknown("ELF executable without sections") }
            // Any ELF program has sections; a Linux kernel image (or its separate debuginfo,
            // which keeps the section names) is the one with init code in `.init.text`.
            return hasSection(named: ".init.text", reader: reader, is64: ident[4] == 2, order: order)
                ? .vmlinux : .unknown("an ELF program or library, not a Linux kernel image: no .init.text section")
        default:
            return .unknown("ELF file of type \(type), neither a core nor an executable")
        }
    }
}

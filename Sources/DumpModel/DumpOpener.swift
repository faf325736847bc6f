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

    /// Maps `path` read-only and opens the dump in it.
    /// Throws `.cannotOpen` (missing, no permission), `.isDirectory`, `.emptyFile`, `.unknownFormat`,
    /// or the format reader's `.truncated` / `.badHeader` / `.unsupported`.
    public static func open(path: String) throws -> any DumpFile {
        let file = try MappedFile(path: path)
        return try open(reader: file, path: path)
    }

    /// Opens the dump held by `reader` (a mapped file, an in-memory `ByteBuffer`, ...).
    public static func open(reader: any ByteReader, path: String? = nil) throws -> any DumpFile {
        let path = path ?? reader.name
        guard reader.size > 0 else { throw DumpError.emptyFile(path: path) }
        if KdumpCompressedFile.hasSignature(reader) {
            return try KdumpCompressedFile(reader: reader, path: path)
        }
        if hasELFMagic(reader) {
            return try openELF(reader, path: path)
        }
        if FlattenedFile.hasSignature(reader) {
            let flat = try FlattenedFile(base: reader)
            if KdumpCompressedFile.hasSignature(flat) { return try KdumpCompressedFile(reader: flat, path: path) }
            if hasELFMagic(flat) { return try ElfCoreFile(reader: flat, path: path) }
            throw DumpError.unknownFormat(path: path, detail: "flattened file holding neither a kdump-compressed file nor an ELF core")
        }
        if let head = try? reader.bytes(at: 0, count: 8), head == Array("DISKDUMP".utf8) {
            throw DumpError.unsupported(path: path, what: "diskdump (DISKDUMP) format")
        }
        throw DumpError.unknownFormat(path: path, detail: "no ELF, KDUMP or makedumpfile signature")
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

    /// Tells a dump from a vmlinux by the bytes in `reader`.
    public static func classify(reader: any ByteReader) -> FileKind {
        if KdumpCompressedFile.hasSignature(reader) { return .dump(.kdumpCompressed) }
        if FlattenedFile.hasSignature(reader) { return .dump(.flattened) }
        guard hasELFMagic(reader) else { return .unknown("no ELF, KDUMP or makedumpfile signature") }
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
            return shnum > 0 ? .vmlinux : .unknown("ELF executable without sections")
        default:
            return .unknown("ELF file of type \(type), neither a core nor an executable")
        }
    }
}

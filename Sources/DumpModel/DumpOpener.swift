/// Opens a dump file, choosing the reader by the file's content (never its name).
public enum DumpOpener {
    public static func open(path: String) throws -> any DumpFile {
        // Filled in by the dump-format work: ELF core, kdump-compressed, flattened.
        let file = try MappedFile(path: path)
        if file.size == 0 { throw DumpError.emptyFile(path: path) }
        throw DumpError.unknownFormat(path: path, detail: "no reader yet")
    }
}

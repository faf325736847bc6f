#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Commands
import DumpModel

/// Sorting out the files on the command line: which one is the dump, which the vmlinux, and
/// where the vmlinux is when none was given.
enum InputFiles {
    /// Opens the dump among `files` (one or two paths, either order) and builds the session.
    /// With two files, the one that opens as a dump is the dump; the other is the vmlinux,
    /// which is only checked to be a readable file here (it is opened on first use).
    /// With one file, the vmlinux is looked for where distributions put debuginfo.
    static func openSession(files: [String]) throws -> Session {
        let locator = DebuginfoLocator(cacheDirectory: DebuginfoLocator.cacheDirectory(
            xdgCacheHome: Terminal.environment("XDG_CACHE_HOME"), home: Terminal.environment("HOME")))
        if files.count == 2 {
            let (dump, vmlinux) = try openDump(either: files[0], or: files[1])
            try checkReadableFile(vmlinux)
            let session = Session(dump: dump, vmlinuxPath: vmlinux)
            session.debugRoots = locator.debugRoots
            return session
        }
        if case .vmlinux = try DumpOpener.classify(path: files[0]) {
            throw InputProblem("\(files[0]): is a kernel image (vmlinux), not a dump; give the dump file too")
        }
        let dump = try DumpOpener.open(path: files[0])
        let info = dump.vmcoreinfo
        let found = locator.locate(release: info?.osRelease, buildID: info?.buildID)
        let session = Session(dump: dump, vmlinuxPath: found)
        session.debugRoots = locator.debugRoots
        if found == nil {
            let what = info?.osRelease.map { "for \($0) " } ?? ""
            let places = [locator.debugRoot] + (locator.cacheDirectory.map { [$0] } ?? [])
            session.vmlinuxSearch = what + "in " + places.joined(separator: " or ")
        }
        return session
    }

    /// Tells which of two files is the dump, by content (crash's rule): an ELF core or a
    /// kdump/flattened signature is a dump, an ELF executable with sections is the vmlinux.
    /// Opens the dump; returns it with the vmlinux's path.
    static func openDump(either first: String, or second: String) throws -> (any DumpFile, String) {
        let firstKind = try DumpOpener.classify(path: first)
        let secondKind = try DumpOpener.classify(path: second)
        switch (firstKind, secondKind) {
        case (.dump, .dump):
            throw InputProblem("\(first) and \(second) are both dump files; give one dump and its vmlinux")
        case (.vmlinux, .vmlinux):
            throw InputProblem("\(first) and \(second) are both kernel images (vmlinux); give the dump file too")
        case (.dump, .vmlinux):
            return (try DumpOpener.open(path: first), second)
        case (.vmlinux, .dump):
            return (try DumpOpener.open(path: second), first)
        case (.vmlinux, .unknown), (.unknown, .vmlinux), (.unknown, .unknown):
            // The unknown one would be the dump: opening it says exactly what is wrong.
            let dumpPath = firstKind == .vmlinux ? second : first
            return (try DumpOpener.open(path: dumpPath), firstKind == .vmlinux ? first : second)
        case (.unknown(let detail), .dump):
            throw InputProblem("\(first): neither a dump nor a vmlinux (\(detail))")
        case (.dump, .unknown(let detail)):
            throw InputProblem("\(second): neither a dump nor a vmlinux (\(detail))")
        }
    }

    /// Throws the DumpError that opening `path` would, without opening it.
    static func checkReadableFile(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw DumpError.cannotOpen(path: path, errno: errno) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw DumpError.isDirectory(path: path) }
        guard access(path, R_OK) == 0 else { throw DumpError.cannotOpen(path: path, errno: errno) }
        if st.st_size == 0 { throw DumpError.emptyFile(path: path) }
    }

    /// One line for an error that prevented the session from starting.
    static func describe(_ error: any Error) -> String {
        let text = (error as? CustomStringConvertible)?.description ?? String(describing: error)
        return text.split(whereSeparator: { $0 == "\n" }).joined(separator: " ")
    }

    /// What the interactive prompt shows first: the files in use.
    static func banner(_ session: Session) -> String {
        var lines = ["    DUMPFILE: \(session.dump.path)  [\(session.dump.format.rawValue)]"]
        if let release = session.vmcoreinfo?.osRelease { lines.append("     RELEASE: \(release)") }
        lines.append("     VMLINUX: \(session.vmlinuxPath ?? "(none found; symbol commands unavailable)")")
        return "\n" + lines.joined(separator: "\n") + "\n\nEnter \"help\" for the commands, \"q\" to leave.\n\n"
    }
}

/// Files on the command line that do not make a dump + vmlinux pair.
struct InputProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

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
    /// Opens the dump among `files` (one or two paths, either order; or the parts of a
    /// makedumpfile --split dump, with the vmlinux anywhere among them, as crash takes them) and
    /// builds the session. The files are told apart by content; the vmlinux is only checked to be
    /// a readable file here (it is opened on first use). Without one, it is looked for where
    /// distributions put debuginfo. A flattened dump's index is kept in `flatIndexCache`.
    static func openSession(files: [String], flatIndexCache: FlatIndexCache? = nil) throws -> Session {
        if files.count > 2 {
            var dumps: [String] = [], vmlinuxes: [String] = []
            for file in files {
                switch try DumpOpener.classify(path: file) {
                case .dump: dumps.append(file)
                case .vmlinux: vmlinuxes.append(file)
                case .unknown(let detail): throw InputProblem("\(file): neither a dump nor a vmlinux (\(detail))")
                }
            }
            if vmlinuxes.count > 1 {
                throw InputProblem("\(vmlinuxes.joined(separator: " and ")) are all kernel images (vmlinux); give one")
            }
            let dump = try DumpOpener.open(paths: dumps, flatIndexCache: flatIndexCache)
            if let vmlinux = vmlinuxes.first {
                try checkReadableFile(vmlinux)
                let session = Session(dump: dump, vmlinuxPath: vmlinux)
                session.debugRoots = debuginfoLocator().debugRoots
                return session
            }
            return sessionLocatingVmlinux(dump: dump)
        }
        if files.count == 2 {
            let kinds = (try DumpOpener.classify(path: files[0]), try DumpOpener.classify(path: files[1]))
            if case (.dump, .dump) = kinds {
                // Two dumps make one only as the two parts of a split dump.
                let dump: any DumpFile
                do {
                    dump = try DumpOpener.open(paths: files, flatIndexCache: flatIndexCache)
                } catch DumpError.unsupported {
                    throw InputProblem("\(files[0]) and \(files[1]) are both dump files; give one dump and its vmlinux")
                }
                return sessionLocatingVmlinux(dump: dump)
            }
            let (dump, vmlinux) = try openDump(either: files[0], or: files[1], flatIndexCache: flatIndexCache)
            try checkReadableFile(vmlinux)
            let session = Session(dump: dump, vmlinuxPath: vmlinux)
            session.debugRoots = debuginfoLocator().debugRoots
            return session
        }
        if case .vmlinux = try DumpOpener.classify(path: files[0]) {
            throw InputProblem("\(files[0]): is a kernel image (vmlinux), not a dump; give the dump file too")
        }
        return sessionLocatingVmlinux(dump: try DumpOpener.open(path: files[0], flatIndexCache: flatIndexCache))
    }

    /// Where debuginfo is looked for: the distribution's debug root and the user's cache.
    static func debuginfoLocator() -> DebuginfoLocator {
        DebuginfoLocator(cacheDirectory: DebuginfoLocator.cacheDirectory(
            xdgCacheHome: Terminal.environment("XDG_CACHE_HOME"), home: Terminal.environment("HOME")))
    }

    /// A session for `dump` with the vmlinux found by the dump's build-id and release.
    static func sessionLocatingVmlinux(dump: any DumpFile) -> Session {
        let locator = debuginfoLocator()
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

    /// Where flattened dumps' indexes are kept ($XDG_CACHE_HOME or ~/.cache, crashsh/flat-index).
    static func flatIndexCache() -> FlatIndexCache? {
        FlatIndexCache.defaultDirectory(xdgCacheHome: Terminal.environment("XDG_CACHE_HOME"),
                                        home: Terminal.environment("HOME")).map(FlatIndexCache.init(directory:))
    }

    /// Tells which of two files is the dump, by content (crash's rule): an ELF core or a
    /// kdump/flattened signature is a dump, an ELF executable with sections is the vmlinux.
    /// Opens the dump; returns it with the vmlinux's path.
    static func openDump(either first: String, or second: String,
                         flatIndexCache: FlatIndexCache? = nil) throws -> (any DumpFile, String) {
        let firstKind = try DumpOpener.classify(path: first)
        let secondKind = try DumpOpener.classify(path: second)
        switch (firstKind, secondKind) {
        case (.dump, .dump):
            throw InputProblem("\(first) and \(second) are both dump files; give one dump and its vmlinux")
        case (.vmlinux, .vmlinux):
            throw InputProblem("\(first) and \(second) are both kernel images (vmlinux); give the dump file too")
        case (.dump, .vmlinux):
            return (try DumpOpener.open(path: first, flatIndexCache: flatIndexCache), second)
        case (.vmlinux, .dump):
            return (try DumpOpener.open(path: second, flatIndexCache: flatIndexCache), first)
        case (.vmlinux, .unknown), (.unknown, .vmlinux), (.unknown, .unknown):
            // The unknown one would be the dump: opening it says exactly what is wrong.
            let dumpPath = firstKind == .vmlinux ? second : first
            return (try DumpOpener.open(path: dumpPath, flatIndexCache: flatIndexCache), firstKind == .vmlinux ? first : second)
        case (.unknown(let detail), .dump):
            throw InputProblem("\(first): neither a dump nor a vmlinux (\(detail))")
        case (.dump, .unknown(let detail)):
            throw InputProblem("\(second): neither a dump nor a vmlinux (\(detail))")
        }
    }

    /// `crashsh --rewrite-flattened IN OUT`: writes the logical file of the flattened dump `input`
    /// to the new file `output` (makedumpfile -R's job), holes left sparse.
    static func rewriteFlattened(from input: String, to output: String) throws {
        let file = try MappedFile(path: input)
        guard FlattenedFile.hasSignature(file) else {
            throw InputProblem("\(input): not a flattened dump (no makedumpfile signature); nothing to rewrite")
        }
        let flat = try FlattenedFile(base: file)
        try flat.writeSeekable(to: output)
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
        let text = String(describing: error)
        return text.split(whereSeparator: { $0 == "\n" }).joined(separator: " ")
    }

    /// What the interactive prompt shows first: the files in use.
    static func banner(_ session: Session) -> String {
        var lines = ["    DUMPFILE: \(session.dump.path)  [\(session.dump.format.rawValue)]"]
        if let release = session.vmcoreinfo?.osRelease { lines.append("     RELEASE: \(release)") }
        lines.append("     VMLINUX: \(session.vmlinuxPath ?? "(none found; symbols from kallsyms, types from the kernel's BTF)")")
        return "\n" + lines.joined(separator: "\n") + "\n\nEnter \"help\" for the commands, \"q\" to leave.\n\n"
    }
}

/// Files on the command line that do not make a dump + vmlinux pair.
struct InputProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

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
        if files.count == 2 {
            let (dump, vmlinux) = try openDump(either: files[0], or: files[1])
            try checkReadableFile(vmlinux)
            return Session(dump: dump, vmlinuxPath: vmlinux)
        }
        let dump = try DumpOpener.open(path: files[0])
        let info = dump.vmcoreinfoText.map(VMCoreInfo.init(raw:))
        let locator = DebuginfoLocator(cacheDirectory: DebuginfoLocator.cacheDirectory(
            xdgCacheHome: Terminal.environment("XDG_CACHE_HOME"), home: Terminal.environment("HOME")))
        return Session(dump: dump, vmlinuxPath: locator.locate(release: info?.osRelease, buildID: info?.buildID))
    }

    /// Opens `first` as the dump; if it is no dump at all (unknown format), tries `second`.
    /// When neither opens, reports the error of the file that looks more like a broken dump.
    static func openDump(either first: String, or second: String) throws -> (any DumpFile, String) {
        let firstError: any Error
        do {
            return (try DumpOpener.open(path: first), second)
        } catch {
            firstError = error
        }
        guard case .unknownFormat? = firstError as? DumpError else { throw firstError }
        do {
            return (try DumpOpener.open(path: second), first)
        } catch let e as DumpError {
            if case .unknownFormat = e { throw firstError }
            throw e
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

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the vmlinux with debuginfo for a dump when none is given, where distributions and
/// crashsh's setup put it: by build-id in the `.build-id` tree, then by release under
/// /usr/lib/debug, then in crashsh's debuginfo cache.
public struct DebuginfoLocator: Sendable {
    /// The distribution's debug root, normally /usr/lib/debug.
    public var debugRoot: String
    /// crashsh's cache ($XDG_CACHE_HOME/crashsh/debuginfo or ~/.cache/crashsh/debuginfo), if known.
    public var cacheDirectory: String?

    public init(debugRoot: String = "/usr/lib/debug", cacheDirectory: String?) {
        self.debugRoot = debugRoot
        self.cacheDirectory = cacheDirectory
    }

    /// The cache directory for the given environment values: $XDG_CACHE_HOME/crashsh/debuginfo,
    /// else $HOME/.cache/crashsh/debuginfo; nil when neither is set.
    public static func cacheDirectory(xdgCacheHome: String?, home: String?) -> String? {
        if let x = xdgCacheHome, x.hasPrefix("/") { return x + "/crashsh/debuginfo" }
        if let h = home, !h.isEmpty { return h + "/.cache/crashsh/debuginfo" }
        return nil
    }

    /// The roots a separate debug file is looked for under (by build-id, or mirroring the
    /// stripped file's directory): the debug root, then the cache.
    public var debugRoots: [String] { [debugRoot] + (cacheDirectory.map { [$0] } ?? []) }

    /// The paths to try, best first, for a kernel `release` (VMCOREINFO OSRELEASE) and
    /// `buildID` (VMCOREINFO BUILD-ID, hex). Both come from the dump, which is untrusted: a
    /// release that could leave the directory (a `/`, a leading `.`) or a build-id that is not
    /// hex is ignored.
    public func candidates(release: String?, buildID: String?) -> [String] {
        var paths: [String] = []
        let id = buildID.flatMap { b -> String? in
            let lower = b.lowercased()
            return lower.count >= 3 && lower.allSatisfy({ $0.isHexDigit }) ? lower : nil
        }
        let rel = release.flatMap { r -> String? in
            r.isEmpty || r.hasPrefix(".") || r.contains("/") || r.contains("\0") ? nil : r
        }
        var roots = [debugRoot]
        if let cacheDirectory { roots.append(cacheDirectory) }
        if let id {
            let tail = id.dropFirst(2)
            for root in roots { paths.append("\(root)/.build-id/\(id.prefix(2))/\(tail).debug") }
        }
        if let rel {
            paths.append("\(debugRoot)/boot/vmlinux-\(rel)")
            paths.append("\(debugRoot)/lib/modules/\(rel)/vmlinux")
            if let cacheDirectory {
                paths.append("\(cacheDirectory)/vmlinux-\(rel)")
                paths.append("\(cacheDirectory)/\(rel)/vmlinux")
            }
        }
        return paths
    }

    /// The first candidate that is a readable regular file (symlinks followed), or nil.
    public func locate(release: String?, buildID: String?) -> String? {
        candidates(release: release, buildID: buildID).first(where: DebuginfoLocator.isReadableFile)
    }

    static func isReadableFile(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 else { return false }
        return access(path, R_OK) == 0
    }
}

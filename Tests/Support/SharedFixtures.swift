import Foundation

/// The shared crash-dump fixtures every test target uses: the folder of the debian-6.1-cloud
/// set, from $CRASHSH_FIXTURES (the cache root prepare.sh prints), else by running
/// ../shared/fixtures/prepare.sh beside the package. nil when neither is there: the fixture
/// tests then skip.
public enum SharedFixtures {
    /// The package's root folder (this file is Tests/Support/SharedFixtures.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// …/debian-6.1-cloud, holding the dumps, the vmlinux and refs/; nil when unavailable.
    public static let setDirectory: String? = {
        func set(_ root: String) -> String? {
            let dir = root + "/debian-6.1-cloud"
            return FileManager.default.fileExists(atPath: dir + "/dump.kdump") ? dir : nil
        }
        if let root = ProcessInfo.processInfo.environment["CRASHSH_FIXTURES"], !root.isEmpty {
            return set(root)
        }
        let prepare = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/prepare.sh").path
        guard FileManager.default.fileExists(atPath: prepare),
              let out = try? Tool.run("/bin/sh", [prepare], cwd: packageRoot.path), out.status == 0,
              let root = out.stdout.split(separator: "\n").last else { return nil }
        return set(root.trimmingCharacters(in: .whitespaces))
    }()

    /// The kernel release of Samples/dump.kdump (the fixture set's dump.kdump is the same file).
    public static let sampleRelease = "6.1.0-56-cloud-amd64"

    /// dump.kdump: the fixture set's, else the repository's Samples/dump.kdump, so that a clone on
    /// its own (no ../shared) still runs the tests that need only this dump.
    public static let sampleDump: String? = {
        if let set = setDirectory { return set + "/dump.kdump" }
        let bundled = packageRoot.appendingPathComponent("Samples/dump.kdump").path
        return FileManager.default.fileExists(atPath: bundled) ? bundled : nil
    }()

    /// The vmlinux of `sampleRelease`: the fixture set's, else where scripts/fetch-debuginfo.sh
    /// puts or finds it ($XDG_CACHE_HOME/crashsh/debuginfo, /usr/lib/debug); nil when absent.
    public static let sampleVmlinux: String? = {
        let name = "vmlinux-" + sampleRelease
        let env = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let set = setDirectory { candidates.append(set + "/" + name) }
        if let xdg = env["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            candidates.append(xdg + "/crashsh/debuginfo/" + name)
        } else if let home = env["HOME"], !home.isEmpty {
            candidates.append(home + "/.cache/crashsh/debuginfo/" + name)
        }
        candidates += ["/usr/lib/debug/boot/" + name, "/usr/lib/debug/lib/modules/\(sampleRelease)/vmlinux"]
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }()

    /// Why a test that needs the whole fixture set was skipped.
    public static let setMissing = "needs the fixture set (../shared/fixtures or $CRASHSH_FIXTURES): other dumps, refs/ of crash 8.0.6"
    /// Why a test that needs dump.kdump and its vmlinux was skipped.
    public static let sampleMissing = "needs Samples/dump.kdump and its vmlinux (scripts/fetch-debuginfo.sh \(sampleRelease))"
}

/// Runs a program and captures what it printed.
public enum Tool {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// `executable` is a path, or a name looked up in /usr/bin.
    public static func run(_ executable: String, _ arguments: [String], cwd: String? = nil) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/" + executable)
        p.arguments = arguments
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // The tools run here (nm, eu-readelf, objcopy, prepare.sh) write little to standard
        // error, so reading it after standard output cannot fill its pipe and block them.
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus,
                      stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

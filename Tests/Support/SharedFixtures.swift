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

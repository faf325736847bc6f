#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Plain file-descriptor output: Swift 6 cannot use C's `stdout`/`stderr` globals, and the
/// shell interleaves its own output with child processes', so nothing is buffered.
enum Terminal {
    static let standardOutput: Int32 = 1
    static let standardError: Int32 = 2

    /// Writes all of `text` to `fd`; false when the descriptor refuses (EPIPE, disk full...).
    @discardableResult
    static func write(_ text: String, to fd: Int32) -> Bool {
        var text = text
        return text.withUTF8 { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    /// One diagnostic line on standard error.
    static func error(_ line: String) {
        write(line.hasSuffix("\n") ? line : line + "\n", to: standardError)
    }

    /// The C library's text for an errno value.
    static func errorText(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "error \(code)" }
        return String(cString: s)
    }

    /// Reads a whole (small) text file such as a command script.
    static func readTextFile(_ path: String) throws(ScriptError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ScriptError(path: path, reason: errorText(errno)) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw ScriptError(path: path, reason: "is a directory")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ScriptError(path: path, reason: errorText(errno))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value of an environment variable, if set.
    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// A command script (`-i FILE`) that cannot be read.
struct ScriptError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { "\(path): cannot read command script: \(reason)" }
}

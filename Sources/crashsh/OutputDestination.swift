#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLineEdit

/// Delivers a command's output where the command line sent it: standard output, a file
/// (`>`, `>>`), or the standard input of `/bin/sh -c` (`|`), whose own output goes to ours.
enum OutputDestination {
    /// A redirection that could not be set up, as one line for standard error.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Opens `path` for a command's output (`>` truncates, `>>` appends).
    static func openFile(_ path: String, append: Bool) throws(Failure) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o644)
        guard fd >= 0 else { throw Failure(description: "crashsh: \(path): cannot write: \(Terminal.errorText(errno))") }
        return fd
    }

    static func writeToFile(_ text: String, path: String, append: Bool) throws(Failure) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw Failure(description: "crashsh: \(path): cannot write: \(Terminal.errorText(errno))") }
        defer { close(fd) }
        guard Terminal.write(text, to: fd) else {
            throw Failure(description: "crashsh: \(path): cannot write: \(Terminal.errorText(errno))")
        }
    }

    /// Runs `/bin/sh -c shellCommand` with `text` on its standard input and waits for it.
    /// The shell inherits our standard output and error. Its exit status is not a crashsh
    /// failure (`grep` finding nothing exits 1).
    static func pipe(_ text: String, through shellCommand: String) throws(Failure) {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else {
            throw Failure(description: "crashsh: cannot make a pipe: \(Terminal.errorText(errno))")
        }
        let readEnd = fds[0], writeEnd = fds[1]
        // Only the shell's standard input (the dup below) may stay open across exec.
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, 0)

        // crashsh ignores SIGPIPE (it checks write errors instead); the shell command must not
        // inherit that, or `cmd | a | head` would not stop `a`.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(shellCommand), nil]
        defer { for a in argv { free(a) } }
        let status = argv.withUnsafeBufferPointer { args in
            posix_spawn(&pid, "/bin/sh", &actions, &attributes, args.baseAddress!, crashsh_le_environment())
        }
        close(readEnd)
        guard status == 0 else {
            close(writeEnd)
            throw Failure(description: "crashsh: cannot run /bin/sh: \(Terminal.errorText(status))")
        }
        // Ctrl-C now belongs to the shell command (less, a long grep), not to crashsh.
        crashsh_le_set_activity(Int32(CRASHSH_LE_IN_SHELL_COMMAND))
        defer { crashsh_le_set_activity(Int32(CRASHSH_LE_IN_COMMAND)) }
        // A shell command that stops reading early (head, grep -q) is normal: the write just ends.
        Terminal.write(text, to: writeEnd)
        close(writeEnd)
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLineEdit

/// Where a command line sends a command's output besides standard output: a file (`>`, `>>`),
/// or the standard input of `/bin/sh -c` (`|`, `ShellCommandPipe`), whose own output goes to ours.
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
}

/// A running `/bin/sh -c COMMAND` (a `cmd | shell-command` pipe, or the pager) that reads what
/// crashsh writes to `input` and writes to crashsh's own standard output and error.
struct ShellCommandPipe {
    let pid: pid_t
    /// The write end of the command's standard input.
    let input: Int32

    /// Starts `shellCommand`. While it runs, Ctrl-C reaches it (less, a long grep) and is only
    /// recorded for crashsh's command, which stops at its next check (`finish` restores that).
    static func start(_ shellCommand: String) throws(OutputDestination.Failure) -> ShellCommandPipe {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else {
            throw OutputDestination.Failure(description: "crashsh: cannot make a pipe: \(Terminal.errorText(errno))")
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
            throw OutputDestination.Failure(description: "crashsh: cannot run /bin/sh: \(Terminal.errorText(status))")
        }
        crashsh_le_set_activity(Int32(CRASHSH_LE_IN_PIPED_COMMAND))
        return ShellCommandPipe(pid: pid, input: writeEnd)
    }

    /// Ends the command's input and waits for it to exit (the pager until the user quits it).
    /// Ctrl-C meanwhile belongs to the command alone.
    func finish() {
        close(input)
        crashsh_le_set_activity(Int32(CRASHSH_LE_IN_SHELL_COMMAND))
        defer { crashsh_le_set_activity(Int32(CRASHSH_LE_IN_COMMAND)) }
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
    }
}

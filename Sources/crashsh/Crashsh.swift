#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import CLineEdit
import Commands
import DumpModel

/// `crashsh [options] FILE [FILE]`: opens a kernel crash dump (and its vmlinux, in either
/// order) and runs crash-style commands from -c, -i, standard input or an interactive prompt.
@main
struct Crashsh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crashsh",
        abstract: "Analyze a Linux kernel crash dump, like crash.",
        discussion: """
        The dump (ELF vmcore, makedumpfile kdump-compressed or flattened, QEMU dump-guest-memory) \
        and the vmlinux with debuginfo may be given in either order; they are told apart by content. \
        The parts of a makedumpfile --split dump are given together, as crash takes them \
        (crashsh VMLINUX PART1 PART2 ...). A flattened dump (makedumpfile -F) is indexed once; the \
        index is kept in $XDG_CACHE_HOME/crashsh/flat-index (or ~/.cache/crashsh/flat-index). \
        --rewrite-flattened IN OUT writes a flattened dump IN as the seekable kdump file OUT, \
        like makedumpfile -R. \
        Without a vmlinux, crashsh looks for the dump's kernel in /usr/lib/debug (by build-id and \
        release) and in $XDG_CACHE_HOME/crashsh/debuginfo. Commands come from -c, -i, standard input \
        when it is not a terminal, or the interactive prompt (enter "help" there).
        """,
        version: "crashsh \(Crashsh.version)")

    /// The release of this crashsh, for `--version`.
    static let version = "0.1.0"

    /// `crashsh triage ...` is its own command line (many dumps, no shell); anything else is
    /// crashsh's usual one.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "triage" {
            TriageCLI.main(Array(arguments.dropFirst()))
        } else {
            main(arguments)
        }
    }

    @Option(name: .customShort("c"),
            help: ArgumentHelp("Run these commands (separated by ';') and exit. May be repeated.", valueName: "commands"))
    var commandStrings: [String] = []

    @Option(name: .customShort("i"),
            help: ArgumentHelp("Run the commands in this file (one or more per line) and exit.", valueName: "file"))
    var scriptPath: String?

    @Flag(name: .long, help: "Print every command's result as JSON (like 'set json on').")
    var json = false

    @Flag(name: .customLong("ignore-mismatch"),
          help: "Use the vmlinux even if its build-id or release does not match the dump.")
    var ignoreMismatch = false

    @Flag(name: [.customShort("s"), .customLong("silent")],
          help: "Accepted for crash compatibility; crashsh prints no banner outside the prompt anyway.")
    var silent = false

    @Flag(name: .customLong("zero_excluded"),
          help: "Read pages the dump tool excluded (dump level filtering) as zeros instead of failing, as crash --zero_excluded does.")
    var zeroExcluded = false

    @Flag(name: .customLong("rewrite-flattened"),
          help: "Write the flattened dump IN (makedumpfile -F) as a seekable kdump file OUT (like makedumpfile -R), then exit. Usage: crashsh --rewrite-flattened IN OUT")
    var rewriteFlattened = false

    @Argument(help: ArgumentHelp("The dump file (or all parts of a split dump) and, optionally, the vmlinux, in any order.", valueName: "file"))
    var files: [String] = []

    func validate() throws {
        if rewriteFlattened {
            if files.count != 2 { throw ValidationError("--rewrite-flattened takes two files: IN (flattened) and OUT (new)") }
            return
        }
        if files.isEmpty { throw ValidationError("missing the dump file") }
    }

    func run() throws {
        // Output errors are checked at each write; a reader that goes away must not kill us.
        signal(SIGPIPE, SIG_IGN)

        var script: String?
        if let scriptPath {
            do {
                script = try Terminal.readTextFile(scriptPath)
            } catch {
                Terminal.error("crashsh: \(error.description)")
                throw ExitCode.failure
            }
        }

        if rewriteFlattened {
            do {
                try InputFiles.rewriteFlattened(from: files[0], to: files[1])
            } catch {
                Terminal.error("crashsh: \(InputFiles.describe(error))")
                throw ExitCode.failure
            }
            return
        }

        let session: Session
        do {
            session = try InputFiles.openSession(files: files, flatIndexCache: InputFiles.flatIndexCache())
        } catch {
            Terminal.error("crashsh: \(InputFiles.describe(error))")
            throw ExitCode.failure
        }
        session.ignoreMismatch = ignoreMismatch
        session.jsonOutput = json
        session.memory.zeroExcluded = zeroExcluded
        // Without a vmlinux, say once where symbols and types come from (or what is missing).
        session.kernelSourceReport = { Terminal.error($0) }

        let shell = Shell(session: session)
        let batch = script != nil || !commandStrings.isEmpty
        if batch {
            // A script written on Windows ends its lines with CRLF: the CR is not part of the command.
            if let script { shell.run(lines: script.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(withoutCarriageReturn)) }
            for commands in commandStrings where !shell.exitRequested { shell.run(line: commands) }
        } else if crashsh_le_isatty(0) == 0 {
            shell.run(lines: StandardInputLines())
        } else {
            Terminal.write(session.startupBanner() ?? InputFiles.banner(session), to: Terminal.standardOutput)
            LineEditor(shell: shell).run()
            return
        }
        // Every result is written (sinks flush per command). Ending the process here skips
        // tearing down the session: freeing libdw's caches, the symbol indexes and the page
        // buffers one by one costs more than some commands (tens of millions of instructions
        // after `bt` with a vmlinux), and the kernel reclaims it all at once.
        shell.endProcess()
    }
}

/// The lines of standard input, read as they come (so a pipe feeding commands works); a CRLF
/// line end counts as a line end.
struct StandardInputLines: Sequence, IteratorProtocol {
    mutating func next() -> Substring? {
        readLine(strippingNewline: true).map { withoutCarriageReturn(Substring($0)) }
    }
}

/// `line` without the carriage return a CRLF line end leaves at its end.
func withoutCarriageReturn(_ line: Substring) -> Substring {
    line.last == "\r" ? line.dropLast() : line
}

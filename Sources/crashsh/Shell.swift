#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Commands

/// Runs command lines against one session: splits them (`;`, quotes, `|`, `>`, `>>`), runs each
/// command, prints its result or its one-line error, and remembers whether anything failed.
final class Shell {
    let session: Session
    /// Some command (or its redirection) failed since the shell started.
    private(set) var anyFailed = false
    /// `exit`/`q` was run: read no more commands.
    private(set) var exitRequested = false

    init(session: Session) {
        self.session = session
    }

    /// Runs every command on `line`, in order, even after one fails; stops at `exit`.
    func run(line: String) {
        let invocations: [CommandInvocation]
        do {
            invocations = try CommandLineSyntax.parse(line)
        } catch {
            fail("crashsh: \(error)")
            return
        }
        for invocation in invocations {
            run(invocation)
            if exitRequested { return }
        }
    }

    /// Runs each line of a script or of standard input.
    func run(lines: some Sequence<Substring>) {
        for line in lines {
            run(line: String(line))
            if exitRequested { return }
        }
    }

    /// The pager for standard output at the interactive prompt (`set scroll on`), as a shell
    /// command; nil where output is never paged (-c, -i, standard input not a terminal).
    var pager: String?

    private func run(_ invocation: CommandInvocation) {
        // Results stream wherever they go: the first lines show (or reach `| head`) while the
        // rest is read.
        let sink: DescriptorSink
        var reader: ShellCommandPipe?
        do {
            switch invocation.output {
            case .standard:
                if session.scroll, let pager {
                    let started = try ShellCommandPipe.start(pager)
                    reader = started
                    sink = DescriptorSink(fd: started.input)
                } else {
                    sink = DescriptorSink(fd: Terminal.standardOutput)
                }
            case let .file(path, append):
                sink = DescriptorSink(fd: try OutputDestination.openFile(path, append: append), path: path)
            case let .pipe(shellCommand):
                let started = try ShellCommandPipe.start(shellCommand)
                reader = started
                sink = DescriptorSink(fd: started.input)
            }
        } catch {
            return fail("\(error)")
        }
        let outcome: CommandOutcome
        do {
            outcome = try session.execute(invocation.words, streamingTo: sink)
            // A command that failed before any output: in JSON mode its error line goes where
            // its result would have, so a reader of the stream can tell which command failed.
            if case let .failure(line) = outcome, session.jsonOutput {
                try sink.write(JSONValue.errorLine(command: invocation.words.joined(separator: " "), message: line))
            }
            try sink.flush()
        } catch {
            if let reader {
                // The pipe's command or the pager stopped reading (head, q in less): the output is
                // cut there, as it is for `cmd | head` in a Unix shell; not a failure.
                reader.finish()
                return
            }
            guard let path = sink.path else { readerWentAway() }
            sink.close()
            return fail("crashsh: \(path): cannot write: \(Terminal.errorText(errno))")
        }
        // The reader finishes first, so a failure line comes after the pager has gone.
        if let reader { reader.finish() } else { sink.close() }
        switch outcome {
        case .exit:
            exitRequested = true
        case let .failure(line), let .partial(_, line):
            fail(line)
        case .output:
            break
        }
    }

    /// Standard output's reader is gone: end quietly, with the status the run had so far.
    func readerWentAway() -> Never {
        endProcess()
    }

    /// Ends the process with the status the run had so far (1 when a command failed), without
    /// releasing the session.
    func endProcess() -> Never {
        exit(anyFailed ? 1 : 0)
    }

    private func fail(_ line: String) {
        anyFailed = true
        Terminal.error(line)
    }
}

/// Standard output as a sink for streamed results: pieces are gathered up to 64 KiB per write.
final class DescriptorSink: OutputSink {
    private let fd: Int32
    /// The file written (`>`, `>>`); nil for standard output, which is not closed.
    let path: String?
    private var pending = ""
    static let chunk = 64 * 1024

    init(fd: Int32, path: String? = nil) {
        self.fd = fd
        self.path = path
    }

    func close() {
        if path != nil { _ = Glibc.close(fd) }
    }

    func write(_ text: String) throws {
        pending += text
        if pending.utf8.count >= DescriptorSink.chunk { try flush() }
    }

    /// Writes what is gathered; throws `OutputClosed` when the reader went away.
    func flush() throws {
        guard !pending.isEmpty else { return }
        defer { pending = "" }
        guard Terminal.write(pending, to: fd) else { throw OutputClosed() }
    }
}

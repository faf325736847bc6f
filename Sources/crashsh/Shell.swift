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

    private func run(_ invocation: CommandInvocation) {
        let sink: DescriptorSink
        switch invocation.output {
        case .standard:
            // To standard output, results stream: the first lines show while the rest is read.
            sink = DescriptorSink(fd: Terminal.standardOutput)
        case let .file(path, append):
            do { sink = DescriptorSink(fd: try OutputDestination.openFile(path, append: append), path: path) } catch {
                return fail(error.description)
            }
        case .pipe:
            return runWhole(invocation)
        }
        defer { sink.close() }
        let outcome: CommandOutcome
        do {
            outcome = try session.execute(invocation.words, streamingTo: sink)
            try sink.flush()
        } catch {
            guard let path = sink.path else { readerWentAway() }
            return fail("crashsh: \(path): cannot write: \(Terminal.errorText(errno))")
        }
        switch outcome {
        case .exit:
            exitRequested = true
        case let .failure(line):
            failCommand(invocation, line)
        case let .partial(_, line):
            fail(line)
        case .output:
            break
        }
    }

    /// A command failed: its line on standard error and, in JSON mode, its error line on the
    /// output, so a reader of the stream can tell which command failed.
    private func failCommand(_ invocation: CommandInvocation, _ line: String) {
        fail(line)
        if session.jsonOutput {
            deliver(JSONValue.errorLine(command: invocation.words.joined(separator: " "), message: line),
                    to: invocation.output)
        }
    }

    /// Runs a command whose output goes to a file or a shell command: built whole, then delivered.
    private func runWhole(_ invocation: CommandInvocation) {
        switch session.execute(invocation.words) {
        case .exit:
            exitRequested = true
        case let .failure(line):
            failCommand(invocation, line)
        case let .output(text):
            deliver(text, to: invocation.output)
        case let .partial(text, line):
            deliver(text, to: invocation.output)
            fail(line)
        }
    }

    private func deliver(_ text: String, to output: CommandInvocation.Output) {
        do {
            switch output {
            case .standard:
                // A reader that went away (crashsh ... | head -1) ends the run quietly, as it
                // does for other Unix tools; nothing more can be shown.
                if !Terminal.write(text, to: Terminal.standardOutput), errno == EPIPE { readerWentAway() }
            case let .file(path, append):
                try OutputDestination.writeToFile(text, path: path, append: append)
            case let .pipe(shellCommand):
                try OutputDestination.pipe(text, through: shellCommand)
            }
        } catch {
            fail(error.description)
        }
    }

    /// Standard output's reader is gone: end quietly, with the status the run had so far.
    func readerWentAway() -> Never {
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

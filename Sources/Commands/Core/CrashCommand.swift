/// What every command returns: a typed value that renders as crash-shaped text and as JSON.
public protocol CommandResult {
    /// The text crash users expect (ends with a newline when not empty).
    func renderText() -> String
    /// The same facts as JSON.
    func renderJSON() -> JSONValue
}

/// A failure a command reports to the user: one line, the REPL goes on.
///
/// Write the message without the command's name: the shell prints `<command>: <message>`
/// (a message that already starts with `<command>: ` is printed as it is).
public struct CommandError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    /// The command stopped because the user pressed Ctrl-C (`Session.interruptRequested`).
    public static let interrupted = CommandError("interrupted")
}

/// One crash-style command. Each lives in its own file under Sources/Commands, named after it
/// (`sym` -> SymCommand.swift), and is listed in `CommandRegistry.all`.
public protocol CrashCommand: Sendable {
    /// The name typed at the prompt.
    static var name: String { get }
    /// Other names that run it (`q` for `exit`...).
    static var aliases: [String] { get }
    /// One line for the `help` list.
    static var summary: String { get }
    /// The full text of `help NAME`: synopsis, options, examples.
    static var usage: String { get }
    /// Parses `arguments` (the words after the name) and builds the result.
    static func run(_ arguments: [String], in session: Session) throws -> any CommandResult
    /// Tab completion of argument number `index` (0 = the first word after the name) that starts
    /// with `prefix`. The default offers nothing; commands that take symbols or type names answer
    /// from the session's kernel image once it offers prefix search.
    static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String]
}

extension CrashCommand {
    public static var aliases: [String] { [] }
    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] { [] }
}

/// A result that holds what could be shown before the command failed: the shell prints it, then
/// the failure line on standard error, and the command counts as failed.
public protocol PartialResult: CommandResult {
    /// The error that ended the command part-way, or nil when it completed.
    var failureMessage: String? { get }
}

/// A result with one answer per argument (vtop, ptov), each either a translation or why the
/// argument has none: the answers print, the failures make one line, and the command fails as
/// a whole only when no argument was answered.
public protocol PerArgumentResult: PartialResult {
    /// Why each argument failed, nil for those answered, in argument order.
    var argumentFailures: [String?] { get }
}

extension PerArgumentResult {
    public var failureMessage: String? {
        let messages = argumentFailures.compactMap { $0 }
        return messages.isEmpty ? nil : messages.joined(separator: "; ")
    }

    /// Self, or the error of a command none of whose arguments was answered.
    public func unlessEveryArgumentFailed() throws -> Self {
        if let message = failureMessage, argumentFailures.allSatisfy({ $0 != nil }) { throw CommandError(message) }
        return self
    }
}

/// Where a streamed result writes its text or JSON as it is produced.
public protocol OutputSink: AnyObject {
    /// Writes `text`; throws `OutputClosed` when the reader has gone away (the result stops).
    func write(_ text: String) throws
}

/// The reader of a sink went away (a closed pipe): nothing more can be shown.
public struct OutputClosed: Error, Sendable {
    public init() {}
}

/// A sink that keeps what is written, for the whole-string rendering of a streamed result.
public final class StringSink: OutputSink {
    public private(set) var text = ""
    public init() {}
    public func write(_ text: String) { self.text += text }
}

/// A result too large to build whole (millions of words, every symbol): it writes its text or
/// JSON to a sink piece by piece, so the first line shows at once and memory stays flat
/// whatever the count. Long loops poll the session's interrupt flag and stop with
/// `CommandError.interrupted`.
///
/// A stream that fails part-way throws; what it wrote stands, and the error becomes the
/// command's failure line. `streamJSON` writes the value of the line's `result` and, when it
/// fails, first closes what it opened (a list ends with an `{"error": ...}` record or the
/// object gets an "error" key), so the command's JSON line stays one valid line.
public protocol StreamingResult: CommandResult {
    func streamText(to sink: any OutputSink) throws
    func streamJSON(to sink: any OutputSink) throws
}

import DumpModel

/// What running one command produced, for the shell to print.
public enum CommandOutcome: Equatable, Sendable {
    /// The rendered output (text or JSON, per `Session.jsonOutput`), possibly empty.
    case output(String)
    /// The one line to print on standard error; the command failed.
    case failure(String)
    /// Output that was produced before the command failed, then its one error line.
    case partial(output: String, failure: String)
    /// `q`, `quit`, `exit`: end the session.
    case exit
}

extension Session {
    /// Runs the command `words` names (name, then arguments) and renders its result in the
    /// session's output mode. Never throws: a failure comes back as its one-line message.
    public func execute(_ words: [String]) -> CommandOutcome {
        guard let name = words.first else { return .output("") }
        guard let command = CommandRegistry.lookup(name) else {
            return .failure("crashsh: command not found: \(name)")
        }
        let result: any CommandResult
        do {
            result = try command.run(Array(words.dropFirst()), in: self)
        } catch {
            return .failure(Session.failureLine(command: name, error: error))
        }
        if result is ExitRequest { return .exit }
        let output = jsonOutput
            ? JSONValue.resultLine(command: words.joined(separator: " "), result: result.renderJSON())
            : result.renderText()
        if let failed = result as? PartialResult, let message = failed.failureMessage {
            return .partial(output: output, failure: Session.failureLine(command: name, error: CommandError(message)))
        }
        return .output(output)
    }

    /// Runs the command `words` names and writes its output to `sink` as it is produced (a
    /// `StreamingResult` in pieces, any other result whole). The outcome carries no output:
    /// `.failure` when the command failed before writing anything, `.partial` with empty output
    /// when it failed after (its JSON line, if any, is written).
    /// Throws `OutputClosed` when the sink's reader went away.
    public func execute(_ words: [String], streamingTo sink: any OutputSink) throws -> CommandOutcome {
        guard let name = words.first, let command = CommandRegistry.lookup(name) else {
            return try deliver(execute(words), to: sink)
        }
        let result: any CommandResult
        do {
            result = try command.run(Array(words.dropFirst()), in: self)
        } catch {
            return .failure(Session.failureLine(command: name, error: error))
        }
        guard let streaming = result as? StreamingResult else {
            if result is ExitRequest { return .exit }
            let output = jsonOutput
                ? JSONValue.resultLine(command: words.joined(separator: " "), result: result.renderJSON())
                : result.renderText()
            try sink.write(output)
            if let failed = result as? PartialResult, let message = failed.failureMessage {
                return .partial(output: "", failure: Session.failureLine(command: name, error: CommandError(message)))
            }
            return .output("")
        }
        var failure: (any Error)?
        if jsonOutput {
            let head = JSONValue.object([("command", .string(words.joined(separator: " "))), ("result", .null)]).rendered()
            // `{"command":"...","result":null}` less its `null}`: the streamed value goes there.
            try sink.write(String(head.dropLast(5)))
            do { try streaming.streamJSON(to: sink) } catch is OutputClosed { throw OutputClosed() } catch { failure = error }
            try sink.write("}\n")
        } else {
            do { try streaming.streamText(to: sink) } catch is OutputClosed { throw OutputClosed() } catch { failure = error }
        }
        if let failure { return .partial(output: "", failure: Session.failureLine(command: name, error: failure)) }
        return .output("")
    }

    /// Writes a whole outcome's output to `sink`; what is left is the failure line, if any.
    private func deliver(_ outcome: CommandOutcome, to sink: any OutputSink) throws -> CommandOutcome {
        switch outcome {
        case let .output(text): try sink.write(text); return .output("")
        case let .partial(text, line): try sink.write(text); return .partial(output: "", failure: line)
        case .failure, .exit: return outcome
        }
    }

    /// `<command>: <message>`, one line, for an error a command threw.
    static func failureLine(command: String, error: any Error) -> String {
        let message: String
        switch error {
        case let e as CommandError: message = e.message
        case is InterruptedByUser: message = CommandError.interrupted.message
        case let e as DumpError: message = e.description
        case let e as CustomStringConvertible: message = e.description
        default: message = String(describing: error)
        }
        let oneLine = message.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        return oneLine.hasPrefix(command + ": ") ? oneLine : "\(command): \(oneLine)"
    }

    /// Tab completion for the word that starts at UTF-8 offset `wordStart` of `line` and begins
    /// with `word`: command names for the first word of a command, otherwise what the command
    /// offers for that argument (`CrashCommand.completions`). Sorted, without duplicates.
    public func completions(line: String, wordStart: Int, word: String) -> [String] {
        guard let position = CommandLineSyntax.wordPosition(in: line, atUTF8Offset: wordStart) else { return [] }
        var candidates: [String]
        if position.index == 0 {
            candidates = CommandRegistry.all.flatMap { [$0.name] + $0.aliases }.filter { $0.hasPrefix(word) }
        } else if let name = position.command, let command = CommandRegistry.lookup(name) {
            // The line editor ends words at ">", so after "p task->" the word is what follows
            // "->": the command completes the whole expression, and the part before the word
            // is cut off again.
            let before = String(decoding: line.utf8.prefix(max(0, wordStart)), as: UTF8.self)
            var lead = ""
            if before.hasSuffix("->") {
                lead = String(before.reversed().prefix(while: { $0 != " " && $0 != "\t" }).reversed())
            }
            candidates = command.completions(forArgument: position.index - 1, prefix: lead + word, in: self)
                .filter { $0.hasPrefix(lead + word) }
                .map { String($0.dropFirst(lead.count)) }
        } else {
            candidates = []
        }
        return Array(Set(candidates)).sorted()
    }
}

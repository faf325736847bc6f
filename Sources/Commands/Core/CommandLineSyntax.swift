/// One command of an input line, split the way crash splits a line: the command's words, and
/// where its output goes (the terminal, a file, or a shell command).
public struct CommandInvocation: Equatable, Sendable {
    /// Where the output of a command goes.
    public enum Output: Equatable, Sendable {
        /// Standard output.
        case standard
        /// `> path` (truncate) or `>> path` (append).
        case file(path: String, append: Bool)
        /// `| shell-command`: the text after the bar, given to /bin/sh -c as typed.
        case pipe(shellCommand: String)
    }

    /// The command name followed by its arguments, quotes removed.
    public var words: [String]
    public var output: Output

    public init(words: [String], output: Output = .standard) {
        self.words = words
        self.output = output
    }

    /// The command name (the first word).
    public var name: String { words.first ?? "" }
    /// The words after the name.
    public var arguments: [String] { Array(words.dropFirst()) }
}

/// The little language of crashsh's prompt, `-c` strings and scripts:
///
///     cmd1 arg 'quoted arg'; cmd2 > file; cmd3 >> file; cmd4 | grep x | wc -l
///
/// `;` separates commands, single and double quotes group words (a backslash escapes the next
/// character outside single quotes), `>`/`>>` send a command's output to a file, and everything
/// after an unquoted `|` is a shell command that receives the output on its standard input.
/// A `#` at the start of a command makes the rest of the line a comment.
public enum CommandLineSyntax {
    /// Commands whose arguments are a C expression: single quotes in them are C's.
    static let expressionCommands: Set<String> = ["p", "print", "p/x", "p/d", "p/o", "p/t", "p/c", "whatis"]

    /// Splits `line` into commands. Empty commands (`;;`, blank lines, comments) are dropped.
    /// Throws a `CommandError` for an unterminated quote or a redirection without a file name.
    public static func parse(_ line: String) throws -> [CommandInvocation] {
        var parser = Parser(Array(line.unicodeScalars))
        return try parser.parseLine()
    }

    /// The words of one command line part, as typed so far, for completion: returns how many
    /// complete words precede the word that starts at `offset` (a UTF-8 byte offset into `line`)
    /// within the command it belongs to (0 = the word is the command name), and that command's
    /// name when the word is not the name itself. Quotes are honoured; an error gives nil.
    public static func wordPosition(in line: String, atUTF8Offset offset: Int) -> (index: Int, command: String?)? {
        let prefixBytes = Array(line.utf8.prefix(max(0, offset)))
        let prefix = String(decoding: prefixBytes, as: UTF8.self)
        var scalars = Array(prefix.unicodeScalars)
        // The word under the cursor has not started yet: a sentinel keeps the word count honest.
        scalars.append("x")
        var parser = Parser(scalars)
        guard let parts = try? parser.parseLine(keepEmpty: true), let last = parts.last else { return nil }
        if case .pipe = last.output { return nil }  // inside a shell command
        if case .file = last.output { return nil }
        let index = last.words.count - 1
        guard index >= 0 else { return nil }  // inside a comment
        return (index, index > 0 ? last.words.first : nil)
    }

    private struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        /// Open parentheses in the current command's expression (for `p` and `whatis` only):
        /// inside them `>` and `|` are C's operators, as crash leaves them to gdb.
        var parenthesisDepth = 0

        init(_ s: [Unicode.Scalar]) { self.s = s }

        mutating func parseLine(keepEmpty: Bool = false) throws -> [CommandInvocation] {
            var result: [CommandInvocation] = []
            while i < s.count {
                let command = try parseCommand()
                if !command.words.isEmpty || keepEmpty { result.append(command) }
                if i < s.count, s[i] == ";" { i += 1 }
            }
            return result
        }

        /// One command up to an unquoted `;` or the end.
        mutating func parseCommand() throws -> CommandInvocation {
            var words: [String] = []
            var output = CommandInvocation.Output.standard
            parenthesisDepth = 0
            skipBlanks()
            if i < s.count, s[i] == "#" {
                i = s.count
                return CommandInvocation(words: [])
            }
            while true {
                skipBlanks()
                guard i < s.count, s[i] != ";" else { break }
                let isExpression = words.first.map(CommandLineSyntax.expressionCommands.contains) ?? false
                switch s[i] {
                case "|" where !(isExpression && parenthesisDepth > 0), ">" where !(isExpression && parenthesisDepth > 0):
                    break
                default:
                    if let w = try word(expression: isExpression) { words.append(w) }
                    continue
                }
                switch s[i] {
                case "|":
                    i += 1
                    if case .file = output {
                        throw CommandError("cannot both redirect to a file and pipe to a command")
                    }
                    let text = try shellText()
                    if text.isEmpty { throw CommandError("missing shell command after |") }
                    output = .pipe(shellCommand: text)
                case ">":
                    i += 1
                    var append = false
                    if i < s.count, s[i] == ">" { append = true; i += 1 }
                    skipBlanks()
                    guard i < s.count, s[i] != ";", s[i] != "|", s[i] != ">",
                          let path = try word(), !path.isEmpty
                    else { throw CommandError("missing file name after \(append ? ">>" : ">")") }
                    if case .file = output { throw CommandError("more than one output file") }
                    output = .file(path: path, append: append)
                default:
                    if let w = try word() { words.append(w) }
                }
            }
            return CommandInvocation(words: words, output: output)
        }

        mutating func skipBlanks() {
            while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" || s[i] == "\r" { i += 1 }
        }

        /// One word with quotes and escapes resolved; stops at blanks and the operators ; | >.
        /// In an `expression` (the arguments of `p`), a single-quoted part stays as typed: it is
        /// C's character literal ('A'), which crash hands to gdb unchanged; and `>` and `|`
        /// inside parentheses are operators.
        mutating func word(expression: Bool = false) throws -> String? {
            var out = String.UnicodeScalarView()
            var any = false
            while i < s.count {
                let c = s[i]
                // "->" inside a word is C's member-through-pointer (p task->mm), not a redirection.
                if c == ">", out.last == "-" { out.append(c); i += 1; continue }
                if expression {
                    if c == "(" { parenthesisDepth += 1 }
                    if c == ")" { parenthesisDepth = max(0, parenthesisDepth - 1) }
                    if parenthesisDepth > 0, c == ">" || c == "|" { out.append(c); i += 1; any = true; continue }
                }
                if c == " " || c == "\t" || c == "\n" || c == "\r" || c == ";" || c == "|" || c == ">" { break }
                any = true
                if c == "'", expression {
                    out.append(c)
                    i += 1
                    var closed = false
                    while i < s.count {
                        out.append(s[i])
                        if s[i] == "\\", i + 1 < s.count { out.append(s[i + 1]); i += 2; continue }
                        i += 1
                        if s[i - 1] == "'" { closed = true; break }
                    }
                    if !closed { throw CommandError("unterminated single quote") }
                } else if c == "'" || c == "\"" {
                    i += 1
                    var closed = false
                    while i < s.count {
                        if s[i] == c { closed = true; i += 1; break }
                        if c == "\"", s[i] == "\\", i + 1 < s.count, s[i + 1] == "\"" || s[i + 1] == "\\" {
                            i += 1
                        }
                        out.append(s[i])
                        i += 1
                    }
                    if !closed { throw CommandError("unterminated \(c == "'" ? "single" : "double") quote") }
                } else if c == "\\", i + 1 < s.count {
                    out.append(s[i + 1])
                    i += 2
                } else {
                    out.append(c)
                    i += 1
                }
            }
            return any ? String(out) : nil
        }

        /// The raw text of a shell command up to an unquoted `;`, quotes kept for the shell.
        mutating func shellText() throws -> String {
            var out = String.UnicodeScalarView()
            var quote: Unicode.Scalar? = nil
            while i < s.count {
                let c = s[i]
                if let q = quote {
                    if c == q { quote = nil } else if c == "\\", q == "\"", i + 1 < s.count {
                        out.append(c); i += 1; out.append(s[i]); i += 1; continue
                    }
                } else if c == "'" || c == "\"" {
                    quote = c
                } else if c == "\\", i + 1 < s.count {
                    out.append(c); i += 1; out.append(s[i]); i += 1; continue
                } else if c == ";" {
                    break
                }
                out.append(c)
                i += 1
            }
            if let q = quote { throw CommandError("unterminated \(q == "'" ? "single" : "double") quote") }
            return String(out).trimmingBlanks()
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line ends.
    func trimmingBlanks() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !blank($0) }), let last = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[first...last])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLineEdit
import Commands

/// The interactive prompt: libedit line editing, history kept across sessions, and tab
/// completion answered by the session (command names; command arguments as commands offer).
final class LineEditor {
    static let prompt = "crashsh> "
    static let historyLimit: Int32 = 1000

    private let shell: Shell
    private let historyPath: String?

    init(shell: Shell) {
        self.shell = shell
        historyPath = LineEditor.historyFile()
    }

    /// Where history lives: $XDG_STATE_HOME/crashsh/history when XDG_STATE_HOME is set (the
    /// directory is created), else ~/.crashsh_history.
    static func historyFile() -> String? {
        if let state = Terminal.environment("XDG_STATE_HOME"), state.hasPrefix("/") {
            let dir = state + "/crashsh"
            mkdir(state, 0o700)  // XDG: create the base directory if it is missing
            mkdir(dir, 0o700)
            return dir + "/history"
        }
        if let home = Terminal.environment("HOME"), !home.isEmpty { return home + "/.crashsh_history" }
        return nil
    }

    /// The pager: $PAGER when set, else less if it is installed: -X leaves the text on the
    /// screen, -F exits at once when it fits on one screen, -K quits on Ctrl-C.
    /// Nil when there is none (output then goes straight to the terminal).
    static func pagerCommand() -> String? {
        if let pager = Terminal.environment("PAGER"), pager.contains(where: { $0 != " " && $0 != "\t" }) { return pager }
        let path = Terminal.environment("PATH") ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where access(dir + "/less", X_OK) == 0 {
            return "less -X -F -K"
        }
        return nil
    }

    /// Reads and runs lines until `exit` or end of input (Ctrl-D).
    func run() {
        crashsh_le_setup("crashsh", LineEditor.historyLimit)
        if let historyPath { _ = crashsh_le_read_history(historyPath) }

        // The completer reaches this editor through the context pointer; `self` outlives the
        // loop below, and the completer is removed before returning.
        let context = Unmanaged.passUnretained(self).toOpaque()
        crashsh_le_set_completer({ context, line, wordStart, word, candidates in
            guard let context, let line, let word else { return }
            let editor = Unmanaged<LineEditor>.fromOpaque(context).takeUnretainedValue()
            let found = editor.shell.session.completions(
                line: String(cString: line), wordStart: Int(wordStart), word: String(cString: word))
            for candidate in found { crashsh_le_add_candidate(candidates, candidate) }
        }, context)
        defer { crashsh_le_set_completer(nil, nil) }
        // As crash: long output at a terminal goes through a pager (`set scroll off` stops it).
        if crashsh_le_isatty(Terminal.standardOutput) != 0, let pager = LineEditor.pagerCommand() {
            shell.pager = pager
            shell.session.scroll = true
        }
        shell.session.interruptRequested = { crashsh_le_take_interrupt() != 0 }
        defer { shell.session.interruptRequested = { false } }

        while !shell.exitRequested {
            _ = crashsh_le_take_interrupt()
            guard let raw = crashsh_le_readline(LineEditor.prompt) else {
                Terminal.write("\n", to: Terminal.standardOutput)
                // Ctrl-C abandons the line; only end of input (Ctrl-D) ends the session.
                if crashsh_le_take_interrupt() != 0 { continue }
                break
            }
            let line = String(cString: raw)
            crashsh_le_free(raw)
            if line.contains(where: { $0 != " " && $0 != "\t" }) {
                crashsh_le_add_history(line)
                // Saved after every line so a killed session keeps its history.
                if let historyPath { _ = crashsh_le_write_history(historyPath) }
            }
            shell.run(line: line)
        }
    }
}

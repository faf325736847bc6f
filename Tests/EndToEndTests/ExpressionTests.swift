import Commands
import Foundation
import TestSupport
import Testing

/// C expressions as gdb evaluates them (crash's `p` is gdb's `print`): every command of
/// Expected/expressions/commands.txt (issue 11's cases, then generated ones) against what crash
/// 8.0.6 printed for it on dump.kdump (Expected/expressions/generate.sh), in one session.
@Suite(.serialized, .enabled(if: Harness.fixturesAvailable))
struct ExpressionTests {
    static let expectedRoot = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/expressions")

    /// crash's answer to one command.
    enum Reference: Equatable {
        /// What it printed.
        case output(String)
        /// gdb or crash refused the expression ("p: gdb request failed: ..."; gdb's own line
        /// is not shown in crash's -s mode).
        case gdbError
        /// crash's option parser took the expression for options ("p: invalid option -- '1'").
        case optionError
    }

    /// Commands crash 8.0.6 mangles before gdb sees them, why, and crashsh's answer (`$N`
    /// numbers left out), which is C's.
    static let knownDifferences: [String: (why: String, crashsh: String)] = [
        "p 5 - 3": ("crash's option parser drops a lone \"-\" word: gdb is asked for \"p 5 3\"", "$ = 2\n"),
        "p jiffies - 1": ("crash's option parser drops a lone \"-\" word: gdb is asked for \"p jiffies 1\"",
                          "jiffies = $ = 4294894940\n"),
        "p init_task.pid - 1": ("crash's option parser drops a lone \"-\" word", "$ = -1\n"),
        "p/x \"1 > 2\"": ("crash removes the double quotes for p but hands them to gdb for p/x, which prints the string's bytes; crashsh's shell removes quotes for every command",
                         "$ = 0x0\n"),
        // Not crash's fault: crashsh's gap. BTF, where the types come from, records both a
        // zero-length array ("[0]", as here) and a flexible one ("[]", sched_domain.span) as
        // 0 elements; only DWARF's subrange tells them apart, and crashsh writes "[]".
        "whatis struct mem_section_usage": ("crashsh cannot tell [0] from [] in BTF",
                                            "struct mem_section_usage {\n    struct callback_head rcu;\n    unsigned long subsection_map[1];\n    unsigned long pageblock_flags[];\n}\nSIZE: 24\n"),
        "whatis init_task.tasks.next + 1": ("crash's whatis reads \"init_task.tasks.next\" as TYPE.MEMBER and fails with \"cannot resolve: init_task + 1\"; gdb's whatis gives the pointer's type",
                                           "struct list_head *\n"),
    ]

    /// The reference split at the "@@@ N" lines generate.sh put before each command.
    static func references() throws -> [(command: String, reference: Reference)] {
        let commands = try String(contentsOf: expectedRoot.appendingPathComponent("commands.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        let log = try String(contentsOf: expectedRoot.appendingPathComponent("crash-8.0.6.txt"), encoding: .utf8)
        var blocks: [Int: [Substring]] = [:]
        var current: Int?
        for line in log.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("@@@ ") {
                current = Int(line.dropFirst(4))
                if let current { blocks[current] = [] }
                continue
            }
            if let current { blocks[current, default: []].append(line) }
        }
        return try commands.enumerated().map { index, command in
            guard let lines = blocks[index] else { throw HarnessError("no reference for \(command)") }
            let text = lines.joined(separator: "\n")
            if text.contains("gdb request failed") { return (command, .gdbError) }
            if text.contains("invalid option --") { return (command, .optionError) }
            // crash's own error line ("whatis: cannot resolve: ..."), then its usage lines.
            let name = command.split(separator: " ").first.map(String.init) ?? ""
            if text.hasPrefix(name + ": ") { return (command, .gdbError) }
            return (command, .output(text + "\n"))
        }
    }

    /// `$12 = ` numbers depend on how many values were printed before: compare without them.
    static func withoutHistoryNumbers(_ text: String) -> String {
        text.replacingOccurrences(of: #"\$[0-9]+ = "#, with: "$ = ", options: .regularExpression)
    }

    @Test func generatedExpressionsAgreeWithCrash() throws {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
        var matched = 0, total = 0
        var mismatches: [String] = []
        for (command, reference) in try Self.references() {
            total += 1
            guard let invocation = try CommandLineSyntax.parse(command).first else { continue }
            let outcome = session.execute(invocation.words)
            let agrees: Bool
            switch (reference, outcome) {
            case let (.output(expected), .output(got)):
                agrees = Self.withoutHistoryNumbers(got) == Self.withoutHistoryNumbers(expected)
            case let (.gdbError, .failure(line)), let (.optionError, .failure(line)):
                agrees = !line.isEmpty && !line.contains("\n")
            default:
                agrees = false
            }
            if agrees { matched += 1; continue }
            if let known = Self.knownDifferences[command] {
                let got: String
                if case let .output(text) = outcome { got = Self.withoutHistoryNumbers(text) } else { got = "\(outcome)" }
                #expect(got == known.crashsh, "\(command) (\(known.why))")
                continue
            }
            mismatches.append("\(command)\n  crash:   \(reference)\n  crashsh: \(outcome)")
        }
        print("ExpressionTests: \(matched) of \(total) commands agree with crash 8.0.6; \(Self.knownDifferences.count) known differences")
        #expect(mismatches.isEmpty, "\(mismatches.count) differ:\n\(mismatches.joined(separator: "\n"))")
    }

    /// `p 1+1+...+1` of any length: an answer or one error line, never a signal (no recursion
    /// whose depth the input decides, in parsing, evaluating or freeing the tree).
    @Test(arguments: [25_000, 100_000])
    func longSumsEndWithoutSignal(operands: Int) throws {
        let sum = Array(repeating: "1", count: operands).joined(separator: "+")
        let run = try Harness.run([Harness.fixture(Harness.vmlinuxName), Harness.fixture("dump.kdump")],
                                  stdin: "p \(sum)\np \(sum)+\np \(String(repeating: "(", count: operands))1\n")
        #expect(!run.killedBySignal)
        #expect(run.exitCode == 0 || run.exitCode == 1)
        #expect(run.stdout.contains("= \(operands)\n"), "\(run.stdout.prefix(200))")
        // The syntax error and the too-deep nesting: one line each.
        #expect(run.stderrLines.count == 2, "\(run.stderr.prefix(400))")
    }

    @Test func parsesDeepChainsWithoutRecursion() throws {
        let sum = Array(repeating: "1", count: 200_000).joined(separator: "-")
        let e = try ExpressionParser.parse(sum)
        #expect(e.nodes.count == 399_999)
        let negations = String(repeating: "-", count: 100_001) + "1"
        #expect(try ExpressionParser.parse(negations.replacingOccurrences(of: "--", with: "- -")).nodes.count > 0)
        #expect(throws: ExpressionSyntaxError.self) {
            try ExpressionParser.parse(String(repeating: "(", count: ExpressionParser.maxNesting + 1) + "1"
                                       + String(repeating: ")", count: ExpressionParser.maxNesting + 1))
        }
    }

    /// Token soup: every line is an answer or one error line, and the session goes on.
    @Test func randomTokenSoupNeverTraps() throws {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
        let pieces = ["1", "0", "-1", "0xffffffffffffffff", "18446744073709551616", "2147483648", "'A'", "'\\0'", "'",
                      "jiffies", "init_task", ".comm", ".tasks", ".next", "->", "[", "]", "(", ")", "(char *)",
                      "(struct task_struct *)", "(unsigned long)", "(_Bool)", "sizeof", "*", "&", "+", "-", "/",
                      "%", "<<", ">>", "<", "==", "&&", "||", "!", "~", "?", ":", ",", "@", "++", "--", "schedule",
                      "nr_cpu_ids", "$", "$$", "$1", "64", "63", "65536", "init_task.comm", "1000000000"]
        var rng = SplitMix64(state: 11)
        for _ in 0..<3000 {
            let count = 1 + rng.below(9)
            let text = (0..<count).map { _ in pieces[rng.below(pieces.count)] }.joined(separator: rng.below(2) == 0 ? "" : " ")
            switch session.execute(["p", text]) {
            case let .failure(line): #expect(!line.isEmpty && !line.contains("\n"), "p \(text): \(line)")
            case .output, .partial, .exit: break
            }
        }
        #expect(Harness.runCommand(session, "p 1 + 1").isOutput)
    }
}

extension Harness.Outcome {
    var isOutput: Bool { if case .output = self { return true }; return false }
}

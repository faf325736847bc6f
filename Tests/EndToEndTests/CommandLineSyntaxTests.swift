import Commands
import DumpModel
import Foundation
import Testing

/// The prompt's little language: `;`, quotes, `|`, `>`, `>>`, comments.
struct CommandLineSyntaxTests {
    typealias Inv = CommandInvocation

    @Test func splitsCommandsAndWords() throws {
        #expect(try CommandLineSyntax.parse("sym schedule; rd -64 linux_banner 8") ==
                [Inv(words: ["sym", "schedule"]), Inv(words: ["rd", "-64", "linux_banner", "8"])])
        #expect(try CommandLineSyntax.parse("  ;; \t ") == [])
        #expect(try CommandLineSyntax.parse("# comment; not a command") == [])
        #expect(try CommandLineSyntax.parse("ps; # rest is a comment") == [Inv(words: ["ps"])])
    }

    @Test func quotesAndEscapes() throws {
        #expect(try CommandLineSyntax.parse(#"ps 'a b;c' "d|e>f" g\ h "x\"y" ''"#) ==
                [Inv(words: ["ps", "a b;c", "d|e>f", "g h", "x\"y", ""])])
        #expect(throws: CommandError.self) { try CommandLineSyntax.parse("ps 'open") }
        #expect(throws: CommandError.self) { try CommandLineSyntax.parse("ps \"open") }
    }

    /// In `p` and `whatis`, single quotes are C's character literals and `>`/`|` inside
    /// parentheses are C's operators, as crash hands them to gdb; outside they still redirect.
    @Test func expressionsKeepCharacterLiteralsAndOperators() throws {
        #expect(try CommandLineSyntax.parse("p 'A' + 1") == [Inv(words: ["p", "'A'", "+", "1"])])
        #expect(try CommandLineSyntax.parse(#"p/c '\'' ; ps 'a b'"#) ==
                [Inv(words: ["p/c", #"'\''"#]), Inv(words: ["ps", "a b"])])
        #expect(try CommandLineSyntax.parse("p (jiffies > 1 || nr_cpu_ids | 2) > out") ==
                [Inv(words: ["p", "(jiffies", ">", "1", "||", "nr_cpu_ids", "|", "2)"], output: .file(path: "out", append: false))])
        #expect(try CommandLineSyntax.parse("p (1 >> 2)|wc -l") ==
                [Inv(words: ["p", "(1", ">>", "2)"], output: .pipe(shellCommand: "wc -l"))])
        #expect(try CommandLineSyntax.parse("p jiffies > 1") == [Inv(words: ["p", "jiffies"], output: .file(path: "1", append: false))])
        #expect(throws: CommandError.self) { try CommandLineSyntax.parse("p 'A") }
    }

    @Test func pipesKeepTheShellTextAsTyped() throws {
        #expect(try CommandLineSyntax.parse("log | grep 'a;b' | wc -l; sys") ==
                [Inv(words: ["log"], output: .pipe(shellCommand: "grep 'a;b' | wc -l")), Inv(words: ["sys"])])
        // A '>' after the bar belongs to the shell command.
        #expect(try CommandLineSyntax.parse("log | sort > out") ==
                [Inv(words: ["log"], output: .pipe(shellCommand: "sort > out"))])
        #expect(throws: CommandError.self) { try CommandLineSyntax.parse("log |") }
        #expect(throws: CommandError.self) { try CommandLineSyntax.parse("log > f | grep x") }
    }

    @Test func redirections() throws {
        #expect(try CommandLineSyntax.parse("log > out.txt") == [Inv(words: ["log"], output: .file(path: "out.txt", append: false))])
        #expect(try CommandLineSyntax.parse("log -T>>'my log'") == [Inv(words: ["log", "-T"], output: .file(path: "my log", append: true))])
        #expect(throws: CommandError.self) { try CommandLineSyntax.parse("log >") }
        #expect(throws: CommandError.self) { try CommandLineSyntax.parse("log > ; sys") }
        #expect(throws: CommandError.self) { try CommandLineSyntax.parse("log > a > b") }
    }

    @Test func wordPositionForCompletion() {
        func position(_ line: String) -> (Int, String?)? {
            CommandLineSyntax.wordPosition(in: line, atUTF8Offset: line.utf8.count).map { ($0.index, $0.command) }
        }
        #expect(position("")! == (0, nil))
        #expect(position("sym ")! == (1, "sym"))
        #expect(position("struct task_struct ")! == (2, "struct"))
        #expect(position("ps; ")! == (0, nil))
        #expect(position("ps | ") == nil)
        #expect(position("ps > ") == nil)
        #expect(position("# note ") == nil)
        #expect(position("ps 'a b' ")! == (2, "ps"))
    }
}

/// A dump with no memory and a given VMCOREINFO, to drive a Session without fixture files.
final class NoteOnlyDump: DumpFile {
    let path = "/test/note-only.dump"
    let format = DumpFormat.elfCore
    let pageSize = 4096
    let vmcoreinfo: VMCoreInfo?
    init(vmcoreinfo: String?) { self.vmcoreinfo = vmcoreinfo.map(VMCoreInfo.init(raw:)) }
    func readPage(pfn: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        throw DumpError.notInDump(paddr: pfn &* 4096)
    }
    func pageState(pfn: UInt64) -> PageState { .notInDump }
    func presentPages() -> AnySequence<UInt64> { AnySequence([]) }
    var notes: [DumpNote] { [] }
    var prstatus: [PRStatus] { [] }
    func summary() -> DumpSummary { DumpSummary(path: path, format: format, pageSize: pageSize) }
}

/// Running commands through the session: rendering, errors, completion.
struct CommandRunnerTests {
    let session = Session(dump: NoteOnlyDump(vmcoreinfo: "OSRELEASE=1.2.3\nPAGESIZE=4096\n"), vmlinuxPath: nil)

    @Test func rendersTextOrJSON() {
        #expect(session.execute(["vmcoreinfo"]) == .output("OSRELEASE=1.2.3\nPAGESIZE=4096\n"))
        #expect(session.execute(["set", "json", "on"]) == .output("{\"command\":\"set json on\",\"result\":{\"json\":true,\"scroll\":false}}\n"))
        #expect(session.execute(["vmcoreinfo"])
                == .output("{\"command\":\"vmcoreinfo\",\"result\":{\"OSRELEASE\":\"1.2.3\",\"PAGESIZE\":\"4096\"}}\n"))
        #expect(session.execute(["set", "json", "off"]) == .output("   json: off\n"))
        #expect(session.execute([]) == .output(""))
    }

    @Test func failuresAreOneLineNamingTheCommand() {
        #expect(session.execute(["frobnicate"]) == .failure("crashsh: command not found: frobnicate"))
        #expect(session.execute(["set", "json", "maybe"]) == .failure("set: json: expected on or off, not \"maybe\""))
        // The message already naming the command is not prefixed twice.
        #expect(session.execute(["vmcoreinfo", "x"]) == .failure("vmcoreinfo: takes no arguments"))
        let bare = Session(dump: NoteOnlyDump(vmcoreinfo: nil), vmlinuxPath: nil)
        #expect(bare.execute(["vmcoreinfo"]) == .failure("vmcoreinfo: /test/note-only.dump has no VMCOREINFO note"))
        #expect(session.execute(["q"]) == .exit)
        #expect(session.execute(["exit"]) == .exit)
    }

    @Test func completesCommandNamesAndSettings() {
        #expect(session.completions(line: "vm", wordStart: 0, word: "vm") == ["vm", "vmcoreinfo"])
        #expect(session.completions(line: "vmc", wordStart: 0, word: "vmc") == ["vmcoreinfo"])
        #expect(session.completions(line: "", wordStart: 0, word: "").contains("help"))
        #expect(session.completions(line: "set j", wordStart: 4, word: "j") == ["json"])
        #expect(session.completions(line: "set json o", wordStart: 9, word: "o") == ["off", "on"])
        #expect(session.completions(line: "ps; he", wordStart: 4, word: "he") == ["help"])
        #expect(session.completions(line: "help vmc", wordStart: 5, word: "vmc") == ["vmcoreinfo"])
        #expect(session.completions(line: "vmcoreinfo | gr", wordStart: 13, word: "gr") == [])
    }

    @Test func helpListsNamesDownFiveColumnsOfFifteen() {
        let names = (0..<12).map { "cmd\($0 < 10 ? "0" : "")\($0)" }
        let text = HelpCommand.ListResult(names: names).renderText()
        let rows = text.split(separator: "\n", omittingEmptySubsequences: false)
        // 12 names in 5 columns: 3 rows, filled column by column, as crash lays out its list.
        #expect(rows[0] == "")
        #expect(rows[1] == "cmd00          cmd03          cmd06          cmd09")
        #expect(rows[2] == "cmd01          cmd04          cmd07          cmd10")
        #expect(rows[3] == "cmd02          cmd05          cmd08          cmd11")
        #expect(rows[4] == "")
    }

    @Test func permissionErrorReadsWell() {
        // Tests run as root, which open(2) never refuses: check the line's wording here.
        #expect("\(DumpError.cannotOpen(path: "/x/dump", errno: EACCES))" == "/x/dump: cannot open: permission denied (EACCES)")
    }
}

/// Where a vmlinux is looked for when none is given.
struct DebuginfoLocatorTests {
    @Test func candidatesInOrder() {
        let l = DebuginfoLocator(debugRoot: "/dbg", cacheDirectory: "/cache")
        #expect(l.candidates(release: "6.1.0-56-cloud-amd64", buildID: "3B43fad5") == [
            "/dbg/.build-id/3b/43fad5.debug", "/cache/.build-id/3b/43fad5.debug",
            "/dbg/boot/vmlinux-6.1.0-56-cloud-amd64", "/dbg/lib/modules/6.1.0-56-cloud-amd64/vmlinux",
            "/cache/vmlinux-6.1.0-56-cloud-amd64", "/cache/6.1.0-56-cloud-amd64/vmlinux",
        ])
        // Values from the dump cannot walk out of the directories.
        #expect(l.candidates(release: "../../etc", buildID: "not-hex") == [])
        #expect(l.candidates(release: nil, buildID: nil) == [])
    }

    @Test func cacheDirectoryFromEnvironment() {
        #expect(DebuginfoLocator.cacheDirectory(xdgCacheHome: "/xdg", home: "/home/u") == "/xdg/crashsh/debuginfo")
        #expect(DebuginfoLocator.cacheDirectory(xdgCacheHome: nil, home: "/home/u") == "/home/u/.cache/crashsh/debuginfo")
        #expect(DebuginfoLocator.cacheDirectory(xdgCacheHome: "relative", home: nil) == nil)
    }

    @Test func locatesTheFirstReadableFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crashsh-locator-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("cache")
        try FileManager.default.createDirectory(at: cache.appendingPathComponent("1.0"), withIntermediateDirectories: true)
        let l = DebuginfoLocator(debugRoot: dir.appendingPathComponent("dbg").path, cacheDirectory: cache.path)
        #expect(l.locate(release: "1.0", buildID: "abcdef") == nil)
        // An empty file is not debuginfo.
        _ = FileManager.default.createFile(atPath: cache.appendingPathComponent("vmlinux-1.0").path, contents: Data())
        #expect(l.locate(release: "1.0", buildID: "abcdef") == nil)
        _ = FileManager.default.createFile(atPath: cache.appendingPathComponent("1.0/vmlinux").path, contents: Data([1]))
        #expect(l.locate(release: "1.0", buildID: "abcdef") == cache.appendingPathComponent("1.0/vmlinux").path)
        _ = FileManager.default.createFile(atPath: cache.appendingPathComponent("vmlinux-1.0").path, contents: Data([1]))
        #expect(l.locate(release: "1.0", buildID: "abcdef") == cache.appendingPathComponent("vmlinux-1.0").path)
    }
}

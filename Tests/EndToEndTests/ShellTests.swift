import Commands
import Foundation
import Testing

/// crashsh as a user runs it: arguments, -c, -i, standard input, pipes, redirection, output
/// modes, and one clear line for input it cannot use.
@Suite struct ShellTests {
    @Test("vmcoreinfo prints the note crash shows in help -D", Harness.needsFixtureSet, arguments: Harness.kdumpCrashDumps + Harness.qemuCrashDumps)
    func vmcoreinfoMatchesCrash(dump: String) throws {
        // Both QEMU files come from one boot, the others from the kdump crash: compare each
        // with crash's view of a kdump-format file of the same crash.
        let reference = try Harness.referenceVmcoreinfo(Harness.qemuCrashDumps.contains(dump) ? "qemu.kdump" : "dump.kdump")
        let run = try Harness.run(["-c", "vmcoreinfo", Harness.fixture(dump)])
        #expect(run.stderr == "")
        #expect(run.exitCode == 0)
        #expect(run.stdout == reference)
        // crash printed the same block for this very file, too.
        #expect(run.stdout == (try Harness.referenceVmcoreinfo(dump)))
    }

    @Test(Harness.needsFixtureSet) func jsonOutputIsParseableAndHasTheKeys() throws {
        let run = try Harness.run(["--json", "-c", "vmcoreinfo", Harness.fixture("dump.kdump")])
        #expect(run.exitCode == 0)
        #expect(run.stdout.split(separator: "\n").count == 1, "one JSON line per command")
        let line = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(line["command"] as? String == "vmcoreinfo")
        let object = try #require(line["result"] as? [String: Any])
        let reference = try Harness.referenceVmcoreinfo("dump.kdump")
        #expect(object["OSRELEASE"] as? String == "6.1.0-56-cloud-amd64")
        #expect(object["BUILD-ID"] as? String == "3b43fad5034874490492495d552c0af6a5fab235")
        let referenceKeys = Set(reference.split(separator: "\n").map { String($0.prefix(while: { $0 != "=" })) })
        #expect(Set(object.keys) == referenceKeys)
    }

    /// In JSON mode a failing command leaves an error line in the stream (and its line on stderr).
    @Test(Harness.needsSample) func jsonModeReportsFailuresAsDocuments() throws {
        let run = try Harness.run(["--json", "-c", "vmcoreinfo extra; nosuch; set", Harness.fixture("dump.kdump")])
        #expect(run.exitCode == 1)
        // `set` reads the kernel: when no vmlinux is found (it depends on this machine's debuginfo
        // cache), a line also says where symbols come from.
        #expect(run.stderrLines.filter { !$0.hasPrefix("no vmlinux: ") } == ["vmcoreinfo: takes no arguments",
                                                                            "crashsh: command not found: nosuch"])
        let documents = run.stdout.split(separator: "\n")
        #expect(documents.count == 3)
        let parsed = try documents.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(parsed.first?["command"] as? String == "vmcoreinfo extra")
        #expect(parsed.first?["error"] as? String == "vmcoreinfo: takes no arguments")
        #expect(parsed.dropFirst().first?["command"] as? String == "nosuch")
        #expect(parsed.dropFirst().first?["error"] as? String == "crashsh: command not found: nosuch")
        #expect(parsed.last?["command"] as? String == "set")
        #expect((parsed.last?["result"] as? [String: Any])?["json"] as? Bool == true)
    }

    @Test(Harness.needsSample) func setJsonSwitchesTheOutputMode() throws {
        let run = try Harness.run(["-c", "set json on; vmcoreinfo; set json off; vmcoreinfo | grep PAGESIZE",
                                   Harness.fixture("dump.kdump")])
        #expect(run.exitCode == 0)
        #expect(run.stderr == "")
        // set's own JSON, the vmcoreinfo object, then text again.
        #expect(run.stdout.hasPrefix("{\"command\":\"set json on\",\"result\":{\"json\":true,\"scroll\":false}}\n"
                                     + "{\"command\":\"vmcoreinfo\",\"result\":{\"OSRELEASE\":\"6.1.0-56-cloud-amd64\","))
        #expect(run.stdout.hasSuffix("   json: off\nPAGESIZE=4096\n"))
    }

    @Test(Harness.needsFixtureSet) func dumpAndVmlinuxInEitherOrder() throws {
        let dump = Harness.fixture("dump.elf"), vmlinux = Harness.fixture(Harness.vmlinuxName)
        let reference = try Harness.referenceVmcoreinfo("dump.elf")
        let a = try Harness.run(["-c", "vmcoreinfo", dump, vmlinux])
        let b = try Harness.run(["-c", "vmcoreinfo", vmlinux, dump])
        #expect(a.exitCode == 0 && b.exitCode == 0)
        #expect(a.stderr == "" && b.stderr == "")
        #expect(a.stdout == reference)
        #expect(b.stdout == reference)
    }

    @Test(Harness.needsFixtureSet) func pipesThroughTheShell() throws {
        let run = try Harness.run(["-c", "vmcoreinfo | grep OSRELEASE; vmcoreinfo | grep -c '^SYMBOL(' | tr -d ' '",
                                   Harness.fixture("dump.kdump")])
        let symbols = try Harness.referenceVmcoreinfo("dump.kdump").split(separator: "\n").filter { $0.hasPrefix("SYMBOL(") }.count
        #expect(run.exitCode == 0)
        #expect(run.stdout == "OSRELEASE=6.1.0-56-cloud-amd64\n\(symbols)\n")
    }

    @Test(Harness.needsFixtureSet) func redirectsToAFileAndAppends() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reference = try Harness.referenceVmcoreinfo("dump.kdump")
        let run = try Harness.run(["-c", "vmcoreinfo > out.txt; vmcoreinfo >> out.txt; vmcoreinfo > 'two words.txt'",
                                   Harness.fixture("dump.kdump")], cwd: dir)
        #expect(run.exitCode == 0)
        #expect(run.stdout == "")
        #expect(try String(contentsOf: dir.appendingPathComponent("out.txt"), encoding: .utf8) == reference + reference)
        #expect(try String(contentsOf: dir.appendingPathComponent("two words.txt"), encoding: .utf8) == reference)
        // An unwritable target is one error line; the next command still runs.
        let bad = try Harness.run(["-c", "vmcoreinfo > /nonexistent-dir/x; vmcoreinfo | grep PAGESIZE",
                                   Harness.fixture("dump.kdump")], cwd: dir)
        #expect(bad.exitCode != 0)
        #expect(bad.stderrLines.count == 1)
        #expect(bad.stderr.contains("/nonexistent-dir/x"))
        #expect(bad.stdout == "PAGESIZE=4096\n")
    }

    @Test(Harness.needsFixtureSet) func runsACommandScript() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("script.crash")
        try """
        # a comment line
        vmcoreinfo | grep PAGESIZE

        set json on; vmcoreinfo | grep -o '"BUILD-ID":"[0-9a-f]*"'
        """.write(to: script, atomically: true, encoding: .utf8)
        let run = try Harness.run(["-i", script.path, Harness.fixture("dump.flat")])
        #expect(run.exitCode == 0)
        #expect(run.stderr == "")
        #expect(run.stdout == "PAGESIZE=4096\n{\"command\":\"set json on\",\"result\":{\"json\":true,\"scroll\":false}}\n"
                + "\"BUILD-ID\":\"3b43fad5034874490492495d552c0af6a5fab235\"\n")

        let missing = try Harness.run(["-i", dir.appendingPathComponent("nope").path, Harness.fixture("dump.flat")])
        #expect(missing.exitCode == 1)
        #expect(missing.stderrLines.count == 1)
        #expect(missing.stderr.contains("nope"))
    }

    @Test(Harness.needsSample) func commandsFromStandardInputContinueAfterAFailure() throws {
        let run = try Harness.run([Harness.fixture("dump.kdump")],
                                  stdin: "nosuchcommand arg\nvmcoreinfo extra\nvmcoreinfo | grep BUILD-ID\n'unterminated\nhelp set | head -1\n")
        #expect(run.stdout == "BUILD-ID=3b43fad5034874490492495d552c0af6a5fab235\nNAME\n")
        #expect(run.stderrLines == ["crashsh: command not found: nosuchcommand",
                                    "vmcoreinfo: takes no arguments",
                                    "crashsh: unterminated single quote"])
        #expect(run.exitCode == 1)
        #expect(!run.killedBySignal)
    }

    @Test(Harness.needsSample) func exitStopsReadingCommands() throws {
        for word in ["q", "quit", "exit"] {
            let run = try Harness.run(["-c", "vmcoreinfo | head -1; \(word); vmcoreinfo", Harness.fixture("dump.kdump")])
            #expect(run.stdout == "OSRELEASE=6.1.0-56-cloud-amd64\n")
            #expect(run.exitCode == 0)
        }
        let stdin = try Harness.run([Harness.fixture("dump.kdump")], stdin: "q\nvmcoreinfo\n")
        #expect(stdin.stdout == "")
        #expect(stdin.exitCode == 0)
    }

    @Test(Harness.needsSample) func helpListsEveryCommandAndShowsUsage() throws {
        let run = try Harness.run(["-c", "help", Harness.fixture("dump.kdump")])
        #expect(run.exitCode == 0)
        let listed = Set(run.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        for command in CommandRegistry.all {
            #expect(listed.contains(command.name), "help does not list \(command.name)")
        }
        let usage = try Harness.run(["-c", "help vmcoreinfo", Harness.fixture("dump.kdump")])
        #expect(usage.stdout == VmcoreinfoCommand.usage + "\n")
        let unknown = try Harness.run(["-c", "help nosuch", Harness.fixture("dump.kdump")])
        #expect(unknown.stderr == "help: no such command: nosuch\n")
        #expect(unknown.exitCode == 1)
    }

    /// `help union` is union's own text (not struct's), and every command's examples are typed at
    /// a `crash>` prompt, as in crash's help.
    @Test(Harness.needsSample) func helpExamplesUseTheCrashPrompt() throws {
        let union = try Harness.run(["-c", "help union", Harness.fixture("dump.kdump")])
        #expect(union.stdout.hasPrefix("NAME\n  union - union contents\n\nSYNOPSIS\n  union union_name[.member[,member]]"))
        #expect(!union.stdout.contains("struct_name"))
        var names: [String] = []
        var usages: [(name: String, usage: String)] = []
        for command in CommandRegistry.all {
            names.append(command.name)
            usages.append((command.name, command.usage))
        }
        let all = try Harness.run(["-c", "help " + names.joined(separator: " "), Harness.fixture("dump.kdump")])
        #expect(all.exitCode == 0)
        #expect(!all.stdout.contains("crashsh>"))
        for (name, usage) in usages {
            #expect(all.stdout.contains(usage), "\(name)")
            guard let examples = usage.range(of: "EXAMPLES\n") else { continue }
            let lines = usage[examples.upperBound...].split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let first: String = lines.first(where: { (line: String) -> Bool in !line.isEmpty }) ?? ""
            #expect(first.hasPrefix("crash> "), "\(name): \(first)")
        }
    }

    @Test(Harness.needsSample) func badArgumentsAreAUsageError() throws {
        let none = try Harness.run([])
        #expect(none.exitCode == 64)
        #expect(none.stderr.contains("Usage: crashsh"))
        // Three files are a split dump's parts (and a vmlinux): not a usage error, but these do not exist.
        let three = try Harness.run(["a", "b", "c"])
        #expect(three.exitCode == 1)
        #expect(three.stderr == "crashsh: a: cannot open: no such file (ENOENT)\n")
        let option = try Harness.run(["--no-such-option", Harness.fixture("dump.kdump")])
        #expect(option.exitCode == 64)
    }

    /// Without a vmlinux on the command line, crashsh finds it in its debuginfo cache by the
    /// dump's release, as the README's setup leaves it there.
    @Test(Harness.needsSample) func findsTheVmlinuxInTheDebuginfoCache() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dump = Harness.fixture("dump.kdump"), vmlinux = Harness.fixture(Harness.vmlinuxName)
        let given = try Harness.run(["-c", "sym schedule", dump, vmlinux])
        #expect(given.exitCode == 0)

        // Nothing in the cache (and, on this machine, nothing in /usr/lib/debug): symbols come
        // from the kernel's kallsyms, and one line says so.
        let environment = ["XDG_CACHE_HOME": dir.path, "HOME": dir.path]
        let locator = DebuginfoLocator(cacheDirectory: dir.path + "/crashsh/debuginfo")
        if locator.locate(release: "6.1.0-56-cloud-amd64", buildID: "3b43fad5034874490492495d552c0af6a5fab235") == nil {
            let none = try Harness.run(["-c", "vmcoreinfo | grep PAGESIZE; sym schedule", dump], environment: environment)
            #expect(none.stdout == "PAGESIZE=4096\nffffffffb10114f0 (T) schedule\n")
            #expect(none.stderr == "no vmlinux: symbols from kallsyms, types from the kernel's BTF\n")
            #expect(none.exitCode == 0)
        }

        let cache = dir.appendingPathComponent("crashsh/debuginfo")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: cache.appendingPathComponent("vmlinux-6.1.0-56-cloud-amd64").path,
                                                   withDestinationPath: vmlinux)
        let found = try Harness.run(["-c", "sym schedule", dump], environment: environment)
        #expect(found.stderr == "")
        #expect(found.exitCode == 0)
        #expect(found.stdout == given.stdout)
    }

    /// --ignore-mismatch reaches the session: a vmlinux with another build-id is refused
    /// without it and used with it.
    @Test(Harness.needsSample) func ignoreMismatchFlag() throws {
        let (dir, other) = try SymRdTests.makeVariant(.otherBuildID)
        defer { try? FileManager.default.removeItem(at: dir) }
        let dump = Harness.fixture("dump.kdump")
        let refused = try Harness.run(["-c", "sym schedule", dump, other])
        #expect(refused.exitCode == 1)
        #expect(refused.stderrLines.count == 1)
        #expect(refused.stderr.hasPrefix("sym: "))
        #expect(refused.stderr.contains(other))
        let forced = try Harness.run(["--ignore-mismatch", "-c", "sym schedule", dump, other])
        let reference = try Harness.run(["-c", "sym schedule", dump, Harness.fixture(Harness.vmlinuxName)])
        #expect(forced.exitCode == 0)
        // The variant has no DWARF (objcopy --strip-debug), so no file:line: compare the symbol.
        let firstFields = { (text: String) in text.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3).joined(separator: " ") }
        #expect(firstFields(forced.stdout) == firstFields(reference.stdout))
        #expect(firstFields(forced.stdout).hasSuffix(" (T) schedule"))
    }

    /// A dump the user may not read. Root reads any file, so as root crashsh runs as `nobody`
    /// through setpriv (util-linux); without setpriv the message wording is still checked by
    /// CommandRunnerTests.permissionErrorReadsWell.
    @Test(Harness.needsSample) func unreadableDumpIsOneClearLine() throws {
        let isRoot = getuid() == 0
        let setpriv = "/usr/bin/setpriv"
        let launcher = isRoot ? [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        try #require(!isRoot || FileManager.default.isExecutableFile(atPath: setpriv),
                     "running as root without \(setpriv): cannot test a permission failure")
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        let dump = dir.appendingPathComponent("locked.kdump")
        try Data(String(repeating: "x", count: 4096).utf8).write(to: dump)
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: dump.path)
        let run = try Harness.run(["-c", "vmcoreinfo", dump.path], cwd: dir, launcher: launcher)
        #expect(!run.killedBySignal)
        #expect(run.exitCode == 1)
        #expect(run.stdout == "")
        #expect(run.stderr == "crashsh: \(dump.path): cannot open: permission denied (EACCES)\n")
    }

    /// Files crashsh cannot open: exactly one line on stderr naming the file, exit code 1.
    @Test(Harness.needsFixtureSet) func unusableInputIsOneClearLine() throws {
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.vmcore")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        let text = dir.appendingPathComponent("notes.txt")
        try Data(String(repeating: "this is not a crash dump\n", count: 200).utf8).write(to: text)
        // Cut copies of real dumps: inside the header, and a few pages in.
        let kdump = try FileHandle(forReadingFrom: URL(fileURLWithPath: Harness.fixture("dump.kdump")))
        let head = try kdump.read(upToCount: 20000) ?? Data()
        try kdump.close()
        let cutHeader = dir.appendingPathComponent("cut-header.kdump")
        try head.prefix(100).write(to: cutHeader)
        let cutBitmap = dir.appendingPathComponent("cut-bitmap.kdump")
        try head.prefix(4096 * 3).write(to: cutBitmap)
        let elf = try FileHandle(forReadingFrom: URL(fileURLWithPath: Harness.fixture("dump.elf")))
        let elfHead = try elf.read(upToCount: 64 + 10) ?? Data()
        try elf.close()
        let cutElf = dir.appendingPathComponent("cut.elf")
        try elfHead.write(to: cutElf)

        let cases: [(path: String, mentions: String)] = [
            (empty.path, "empty"),
            (dir.appendingPathComponent("missing.vmcore").path, "no such file"),
            (dir.path, "directory"),
            (text.path, "not a kernel crash dump"),
            (cutHeader.path, "truncated"),
            (cutBitmap.path, "truncated"),
            (cutElf.path, "truncated"),
        ]
        for c in cases {
            let run = try Harness.run(["-c", "vmcoreinfo", c.path])
            #expect(!run.killedBySignal, "\(c.path): killed by a signal")
            #expect(run.exitCode == 1, "\(c.path): exit \(run.exitCode)")
            #expect(run.stdout == "")
            #expect(run.stderrLines.count == 1, "\(c.path): \(run.stderr)")
            #expect(run.stderr.hasPrefix("crashsh: \(c.path)"), "\(run.stderr)")
            #expect(run.stderr.contains(c.mentions), "\(run.stderr)")
        }
        // Pairs that are not one dump and one vmlinux.
        let vmlinux = Harness.fixture(Harness.vmlinuxName), dump = Harness.fixture("dump.kdump")
        let pairs: [(args: [String], line: String)] = [
            ([vmlinux], "crashsh: \(vmlinux): is a kernel image (vmlinux), not a dump; give the dump file too"),
            ([dump, Harness.fixture("dump.elf")],
             "crashsh: \(dump) and \(Harness.fixture("dump.elf")) are both dump files; give one dump and its vmlinux"),
            ([vmlinux, vmlinux], "crashsh: \(vmlinux) and \(vmlinux) are both kernel images (vmlinux); give the dump file too"),
            ([text.path, dump], "crashsh: \(text.path): neither a dump nor a vmlinux (no ELF, KDUMP or makedumpfile signature)"),
        ]
        for pair in pairs {
            let run = try Harness.run(["-c", "vmcoreinfo"] + pair.args)
            #expect(run.exitCode == 1)
            #expect(run.stdout == "")
            #expect(run.stderr == pair.line + "\n")
        }
        // The file that would be the dump is opened and its own problem reported.
        let cutWithVmlinux = try Harness.run(["-c", "vmcoreinfo", vmlinux, cutHeader.path])
        #expect(cutWithVmlinux.exitCode == 1)
        #expect(cutWithVmlinux.stderrLines.count == 1)
        #expect(cutWithVmlinux.stderr.hasPrefix("crashsh: \(cutHeader.path): truncated"))

        // A missing vmlinux next to a good dump is reported before anything runs.
        let noVmlinux = try Harness.run(["-c", "vmcoreinfo", Harness.fixture("dump.kdump"), dir.appendingPathComponent("vmlinux-x").path])
        #expect(noVmlinux.exitCode == 1)
        #expect(noVmlinux.stderr == "crashsh: \(dir.appendingPathComponent("vmlinux-x").path): cannot open: no such file (ENOENT)\n")
    }
}

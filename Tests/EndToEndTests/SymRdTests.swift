import Commands
import DumpModel
import Foundation
import SymbolResolver
import Testing

/// `sym` and `rd` against crash 8.0.6 on every fixture dump: the fixture's refs/ and the
/// references in Expected/symrd (made by Expected/symrd/generate.sh with the same crash), plus
/// the vmlinux checks (wrong build-id, stripped files) that crash users hit.
@Suite(.serialized)
struct SymRdTests {
    static let dumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps
    static let expectedRoot = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/symrd")

    static func session(_ dump: String, vmlinux: String? = nil) throws -> Session {
        try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: vmlinux ?? Harness.fixture(Harness.vmlinuxName))
    }

    /// Compares with what crash printed: the same text, or for an error line, crashsh's failure
    /// line starting with crash's (crashsh may add the reason after it).
    static func expectMatch(_ got: Harness.Outcome, _ expected: String, _ what: String) {
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        if expectedLines.count <= 2, let first = expectedLines.first,
           first.hasPrefix("rd: ") || first.hasPrefix("sym: ") {
            guard case let .failure(line) = got else {
                Issue.record("\(what): expected the failure \"\(first)\", got \(got)")
                return
            }
            #expect(line.hasPrefix(String(first)), "\(what)")
            return
        }
        #expect(got == .output(expected), "\(what)")
    }

    // MARK: - refs/crash-8.0.6 of the fixtures

    @Test(Harness.needsFixtureSet, arguments: dumps)
    func fixtureReferences(dump: String) throws {
        let session = try Self.session(dump)
        let refs = Harness.fixture("refs/crash-8.0.6/\(dump)")
        for (command, file) in [("sym schedule", "sym_schedule.txt"), ("sym linux_banner", "sym_linux_banner.txt"),
                                ("sym -q sysrq_handle", "sym_-q_sysrq_handle.txt"),
                                ("rd -64 linux_banner 8", "rd_-64_linux_banner_8.txt")] {
            let expected = try String(contentsOfFile: "\(refs)/\(file)", encoding: .utf8)
            Self.expectMatch(Harness.runCommand(session, command), expected, "\(dump): \(command)")
        }
    }

    // MARK: - Expected/symrd (generated with crash 8.0.6)

    /// Where crashsh deliberately differs from crash 8.0.6, with the reason; these commands are
    /// checked by `knownDifferences` instead.
    static let knownDifferences: [String: String] = [
        // crash names the value ffffffffb2000000 after the section symbol ".data"; crashsh does not
        // index section symbols and names the first real symbol there.
        "rd -s init_task 40": "section symbols",
    ]

    @Test(Harness.needsSample, arguments: Harness.available(dumps))
    func crashReferences(dump: String) throws {
        let session = try Self.session(dump)
        let list = dump.hasPrefix("qemu.") ? "qemu-commands.txt" : "kdump-commands.txt"
        let commands = try String(contentsOf: Self.expectedRoot.appendingPathComponent(list), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(commands.count > 20)
        for command in commands {
            let file = String(command.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
            let url = Self.expectedRoot.appendingPathComponent("\(dump)/\(file).txt")
            let expected = try String(contentsOf: url, encoding: .utf8)
            let got = Harness.runCommand(session, command)
            if Self.knownDifferences[command] != nil {
                // Every line crash printed without the section symbol must be the same.
                guard case let .output(text) = got else { Issue.record("\(dump): \(command): \(got)"); continue }
                let mine = text.split(separator: "\n"), theirs = expected.split(separator: "\n")
                #expect(mine.count == theirs.count, "\(dump): \(command)")
                for (a, b) in zip(mine, theirs) where !b.contains(".data ") { #expect(a == b, "\(dump): \(command)") }
                continue
            }
            if dump == "dump.elf", Self.showsOnlyZeros(expected) {
                // crash 8.0.6 reads makedumpfile -E's [p_filesz, p_memsz) tails as zeros; they are
                // pages makedumpfile excluded, and crashsh says so, as crash itself does on
                // dump.kdump (the same vmcore, the same dump level). There crash's dump.kdump
                // answer is the reference.
                let kdumpURL = Self.expectedRoot.appendingPathComponent("dump.kdump/\(file).txt")
                let kdump = try String(contentsOf: kdumpURL, encoding: .utf8)
                if kdump.hasPrefix("rd: page excluded") {
                    Self.expectMatch(got, kdump, "\(dump): \(command) (crash's answer on dump.kdump)")
                    continue
                }
            }
            Self.expectMatch(got, expected, "\(dump): \(command)")
        }
    }

    /// True when an rd reference shows nothing but zero bytes (or nothing at all).
    static func showsOnlyZeros(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { line in
            guard let colon = line.range(of: ":  ") else { return false }
            return line[colon.upperBound...].allSatisfy { $0 == "0" || $0 == " " || $0 == "." }
        }
    }

    // MARK: - Text, JSON, options

    @Test(Harness.needsSample) func jsonOfSymAndRd() throws {
        let session = try Self.session("dump.kdump")
        session.jsonOutput = true
        guard case let .output(symText) = Harness.runCommand(session, "sym ffffffffb10114f5") else {
            Issue.record("sym failed"); return
        }
        #expect(symText.contains("\"address\":\"0xffffffffb10114f5\""))
        #expect(symText.contains("\"name\":\"schedule\""))
        #expect(symText.contains("\"offset\":5"))
        #expect(symText.contains("\"type\":\"T\""))
        #expect(symText.contains("\"line\":15"))
        guard case let .output(rdText) = Harness.runCommand(session, "rd -64 linux_banner 2") else {
            Issue.record("rd failed"); return
        }
        #expect(rdText.contains("\"0x65762078756e694c\""))
        #expect(rdText.contains("\"ascii\":\"Linux version 6.\""))
        #expect(rdText.contains("\"type\":\"KVADDR\""))
    }

    @Test(Harness.needsSample) func symUnknownNameAndAddress() throws {
        let session = try Self.session("dump.kdump")
        #expect(Harness.runCommand(session, "sym no_such_symbol_at_all") == .failure("sym: symbol not found: no_such_symbol_at_all"))
        #expect(Harness.runCommand(session, "sym 1234") == .failure("sym: invalid address: 1234"))
        if case .output = Harness.runCommand(session, "sym") { Issue.record("sym without arguments must fail") }
        if case .output = Harness.runCommand(session, "rd") { Issue.record("rd without arguments must fail") }
        if case .output = Harness.runCommand(session, "rd -32 -s linux_banner") { Issue.record("-s needs 64-bit display") }
    }

    @Test(Harness.needsSample) func completionOffersSymbols() throws {
        let session = try Self.session("dump.kdump")
        let names = session.completions(line: "sym schedule_t", wordStart: 4, word: "schedule_t")
        #expect(names.contains("schedule_timeout"))
        #expect(names.allSatisfy { $0.hasPrefix("schedule_t") })
        #expect(session.completions(line: "rd -64 linux_ba", wordStart: 7, word: "linux_ba").contains("linux_banner"))
        let mixed = session.completions(prefix: "sy")
        #expect(mixed.first == "sym")
        #expect(mixed.contains("sysrq_handle_crash"))
        // Without a vmlinux the names come from the kernel's kallsyms.
        let bare = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: nil)
        #expect(bare.symbolCompletions(prefix: "sched").contains("schedule"))
    }

    /// `sym -l` lists the whole .symtab in address order, and agrees with itself on lookups.
    @Test(Harness.needsSample) func symListIsSortedAndConsistent() throws {
        let session = try Self.session("dump.kdump")
        guard case let .output(text) = Harness.runCommand(session, "sym -l") else { Issue.record("sym -l failed"); return }
        let lines = text.split(separator: "\n")
        #expect(lines.count > 100_000)
        var last: UInt64 = 0
        var sorted = true
        for line in lines {
            guard let a = UInt64(line.prefix(while: { $0 != " " }), radix: 16) else { sorted = false; break }
            if a < last { sorted = false; break }
            last = a
        }
        #expect(sorted)
        #expect(lines.contains("ffffffffb10114f0 (T) schedule"))
        #expect(lines.contains("ffffffffb171ffe0 (D) linux_banner"))
    }

    /// `sym -l` is crash's kernel list line for line (Expected/symrd/sym-l: count, SHA-256 and a
    /// numbered sample of crash's lines up to its module part, which ModuleTests checks):
    /// crash's order (value, then .symtab name), its choice before _text, section symbols, clone
    /// names cut like crash's, and its relocation range.
    @Test(Harness.needsSample, arguments: Harness.available(["dump.kdump", "qemu.elf"]))
    func symListMatchesCrash(dump: String) throws {
        let reference = try String(contentsOf: Self.expectedRoot.appendingPathComponent("sym-l/\(dump).txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let header = try #require(reference.first).split(separator: " ")
        try #require(header.count == 4 && header[0] == "count" && header[2] == "sha256")
        guard case let .output(text) = Harness.runCommand(try Self.session(dump), "sym -l") else { Issue.record("sym -l failed"); return }
        let all = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let lines = Array(all.prefix { !$0.contains(" MODULE START: ") })
        let kernelText = lines.map { $0 + "\n" }.joined()
        #expect(lines.count == Int(header[1]), "\(dump): line count")
        var sampled = 0
        for entry in reference.dropFirst() {
            let parts = entry.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let n = Int(parts[0]), n >= 1 else { Issue.record("bad line \(entry)"); continue }
            #expect(n <= lines.count && lines[n - 1] == String(parts[1]), "\(dump): line \(n)")
            sampled += 1
        }
        #expect(sampled > 3000)
        let dir = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("sym-l.txt")
        try Data(kernelText.utf8).write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [file.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let digest = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(digest.split(separator: " ").first.map(String.init) == String(header[3]), "\(dump): SHA-256 of sym -l")
    }

    /// Clone names: crash shows `free_ext_idx.isra.0` as `free_ext_idx` and finds it by that name;
    /// crashsh also finds it by its .symtab name (crash says "symbol not found" there).
    @Test(Harness.needsSample) func cloneNamesAsCrashShowsThem() throws {
        let session = try Self.session("dump.kdump")
        let byName = Harness.runCommand(session, "sym free_ext_idx")
        #expect(Harness.runCommand(session, "sym free_ext_idx.isra.0") == byName)
        guard case let .output(text) = byName else { Issue.record("sym free_ext_idx failed"); return }
        #expect(text.hasPrefix("ffffffffb0a3f7a0 (t) free_ext_idx "))
        let table = try session.kernelSymbols()
        let clone = try #require(table.symbol(named: "free_ext_idx"))
        #expect(clone.elfName == "free_ext_idx.isra.0" && clone.name == "free_ext_idx")
        // A .symtab name wins over a clone of the same displayed name.
        #expect(table.symbol(named: "intel_pmu_hw_config")?.elfName == "intel_pmu_hw_config")
        #expect(table.symbols(named: "intel_pmu_hw_config").map(\.elfName) == ["intel_pmu_hw_config", "intel_pmu_hw_config.part.0"])
        #expect(table.names(withPrefix: "free_ext_i") == ["free_ext_idx"])
    }

    /// A read that runs into an excluded page shows what it could read, then crash's error line;
    /// the command counts as failed (the line goes to standard error), as when the first byte fails.
    @Test(Harness.needsSample) func readRunningIntoAnExcludedPage() throws {
        let session = try Self.session("dump.kdump")
        // pfn 0x3670 is excluded (a user page) in the filtered dumps; find a present page before an
        // excluded one near it, through the model, not by assumption.
        let dump = session.dump
        var pfn: UInt64 = 0x3000
        while pfn < 0x10000, !(dump.pageState(pfn: pfn) == .present && dump.pageState(pfn: pfn + 1) == .excluded) { pfn += 1 }
        try #require(pfn < 0x10000)
        let boundary = (pfn + 1) << 12
        guard case let .partial(text, failure) = session.execute(["rd", "-p", String(boundary - 16, radix: 16), "4"]) else {
            Issue.record("rd across the boundary did not fail part-way"); return
        }
        #expect(failure == "rd: page excluded: physical address: \(String(boundary, radix: 16))  type: \"64-bit PHYSADDR\"")
        #expect(text.split(separator: "\n").count == 1)
        let sink = StringSink()
        guard case let .partial(_, streamedFailure) = try session.execute(["rd", "-p", String(boundary - 16, radix: 16), "4"],
                                                                         streamingTo: sink) else {
            Issue.record("streamed rd across the boundary did not fail part-way"); return
        }
        #expect(streamedFailure == failure && sink.text == text)
        #expect(text.hasPrefix(String(repeating: " ", count: 16 - String(boundary - 16, radix: 16).count)
            + String(boundary - 16, radix: 16) + ":  "))
    }

    // MARK: - The vmlinux: wrong build, stripped

    /// A copy of the fixture vmlinux changed with objcopy, in a temporary directory the caller
    /// removes. Made per test (0.5-1.5 s, 50-80 MB): without DWARF, without any symbols, with
    /// another build-id, or with the build-id note turned into another note type.
    enum Variant { case debugStripped, allStripped, otherBuildID, noBuildID }

    static let fixtureBuildID = "3b43fad5034874490492495d552c0af6a5fab235"

    static func makeVariant(_ variant: Variant) throws -> (dir: URL, path: String) {
        let objcopy = "/usr/bin/objcopy"
        try #require(FileManager.default.isExecutableFile(atPath: objcopy), "objcopy (binutils) is needed")
        let dir = try Harness.temporaryDirectory()
        let source = Harness.fixture(Harness.vmlinuxName)
        let path = dir.appendingPathComponent("vmlinux-\(variant)").path
        let args = variant == .allStripped ? ["--strip-all", source, path] : ["--strip-debug", source, path]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: objcopy)
        p.arguments = args
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "objcopy \(args) failed")
        if variant == .otherBuildID || variant == .noBuildID {
            // The kernel's GNU build-id note: namesz 4, descsz 20, type 3 (NT_GNU_BUILD_ID),
            // "GNU\0", then the id the dump's VMCOREINFO names (the vDSO images inside the kernel
            // carry build-id notes of their own: those are left alone).
            var data = try Data(contentsOf: URL(fileURLWithPath: path))
            var note: [UInt8] = [4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0]
            note += stride(from: 0, to: Self.fixtureBuildID.count, by: 2).map {
                let i = Self.fixtureBuildID.index(Self.fixtureBuildID.startIndex, offsetBy: $0)
                return UInt8(Self.fixtureBuildID[i..<Self.fixtureBuildID.index(i, offsetBy: 2)], radix: 16)!
            }
            let r = try #require(data.range(of: Data(note)), "no GNU build-id note \(Self.fixtureBuildID) in \(path)")
            if variant == .otherBuildID {
                data[r.upperBound - 1] ^= 0xff          // another id
            } else {
                data[r.lowerBound + 8] = 0x7f           // no longer a build-id note
            }
            try data.write(to: URL(fileURLWithPath: path))
        }
        return (dir, path)
    }

    @Test(Harness.needsSample) func wrongBuildIDIsRefusedUnlessOverridden() throws {
        let (dir, other) = try Self.makeVariant(.otherBuildID)
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = try Self.session("dump.kdump", vmlinux: other)
        guard case let .failure(line) = Harness.runCommand(session, "sym schedule") else {
            Issue.record("a vmlinux with another build-id was accepted"); return
        }
        #expect(line.hasPrefix("sym: vmlinux \(other) does not match dump \(Harness.fixture("dump.kdump")): build-id "))
        #expect(line.contains("build-id 3b43fad5034874490492495d552c0af6a5fab2ca != \(Self.fixtureBuildID)"))
        #expect(!line.contains("\n"))
        // Every later command gets the same answer.
        guard case .failure = Harness.runCommand(session, "rd -64 linux_banner 1") else { Issue.record("rd accepted it"); return }
        #expect(throws: VmlinuxMismatch.self) { try session.checkVmlinux() }

        let forced = try Self.session("dump.kdump", vmlinux: other)
        forced.ignoreMismatch = true
        #expect(Harness.runCommand(forced, "sym schedule") == .output("ffffffffb10114f0 (T) schedule\n"))
    }

    @Test(Harness.needsFixtureSet) func releaseIsComparedWithoutBuildID() throws {
        let (dir, noBuildID) = try Self.makeVariant(.noBuildID)
        defer { try? FileManager.default.removeItem(at: dir) }
        // No build-id in the file: the release in its linux_banner decides, and it matches.
        let session = try Self.session("qemu.elf", vmlinux: noBuildID)
        #expect(Harness.runCommand(session, "sym schedule") == .output("ffffffff8c4114f0 (T) schedule\n"))
        let kernel = try KernelImage(path: noBuildID)
        #expect(kernel.buildID == nil)
        let other = VMCoreInfo(raw: "OSRELEASE=5.10.0-99-amd64\nBUILD-ID=3b43fad5034874490492495d552c0af6a5fab235\n")
        let m = Session.vmlinuxMismatch(kernel: kernel, vmcoreinfo: other, dumpPath: "x")
        #expect(m?.what == "release")
        #expect(m?.vmlinuxValue == "6.1.0-56-cloud-amd64")
        #expect(m?.dumpValue == "5.10.0-99-amd64")
        let same = VMCoreInfo(raw: "OSRELEASE=6.1.0-56-cloud-amd64\n")
        #expect(Session.vmlinuxMismatch(kernel: kernel, vmcoreinfo: same, dumpPath: "x") == nil)
    }

    /// No build-id on either side: the vmlinux's linux_banner is compared with the bytes at its
    /// run-time address in the dump's memory. Another build of the same release (here: the
    /// banner's "#1" changed to "#2") is refused, naming both banners; --ignore-mismatch overrides.
    @Test(Harness.needsSample) func bannerInMemoryDecidesWithoutBuildIDs() throws {
        let (dir, noBuildID) = try Self.makeVariant(.noBuildID)
        defer { try? FileManager.default.removeItem(at: dir) }
        // dump.kdump with its VMCOREINFO's BUILD-ID key renamed (same length: the sub-header and
        // note sizes stay valid), so the dump names no build-id.
        var dump = try Data(contentsOf: URL(fileURLWithPath: Harness.fixture("dump.kdump")))
        var renamed = 0
        while let r = dump.range(of: Data("\nBUILD-ID=".utf8)) {
            dump[r.lowerBound + 1] = UInt8(ascii: "X")
            renamed += 1
        }
        try #require(renamed > 0)
        let dumpPath = dir.appendingPathComponent("dump-no-build-id.kdump").path
        try dump.write(to: URL(fileURLWithPath: dumpPath))
        let plain = try Session(dumpPath: dumpPath, vmlinuxPath: noBuildID)
        #expect(plain.vmcoreinfo?.buildID == nil)
        #expect(Harness.runCommand(plain, "sym schedule") == .output("ffffffffb10114f0 (T) schedule\n"))

        // The same release, another banner.
        let banner = try #require(try KernelImage(path: noBuildID).linuxBanner)
        try #require(banner.contains(" #1 "))
        let other = banner.replacingOccurrences(of: " #1 ", with: " #2 ")
        var vmlinux = try Data(contentsOf: URL(fileURLWithPath: noBuildID))
        var changed = 0
        while let r = vmlinux.range(of: Data(banner.utf8)) {
            vmlinux.replaceSubrange(r, with: Data(other.utf8))
            changed += 1
        }
        try #require(changed > 0)
        let otherPath = dir.appendingPathComponent("vmlinux-other-banner").path
        try vmlinux.write(to: URL(fileURLWithPath: otherPath))
        #expect(try KernelImage(path: otherPath).osRelease == "6.1.0-56-cloud-amd64")
        let session = try Session(dumpPath: dumpPath, vmlinuxPath: otherPath)
        guard case let .failure(line) = Harness.runCommand(session, "sym schedule") else {
            Issue.record("a vmlinux with another linux_banner was accepted"); return
        }
        let trimmed = { (b: String) in b.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(line == "sym: vmlinux \(otherPath) does not match dump \(dumpPath): linux_banner \"\(trimmed(other))\" != \"\(trimmed(banner))\" (--ignore-mismatch to use it anyway)")
        let forced = try Session(dumpPath: dumpPath, vmlinuxPath: otherPath)
        forced.ignoreMismatch = true
        #expect(Harness.runCommand(forced, "sym schedule") == .output("ffffffffb10114f0 (T) schedule\n"))
        // Memory that cannot be read leaves the decision to the other checks.
        let kernel = try KernelImage(path: otherPath)
        let info = VMCoreInfo(raw: "OSRELEASE=6.1.0-56-cloud-amd64\nKERNELOFFSET=2f600000\n")
        #expect(Session.vmlinuxMismatch(kernel: kernel, vmcoreinfo: info, dumpPath: "x", readMemory: { _, _ in nil }) == nil)
        #expect(Session.vmlinuxMismatch(kernel: kernel, vmcoreinfo: info, dumpPath: "x",
                                        readMemory: { _, n in Array(banner.utf8.prefix(n)) })?.what == "linux_banner")
    }

    @Test(Harness.needsFixtureSet) func debugStrippedVmlinuxStillResolvesSymbols() throws {
        let (dir, stripped) = try Self.makeVariant(.debugStripped)
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = try Self.session("dump.kdump", vmlinux: stripped)
        // .symtab survives --strip-debug; the source line needs DWARF and is left out, as crash does.
        #expect(Harness.runCommand(session, "sym schedule") == .output("ffffffffb10114f0 (T) schedule\n"))
        #expect(Harness.runCommand(session, "sym ffffffffb0ca8a05") == .output("ffffffffb0ca8a05 (t) sysrq_handle_crash+21\n"))
        let ref = try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/dump.kdump/rd_-64_linux_banner_8.txt"), encoding: .utf8)
        #expect(Harness.runCommand(session, "rd -64 linux_banner 8") == .output(ref))
    }

    @Test(Harness.needsSample) func fullyStrippedVmlinuxSaysSo() throws {
        let (dir, stripped) = try Self.makeVariant(.allStripped)
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = try Self.session("dump.kdump", vmlinux: stripped)
        guard case let .failure(line) = Harness.runCommand(session, "sym schedule") else {
            Issue.record("sym worked without a symbol table"); return
        }
        #expect(line == "sym: \(stripped): no symbol table (stripped vmlinux): use the vmlinux with debuginfo")
        // Every command that needs the vmlinux gets the same one line.
        #expect(Harness.runCommand(session, "rd -64 linux_banner 8") == .failure("rd: \(stripped): no symbol table (stripped vmlinux): use the vmlinux with debuginfo"))
        #expect(Harness.runCommand(session, "sym -q sysrq") == .failure("sym: \(stripped): no symbol table (stripped vmlinux): use the vmlinux with debuginfo"))
    }

    /// The same checks through the executable: one clear line on standard error, no trap.
    @Test(Harness.needsSample) func wrongVmlinuxThroughTheShell() throws {
        let (dir, other) = try Self.makeVariant(.otherBuildID)
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Harness.run(["-c", "sym schedule", Harness.fixture("dump.kdump"), other])
        #expect(!run.killedBySignal)
        #expect(run.exitCode != 0)
        #expect(run.stderrLines.count == 1)
        #expect(run.stderr.contains("does not match dump"))
        let forced = try Harness.run(["--ignore-mismatch", "-c", "sym schedule", Harness.fixture("dump.kdump"), other])
        #expect(forced.stdout == "ffffffffb10114f0 (T) schedule\n")
    }
}

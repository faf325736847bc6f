import Foundation
import Testing
import TestSupport
@testable import SymbolResolver

struct ErrorTests {
    static func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "crashsh-symbols-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func notELFAndEmptyAndMissing() throws {
        let dir = try ErrorTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = dir + "/notes.txt", empty = dir + "/empty"
        try "not an ELF file\n".write(toFile: text, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(throws: SymbolError.notELF(path: text)) { try KernelImage(path: text) }
        #expect(throws: SymbolError.emptyFile(path: empty)) { try KernelImage(path: empty) }
        #expect(throws: SymbolError.notRegularFile(path: dir)) { try KernelImage(path: dir) }
        #expect(throws: SymbolError.cannotOpen(path: dir + "/missing", errno: ENOENT)) { try KernelImage(path: dir + "/missing") }
        // A truncated ELF header: libelf refuses it, and so do we, without trapping.
        let bin = try Data(contentsOf: URL(fileURLWithPath: "/bin/true"))
        let cut = dir + "/cut"
        _ = FileManager.default.createFile(atPath: cut, contents: bin.prefix(40))
        #expect(throws: SymbolError.self) { try KernelImage(path: cut) }
        // A shared object is ELF but not a vmlinux.
        do {
            _ = try KernelImage(path: "/bin/true")
            Issue.record("a PIE executable opened as a vmlinux")
        } catch let e as SymbolError {
            guard case .notVmlinux = e else { Issue.record("unexpected \(e)"); return }
            #expect(e.description.hasPrefix("/bin/true: not a vmlinux"))
        }
    }

    @Test(.enabled(if: Fixture.setAvailable, Comment(rawValue: SharedFixtures.setMissing))) func coreFileIsRejected() throws {
        let core = Fixture.dir! + "/dump.elf"
        #expect(throws: SymbolError.notVmlinux(path: core, reason: "an ELF core file (a dump), not a kernel image")) {
            try KernelImage(path: core)
        }
    }

    /// A stripped vmlinux has no symbols: a clear error at open. A vmlinux with symbols but no
    /// DWARF and no BTF still answers symbols and says "no debuginfo" for types.
    @Test(.enabled(if: Fixture.available, Comment(rawValue: SharedFixtures.sampleMissing))) func strippedAndDebuglessCopies() throws {
        let dir = try ErrorTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stripped = dir + "/vmlinux.stripped"
        let r = try Fixture.run("objcopy", ["--strip-all", Fixture.vmlinux!, stripped])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(throws: SymbolError.noSymbolTable(path: stripped)) { try KernelImage(path: stripped) }
        let error = SymbolError.noSymbolTable(path: stripped).description
        #expect(error.contains("no symbol table") && error.contains(stripped))

        let debugless = dir + "/vmlinux.nodebug"
        let r2 = try Fixture.run("objcopy", ["--strip-debug", "--rename-section", ".BTF=.BTF.hidden", Fixture.vmlinux!, debugless])
        #expect(r2.status == 0, "\(r2.stderr)")
        let k = try KernelImage(path: debugless)
        #expect(try k.symbols().symbol(named: "schedule")?.typeLetter == "T")
        #expect(throws: SymbolError.noDebugInfo(path: debugless)) { try k.types() }
        #expect(throws: SymbolError.noDebugInfo(path: debugless)) { try k.sourceLine(atLinkAddress: 0xffff_ffff_8100_0000) }
        #expect(k.buildID == Fixture.kernel?.buildID)
    }
}

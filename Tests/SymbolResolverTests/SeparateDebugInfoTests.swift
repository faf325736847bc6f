import Foundation
import Testing
import TestSupport
@testable import SymbolResolver

/// Every shape a distribution ships a vmlinux's debuginfo in gives the same answers as the plain
/// vmlinux: debug sections compressed (zlib, zstd), split off to a file named by
/// `.gnu_debuglink`, or found by build-id in a `.build-id` tree. The variants are made from the
/// fixture vmlinux with binutils/elfutils in a temporary folder by the test that uses them.
@Suite(.serialized) struct SeparateDebugInfoTests {
    static let needsVmlinux = Comment(rawValue: SharedFixtures.sampleMissing)
    static let objcopy = "/usr/bin/objcopy", euStrip = "/usr/bin/eu-strip"
    static var hasObjcopy: Bool { Fixture.available && FileManager.default.isExecutableFile(atPath: objcopy) }
    static var hasEuStrip: Bool { Fixture.available && FileManager.default.isExecutableFile(atPath: euStrip) }
    /// objcopy can write zstd only when binutils was built with it (2.40 and later).
    static let objcopyHasZstd: Bool = {
        guard hasObjcopy, let help = try? Fixture.run(objcopy, ["--help"]) else { return false }
        return help.stdout.contains("zstd")
    }()

    /// What the tests compare: a symbol, a struct member offset through BTF and through DWARF
    /// (libdw reading .debug_info, .debug_abbrev, .debug_str), a function prototype from DWARF,
    /// file:line (.debug_aranges read by crashsh, .debug_line by libdw), inline frames and a
    /// .debug_frame rule.
    static func fingerprint(_ k: KernelImage) throws -> [String] {
        let table = try k.symbols()
        let schedule = try #require(table.symbol(named: "schedule"))
        let types = try k.types()
        let task = try types.type(named: "struct task_struct")
        let pid = try types.member("pid", in: task)
        let dwarfTypes = KernelTypes(btf: nil)
        let d = try #require(k.dwarfIndex())
        let initTask = try #require(table.index(named: "init_task"))
        let (first, last) = try #require(k.candidateUnits(forSymbol: initTask, table: table, dwarf: d))
        var die = try #require(d.findVariable(named: "init_task", address: table.symbol(initTask).address,
                                              units: first, through: last, stopAtDeclaration: false))
        let dwarfTask = d.typeOf(&die, into: dwarfTypes)
        let dwarfPid = try dwarfTypes.member("pid", in: dwarfTask)
        let prototype = try #require(k.dwarfFunctionType(named: "schedule", into: dwarfTypes))
        let at = schedule.address + 5
        return [
            "schedule \(String(schedule.address, radix: 16)) \(schedule.size)",
            "task_struct.pid BTF \(pid.bitOffset / 8) DWARF \(dwarfPid.bitOffset / 8)",
            "prototype \(shape(prototype, in: dwarfTypes))",
            "line \(try k.sourceLine(atLinkAddress: schedule.address).map(String.init(describing:)) ?? "none")",
            "line+5 \(try k.sourceLine(atLinkAddress: at).map(String.init(describing:)) ?? "none")",
            "inline+5 \(k.inlinedFunctions(atLinkAddress: at))",
            "cfi+6 \(String(describing: k.cfiRule(atLinkAddress: schedule.address + 6)))",
            "build-id \(k.buildID ?? "none") release \(k.osRelease ?? "none")",
        ]
    }

    static func plainFingerprint() throws -> [String] {
        var result: [String] = []
        try withKernel { result = try fingerprint($0) }
        #expect(result.count == 8 && result[3].contains("core.c: ") && result[4].contains(": 15"))
        return result
    }

    static func run(_ tool: String, _ args: [String]) throws {
        let r = try Fixture.run(tool, args)
        try #require(r.status == 0, "\(tool) \(args): \(r.stderr)")
    }

    @Test(.enabled(if: hasObjcopy, needsVmlinux), arguments: ["zlib", "zstd"])
    func compressedDebugSections(_ kind: String) throws {
        guard kind == "zlib" || Self.objcopyHasZstd else { return }
        let dir = try ErrorTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/vmlinux-\(kind)"
        try Self.run(Self.objcopy, ["--compress-debug-sections=\(kind)", Fixture.vmlinux!, path])
        let k = try KernelImage(path: path, debugRoots: [])
        #expect(k.image?.section(named: ".debug_aranges")?.isCompressed == true)
        #expect(try Self.fingerprint(k) == Self.plainFingerprint())
    }

    /// eu-strip -f: the stripped vmlinux names its debug file in .gnu_debuglink (with a CRC-32);
    /// the debug file is found beside it, and in its .debug/ folder.
    @Test(.enabled(if: hasEuStrip, needsVmlinux)) func debuglink() throws {
        let dir = try ErrorTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.run(Self.euStrip, ["-f", dir + "/vmlinux.debug", "-o", dir + "/vmlinux", Fixture.vmlinux!])
        let k = try KernelImage(path: dir + "/vmlinux", debugRoots: [])
        #expect(k.debugFilePath == dir + "/vmlinux.debug")
        #expect(k.loadedImage?.gnuDebugLink?.name == "vmlinux.debug")
        #expect(try Self.fingerprint(k) == Self.plainFingerprint())

        try FileManager.default.createDirectory(atPath: dir + "/.debug", withIntermediateDirectories: false)
        try FileManager.default.moveItem(atPath: dir + "/vmlinux.debug", toPath: dir + "/.debug/vmlinux.debug")
        #expect(try KernelImage(path: dir + "/vmlinux", debugRoots: []).debugFilePath == dir + "/.debug/vmlinux.debug")
    }

    /// objcopy --strip-all leaves no .symtab; objcopy --only-keep-debug's file under
    /// ROOT/.build-id/xx/yyyy.debug supplies symbols and DWARF. Without the root, the stripped
    /// file still says it has no symbols.
    @Test(.enabled(if: hasObjcopy, needsVmlinux)) func buildIDTree() throws {
        let dir = try ErrorTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stripped = dir + "/vmlinux"
        try Self.run(Self.objcopy, ["--strip-all", Fixture.vmlinux!, stripped])
        #expect(throws: SymbolError.noSymbolTable(path: stripped)) { try KernelImage(path: stripped, debugRoots: [dir + "/root"]) }
        let id = try #require(ELFImage(path: stripped).buildIDHex)
        let tree = "\(dir)/root/.build-id/\(id.prefix(2))"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try Self.run(Self.objcopy, ["--only-keep-debug", Fixture.vmlinux!, "\(tree)/\(id.dropFirst(2)).debug"])
        let k = try KernelImage(path: stripped, debugRoots: ["/nonexistent", dir + "/root"])
        #expect(k.debugFilePath == "\(tree)/\(id.dropFirst(2)).debug")
        #expect(try Self.fingerprint(k) == Self.plainFingerprint())

        // The debug file alone (what a .build-id/xx/yyyy.debug often is): .BTF and .rodata are
        // NOBITS there, so types come from DWARF definitions and the banner is unknown.
        let debugOnly = try KernelImage(path: "\(tree)/\(id.dropFirst(2)).debug", debugRoots: [])
        #expect(try debugOnly.types().btfTypeCount == 0)
        #expect(debugOnly.linuxBanner == nil)
        #expect(try Self.fingerprint(debugOnly).dropLast() == Self.plainFingerprint().dropLast())
    }

    /// zlib's CRC-32 is the one .gnu_debuglink records (the standard check value).
    @Test func debuglinkChecksum() {
        let bytes = Array("123456789".utf8)
        let crc = bytes.withUnsafeBytes { SeparateDebugInfo.crc32(of: Bytes(base: $0.baseAddress!, count: $0.count)) }
        #expect(crc == 0xCBF4_3926)
    }

    static let gcc = "/usr/bin/gcc", dwz = "/usr/bin/dwz"
    static var hasDwz: Bool {
        FileManager.default.isExecutableFile(atPath: gcc) && FileManager.default.isExecutableFile(atPath: dwz)
    }

    /// dwz -m moves DWARF two programs share (a struct, an inline function) into a common file
    /// named by `.gnu_debugaltlink`: with it attached (dwarf_setalt), types, prototypes, lines
    /// and inline frames equal the program's before dwz. Two small non-PIE programs stand in for
    /// a vmlinux and its modules (dwz on the whole fixture vmlinux takes longer than a test may).
    @Test(.enabled(if: hasDwz, "needs gcc and dwz (apt-get install dwz)")) func dwzCommonFile() throws {
        let dir = try ErrorTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let header = """
            struct widget { long id; int count; const char *name; struct widget *next; };
            static inline int widget_weight(const struct widget *w) { return w->count * 3 + (int)w->id; }
            """
        try header.write(toFile: dir + "/shared.h", atomically: true, encoding: .utf8)
        for (name, variable, function) in [("a", "first_widget", "schedule"), ("b", "second_widget", "measure")] {
            try """
                #include "shared.h"
                struct widget \(variable) = { 1, 2, "\(name)", 0 };
                int \(function)(struct widget *w) { return widget_weight(w) + 1; }
                int main(void) { return \(function)(&\(variable)); }
                """.write(toFile: "\(dir)/\(name).c", atomically: true, encoding: .utf8)
            try Self.run(Self.gcc, ["-g", "-O2", "-no-pie", "-Wl,--build-id", "\(dir)/\(name).c", "-o", "\(dir)/\(name)"])
        }
        try FileManager.default.copyItem(atPath: dir + "/a", toPath: dir + "/a.plain")
        let r = try Fixture.run(Self.dwz, ["-m", dir + "/common.debug", "-M", "common.debug", dir + "/a", dir + "/b"])
        try #require(r.status == 0, "dwz: \(r.stderr)")

        func values(_ path: String) throws -> [String] {
            let k = try KernelImage(path: path, debugRoots: [])
            let table = try k.symbols()
            let d = try #require(k.dwarfIndex())
            let sym = try #require(table.symbol(named: "first_widget"))
            let schedule = try #require(table.symbol(named: "schedule"))
            let types = KernelTypes(btf: nil)
            guard var die = d.findVariable(named: "first_widget", address: sym.address, units: 0, through: .max,
                                           stopAtDeclaration: false) else { return ["no variable"] }
            let widget = d.typeOf(&die, into: types)
            let prototype = try #require(k.dwarfFunctionType(named: "schedule", into: types))
            let members = types.composite(widget)?.members.map { "\($0.name ?? "?") \($0.bitOffset / 8) \(shape($0.type, in: types))" }
            var out = ["widget \(shape(widget, in: types)) \(members ?? [])", "prototype \(shape(prototype, in: types))",
                       "alternate \(d.hasAlternate)"]
            for offset in 0..<schedule.size {
                let at = schedule.address + offset
                out.append("\(offset) \(try k.sourceLine(atLinkAddress: at).map(String.init(describing:)) ?? "-") \(k.inlinedFunctions(atLinkAddress: at))")
            }
            return out
        }
        let plain = try values(dir + "/a.plain")
        #expect(plain.contains { $0.contains("widget_weight") } && plain[0].contains("next"))
        var shared = try values(dir + "/a")
        #expect(shared[2] == "alternate true")
        shared[2] = "alternate false"
        #expect(shared == plain)
        // Without the common file the shared type cannot be read.
        try FileManager.default.removeItem(atPath: dir + "/common.debug")
        #expect(try values(dir + "/a")[0] != plain[0])
    }

    /// A compressed section's header is untrusted: a size beyond what crashsh inflates, or a
    /// stream that does not inflate to the stated size, leaves the section unread (no line info)
    /// without trapping or allocating the stated size; symbols still resolve.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: gcc) && FileManager.default.isExecutableFile(atPath: objcopy),
                   "needs gcc and objcopy")) func damagedCompressedSections() throws {
        let dir = try ErrorTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "int square(int x) { return x * x; }\nint main(void) { return square(3); }\n"
            .write(toFile: dir + "/p.c", atomically: true, encoding: .utf8)
        try Self.run(Self.gcc, ["-g", "-O1", "-no-pie", dir + "/p.c", "-o", dir + "/p"])
        try Self.run(Self.objcopy, ["--compress-debug-sections=zlib", dir + "/p", dir + "/pz"])
        let good = try KernelImage(path: dir + "/pz", debugRoots: [])
        let square = try #require(try good.symbols().symbol(named: "square"))
        let line = try #require(try good.sourceLine(atLinkAddress: square.address))
        #expect(line.line == 1 && line.file.hasSuffix("p.c"))

        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/pz")))
        let info = try #require(ELFImage(path: dir + "/pz").section(named: ".debug_info"))
        #expect(info.isCompressed)
        let at = Int(info.offset)
        var tooLarge = original, garbage = original
        for i in 0..<8 { tooLarge[at + 8 + i] = i == 5 ? 1 : 0 }          // ch_size: 1 TiB
        for i in (at + 24)..<(at + Int(info.size)) { garbage[i] = 0xa5 }  // not a zlib stream
        for (name, bytes) in [("large", tooLarge), ("garbage", garbage)] {
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
            let bad = try KernelImage(path: dir + "/" + name, debugRoots: [])
            #expect(try bad.symbols().symbol(named: "square")?.address == square.address)
            let image = try ELFImage(path: dir + "/" + name)
            #expect(image.bytes(of: try #require(image.section(named: ".debug_info"))) == nil, "\(name)")
            #expect(((try? bad.sourceLine(atLinkAddress: square.address)) ?? nil) == nil, "\(name)")
        }
    }
}

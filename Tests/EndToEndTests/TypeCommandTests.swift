import Commands
import Foundation
import Testing

/// `p`, `struct`, `union` and `whatis` against crash 8.0.6 on every fixture dump: the fixtures'
/// refs/ and the references in Expected/typecmds (Expected/typecmds/generate.sh, same crash,
/// commands.txt run in one session so the `$n` numbers agree).
@Suite(.serialized)
struct TypeCommandTests {
    static let dumps = Harness.kdumpCrashDumps + Harness.qemuCrashDumps
    static let expectedRoot = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/typecmds")

    static func session(_ dump: String) throws -> Session {
        try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
    }

    /// The file name crash's references use for a command.
    static func fileName(_ command: String) -> String {
        String(command.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }) + ".txt"
    }

    // MARK: - refs/crash-8.0.6 of the fixtures

    @Test(Harness.needsFixtureSet, arguments: dumps)
    func fixtureReferences(dump: String) throws {
        let session = try Self.session(dump)
        let refs = Harness.fixture("refs/crash-8.0.6/\(dump)")
        // In crash's order, so that `p` numbers its values $1, $2 as the references do.
        for (command, file) in [("p jiffies", "p_jiffies.txt"), ("p init_task.comm", "p_init_task_comm.txt"),
                                ("whatis task_struct", "whatis_task_struct.txt"),
                                ("struct -o list_head", "struct_-o_list_head.txt"),
                                ("struct task_struct.pid,comm init_task", "struct_task_struct_pid_comm_init_task.txt")] {
            let expected = try String(contentsOfFile: "\(refs)/\(file)", encoding: .utf8)
            #expect(Harness.runCommand(session, command) == .output(expected), "\(dump): \(command)")
        }
    }

    // MARK: - Expected/typecmds (generated with crash 8.0.6)

    @Test(Harness.needsSample, arguments: Harness.available(dumps))
    func generatedReferences(dump: String) throws {
        // The kdump files hold one crash, the QEMU files another: one reference set for each.
        let refDir = Self.expectedRoot.appendingPathComponent(dump.hasPrefix("qemu") ? "qemu.elf" : "dump.kdump")
        let commands = try String(contentsOf: Self.expectedRoot.appendingPathComponent("commands.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        let errors = try String(contentsOf: refDir.appendingPathComponent("_session.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let session = try Self.session(dump)
        for command in commands {
            let expected = try String(contentsOf: refDir.appendingPathComponent(Self.fileName(command)), encoding: .utf8)
            let got = Harness.runCommand(session, command)
            let name = command.split(separator: " ").first.map(String.init) ?? ""
            let lines = expected.split(separator: "\n")
            if expected.isEmpty || (lines.count == 1 && expected.hasPrefix(name + ": ")) {
                // crash failed: its error line went to the file (or to _session.txt); crashsh
                // must fail with the same line.
                guard case let .failure(line) = got else {
                    Issue.record("\(dump): \(command): crash failed, crashsh printed \(got)")
                    continue
                }
                #expect(errors.contains(line) || line == lines.first.map(String.init), "\(dump): \(command): \(line)")
            } else if command.hasPrefix("union "), !expected.hasSuffix("\n") {
                // crash ends a union's contents without the final newline (its next output runs
                // on); crashsh ends the line.
                #expect(got == .output(expected + "\n"), "\(dump): \(command)")
            } else {
                #expect(got == .output(expected), "\(dump): \(command)")
            }
        }
    }

    // MARK: - errors and JSON on the real dump

    @Test(Harness.needsSample) func errorsAreOneLineAndNameTheAddress() throws {
        let session = try Self.session("dump.kdump")
        let cases: [(String, String)] = [
            ("p nosuchsym", "p: No symbol \"nosuchsym\" in current context."),
            ("p init_task.nosuch", "p: There is no member named nosuch."),
            ("whatis nosuchtype_xyz", "whatis: invalid data structure reference: nosuchtype_xyz"),
            ("struct list_head nosuchsym", "struct: symbol not found: nosuchsym"),
            // Value history (crash says "gdb request failed: p $99" after gdb's own line).
            ("p $99", "p: History has not yet reached $99."),
        ]
        for (command, message) in cases {
            #expect(Harness.runCommand(session, command) == .failure(message), "\(command)")
        }
        // Unmapped and NULL addresses: one line naming the address, no trap.
        for (command, address) in [("struct list_head 0x1234", "0x1234"), ("p *init_task.mm", "0x0"),
                                   ("p *(struct list_head *)0xffff800000001000", "0xffff800000001000")] {
            guard case let .failure(line) = Harness.runCommand(session, command) else {
                Issue.record("\(command) did not fail")
                continue
            }
            #expect(line.contains(address) && !line.contains("\n"), "\(command): \(line)")
        }
    }

    @Test(Harness.needsSample) func jsonValues() throws {
        let session = try Self.session("dump.kdump")
        session.jsonOutput = true
        func json(_ command: String) throws -> [String: Any] { try Harness.jsonObject(session, command) }
        let comm = try json("p init_task.comm")
        #expect(comm["value"] as? String == "swapper/0")
        #expect(comm["type"] as? String == "char [16]")
        let jiffies = try json("p jiffies")
        // A 64-bit type's value is a decimal string whatever its magnitude (docs/json.md).
        #expect(jiffies["value"] as? String == "4294894941")
        let members = try json("struct task_struct.pid,comm init_task")["members"] as? [String: Any]
        #expect((members?["pid"] as? NSNumber)?.intValue == 0)
        #expect(members?["comm"] as? String == "swapper/0")
        let tasks = try json("p init_task.tasks")["value"] as? [String: Any]
        #expect(tasks?["next"] as? String == "0xffff8a15411f8890")
        let se = try json("p init_task.se")["value"] as? [String: Any]
        #expect((se?["load"] as? [String: Any])?["weight"] as? String == "1048576")
        let layout = try json("struct -o list_head")
        #expect((layout["size"] as? NSNumber)?.intValue == 16)
        let offsets = (layout["members"] as? [[String: Any]])?.compactMap { ($0["offset"] as? NSNumber)?.intValue }
        #expect(offsets == [0, 8])
    }

    /// On the built binary: values of 64-bit types are strings, small or large, signed or not;
    /// narrower ones are numbers.
    @Test(Harness.needsSample) func sixtyFourBitValuesAreStrings() throws {
        let commands = ["p jiffies", "p (unsigned long)1", "p (long)-1", "p (unsigned long)init_task.stack", "p nr_cpu_ids", "p (short)-2"]
        let run = try Harness.run(["--json", "-c", commands.joined(separator: "; "), Harness.fixture("dump.kdump"),
                                   Harness.fixture(Harness.vmlinuxName)])
        let lines = run.stdout.split(separator: "\n").map { String($0) + "\n" }
        try #require(lines.count == commands.count)
        let values = try zip(lines, commands).map { try Harness.jsonResult($0, command: $1)["value"] }
        #expect(values[0] as? String == "4294894941")
        #expect(values[1] as? String == "1")
        #expect(values[2] as? String == "-1")
        #expect(values[3] as? String == "18446744072400928768")
        #expect((values[4] as? NSNumber)?.intValue == 2 && !(values[4] is String))
        #expect((values[5] as? NSNumber)?.intValue == -2 && !(values[5] is String))
    }

    @Test(Harness.needsSample) func typeNameCompletion() throws {
        let session = try Self.session("dump.kdump")
        let names = session.completions(line: "struct task_st", wordStart: 7, word: "task_st")
        #expect(names.contains("task_struct"))
        #expect(names.allSatisfy { $0.hasPrefix("task_st") })
    }
}

// MARK: - The expression parser and value printer on hand-made types

/// Types and memory built in the test: a struct with a bit field, a char array, an enum, a
/// pointer to itself, a union, and an array whose element count is absurd.
final class FakeTypes: TypeSource, MemoryReader {
    static let int = CType.integer(CInteger(name: "int", size: 4, isSigned: true))
    static let uint = CType.integer(CInteger(name: "unsigned int", size: 4, isSigned: false))
    static let char = CType.integer(CInteger(name: "char", size: 1, isSigned: true))
    static let color = CType.enumeration(CEnum(name: "color", size: 4, isSigned: false, enumerators: [
        .init(name: "RED", value: 1), .init(name: "GREEN", value: 2), .init(name: "BLUE", value: 4)]))
    static let node = CRecord(kind: .structure, name: "node", size: 32, key: 1)
    static let huge = CRecord(kind: .structure, name: "huge", size: 8, key: 2)
    static let anonymous = CRecord(kind: .union, name: nil, size: 4, key: 3)

    var memory: [UInt64: UInt8] = [:]

    func type(named name: String) -> CType? {
        switch name {
        case "struct node", "node": return .record(Self.node)
        case "struct huge", "huge": return .record(Self.huge)
        case "color", "enum color": return Self.color
        default: return nil
        }
    }

    func members(of record: CRecord) -> [CMember] {
        switch record.key {
        case 1: return [
            CMember(name: "value", type: Self.int, bitOffset: 0),
            CMember(name: "flag", type: Self.uint, bitOffset: 32, bitSize: 1),
            CMember(name: "level", type: Self.int, bitOffset: 33, bitSize: 3),
            CMember(name: "name", type: .array(Self.char, count: 6), bitOffset: 64),
            CMember(name: nil, type: .record(Self.anonymous), bitOffset: 128),
            CMember(name: "next", type: .pointer(.record(Self.node)), bitOffset: 192),
        ]
        case 2: return [CMember(name: "items", type: .array(Self.int, count: Int.max / 8), bitOffset: 0)]
        case 3: return [CMember(name: "hue", type: Self.color, bitOffset: 0), CMember(name: "raw", type: Self.uint, bitOffset: 0)]
        default: return []
        }
    }

    func global(named name: String) -> (address: UInt64, type: CType?)? {
        switch name {
        case "root": return (0x1000, .record(Self.node))
        case "big": return (0x2000, .record(Self.huge))
        default: return nil
        }
    }

    func symbolName(for address: UInt64) -> (name: String, offset: UInt64)? {
        address >= 0x1000 && address < 0x1020 ? ("root", address - 0x1000) : nil
    }

    func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        try (0..<UInt64(count)).map { i in
            guard let b = memory[address + i] else { throw EvaluationError("Cannot access memory at address 0x\(String(address + i, radix: 16))") }
            return b
        }
    }

    init() {
        func put(_ at: UInt64, _ bytes: [UInt8]) { for (i, b) in bytes.enumerated() { memory[at + UInt64(i)] = b } }
        put(0x1000, [0xfe, 0xff, 0xff, 0xff])               // value = -2
        put(0x1004, [0b0000_1011, 0, 0, 0])                 // flag = 1, level = 0b101 -> -3
        put(0x1008, Array("ab\"\n".utf8) + [0, 0])           // name
        put(0x100e, [0, 0])
        put(0x1010, [5, 0, 0, 0, 0, 0, 0, 0])               // hue = RED|BLUE
        put(0x1014, [0, 0, 0, 0])
        put(0x1018, [0x00, 0x10, 0, 0, 0, 0, 0, 0])         // next = &root
        put(0x2000, [1, 0, 0, 0, 2, 0, 0, 0])
    }
}

struct ExpressionUnitTests {
    @Test func parsesWhatCrashUsersWrite() throws {
        let isType: (String) -> Bool = { $0 == "pid_t" }
        #expect(try ExpressionParser.parse("init_task.se.vruntime").description == "init_task.se.vruntime")
        // The flat tree written back fully parenthesized: the structure the parser found.
        func tree(_ text: String, _ isTypeName: @escaping (String) -> Bool = { _ in false }) throws -> String {
            try ExpressionParser.parse(text, isTypeName: isTypeName).description
        }
        #expect(try tree("*init_task.mm") == "*init_task.mm")
        #expect(try tree("&init_task.pid_links[1]") == "&init_task.pid_links[1]")
        #expect(try tree("(struct list_head *)0xffff8a15411f8890") == "(struct list_head *)18446614422624372880")
        #expect(try tree("(long unsigned int)x") == "(unsigned long)x")
        #expect(try tree("(pid_t)x", isType) == "(pid_t)x")
        #expect(try tree("(x)", isType) == "x")
        #expect(try tree("a->b->c") == "a->b->c")
        #expect(try tree("sizeof(struct task_struct)") == "sizeof(struct task_struct)")
        #expect(try tree("jiffies - 10UL") == "(jiffies - 10UL)")
        #expect(try tree("1 + 2 * 3 - 4") == "((1 + (2 * 3)) - 4)")
        #expect(try tree("a || b && c | d ^ e & f == g < h << i + j * k") ==
                "(a || (b && (c | (d ^ (e & (f == (g < (h << (i + (j * k))))))))))")
        #expect(try tree("a ? b : c ? d : e") == "(a ? b : (c ? d : e))")
        #expect(try tree("-(int)~!x") == "-(int)~!x")
        #expect(throws: ExpressionSyntaxError.self) { try ExpressionParser.parse("nr_cpu_ids--1") }
        for bad in ["", "a.", "(struct)x", "a[1", "1 +", "a # b", "0xzz", String(repeating: "(", count: 5000)] {
            #expect(throws: (any Error).self, "\(bad.prefix(20))") { try ExpressionParser.parse(bad) }
        }
    }

    @Test func printsLikeGdb() throws {
        let fake = FakeTypes()
        let evaluator = ExpressionEvaluator(source: fake, memory: fake)
        let printer = ValuePrinter(source: fake, memory: fake)
        func show(_ text: String, _ format: ValuePrinter.Format = .natural) throws -> String {
            let (_, v) = try evaluator.evaluate(text)
            var p = printer
            p.format = format
            return p.topLevel(v.type, bytes: try evaluator.bytes(of: v), address: v.address)
        }
        #expect(try show("root.value") == "-2")
        #expect(try show("root.value", .hex) == "0xfffffffe")
        #expect(try show("root.flag") == "1")
        #expect(try show("root.level") == "-3")
        #expect(try show("root.name") == "\"ab\\\"\\n\\000\"")
        #expect(try show("root.name[0]") == "97 'a'")
        #expect(try show("root.hue") == "(RED | BLUE)")
        #expect(try show("root.raw") == "5")
        #expect(try show("root.next") == "(struct node *) 0x1000 <root>")
        #expect(try show("root.next->next->name[1]") == "98 'b'")
        #expect(try show("&root.name") == "(char (*)[6]) 0x1008 <root+8>")
        #expect(try show("(struct node *)0x1000") == "(struct node *) 0x1000 <root>")
        #expect(try show("sizeof(struct node)") == "32")
        #expect(try show("root") == """
        {
          value = -2,
          flag = 1,
          level = -3,
          name = "ab\\"\\n\\000",
          {
            hue = (RED | BLUE),
            raw = 5
          },
          next = 0x1000 <root>
        }
        """)
        // Unreadable memory names the address; an absurd array is refused, not allocated.
        #expect(throws: EvaluationError.self) { try show("*(struct node *)0x5000") }
        // An array member claiming more elements than its struct holds prints what is there.
        #expect(try show("big") == "{\n  items = {1, 2...}\n}")
        #expect(try show("big.items[1]") == "2")
        #expect(throws: EvaluationError.self) { try show("root.nosuch") }
        #expect(throws: EvaluationError.self) { try show("*root.value") }
    }

    @Test func declarationsAndOffsets() {
        let fake = FakeTypes()
        let f = DeclarationFormatter(source: fake)
        #expect(f.name(of: .pointer(.array(FakeTypes.char, count: 16))) == "char (*)[16]")
        #expect(f.name(of: .pointer(.function(returns: .void, parameters: [.pointer(.record(FakeTypes.node)), FakeTypes.int], variadic: false)))
                == "void (*)(struct node *, int)")
        #expect(f.declaration(.qualified(.pointer(FakeTypes.char), const: true, volatile: false), declarator: "p") == "char * const p")
        #expect(f.declaration(.qualified(.array(.qualified(FakeTypes.char, const: true, volatile: false), count: 4), const: true, volatile: false),
                              declarator: "s") == "const char s[4]")
        #expect(f.offsetListing(FakeTypes.node) == """
        struct node {
           [0] int value;
           [4] unsigned int flag : 1;
           [4] int level : 3;
           [8] char name[6];
               union {
          [16]     enum color hue;
          [16]     unsigned int raw;
               };
          [24] struct node *next;
        }
        SIZE: 32

        """)
    }
}

struct ArrowSyntaxTests {
    /// crash users write `p task->mm`: "->" is part of the expression, only a free ">" redirects.
    @Test func arrowIsNotARedirection() throws {
        let parsed = try CommandLineSyntax.parse("p init_task.sched_class->enqueue_task > out.txt")
        #expect(parsed.count == 1)
        #expect(parsed.first?.words == ["p", "init_task.sched_class->enqueue_task"])
        #expect(parsed.first?.output == .file(path: "out.txt", append: false))
    }
}

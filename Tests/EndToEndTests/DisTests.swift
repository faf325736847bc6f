import Commands
import Disassembly
import Foundation
import Testing

/// `dis` against crash 8.0.6 on dump.kdump (Expected/dis, made by Expected/dis/generate.sh):
/// twenty-two functions across the kernel and two modules, and the COUNT, -r and -l forms.
@Suite(.serialized, .enabled(if: Harness.fixturesAvailable))
struct DisTests {
    static let expectedRoot = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/dis")
    static let commands: [String] = {
        let list = (try? String(contentsOf: expectedRoot.appendingPathComponent("commands.txt"), encoding: .utf8)) ?? ""
        return list.split(separator: "\n").map(String.init)
    }()

    /// Commands whose text differs from crash's only in how gdb spells redundant prefixes on
    /// padding nops ("data16 nopw %cs:0x0(...)" where Zydis says "nopw 0x0(...)").
    static let spellingDifferences: Set<String> = ["dis __x86_indirect_thunk_rax"]

    static func reference(_ command: String) throws -> String {
        let name = String(command.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
        return try String(contentsOf: expectedRoot.appendingPathComponent("dump.kdump/\(name).txt"), encoding: .utf8)
    }

    /// The instruction address and, when there is one, the `0x... <sym+off>` branch target.
    static func boundaryAndTarget(_ line: Substring) -> String {
        let address = line.prefix { $0 != " " }
        let text = line.split(separator: "\t", maxSplits: 1).last ?? ""
        let target = text.firstMatch(of: /0x[0-9a-f]+ <[^>]+>/).map { String($0.output) } ?? ""
        return "\(address) \(target)"
    }

    @Test func matchesCrash() throws {
        #expect(Self.commands.count >= 25)
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
        for command in Self.commands {
            let expected = try Self.reference(command)
            let got = Harness.runCommand(session, command)
            guard case let .output(text) = got else { Issue.record("\(command): \(got)"); continue }
            if Self.spellingDifferences.contains(command) {
                let e = expected.split(separator: "\n").map(Self.boundaryAndTarget)
                let g = text.split(separator: "\n").map(Self.boundaryAndTarget)
                #expect(g == e, "\(command)")
                #expect(text != expected, "\(command) now matches crash: move it out of spellingDifferences")
            } else {
                #expect(text == expected, "\(command)")
            }
        }
    }

    @Test func json() throws {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
        session.jsonOutput = true
        let result = try Harness.jsonObject(session, "dis sysrq_handle_crash")
        let items = try #require(result["instructions"] as? [[String: Any]])
        #expect(items.count == 4)
        #expect(items[0]["address"] as? String == "0xffffffffb0ca89f0")
        #expect(items[0]["bytes"] as? String == "0f1f440000")
        #expect(items[0]["ftrace_nop"] as? Bool == true)
        #expect(items[1]["mnemonic"] as? String == "call")
        #expect(items[1]["symbol"] as? String == "sysrq_handle_crash+5")
        #expect(items[1]["target"] as? String == "0xffffffffb0728270")
        #expect(items[1]["target_symbol"] as? String == "__rcu_read_unlock")
        #expect(items[2]["operands"] as? String == "$0xffffffffb19697b9,%rdi")
    }

    @Test func errors() throws {
        let session = try Session(dumpPath: Harness.fixture("dump.kdump"), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
        guard case let .failure(m) = Harness.runCommand(session, "dis no_such_function") else { Issue.record("no failure"); return }
        #expect(m.contains("symbol not found"))
        guard case let .failure(z) = Harness.runCommand(session, "dis schedule 0") else { Issue.record("no failure"); return }
        #expect(z.contains("invalid count"))
    }
}

/// The decoder on hand-made bytes: boundaries, gdb's spelling and branch targets.
struct DisassemblerTests {
    @Test func spelling() {
        let d = Disassembler()
        // je rel8; movzbl; rep stos; lock cmpxchg; incl %gs:rip; nopl 0x0(...); movq $imm,mem
        let bytes: [UInt8] = [0x74, 0x02, 0x0f, 0xb6, 0xc0, 0xf3, 0x48, 0xab,
                              0xf0, 0x0f, 0xb1, 0x15, 0x10, 0x00, 0x00, 0x00,
                              0x0f, 0x1f, 0x44, 0x00, 0x00, 0x48, 0xc7, 0x04, 0x24, 0x08, 0x00, 0x00, 0x00]
        let out = d.decode(bytes: bytes, at: 0x1000)
        #expect(out.map(\.text) == [
            "je     0x1004", "movzbl %al,%eax", "rep stos %rax,%es:(%rdi)", "lock cmpxchg %edx,0x10(%rip)",
            "nopl   0x0(%rax,%rax,1)", "movq   $0x8,(%rsp)",
        ])
        #expect(out[0].branchTarget == 0x1004)
        #expect(out[3].ripRelativeTarget == 0x1010 + 0x10)
        #expect(out.map(\.length) == [2, 3, 3, 8, 5, 8])
    }

    @Test func invalidBytes() {
        let out = Disassembler().decode(bytes: [0x06, 0x90], at: 0)
        #expect(out.first?.isInvalid == true)
        #expect(out.first?.length == 1)
        #expect(out.last?.mnemonic == "nop")
    }
}

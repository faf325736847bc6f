@testable import Commands
import DumpModel
import Foundation
import Testing

/// `bt` the way a kernel before 4.14 is walked: no ORC tables at all. On the 6.1 fixtures the
/// vmlinux's DWARF CFI (for C code) and the entry code's saved registers (found above the return
/// addresses into it: asm has no CFI) give every task the same trace as the ORC tables, byte for
/// byte, so the comparison with crash 8.0.6 in `BtTests` holds as it is. With neither ORC nor CFI
/// (frame pointers and the stack scan alone) the fixture kernel, built without frame pointers,
/// loses frames: that is stated exactly below, not hidden.
@Suite(Harness.needsFixtureSet, .serialized)
struct BtWithoutORCTests {
    /// The tasks of crash's `foreach bt`, as one `bt TASK...` command, and crash's blocks.
    static func allTasks(_ dump: String) throws -> (command: String, crash: [String]) {
        let expected = BtTests.blocks(try BtTests.reference(dump, "foreach_bt.txt"))
        let tasks = expected.compactMap { b -> String? in
            guard let r = b.range(of: "TASK: ") else { return nil }
            return String(b[r.upperBound...].prefix(16))
        }
        return ("bt " + tasks.joined(separator: " "), expected)
    }

    @Test(arguments: BtTests.dumps)
    func cfiAndEntryRegistersGiveTheSameTracesAsORC(dump: String) throws {
        let session = try TypeCommandTests.session(dump)
        let (all, crash) = try Self.allTasks(dump)
        let orcActive = try BtTests.output(session, "bt -a")
        let orcAll = try BtTests.output(session, all)
        session.stackUnwinderState = .success(try session.makeStackUnwinder(useORC: false))
        #expect(try session.stackUnwinder().tables.isEmpty)
        #expect(try BtTests.output(session, "bt -a") == orcActive)
        let mine = try BtTests.output(session, all)
        #expect(mine == orcAll)
        // As with ORC: every task crash traced from its saved switch frame matches crash.
        let blocks = BtTests.blocks(mine)
        #expect(blocks.count == crash.count)
        #expect(zip(blocks, crash).filter { $0 == $1 }.count >= crash.count - 2)
        // And the rules say where they came from: no ORC row anywhere.
        session.jsonOutput = true
        let line = try JSONSerialization.jsonObject(with: Data(try BtTests.output(session, all).utf8)) as? [String: Any]
        let result = try #require(line?["result"] as? [[String: Any]])
        let rules = result.flatMap { ($0["frames"] as? [[String: Any]] ?? []).compactMap { $0["unwinder"] as? String } }
        #expect(!rules.contains("orc"))
        #expect(rules.filter { $0 == "dwarf-cfi" }.count > 200)
        // Every task that entered from user mode or was forked ends at entry code's registers.
        #expect(rules.filter { $0 == "exception-frame" }.count >= 50)
    }

    /// Frame pointers and the stack scan alone (no ORC, no CFI) on a kernel built without frame
    /// pointers: rbp is an ordinary register there. Every trace stops with "no unwind rule" after
    /// the frames the stack scan proves (direct calls of the function): those are the first
    /// frames of the ORC trace. Two exceptions: tasks the CPU notes show in user mode (QEMU's
    /// `cat` and `md5sum`) need no rule; and on the kdump, CPU 1's task (md5sum), stopped by the crash
    /// NMI, gets no frames (its handler's frames are found by unwinding back to the saved
    /// registers, which needs rules). On the QEMU panic task the rbp guess skips `panic` and
    /// `delay_tsc`'s tail call (delay_tsc, then sysrq_handle_crash): the one wrong frame.
    @Test(arguments: ["vmcore", "qemu.elf"])
    func framePointersAloneStopEarlyOnAKernelWithoutThem(dump: String) throws {
        let session = try TypeCommandTests.session(dump)
        let (all, _) = try Self.allTasks(dump)
        let orc = BtTests.blocks(try BtTests.output(session, all))
        var bare = try session.makeStackUnwinder(useORC: false)
        bare.fallbackRule = { _ in nil }
        session.stackUnwinderState = .success(bare)
        let mine = BtTests.blocks(try BtTests.output(session, all))
        #expect(mine.count == orc.count && mine.count == 63)
        var prefixes = 0, equal = 0, noRule = 0
        var notPrefix: [String] = []
        for (o, m) in zip(orc, mine) {
            let frames = m.split(separator: "\n").filter { !$0.hasPrefix("bt: ") }
            if m.contains("\nbt: no unwind rule for pc 0x") { noRule += 1 }
            if o == m { equal += 1 }
            if Array(o.split(separator: "\n").prefix(frames.count)) == frames { prefixes += 1 } else {
                notPrefix.append(String(m.prefix(while: { $0 != "\n" })))
            }
        }
        if dump == "vmcore" {
            #expect(equal == 0 && noRule == 62 && prefixes == 63)
            #expect(mine.contains { $0.hasPrefix("PID: 116 ") && $0.hasSuffix("bt: no kernel frames found above the saved user-mode registers\n") })
        } else {
            #expect(equal == 2 && noRule == 61 && prefixes == 62)
            #expect(notPrefix.count == 1 && notPrefix.first?.hasPrefix("PID: 1 ") == true)
            let panicTask = try #require(mine.first { $0.hasPrefix("PID: 1 ") })
            #expect(BtTests.functions(panicTask) == ["delay_tsc", "sysrq_handle_crash"])
        }
    }
}

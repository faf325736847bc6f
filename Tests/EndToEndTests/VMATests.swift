import Foundation
import Testing
@testable import Commands
import DumpModel

/// A task's memory map: `vtop` of user addresses (the VMA block, "FILE:" for file pages not in
/// memory, "(not accessible)" outside every VMA) and `vm`, compared byte for byte with crash
/// 8.0.6: Expected/vma/<dump>/ (generate.sh), run in one session in the order of the command
/// list, as crash ran them (the first is `set 1`, the context of the commands without `-c`).
@Suite(Harness.needsFixtureSet)
struct VMATests {
    static let expected = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/vma")

    static func session(_ dump: String) throws -> Session {
        try Session(dumpPath: Harness.fixture(dump), vmlinuxPath: Harness.fixture(Harness.vmlinuxName))
    }

    static func commands(_ dump: String) throws -> [String] {
        let list = dump.hasPrefix("qemu.") ? "qemu-commands.txt" : "kdump-commands.txt"
        return try String(contentsOf: expected.appendingPathComponent(list), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    static func reference(_ dump: String, _ command: String) throws -> String {
        let name = String(command.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
        return try String(contentsOf: expected.appendingPathComponent("\(dump)/\(name).txt"), encoding: .utf8)
    }

    /// vmcore and qemu.elf hold the user pages; dump.kdump excludes them (crash still shows the
    /// page tables, the VMA and the struct page); qemu.kdump is QEMU's compressed format.
    @Test(arguments: ["vmcore", "dump.kdump", "qemu.elf", "qemu.kdump"])
    func vtopAndVmEqualCrash(_ dump: String) throws {
        let session = try Self.session(dump)
        for command in try Self.commands(dump) {
            let want = try Self.reference(dump, command)
            switch Harness.runCommand(session, command) {
            case let .output(text):
                #expect(text == want, "\(dump): \(command)")
            case let .failure(message):
                // `vm 1 PID 99999`: crash prints the bad PID's line and goes on; so does crashsh.
                Issue.record("\(dump): \(command) failed: \(message)")
            }
        }
    }

    @Test func vmJSON() throws {
        let session = try Self.session("vmcore")
        session.jsonOutput = true
        let result = try Harness.jsonObject(session, "vm 1 2 99999")
        let items = try #require(result["tasks"] as? [[String: Any]])
        #expect(items.count == 3)
        let initMap = items[0]
        #expect(initMap["pid"] as? Int == 1)
        #expect(initMap["task"] as? String == "0xffff8a15411f8000")
        #expect(initMap["comm"] as? String == "init")
        #expect(initMap["mm"] as? String == "0xffff8a1541054000")
        #expect(initMap["pgd"] as? String == "0xffff8a1550aa0000")
        #expect(initMap["rss_kb"] as? Int == 1796)
        #expect(initMap["total_vm_kb"] as? Int == 2260)
        let vmas = try #require(initMap["vmas"] as? [[String: Any]])
        #expect(vmas.count == 10)
        #expect(vmas[0]["vma"] as? String == "0xffff8a15501ffc78")
        #expect(vmas[0]["start"] as? String == "0x400000")
        #expect(vmas[0]["end"] as? String == "0x401000")
        #expect(vmas[0]["flags"] as? String == "0x8000071")
        #expect(vmas[0]["path"] as? String == "/bin/busybox")
        #expect(vmas[1]["pgoff"] as? String == "1")
        #expect(vmas[5]["path"] is NSNull)
        #expect(vmas[5]["file"] is NSNull)
        #expect(vmas[9]["start"] as? String == "0x7ffce5ce5000")
        #expect(vmas[9]["flags"] as? String == "0x8040075")
        // A kernel thread: no memory map.
        #expect(items[1]["mm"] as? String == "0x0")
        #expect(items[1]["vmas"] == nil)
        #expect(items[2]["error"] as? String == "invalid task or pid value: 99999")
    }

    @Test func vtopJSON() throws {
        let session = try Self.session("vmcore")
        let result = try VtopCommand.run(["-c", "1", "500000", "500", "400000"], in: session).renderJSON()
        guard case let .array(items) = result, items.count == 3 else { Issue.record("not an array of 3"); return }
        let vma = try #require(items[0]["vma"])
        #expect(vma["vma"] == .string("0xffff8a15501ff8e8"))
        #expect(vma["start"] == .string("0x401000"))
        #expect(vma["end"] == .string("0x585000"))
        #expect(vma["flags"] == .string("0x8000075"))
        #expect(vma["path"] == .string("/bin/busybox"))
        #expect(items[0]["physical"] == .null)
        #expect(items[0]["file_offset"] == .string("0x100000"))
        #expect(items[1]["error"] == .string("not accessible: no VMA of the task holds it"))
        #expect(items[2]["physical"] == .string("0x3670000"))
        #expect(items[2]["vma"]?["vma"] == .string("0xffff8a15501ffc78"))
        #expect(items[2]["file_offset"] == nil)
    }

    /// The model under the commands: PID 1's VMAs from the maple tree in address order, the
    /// walk complete, every range inside the user half and none overlapping.
    @Test(arguments: ["vmcore", "qemu.elf"])
    func mapleTreeOfEveryProcessIsOrdered(_ dump: String) throws {
        let session = try Self.session(dump)
        let kernel = try session.crashedKernel()
        var processes = 0
        for task in try kernel.tasks().tasks where task.mm != 0 {
            let map = try #require(try kernel.memoryMap(of: task))
            #expect(map.stop == .complete)
            var previousEnd: UInt64 = 0
            for record in map.records {
                guard case let .area(a) = record else { Issue.record("unreadable VMA \(record)"); continue }
                #expect(a.start >= previousEnd && a.start < a.end)
                previousEnd = a.end
            }
            #expect(map.records.count >= 10)
            processes += 1
        }
        #expect(processes == 9)
    }
}

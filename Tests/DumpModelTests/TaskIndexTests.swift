import Testing
@testable import DumpModel

/// TaskIndex on hand-made task lists in the kernel image mapping of a synthetic kernel
/// (virtual = physical + 0xffffffff80000000 - 0x1000000).
@Suite struct TaskIndexTests {
    static let tasksOff = 0x10, pidOff = 0x20, tgidOff = 0x24, mmOff = 0x28, groupOff = 0x30
    static let flagsOff = 0x40, stateOff = 0x44, commOff = 0x48, parentOff = 0x58, pgdOff = 0x8

    /// Task i at virtual 0xffffffff82000000 + i * 0x1000.
    static func task(_ i: Int) -> UInt64 { 0xffff_ffff_8200_0000 + UInt64(i) * 0x1000 }
    static func phys(_ v: UInt64) -> UInt64 { v - 0xffff_ffff_8000_0000 + 0x0100_0000 }

    static func layout() -> DictionaryLayout {
        let offsets = ["task_struct.tasks": tasksOff, "task_struct.pid": pidOff, "task_struct.tgid": tgidOff,
                       "task_struct.mm": mmOff, "task_struct.thread_group": groupOff, "task_struct.flags": flagsOff,
                       "task_struct.__state": stateOff, "task_struct.comm": commOff, "task_struct.parent": parentOff,
                       "mm_struct.pgd": pgdOff]
        let sizes = ["task_struct.pid": 4, "task_struct.tgid": 4, "task_struct.flags": 4, "task_struct.__state": 4,
                     "task_struct.comm": 16, "task_struct.mm": 8, "task_struct.parent": 8]
        return DictionaryLayout(symbols: ["init_task": task(0)], offsets: offsets, memberSizes: sizes)
    }

    /// Writes tasks with `pids` (tgid = pid, comm "t<pid>", state 1), links `tasks` in the order
    /// of `ring` (indexes; ring[0] is init), and makes every thread_group list empty.
    static func build(_ dump: SyntheticDump, pids: [Int32], ring: [Int]) {
        for (i, pid) in pids.enumerated() {
            let t = task(i)
            dump.write(phys(t) + UInt64(pidOff), withUnsafeBytes(of: pid.littleEndian, Array.init))
            dump.write(phys(t) + UInt64(tgidOff), withUnsafeBytes(of: pid.littleEndian, Array.init))
            dump.write(phys(t) + UInt64(stateOff), [1, 0, 0, 0])
            dump.write(phys(t) + UInt64(commOff), Array("t\(pid)".utf8) + [0])
            dump.write64(phys(t) + UInt64(parentOff), task(0))
            dump.write64(phys(t) + UInt64(groupOff), t + UInt64(groupOff))
        }
        for (n, i) in ring.enumerated() {
            let next = ring[(n + 1) % ring.count]
            dump.write64(phys(task(i)) + UInt64(tasksOff), task(next) + UInt64(tasksOff))
        }
    }

    static func index(_ dump: SyntheticDump, _ layout: DictionaryLayout = layout()) throws -> TaskIndex {
        try TaskIndex(memory: KernelMemory(space: space(dump, layout: layout)), perCPU: nil)
    }

    @Test func findsLeadersAndThreadsByPIDAndAddress() throws {
        let (dump, _) = syntheticKernel()
        Self.build(dump, pids: [0, 1, 2, 33], ring: [0, 1, 2])
        // Task 3 (PID 33) is a thread of task 1: thread_group ring 1 -> 3 -> 1, tgid 1.
        dump.write64(Self.phys(Self.task(1)) + UInt64(Self.groupOff), Self.task(3) + UInt64(Self.groupOff))
        dump.write64(Self.phys(Self.task(3)) + UInt64(Self.groupOff), Self.task(1) + UInt64(Self.groupOff))
        dump.write(Self.phys(Self.task(3)) + UInt64(Self.tgidOff), [1, 0, 0, 0])
        // Task 1 has an mm whose pgd (a kernel virtual address) is at 0xffffffff83000000.
        let mm = Self.task(9)
        dump.write64(Self.phys(Self.task(1)) + UInt64(Self.mmOff), mm)
        dump.write64(Self.phys(mm) + UInt64(Self.pgdOff), 0xffff_ffff_8300_0000)
        let index = try Self.index(dump)
        // Sorted by PID, as crash lists them.
        #expect(index.tasks.map(\.pid) == [0, 1, 2, 33])
        #expect(index.tasks.map(\.comm) == ["t0", "t1", "t2", "t33"])
        #expect(index.tasks(pid: 33).first?.address == Self.task(3))
        #expect(index.task(address: Self.task(2))?.pid == 2)
        #expect(index.tasks(pid: 7).isEmpty)
        #expect(index.threadGroup(tgid: 1).map(\.pid) == [1, 33])
        #expect(index.stateBits.code(index.tasks[1].state) == "IN")
        #expect(index.unreadable.isEmpty && index.walkProblems.isEmpty)
    }

    @Test func corruptListsEndTheWalkAndSaySo() throws {
        let (dump, _) = syntheticKernel()
        Self.build(dump, pids: [0, 1, 2, 3], ring: [0, 1, 2, 3])
        // Task 3 points back into the middle of the list (to task 1), not to init: a cycle.
        dump.write64(Self.phys(Self.task(3)) + UInt64(Self.tasksOff), Self.task(1) + UInt64(Self.tasksOff))
        let cyclic = try Self.index(dump)
        #expect(cyclic.tasks.map(\.pid) == [0, 1, 2, 3])
        #expect(cyclic.walkProblems.count == 1)
        #expect(cyclic.walkProblems.first?.contains("loop") == true)
        // A pointer to memory that is not in the dump ends the list there, and says where.
        dump.write64(Self.phys(Self.task(2)) + UInt64(Self.tasksOff), 0xffff_ffff_bfff_0000)
        let broken = try Self.index(dump)
        #expect(broken.tasks.map(\.pid) == [0, 1, 2])
        #expect(broken.walkProblems.first?.contains("broken link") == true)
    }

    @Test func missingMembersAreNamed() throws {
        let (dump, _) = syntheticKernel()
        #expect(throws: DumpError.self) { try TaskIndex(memory: KernelMemory(space: space(dump)), perCPU: nil) }
        var layout = Self.layout()
        layout.offsets["task_struct.mm"] = nil
        #expect(throws: DumpError.missing(what: "task_struct.mm")) { try Self.index(dump, layout) }
    }

    @Test func listWalksAreBounded() throws {
        let (dump, _) = syntheticKernel()
        Self.build(dump, pids: [0, 1, 2, 3], ring: [0, 1, 2, 3])
        let lists = KernelLists(memory: KernelMemory(space: try space(dump, layout: Self.layout())))
        let head = Self.task(0) + UInt64(Self.tasksOff)
        let all = lists.listHead(head)
        #expect(all.stop == .complete)
        #expect(all.nodes == [1, 2, 3].map { Self.task($0) + UInt64(Self.tasksOff) })
        let two = lists.listHead(head, limit: 2)
        #expect(two.stop == .limit(2))
        #expect(two.nodes.count == 2)
    }
}

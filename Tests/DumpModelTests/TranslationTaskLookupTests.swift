import Testing
@testable import DumpModel

/// TaskLookup on hand-made task lists in the kernel image mapping of a synthetic kernel
/// (virtual = physical + 0xffffffff80000000 - 0x1000000).
@Suite struct TranslationTaskLookupTests {
    static let tasksOff = 0x10, pidOff = 0x20, mmOff = 0x28, groupOff = 0x30, pgdOff = 0x8

    /// Task i at virtual 0xffffffff82000000 + i * 0x1000.
    static func task(_ i: Int) -> UInt64 { 0xffff_ffff_8200_0000 + UInt64(i) * 0x1000 }
    static func phys(_ v: UInt64) -> UInt64 { v - 0xffff_ffff_8000_0000 + 0x0100_0000 }

    static func layout(threadGroup: Bool = true) -> DictionaryLayout {
        var offsets = ["task_struct.tasks": tasksOff, "task_struct.pid": pidOff, "task_struct.mm": mmOff,
                       "mm_struct.pgd": pgdOff]
        if threadGroup { offsets["task_struct.thread_group"] = groupOff }
        return DictionaryLayout(symbols: ["init_task": task(0)], offsets: offsets)
    }

    /// Writes tasks with `pids`, links `tasks` in the order given by `ring` (indexes; ring[0] is init),
    /// and makes every thread_group list empty (pointing to itself).
    static func build(_ dump: SyntheticDump, pids: [Int32], ring: [Int]) {
        for (i, pid) in pids.enumerated() {
            let t = task(i)
            dump.write(phys(t) + UInt64(pidOff), withUnsafeBytes(of: pid.littleEndian, Array.init))
            dump.write64(phys(t) + UInt64(groupOff), t + UInt64(groupOff))
        }
        for (n, i) in ring.enumerated() {
            let next = ring[(n + 1) % ring.count]
            dump.write64(phys(task(i)) + UInt64(tasksOff), task(next) + UInt64(tasksOff))
        }
    }

    @Test func findsLeadersAndThreadsByPIDAndAddress() throws {
        let (dump, _) = syntheticKernel()
        Self.build(dump, pids: [0, 1, 2, 33], ring: [0, 1, 2])
        // Task 3 (PID 33) is a thread of task 1: thread_group ring 1 -> 3 -> 1.
        dump.write64(Self.phys(Self.task(1)) + UInt64(Self.groupOff), Self.task(3) + UInt64(Self.groupOff))
        dump.write64(Self.phys(Self.task(3)) + UInt64(Self.groupOff), Self.task(1) + UInt64(Self.groupOff))
        // Task 1 has an mm whose pgd (a kernel virtual address) is at 0xffffffff83000000.
        let mm = Self.task(9)
        dump.write64(Self.phys(Self.task(1)) + UInt64(Self.mmOff), mm)
        dump.write64(Self.phys(mm) + UInt64(Self.pgdOff), 0xffff_ffff_8300_0000)
        let lookup = try TaskLookup(space: space(dump, layout: Self.layout()))
        var order: [Int32] = []
        lookup.forEachTask { order.append($0.pid); return true }
        #expect(order == [0, 1, 33, 2])
        #expect(lookup.task(pid: 33)?.address == Self.task(3))
        #expect(lookup.task(address: Self.task(2))?.pid == 2)
        #expect(lookup.task(pid: 7) == nil)
        let t1 = try #require(lookup.task(pid: 1))
        #expect(try lookup.pageTableRoot(of: t1) == Self.phys(0xffff_ffff_8300_0000))
        #expect(try lookup.pageTableRoot(of: #require(lookup.task(pid: 2))) == nil)
    }

    @Test func corruptListsEndTheWalk() throws {
        let (dump, _) = syntheticKernel()
        Self.build(dump, pids: [0, 1, 2, 3], ring: [0, 1, 2, 3])
        // Task 3 points back into the middle of the list (to task 1), not to init: a cycle.
        dump.write64(Self.phys(Self.task(3)) + UInt64(Self.tasksOff), Self.task(1) + UInt64(Self.tasksOff))
        let lookup = try TaskLookup(space: space(dump, layout: Self.layout()))
        var order: [Int32] = []
        lookup.forEachTask { order.append($0.pid); return true }
        #expect(order == [0, 1, 2, 3])
        // A pointer to memory that is not in the dump ends the list there.
        dump.write64(Self.phys(Self.task(2)) + UInt64(Self.tasksOff), 0xffff_ffff_bfff_0000)
        let l2 = try TaskLookup(space: space(dump, layout: Self.layout()))
        order = []
        l2.forEachTask { order.append($0.pid); return true }
        #expect(order == [0, 1, 2])
        // The step bound (every pointer followed counts: init's empty thread list, then one task) stops a long list.
        let bounded = try TaskLookup(space: space(dump, layout: Self.layout()), maxSteps: 2)
        order = []
        bounded.forEachTask { order.append($0.pid); return true }
        #expect(order == [0, 1])
    }

    @Test func missingOffsetsAreNamed() throws {
        let (dump, _) = syntheticKernel()
        #expect(throws: DumpError.missing(what: "symbol init_task (needs the vmlinux's debuginfo)")) {
            try TaskLookup(space: space(dump))
        }
        var layout = Self.layout()
        layout.offsets["task_struct.mm"] = nil
        #expect(throws: DumpError.missing(what: "task_struct.mm (needs the vmlinux's debuginfo)")) {
            try TaskLookup(space: space(dump, layout: layout))
        }
    }
}

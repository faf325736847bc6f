/// One CPU's run queue (`struct rq`) at the time of the crash: the task running, and the tasks
/// waiting on the real-time priority queues and in the CFS red-black tree.
public struct RunQueue: Sendable {
    public var cpu: Int
    /// Address of the CPU's `struct rq` (the per-CPU `runqueues`).
    public var address: UInt64
    /// `rq->curr`.
    public var current: UInt64?
    /// `&rq->rt.active` (struct rt_prio_array).
    public var rtPrioArray: UInt64
    /// `&rq->cfs.tasks_timeline`.
    public var cfsRoot: UInt64
    /// Waiting real-time tasks: (queue index = priority, task address), in queue order.
    public var rtTasks: [(priority: Int, task: UInt64)]
    /// Waiting CFS tasks in tree order (leftmost, the next to run, first), group queues flattened.
    public var cfsTasks: [UInt64]
    /// `rq->clock` in nanoseconds.
    public var clock: UInt64?
    /// Walks that ended early (a broken tree or list), in words.
    public var problems: [String]
}

/// Reads each CPU's run queue through the layout (rq, rt_rq, cfs_rq, sched_entity,
/// sched_rt_entity members by name). Group scheduling entities (`my_q` set) are descended with
/// an explicit, bounded work list: the queues of task groups nest.
public struct RunQueueReader {
    public let kernel: CrashedKernel

    public init(kernel: CrashedKernel) { self.kernel = kernel }

    /// The run queue of `cpu`.
    public func runQueue(cpu: Int) throws -> RunQueue {
        let memory = kernel.memory
        let areas = try kernel.perCPU()
        let address = try areas.address(of: "runqueues", cpu: cpu)
        let rq = memory.object(address, "rq")
        var problems: [String] = []
        let rtArray = try rq.address(of: "rt") &+ UInt64(try memory.object(0, "rt_rq").offset("active"))
        let cfs = try rq.address(of: "cfs")
        let cfsRoot = cfs &+ UInt64(try memory.object(0, "cfs_rq").offset("tasks_timeline"))
        let rt = readRT(rtArray, problems: &problems)
        let fair = readCFS(cfs, problems: &problems)
        return RunQueue(cpu: cpu, address: address, current: try? rq.pointer("curr"), rtPrioArray: rtArray,
                        cfsRoot: cfsRoot, rtTasks: rt, cfsTasks: fair, clock: try? rq.unsigned("clock"), problems: problems)
    }

    /// The tasks on the real-time priority queues at `prioArray` (struct rt_prio_array), and on
    /// the queues of the groups found there.
    private func readRT(_ prioArray: UInt64, problems: inout [String]) -> [(priority: Int, task: UInt64)] {
        let memory = kernel.memory
        let l = memory.layout
        guard let queueOffset = l.memberOffset("rt_prio_array", "queue"),
              let headSize = l.typeSize("list_head"), headSize > 0,
              let runList = l.memberOffset("sched_rt_entity", "run_list"),
              let rtOffset = l.memberOffset("task_struct", "rt") else {
            problems.append("the layout lacks the real-time run-queue members")
            return []
        }
        let queues = max(1, min(l.length("rt_prio_array.queue") ?? 101, 1024))
        let myQ = l.memberOffset("sched_rt_entity", "my_q")
        let activeInRQ = l.memberOffset("rt_rq", "active")
        let lists = kernel.lists
        var found: [(Int, UInt64)] = []
        var pending: [UInt64] = [prioArray]
        var seenArrays: Set<UInt64> = []
        while let array = pending.popLast() {
            guard seenArrays.insert(array).inserted, seenArrays.count <= 4096 else { continue }
            for q in 0..<queues {
                let head = array &+ UInt64(queueOffset + q * headSize)
                let walk = lists.listHead(head, limit: 1 << 16)
                if walk.stop != .complete { problems.append("RT queue \(q): \(walk.stop)") }
                for node in walk.nodes {
                    let entity = node &- UInt64(runList)
                    if let myQ, let activeInRQ, let group = try? memory.load(UInt64.self, entity &+ UInt64(myQ)), group != 0 {
                        pending.append(group &+ UInt64(activeInRQ))
                        continue
                    }
                    found.append((q, entity &- UInt64(rtOffset)))
                }
            }
        }
        return found.map { (priority: $0.0, task: $0.1) }
    }

    /// The tasks of the CFS queue at `cfsRQ`: the current group's queue first, then the tree in
    /// order, each group entity replaced by its own queue's tasks (as crash lists them).
    private func readCFS(_ cfsRQ: UInt64, problems: inout [String]) -> [UInt64] {
        let memory = kernel.memory
        let l = memory.layout
        guard let timeline = l.memberOffset("cfs_rq", "tasks_timeline"),
              let runNode = l.memberOffset("sched_entity", "run_node"),
              let seOffset = l.memberOffset("task_struct", "se") else {
            problems.append("the layout lacks the CFS run-queue members")
            return []
        }
        let myQ = l.memberOffset("sched_entity", "my_q")
        let currOffset = l.memberOffset("cfs_rq", "curr")
        let lists = kernel.lists
        // A work list of queues and tasks, processed in order: a queue expands in place.
        enum Item { case queue(UInt64, depth: Int), task(UInt64) }
        var work: [Item] = [.queue(cfsRQ, depth: 0)]
        var tasks: [UInt64] = []
        var seenQueues: Set<UInt64> = []
        var steps = 0
        while !work.isEmpty, steps < 1 << 20 {
            steps += 1
            let item = work.removeFirst()
            switch item {
            case let .task(t):
                tasks.append(t)
            case let .queue(q, depth):
                guard depth < 64, seenQueues.insert(q).inserted else { continue }
                var expanded: [Item] = []
                if let myQ, let currOffset, let curr = try? memory.load(UInt64.self, q &+ UInt64(currOffset)), curr != 0,
                   let sub = try? memory.load(UInt64.self, curr &+ UInt64(myQ)), sub != 0 {
                    expanded.append(.queue(sub, depth: depth + 1))
                }
                guard let root = try? memory.load(UInt64.self, q &+ UInt64(timeline)) else {
                    problems.append("CFS queue \(String(q, radix: 16)): unreadable root")
                    continue
                }
                let walk = lists.rbTree(rootNode: root, limit: 1 << 16)
                if walk.stop != .complete { problems.append("CFS tree \(String(q, radix: 16)): \(walk.stop)") }
                for node in walk.nodes {
                    let entity = node &- UInt64(runNode)
                    if let myQ, let sub = try? memory.load(UInt64.self, entity &+ UInt64(myQ)), sub != 0 {
                        expanded.append(.queue(sub, depth: depth + 1))
                    } else {
                        expanded.append(.task(entity &- UInt64(seOffset)))
                    }
                }
                work.insert(contentsOf: expanded, at: 0)
            }
        }
        return tasks
    }
}

import DumpModel

/// `runq`: each CPU's run queue, as crash shows it.
public enum RunqCommand: CrashCommand {
    public static let name = "runq"
    public static let summary = "display the tasks on the run queues"
    public static let usage = """
    NAME
      runq - run queue

    SYNOPSIS
      runq [-t] [-c cpu(s)]

    DESCRIPTION
      For each CPU: its struct rq, the task running on it, the real-time priority array with the
      tasks queued on it ([priority] PID ...), and the CFS red-black tree with the tasks waiting
      in it, next to run first ([prio] PID ...). Tasks of task groups are listed with the others.
        -t        each CPU's run-queue clock (rq->clock), and the last-arrival timestamp of the
                  task running there.
        -c cpus   only these CPUs (a list such as 0,2-3).

    EXAMPLES
      crash> runq
      CPU 0 RUNQUEUE: ffff8a155f031980
        CURRENT: PID: 1      TASK: ffff8a15411f8000  COMMAND: "init"
        RT PRIO_ARRAY: ffff8a155f031bc0
           [no tasks queued]
        CFS RB_ROOT: ffff8a155f031a30
           [120] PID: 15     TASK: ffff8a154125a0c0  COMMAND: "rcu_preempt"
    """

    struct Entry {
        var priority: Int
        var task: KernelTask?
        var address: UInt64
    }

    struct CPUQueue {
        var queue: RunQueue
        var current: KernelTask?
        var currentAddress: UInt64?
        var rt: [Entry]
        var cfs: [Entry]
        var currentLastArrival: UInt64?
    }

    public struct Result: CommandResult {
        var timestamps: Bool
        var cpus: [CPUQueue]
        var errors: [(cpu: Int, message: String)]

        func entryLine(_ e: Entry) -> String {
            let t = e.task
            return "     [\(rjust(String(e.priority), 3))] PID: \(ljust(String(t?.pid ?? -1), 5))  TASK: \(hexDigits(e.address))  COMMAND: \"\(t?.comm ?? "?")\"\n"
        }

        public func renderText() -> String {
            var out = ""
            if timestamps {
                for c in cpus {
                    let clock = String(c.queue.clock ?? 0)
                    out += "\(c.queue.cpu < 10 ? " " : "")CPU \(c.queue.cpu): \(clock)\n"
                    if let t = c.current {
                        let indent = c.queue.cpu < 10 ? 8 : c.queue.cpu < 100 ? 8 : 9
                        var stamp = String(c.currentLastArrival ?? 0)
                        if stamp.count < clock.count { stamp = String(repeating: "0", count: clock.count - stamp.count) + stamp }
                        out += String(repeating: " ", count: indent) + stamp
                            + "  PID: \(ljust(String(t.pid), 5))  TASK: \(hexDigits(t.address))  COMMAND: \"\(t.comm)\"\n"
                    }
                }
                return out
            }
            for (i, c) in cpus.enumerated() {
                if i > 0 { out += "\n" }
                out += "CPU \(c.queue.cpu) RUNQUEUE: \(hexDigits(c.queue.address))\n"
                if let t = c.current {
                    out += "  CURRENT: PID: \(ljust(String(t.pid), 5))  TASK: \(hexDigits(t.address))  COMMAND: \"\(t.comm)\"\n"
                } else {
                    out += "  CURRENT: \(hexDigits(c.currentAddress ?? 0))\n"
                }
                out += "  RT PRIO_ARRAY: \(hexDigits(c.queue.rtPrioArray))\n"
                if c.rt.isEmpty { out += "     [no tasks queued]\n" }
                for e in c.rt { out += entryLine(e) }
                out += "  CFS RB_ROOT: \(hexDigits(c.queue.cfsRoot))\n"
                if c.cfs.isEmpty { out += "     [no tasks queued]\n" }
                for e in c.cfs { out += entryLine(e) }
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            func entry(_ e: Entry) -> JSONValue {
                if let t = e.task { return taskJSON(t, extra: [("prio", .int(Int64(e.priority)))]) }
                return .object([("task", .address(e.address)), ("prio", .int(Int64(e.priority))),
                                ("error", .string("not a known task"))])
            }
            var pairs: [(String, JSONValue)] = [("cpus", .array(cpus.map { c in
                var p: [(String, JSONValue)] = [
                    ("cpu", .int(Int64(c.queue.cpu))), ("runqueue", .address(c.queue.address)),
                    ("current", c.current.map { taskJSON($0) } ?? .address(c.currentAddress)),
                    ("rt_prio_array", .address(c.queue.rtPrioArray)), ("rt", .array(c.rt.map(entry))),
                    ("cfs_rb_root", .address(c.queue.cfsRoot)), ("cfs", .array(c.cfs.map(entry))),
                    ("clock_ns", c.queue.clock.map { .wide($0) } ?? .null),
                ]
                if !c.queue.problems.isEmpty { p.append(("errors", .array(c.queue.problems.map { .string($0) }))) }
                return .object(p)
            }))]
            if !errors.isEmpty {
                pairs.append(("errors", .array(errors.map { .object([("cpu", .int(Int64($0.cpu))), ("error", .string($0.message))]) })))
            }
            return .object(pairs)
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        var timestamps = false
        var cpuSpec: String?
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            switch a {
            case "-t": timestamps = true
            case "-c":
                guard i + 1 < arguments.count else { throw CommandError("-c needs a CPU list") }
                cpuSpec = arguments[i + 1]
                i += 1
            default:
                if a.hasPrefix("-c") { cpuSpec = String(a.dropFirst(2)) } else {
                    throw CommandError("invalid argument: \(a) (usage: runq [-t] [-c cpu(s)])")
                }
            }
            i += 1
        }
        let kernel = try session.crashedKernel()
        let areas = try kernel.perCPU()
        let index = try kernel.tasks()
        let cpus = try cpuSpec.map { try session.cpus($0, in: areas) } ?? Array(0..<areas.cpuCount)
        let reader = RunQueueReader(kernel: kernel)
        var queues: [CPUQueue] = []
        var errors: [(Int, String)] = []
        for cpu in cpus {
            if session.interruptRequested() { throw CommandError.interrupted }
            do {
                let q = try reader.runQueue(cpu: cpu)
                let active = cpu < index.activeTasks.count ? index.activeTasks[cpu] : nil
                let current = active.flatMap { index.task(address: $0) }
                func entries(_ list: [(Int, UInt64)]) -> [Entry] {
                    list.compactMap { prio, address in
                        // Entries that are no task of the index are not tasks: crash skips them too.
                        guard let t = index.task(address: address) else { return nil }
                        return Entry(priority: prio, task: t, address: address)
                    }
                }
                let cfs = entries(q.cfsTasks.map { a in (Int(index.task(address: a)?.prio ?? 0), a) })
                var lastArrival: UInt64?
                if timestamps, let current {
                    lastArrival = try? kernel.memory.object(current.address, "task_struct").unsigned("sched_info.last_arrival")
                }
                queues.append(CPUQueue(queue: q, current: current, currentAddress: active, rt: entries(q.rtTasks.map { ($0.priority, $0.task) }),
                                       cfs: cfs, currentLastArrival: lastArrival))
            } catch {
                errors.append((cpu, "\(error)"))
            }
        }
        if queues.isEmpty, let first = errors.first { throw CommandError("CPU \(first.0): \(first.1)") }
        return Result(timestamps: timestamps, cpus: queues, errors: errors.map { (cpu: $0.0, message: $0.1) })
    }
}

import DumpModel

// What the task views (ps, set, task, runq, foreach, bt) share: crash's task header line, the
// task selectors crash accepts (PID, task address, command name), and a task's JSON shape.

/// crash's one-line task header: `PID: 1        TASK: ffff8a15411f8000  CPU: 0    COMMAND: "init"`.
func taskHeader(_ t: KernelTask) -> String {
    "PID: \(ljust(String(t.pid), 7))  TASK: \(ljust(hexDigits(t.address), 16))  CPU: \(ljust(String(t.cpu), 3))  COMMAND: \"\(t.comm)\""
}

/// The same task in JSON, in every command: pid, ppid, task, cpu, state, comm, and more keys the
/// command adds.
func taskJSON(_ t: KernelTask, state: String? = nil, extra: [(String, JSONValue)] = []) -> JSONValue {
    var pairs: [(String, JSONValue)] = [
        ("pid", .int(Int64(t.pid))), ("ppid", .int(Int64(t.ppid))), ("task", .address(t.address)),
        ("cpu", .int(Int64(t.cpu))), ("comm", .string(t.comm)),
    ]
    if let state { pairs.append(("state", .string(state))) }
    return .object(pairs + extra)
}

/// One word of a task selection, as crash reads ps/set/task/foreach arguments: a decimal PID, a
/// hexadecimal task address, or a command name (a word with regex characters is a regex).
enum TaskSelector: Equatable {
    case pid(Int32)
    case address(UInt64)
    case comm(String)
    case regex(String)

    /// Reads `word`; `index` tells a hexadecimal word that is a task address from a command name.
    init(_ word: String, index: TaskIndex) {
        if let p = Int32(word), p >= 0 {
            self = .pid(p)
        } else if let a = parseHexAddress(word), index.task(address: a) != nil || word.hasPrefix("0x") {
            self = .address(a)
        } else if word.contains(where: { "*?[]^$+(|\\".contains($0) }) {
            self = .regex(word)
        } else {
            self = .comm(word)
        }
    }

    func matches(_ t: KernelTask) -> Bool {
        switch self {
        case let .pid(p): return t.pid == p
        case let .address(a): return t.address == a
        case let .comm(c): return t.comm == c
        case let .regex(r):
            guard let re = try? Regex(r) else { return false }
            return (try? re.firstMatch(in: t.comm)) != nil
        }
    }
}

extension Session {
    /// The tasks of the crashed kernel (read once per session).
    func taskIndex() throws -> TaskIndex { try crashedKernel().tasks() }

    /// The task a `set`/`task`/`bt` argument names: a PID (the first task with it) or a task
    /// address. Throws crash's message when there is none.
    func task(named word: String) throws -> KernelTask {
        let index = try taskIndex()
        if let p = Int32(word), p >= 0 {
            guard let t = index.tasks(pid: p).first else { throw CommandError("invalid task or pid value: \(word)") }
            return t
        }
        if let a = parseHexAddress(word) {
            if let t = index.task(address: a) { return t }
            throw CommandError("invalid task or pid value: \(word)")
        }
        throw CommandError("invalid task or pid value: \(word)")
    }
}

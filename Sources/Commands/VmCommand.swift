import DumpModel

/// `vm`: a task's memory map: its mm_struct, page directory, resident and total size, and each
/// VMA (address, range, flags, mapped file), in crash's layout.
public enum VmCommand: CrashCommand {
    public static let name = "vm"
    public static let summary = "virtual memory"
    public static let usage = """
    NAME
      vm - virtual memory

    SYNOPSIS
      vm [pid | task] ...

    DESCRIPTION
      Shows the virtual memory of the current context's task, or of each task named by a PID or
      the hexadecimal address of its task_struct: the task header, the mm_struct and page
      directory addresses, the resident set and total size in kilobytes, then one line per VMA
      (vm_area_struct): its address, start and end, vm_flags and the path of the mapped file.
      Kernel threads have no memory map: their MM, PGD and sizes are 0. The VMAs come from the
      maple tree (Linux 6.1+) or the mmap list of older kernels.

    EXAMPLES
      crash> vm 1
      PID: 1        TASK: ffff8a15411f8000  CPU: 0    COMMAND: "init"
             MM               PGD          RSS    TOTAL_VM
      ffff8a1541054000  ffff8a1550aa0000  1796k    2260k
            VMA           START       END     FLAGS FILE
      ffff8a15501ffc78     400000     401000 8000071 /bin/busybox
      ffff8a15501ff8e8     401000     585000 8000075 /bin/busybox
      ...
    """

    /// One task's memory map.
    public struct TaskMap {
        public var task: KernelTask
        /// mm_struct address; 0 for a kernel thread.
        public var mm: UInt64
        /// `mm->pgd` (virtual).
        public var pgd: UInt64
        public var residentPages: UInt64
        public var virtualPages: UInt64
        /// nil for a kernel thread.
        public var areas: VMAList?
        /// Why the VMAs could not be listed at all.
        public var error: String?
    }

    public enum Item {
        case map(TaskMap)
        case invalid(String)
    }

    public struct Result: CommandResult {
        public var items: [Item]

        public func renderText() -> String {
            var out = ""
            for (n, item) in items.enumerated() {
                switch item {
                case let .invalid(word):
                    out += (n > 0 ? "\n" : "") + "vm: invalid task or pid value: \(word)\n"
                case let .map(m):
                    if n > 0 { out += "\n" }
                    out += taskHeader(m.task) + "\n"
                    out += mmBlock(m)
                    if let error = m.error { out += "vm: \(error)\n"; continue }
                    guard let areas = m.areas else { continue }
                    out += vmaHeader
                    for r in areas.records { out += vmaLine(r) }
                    if areas.stop != .complete { out += "vm: VMA list incomplete: \(areas.stop)\n" }
                }
            }
            return out
        }

        private func mmBlock(_ m: TaskMap) -> String {
            var s = center("MM", 16) + "  " + center("PGD", 16) + "  " + center("RSS", 6) + "  " + center("TOTAL_VM", 8) + "\n"
            s += center(hexDigits(m.mm), 16) + "  " + center(hexDigits(m.pgd), 16) + "  "
            s += center("\(m.residentPages &* 4)k", 6) + "  " + center("\(m.virtualPages &* 4)k", 8) + "\n"
            return s
        }

        public func renderJSON() -> JSONValue {
            .object([("tasks", tasksJSON)])
        }

        private var tasksJSON: JSONValue {
            .array(items.map { item -> JSONValue in
                switch item {
                case let .invalid(word):
                    return .object([("argument", .string(word)), ("error", .string("invalid task or pid value: \(word)"))])
                case let .map(m):
                    var extra: [(String, JSONValue)] = [
                        ("mm", .address(m.mm)), ("pgd", .address(m.pgd)),
                        ("rss_kb", .uint(m.residentPages &* 4)), ("total_vm_kb", .uint(m.virtualPages &* 4)),
                    ]
                    if let error = m.error { extra.append(("error", .string(error))) }
                    if let areas = m.areas {
                        extra.append(("vmas", .array(areas.records.map(vmaJSON))))
                        if areas.stop != .complete { extra.append(("vmas_stop", .string(areas.stop.description))) }
                    }
                    return taskJSON(m.task, extra: extra)
                }
            })
        }
    }

    static let synopsis = "vm [pid | task] ..."

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        if let option = arguments.first(where: { $0.hasPrefix("-") && $0.count > 1 }) {
            throw CommandError("option \(option) is not supported (usage: \(synopsis))")
        }
        let kernel = try session.crashedKernel()
        let index = try kernel.tasks()
        var tasks: [Item] = []
        if arguments.isEmpty {
            tasks.append(.map(try taskMap(kernel.currentTask(), kernel: kernel, index: index)))
        }
        for word in arguments {
            if let pid = Int32(word), pid >= 0 {
                let matching = index.tasks(pid: pid)
                if matching.isEmpty { tasks.append(.invalid(word)) }
                for t in matching { tasks.append(.map(try taskMap(t, kernel: kernel, index: index))) }
            } else if let a = parseHexAddress(word), let t = index.task(address: a) {
                tasks.append(.map(try taskMap(t, kernel: kernel, index: index)))
            } else {
                tasks.append(.invalid(word))
            }
            if session.interruptRequested() { throw CommandError.interrupted }
        }
        return Result(items: tasks)
    }

    static func taskMap(_ t: KernelTask, kernel: CrashedKernel, index: TaskIndex) throws -> TaskMap {
        var m = TaskMap(task: t, mm: t.mm, pgd: 0, residentPages: 0, virtualPages: 0)
        guard t.mm != 0 else { return m }
        if let usage = TaskMemoryReader(kernel: kernel).usage(of: t, in: index) {
            m.residentPages = usage.residentPages
            m.virtualPages = usage.virtualPages
        }
        m.pgd = (try? kernel.memory.object(t.mm, "mm_struct").pointer("pgd")) ?? 0
        do {
            m.areas = try kernel.memoryMap(of: t)
        } catch {
            m.error = "cannot read the VMAs of mm_struct \(hexDigits(t.mm)): \(error)"
        }
        if m.areas?.stop == .interrupted { throw CommandError.interrupted }
        return m
    }
}

/// crash's VMA table header (`vm`, and `vtop` of a user address).
let vmaHeader = center("VMA", 16) + " " + center("START", 10, leanRight: true) + " "
    + center("END", 10, leanRight: true) + "  FLAGS FILE\n"

/// One VMA row: address, start, end, flags, the mapped file's path.
func vmaLine(_ record: VMARecord) -> String {
    switch record {
    case let .unreadable(address, fault):
        return center(hexDigits(address), 16) + " (unreadable: \(fault))\n"
    case let .area(a):
        let file: String
        switch a.path {
        case nil: file = ""
        case let .success(p)?: file = p
        case let .failure(fault)?: file = "(path unreadable: \(fault))"
        }
        return center(hexDigits(a.address), 16) + " " + rjust(hexDigits(a.start), 10) + " " + rjust(hexDigits(a.end), 10)
            + " " + rjust(hexDigits(a.flags), 6) + " " + file + "\n"
    }
}

/// One VMA in JSON.
func vmaJSON(_ record: VMARecord) -> JSONValue {
    switch record {
    case let .unreadable(address, fault):
        return .object([("vma", .address(address)), ("error", .string(fault.description))])
    case let .area(a):
        var o: [(String, JSONValue)] = [
            ("vma", .address(a.address)), ("start", .address(a.start)), ("end", .address(a.end)),
            ("flags", .address(a.flags)), ("file", a.file == 0 ? .null : .address(a.file)),
        ]
        switch a.path {
        case nil: o.append(("path", .null))
        case let .success(p)?: o.append(("path", .string(p)))
        case let .failure(fault)?:
            o.append(("path", .null))
            o.append(("path_error", .string(fault.description)))
        }
        if let pgoff = a.pageOffset { o.append(("pgoff", .wide(pgoff))) }
        return .object(o)
    }
}

import DumpModel
import Foundation

/// `sys`: the crashed system at a glance, as crash's banner and `sys` show it.
public enum SysCommand: CrashCommand {
    public static let name = "sys"
    public static let summary = "system data: release, uptime, load, tasks, memory, panic message"
    public static let usage = """
    NAME
      sys - system data

    SYNOPSIS
      sys [-i]

    DESCRIPTION
      Shows the kernel and dump files, the CPUs (present, and how many were offline), the date
      of the crash (the kernel's wall clock), the uptime, the load average, the number of tasks,
      the utsname fields, the CPU speed, the memory and the panic message found in the log.
        -i   the DMI (SMBIOS) strings the kernel read at boot.

    EXAMPLES
      crash> sys
            KERNEL: vmlinux-6.1.0-56-cloud-amd64
          DUMPFILE: dump.kdump  [PARTIAL DUMP]
              CPUS: 2
      ...
             PANIC: "Kernel panic - not syncing: sysrq triggered crash"
    """

    public struct Result: CommandResult {
        var kernelPath: String?
        var dumpPath: String
        var partialDump: Bool
        var facts: SystemFacts

        var rows: [(String, String)] {
            let f = facts
            var cpus = f.cpusPresent.map(String.init) ?? "(unknown)"
            if let p = f.cpusPresent, let o = f.cpusOnline, p > o { cpus += " [OFFLINE: \(p - o)]" }
            var uptime = "(unknown)"
            if let j = f.uptimeJiffies, let hz = f.hz { uptime = PsCommand.clockText(seconds: j / hz) }
            return [
                ("KERNEL", (kernelPath ?? "(none)") + (f.tainted == true ? "  [TAINTED]" : "")),
                ("DUMPFILE", dumpPath + (partialDump ? "  [PARTIAL DUMP]" : "")),
                ("CPUS", cpus),
                ("DATE", f.date.map(SysCommand.ctimeUTC) ?? "(unknown)"),
                ("UPTIME", uptime),
                ("LOAD AVERAGE", f.loadAverage.map(SysCommand.loadText) ?? "(unknown)"),
                ("TASKS", f.taskCount.map(String.init) ?? "(unknown)"),
                ("NODENAME", f.nodename ?? "(unknown)"),
                ("RELEASE", f.release ?? "(unknown)"),
                ("VERSION", f.version ?? "(unknown)"),
                ("MACHINE", (f.machine ?? "(unknown)") + "  " + (f.mhz.map { "(\($0) Mhz)" } ?? "(unknown Mhz)")),
                ("MEMORY", f.memoryBytes.map(SysCommand.memoryText) ?? "(unknown)"),
                ("PANIC", f.panicMessage.map { "\"\($0)\"" + ($0.contains("Oops: ") ? " (check log for details)" : "") } ?? "\"\""),
            ]
        }

        public func renderText() -> String {
            rows.map { rjust($0.0, 12) + ": " + $0.1 + "\n" }.joined()
        }

        public func renderJSON() -> JSONValue {
            let f = facts
            func int(_ v: Int?) -> JSONValue { v.map { JSONValue.int(Int64($0)) } ?? .null }
            func str(_ v: String?) -> JSONValue { v.map { JSONValue.string($0) } ?? .null }
            var uptime = JSONValue.null
            if let j = f.uptimeJiffies, let hz = f.hz { uptime = .uint(j / hz) }
            var load = JSONValue.null
            if let a = f.loadAverage { load = .array(a.map { JSONValue.double(Double($0) / 2048) }) }
            var pairs: [(String, JSONValue)] = []
            pairs.append(("kernel", str(kernelPath)))
            pairs.append(("dumpfile", .string(dumpPath)))
            pairs.append(("partial_dump", .bool(partialDump)))
            pairs.append(("cpus", int(f.cpusPresent)))
            pairs.append(("cpus_online", int(f.cpusOnline)))
            pairs.append(("date", f.date.map { JSONValue.int($0) } ?? .null))
            pairs.append(("uptime_seconds", uptime))
            pairs.append(("load_average", load))
            pairs.append(("tasks", int(f.taskCount)))
            pairs.append(("nodename", str(f.nodename)))
            pairs.append(("release", str(f.release)))
            pairs.append(("version", str(f.version)))
            pairs.append(("machine", str(f.machine)))
            pairs.append(("mhz", f.mhz.map { JSONValue.uint($0) } ?? .null))
            pairs.append(("memory_bytes", f.memoryBytes.map { JSONValue.wide($0) } ?? .null))
            pairs.append(("tainted", f.tainted.map { JSONValue.bool($0) } ?? .null))
            pairs.append(("panic", str(f.panicMessage)))
            return .object(pairs)
        }
    }

    /// crash's ctime with the zone: "Fri Nov 27 15:58:24 UTC 2026".
    static func ctimeUTC(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var tm = tm()
        guard gmtime_r(&t, &tm) != nil else { return "(unknown)" }
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let day = tm.tm_mday < 10 ? " \(tm.tm_mday)" : "\(tm.tm_mday)"
        return "\(days[Int(tm.tm_wday) % 7]) \(months[Int(tm.tm_mon) % 12]) \(day) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) UTC \(1900 + Int(tm.tm_year))"
    }

    /// The kernel's fixed-point load averages as /proc/loadavg prints them (rounded to 1/100).
    static func loadText(_ avenrun: [UInt64]) -> String {
        avenrun.map { v in
            let a = v &+ 2048 / 200
            let whole = a >> 11, frac = ((a & 2047) * 100) >> 11
            return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
        }.joined(separator: ", ")
    }

    /// crash's memory size: rounded up to a whole GiB when within 64 MiB of it, then written
    /// as `kmem -i` writes sizes (crash's pages_to_size).
    static func memoryText(_ bytes: UInt64) -> String {
        var total = bytes
        let gig: UInt64 = 1 << 30
        let next = (total + gig - 1) / gig * gig
        if next > 0, next - total <= 64 << 20 { total = next }
        let page = KernelAddressSpace.pageSize
        return KmemCommand.pagesToSize(total / page, pageSize: page)
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        if arguments == ["-i"] { return try SysDMICommandPart.dmiResult(session: session) }
        guard arguments.isEmpty else {
            throw CommandError("invalid arguments: \(arguments.joined(separator: " ")) (usage: sys [-i])")
        }
        let kernel = try session.crashedKernel()
        let summary = session.dump.summary()
        let partial = summary.format != .elfCore && (summary.dumpLevel ?? 0) > 0
        return Result(kernelPath: session.vmlinuxPath, dumpPath: session.dump.path, partialDump: partial,
                      facts: SystemFacts(kernel: kernel))
    }
}

extension Session {
    /// What crash prints when an interactive session starts: the `sys` block, then the current
    /// context (the panic task) indented under it. Nil when the kernel cannot be read (no
    /// vmlinux): the shell then shows its own short banner.
    public func startupBanner() -> String? {
        guard let sys = try? SysCommand.run([], in: self), let kernel = try? crashedKernel(),
              let index = try? kernel.tasks(), let task = try? kernel.currentTask() else { return nil }
        let context = SetCommand.contextBlock(task, kernel: kernel, index: index).text
            .split(separator: "\n").map { "     " + $0 + "\n" }.joined()
        return "\n" + sys.renderText() + context + "\n"
    }
}

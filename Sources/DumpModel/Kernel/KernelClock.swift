/// The crashed kernel's clocks at the time of the crash: the wall clock (`xtime_sec` of the
/// timekeeper), `jiffies_64` and HZ, and from them the boot time the way crash derives it for
/// `log -T` and `sys` (the wall clock minus the whole seconds of jiffies since boot).
///
/// The debuginfo has everything; without it, kdump's VMCOREINFO (CRASHTIME, kallsyms) may do.
public struct KernelClock: Sendable, Equatable {
    /// Seconds since the epoch on the kernel's wall clock (`timekeeper.xtime_sec`).
    public let wallClockSeconds: Int64
    /// `jiffies_64` (it starts at INITIAL_JIFFIES, five minutes before its 32-bit wrap).
    public let jiffies: UInt64
    /// Timer ticks per second (CONFIG_HZ).
    public let hz: UInt64

    public init(wallClockSeconds: Int64, jiffies: UInt64, hz: UInt64) {
        self.wallClockSeconds = wallClockSeconds
        self.jiffies = jiffies
        self.hz = max(1, hz)
    }

    /// Reads the clocks through `space`'s memory.
    public init(space: KernelAddressSpace) throws {
        try self.init(memory: KernelMemory(space: space))
    }

    /// Reads the clocks.
    ///
    /// - The wall clock: `xtime_sec` of the variable `timekeeper` (kernels before 3.17), else of
    ///   `shadow_timekeeper`, the copy the kernel updates first and mirrors into `tk_core`.
    ///   Without the debuginfo, VMCOREINFO's CRASHTIME: the same clock's seconds, written by kdump
    ///   when the kernel crashed (absent from dumps not taken by kdump).
    /// - jiffies and HZ as `ticks(memory:)` reads them.
    /// - Throws: `DumpError.missing` naming what is not known, `MemoryFault` for a failed read.
    public init(memory: KernelMemory) throws {
        let l = memory.layout
        let wall: Int64
        if let xtimeOffset = l.memberOffset("timekeeper", "xtime_sec"), xtimeOffset >= 0,
           let keeper = l.symbolAddress("timekeeper") ?? l.symbolAddress("shadow_timekeeper") {
            wall = try memory.load(Int64.self, keeper &+ UInt64(xtimeOffset))
        } else if let crashTime = memory.space.vmcoreinfo?.crashTime {
            wall = crashTime
        } else {
            throw DumpError.missing(what: "the wall clock: shadow_timekeeper.xtime_sec (needs the vmlinux's debuginfo) or VMCOREINFO CRASHTIME (written by kdump)")
        }
        let (jiffies, hz) = try Self.ticks(memory: memory)
        self.init(wallClockSeconds: wall, jiffies: jiffies, hz: hz)
    }

    /// `jiffies_64` and HZ, from `tick_nsec` (the length of a tick in nanoseconds, which gives HZ;
    /// NTP may move it by a few hundred parts per million, so HZ is rounded). Their addresses come
    /// from the layout, else from the kernel's kallsyms table (no vmlinux needed).
    /// - Throws: `DumpError.missing` naming what is not known, `MemoryFault` for a failed read.
    public static func ticks(memory: KernelMemory) throws -> (jiffies: UInt64, hz: UInt64) {
        let l = memory.layout
        var jiffiesAt = l.symbolAddress("jiffies_64") ?? l.symbolAddress("jiffies")
        var tickAt = l.symbolAddress("tick_nsec")
        if jiffiesAt == nil || tickAt == nil, let table = try? memory.kallsymsFromVMCOREINFO() {
            jiffiesAt = jiffiesAt ?? table.address(of: "jiffies_64")
            tickAt = tickAt ?? table.address(of: "tick_nsec")
        }
        guard let jiffiesAt else {
            throw DumpError.missing(what: "symbol jiffies_64 (needs the vmlinux, or kallsyms in VMCOREINFO)")
        }
        guard let tickAt else {
            throw DumpError.missing(what: "symbol tick_nsec, to tell HZ (needs the vmlinux, or kallsyms in VMCOREINFO)")
        }
        let jiffies = try memory.load(UInt64.self, jiffiesAt)
        let tick = try memory.load(UInt64.self, tickAt)
        guard let hz = hz(tickNanoseconds: tick) else {
            throw DumpError.missing(what: "a believable tick_nsec (\(tick) ns per tick)")
        }
        return (jiffies, hz)
    }

    /// HZ for a tick of `tickNanoseconds`, nil unless it is between 10 and 10000.
    public static func hz(tickNanoseconds tick: UInt64) -> UInt64? {
        guard tick >= 100_000, tick <= 100_000_000 else { return nil }
        return (1_000_000_000 + tick / 2) / tick
    }

    /// `INITIAL_JIFFIES`: jiffies start 300 seconds before the 32-bit counter wraps, so that
    /// wrap bugs show early; as an unsigned long, the 32-bit value.
    public var initialJiffies: UInt64 { Self.initialJiffies(hz: hz) }

    /// `INITIAL_JIFFIES` of a kernel ticking `hz` times a second.
    public static func initialJiffies(hz: UInt64) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: 0 &- 300 &* hz)) }

    /// Whole seconds since boot, from jiffies.
    public var uptimeSeconds: UInt64 { (jiffies &- initialJiffies) / hz }

    /// The boot time in seconds since the epoch: the wall clock minus the uptime.
    public var bootSeconds: Int64 { wallClockSeconds &- Int64(truncatingIfNeeded: uptimeSeconds) }
}

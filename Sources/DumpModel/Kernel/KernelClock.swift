/// The crashed kernel's clocks at the time of the crash: the wall clock (`xtime_sec` of the
/// timekeeper), `jiffies_64` and HZ, and from them the boot time the way crash derives it for
/// `log -T` and `sys` (the wall clock minus the whole seconds of jiffies since boot).
///
/// Everything comes from the debuginfo: VMCOREINFO has none of these symbols or offsets.
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

    /// Reads the clocks through `space`.
    ///
    /// - The wall clock: `xtime_sec` of the variable `timekeeper` (kernels before 3.17), else of
    ///   `shadow_timekeeper`, the copy the kernel updates first and mirrors into `tk_core`.
    /// - HZ: from `tick_nsec`, the length of a tick in nanoseconds (NTP may move it by a few
    ///   hundred parts per million, so it is rounded to the nearest whole HZ).
    /// - Throws: `.missing` naming what the layout lacks.
    public init(space: KernelAddressSpace) throws {
        let l = space.layout
        guard let xtimeOffset = l.memberOffset("timekeeper", "xtime_sec"), xtimeOffset >= 0 else {
            throw DumpError.missing(what: "timekeeper.xtime_sec (needs the vmlinux's debuginfo)")
        }
        guard let keeper = l.symbolAddress("timekeeper") ?? l.symbolAddress("shadow_timekeeper") else {
            throw DumpError.missing(what: "symbol shadow_timekeeper (needs the vmlinux's debuginfo)")
        }
        guard let jiffiesAt = l.symbolAddress("jiffies_64") ?? l.symbolAddress("jiffies") else {
            throw DumpError.missing(what: "symbol jiffies_64 (needs the vmlinux's debuginfo)")
        }
        guard let tickAt = l.symbolAddress("tick_nsec") else {
            throw DumpError.missing(what: "symbol tick_nsec, to tell HZ (needs the vmlinux's debuginfo)")
        }
        let wall = try space.load(Int64.self, virtual: keeper &+ UInt64(xtimeOffset))
        let jiffies = try space.load(UInt64.self, virtual: jiffiesAt)
        let tick = try space.load(UInt64.self, virtual: tickAt)
        guard let hz = Self.hz(tickNanoseconds: tick) else {
            throw DumpError.missing(what: "a believable tick_nsec (\(tick) ns per tick)")
        }
        self.init(wallClockSeconds: wall, jiffies: jiffies, hz: hz)
    }

    /// HZ for a tick of `tickNanoseconds`, nil unless it is between 10 and 10000.
    public static func hz(tickNanoseconds tick: UInt64) -> UInt64? {
        guard tick >= 100_000, tick <= 100_000_000 else { return nil }
        return (1_000_000_000 + tick / 2) / tick
    }

    /// `INITIAL_JIFFIES`: jiffies start 300 seconds before the 32-bit counter wraps, so that
    /// wrap bugs show early; as an unsigned long, the 32-bit value.
    public var initialJiffies: UInt64 { UInt64(UInt32(truncatingIfNeeded: 0 &- 300 &* hz)) }

    /// Whole seconds since boot, from jiffies.
    public var uptimeSeconds: UInt64 { (jiffies &- initialJiffies) / hz }

    /// The boot time in seconds since the epoch: the wall clock minus the uptime.
    public var bootSeconds: Int64 { wallClockSeconds &- Int64(truncatingIfNeeded: uptimeSeconds) }
}

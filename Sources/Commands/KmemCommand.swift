import DumpModel

/// `kmem`: kernel memory. `-i` is the system-wide summary crash prints (its `/proc/meminfo`
/// view), `-v` the vmalloc areas. The other options of crash's kmem are not there yet.
public enum KmemCommand: CrashCommand {
    public static let name = "kmem"
    public static let summary = "kernel memory"
    public static let usage = """
    NAME
      kmem - kernel memory

    SYNOPSIS
      kmem -i | -v

    DESCRIPTION
      -i  the general memory usage, as crash shows it: total RAM, free, used, shared (pages not
          reserved whose reference count is above 1, from a walk of every struct page), block
          device buffers, page cache, slab; huge pages; swap; the commit limit and the committed
          address space. Pages, their size (KB/MB/GB, one decimal) and the percentage of the
          total each is, from the kernel's own counters (_totalram_pages, the zones' free page
          counts, vm_node_stat, hstates, swap_info, vm_committed_as).
      -v  every vmalloc area on vmap_area_list that has a vm_struct: the vmap_area, the
          vm_struct, the address range and its size in bytes (with the guard page).

      Other kmem options of crash (-f, -s, -p, addresses...) are not supported yet.

    EXAMPLES
      crash> kmem -i
                       PAGES        TOTAL      PERCENTAGE
          TOTAL MEM    71108     277.8 MB         ----
               FREE    52653     205.7 MB   74% of TOTAL MEM
               USED    18455      72.1 MB   25% of TOTAL MEM
      ...
    """

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard arguments.count == 1, let option = arguments.first else {
            throw CommandError(arguments.isEmpty ? "an option is needed (usage: kmem -i | -v)"
                                                 : "one option at a time (usage: kmem -i | -v)")
        }
        guard option == "-i" || option == "-v" else {
            throw CommandError("option \(option) not supported yet (usage: kmem -i | -v)")
        }
        // Every figure comes from kernel variables and types: without the vmlinux, none can be read.
        _ = try session.kernel()
        let memory = try session.crashedKernel().memory
        switch option {
        case "-i":
            do {
                return MemoryInfoResult(statistics: try MemoryStatistics.read(from: memory,
                                                                              interrupted: session.interruptRequested))
            } catch {
                throw CommandError.interrupted
            }
        case "-v":
            do {
                return VmallocResult(areas: try VmallocAreas.read(from: memory, interrupted: session.interruptRequested))
            } catch let e as DumpError {
                throw CommandError("cannot walk vmap_area_list: \(e)")
            } catch let fault as MemoryFault {
                throw CommandError("cannot walk vmap_area_list: \(fault)")
            }
        default:
            throw CommandError("option \(option) not supported yet (usage: kmem -i | -v)")
        }
    }

    // MARK: - kmem -i

    public struct MemoryInfoResult: CommandResult {
        public var statistics: MemoryStatistics

        /// One row: its label, its page count (or why there is none), and the base it is a
        /// percentage of (nil: "----").
        struct Row {
            var key: String
            var label: String
            var pages: Result<UInt64, KernelReadError>
            var base: (name: String, pages: Result<UInt64, KernelReadError>)?
            /// When crash prints 0% instead of dividing.
            var zeroRule = ZeroRule.never
        }

        /// The rows in crash's order, in groups separated by a blank line.
        var groups: [[Row]] {
            let s = statistics
            let total = ("TOTAL MEM", s.totalRAM)
            var groups: [[Row]] = [[
                Row(key: "total_mem", label: "TOTAL MEM", pages: s.totalRAM, base: nil),
                Row(key: "free", label: "FREE", pages: s.free, base: total),
                Row(key: "used", label: "USED", pages: s.used, base: total),
                Row(key: "shared", label: "SHARED", pages: s.shared, base: total),
                Row(key: "buffers", label: "BUFFERS", pages: s.buffers, base: total),
                Row(key: "cached", label: "CACHED", pages: s.cached, base: total),
                Row(key: "slab", label: "SLAB", pages: s.slab, base: total),
            ]]
            let hugeTotal = s.hugePages.map(\.total)
            groups.append([
                Row(key: "total_huge", label: "TOTAL HUGE", pages: hugeTotal, base: nil),
                Row(key: "huge_free", label: "HUGE FREE", pages: s.hugePages.map(\.free), base: ("TOTAL HUGE", hugeTotal),
                    zeroRule: .zeroPart),
            ])
            if let swap = s.swap {
                let swapTotal = swap.map(\.total)
                groups.append([
                    Row(key: "total_swap", label: "TOTAL SWAP", pages: swapTotal, base: nil),
                    Row(key: "swap_used", label: "SWAP USED", pages: swap.map(\.used), base: ("TOTAL SWAP", swapTotal),
                        zeroRule: .zeroBase),
                    Row(key: "swap_free", label: "SWAP FREE", pages: swap.map(\.free), base: ("TOTAL SWAP", swapTotal),
                        zeroRule: .zeroBase),
                ])
            } else {
                groups.append([])
            }
            if let commit = s.commit {
                let limit = commit.map(\.limit)
                let zeroLimit = (try? limit.get()) == 0
                groups.append([
                    Row(key: "commit_limit", label: "COMMIT LIMIT", pages: limit, base: nil),
                    Row(key: "committed", label: "COMMITTED", pages: commit.map { UInt64($0.committed) },
                        base: zeroLimit ? nil : ("TOTAL LIMIT", limit), zeroRule: .zeroPart),
                ])
            }
            return groups
        }

        /// When crash writes 0% without dividing: huge pages and committed memory when the part
        /// is 0, swap when the total is 0.
        enum ZeroRule { case never, zeroPart, zeroBase }

        /// crash's integer percentage of `part` in `base` (unsigned, truncated), nil when it
        /// cannot be computed (a base of 0 that crash would divide by).
        static func percent(_ part: UInt64, of base: UInt64, rule: ZeroRule) -> UInt64? {
            if (rule == .zeroPart && part == 0) || (rule == .zeroBase && base == 0) { return 0 }
            guard base != 0 else { return nil }
            return (part &* 100) / base
        }

        func render(_ row: Row) -> String {
            var line = rjust(row.label, 13) + "  "
            let pages: UInt64
            switch row.pages {
            case let .success(p): pages = p
            case let .failure(e): return line + "(\(e))\n"
            }
            line += rjust(String(Int64(bitPattern: pages)), 7) + "  "
                + rjust(KmemCommand.pagesToSize(pages, pageSize: statistics.pageSize), 11)
            guard let base = row.base else { return line + "         ----\n" }
            if let b = try? base.pages.get(),
               let pct = Self.percent(pages, of: b, rule: row.zeroRule) {
                line += "  " + rjust(String(Int64(bitPattern: pct)), 3) + "% of " + base.name
            }
            return line + "\n"
        }

        public func renderText() -> String {
            var out = "                 PAGES        TOTAL      PERCENTAGE\n"
            for (i, group) in groups.enumerated() {
                if i > 0 && (i < 3 || !group.isEmpty) { out += "\n" }
                for row in group {
                    if row.key == "cached", let negative = statistics.cachedWentNegative {
                        out += "kmem: page_cache_size went negative (\(negative)), setting to 0\n"
                    }
                    out += render(row)
                }
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            var pairs: [(String, JSONValue)] = [("page_size", .uint(statistics.pageSize))]
            for row in groups.joined() {
                switch row.pages {
                case let .success(p):
                    var o: [(String, JSONValue)] = [("pages", .uint(p)),
                                                    ("bytes", .wide(p.multipliedReportingOverflow(by: statistics.pageSize).partialValue))]
                    if let base = row.base, let b = try? base.pages.get(),
                       let pct = Self.percent(p, of: b, rule: row.zeroRule) {
                        o.append(("percent", .uint(pct)))
                    }
                    pairs.append((row.key, .object(o)))
                case let .failure(e):
                    pairs.append((row.key, .object([("error", .string(e.description))])))
                }
            }
            if case let .success(c) = statistics.census {
                pairs.append(("page_census", .object([("examined", .uint(c.examined)), ("reserved", .uint(c.reserved)),
                                                      ("shared", .uint(c.shared)), ("unreadable", .uint(c.unreadable))])))
            }
            return .object(pairs)
        }
    }

    /// crash's `pages_to_size`: "0", "N KB" (truncated), or "N.N MB" / "N.N GB" rounded to one
    /// decimal as printf's "%.1f" does (to nearest, ties to even), with a ".0" dropped.
    static func pagesToSize(_ pages: UInt64, pageSize: UInt64) -> String {
        guard pages != 0 else { return "0" }
        let pageShift = max(10, pageSize.trailingZeroBitCount)
        func decimal(unitShift: Int, unit: String) -> String {
            // pages * 2^pageShift / 2^unitShift = pages / 2^s, exactly.
            let s = unitShift - pageShift
            guard s > 0 else { return "\(pages &<< UInt64(-s)) \(unit)" }
            var whole = pages >> UInt64(s)
            let fraction = pages & ((1 << UInt64(s)) - 1)
            let scaled = fraction * 10
            var tenths = scaled >> UInt64(s)
            let rest = scaled & ((1 << UInt64(s)) - 1)
            let half: UInt64 = 1 << UInt64(s - 1)
            if rest > half || (rest == half && tenths & 1 == 1) { tenths += 1 }
            if tenths == 10 { whole += 1; tenths = 0 }
            return tenths == 0 ? "\(whole) \(unit)" : "\(whole).\(tenths) \(unit)"
        }
        let gigabytePages = pageShift >= 30 ? 1 : UInt64(1) << UInt64(30 - pageShift)
        let megabytePages = pageShift >= 20 ? 1 : UInt64(1) << UInt64(20 - pageShift)
        if pages >= gigabytePages { return decimal(unitShift: 30, unit: "GB") }
        if pages >= megabytePages { return decimal(unitShift: 20, unit: "MB") }
        return "\(pages &<< UInt64(pageShift - 10)) KB"
    }

    // MARK: - kmem -v

    public struct VmallocResult: CommandResult {
        public var areas: [VmallocAreas.Area]

        public func renderText() -> String {
            guard !areas.isEmpty else { return "" }
            var out = center("VMAP_AREA", 16) + "  " + center("VM_STRUCT", 16) + "  "
                + center("ADDRESS RANGE", 35) + "     SIZE\n"
            for a in areas {
                out += center(hexDigits(a.vmapArea), 16) + "  " + center(hexDigits(a.vmStruct), 16) + "  "
                    + rjust(hexDigits(a.start), 16) + " - " + ljust(hexDigits(a.end), 16) + "  "
                    + rjust(String(Int64(bitPattern: a.size)), 7) + "\n"
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            .array(areas.map { a in
                .object([("vmap_area", .address(a.vmapArea)), ("vm_struct", .address(a.vmStruct)),
                         ("start", .address(a.start)), ("end", .address(a.end)), ("size", .wide(a.size))])
            })
        }
    }
}

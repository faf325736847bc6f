import DumpModel

/// `vtop`: a virtual address translated to physical, with every page-table level the walk read,
/// the mapping entry's flags, and the `struct page` of the frame, in crash's layout.
public enum VtopCommand: CrashCommand {
    public static let name = "vtop"
    public static let summary = "virtual to physical address translation"
    public static let usage = """
    NAME
      vtop - virtual to physical

    SYNOPSIS
      vtop [-c [pid | taskp]] [-u|-k] address ...

    DESCRIPTION
      Translates each hexadecimal virtual address to its physical address, showing the page-table
      entries read at each level (PGD, P4D with 5-level paging, PUD, PMD, PTE: the physical address
      of the entry => its value), the page size (2MB and 1GB pages), the flags of the entry that
      maps the page, and the page's struct page (address, physical address, mapping, index,
      reference count, flags). For a user address, the VMA that holds it (address, start, end,
      vm_flags, mapped file) comes before the struct page; for a user page not in memory that a
      file backs, the file and the offset in it.

        -c pid | taskp  translate a user address through the page table of that task (a PID, or
                        the hexadecimal address of its task_struct).
        -u              the address is a user virtual address.
        -k              the address is a kernel virtual address.

      Without -u or -k, an address in the user half is a user address and one at or above the
      direct map (page_offset_base) a kernel address. Kernel addresses use the kernel's page
      table (init_top_pgt); user addresses use the task of -c or the current context (`set`).
      A user address that no VMA of the task holds is "(not accessible)"; an address that no page
      table maps is shown as "(not mapped)" with the entries read up to the one that is not present.

    EXAMPLES
      crash> vtop ffffcf3c00000000
      VIRTUAL           PHYSICAL
      ffffcf3c00000000  1f002000

      PGD DIRECTORY: ffffffffb2010000
      PAGE DIRECTORY: 1000067
         PUD: 1000780 => 11b2067
         PMD: 11b2000 => 11b3067
         PTE: 11b3000 => 800000001f002163
        PAGE: 1f002000

            PTE         PHYSICAL  FLAGS
      800000001f002163  1f002000  (PRESENT|RW|ACCESSED|DIRTY|GLOBAL|NX)

            PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS
      fffff3c1807c0080 1f002000                0        0  1 fffffc0001000 reserved
    """

    /// What one address came to.
    public enum Translation {
        /// `-k` with an address below the kernel half.
        case notKernelAddress(UInt64)
        /// A user address the task cannot reach: outside the user half (`-u`), in no VMA of
        /// the task, or the task is a kernel thread (crash's "not accessible").
        case notUserAddress(UInt64)
        /// A page-table walk; `physical` is nil when the address is not mapped.
        case walk(Entry)
        /// An argument that is not an address vtop can translate (not hex nor a symbol, or
        /// ambiguous): its error line; the other addresses still print.
        case failure(word: String, message: String)
    }

    public struct Entry {
        public var virtual: UInt64
        public var isUser: Bool
        public var physical: UInt64?
        public var walk: PageWalk
        /// The struct page of the frame, when the address is mapped and the memmap is known.
        public var page: PageDescriptor?
        /// Why the struct page could not be shown, if it could not.
        public var pageError: String?
        /// The task whose page table was used (with -c).
        public var task: KernelTask?
        /// A user page that is the kernel's shared zero page (`empty_zero_page`), as crash marks it.
        public var isZeroPage = false
        /// The VMA that holds a user address.
        public var vma: VirtualMemoryArea?
        /// Why the task's VMAs could not be read, if they could not.
        public var vmaError: String?
    }

    public struct Result: PerArgumentResult {
        public var translations: [Translation]

        public var argumentFailures: [String?] {
            translations.map { t -> String? in
                if case let .failure(_, message) = t { return message } else { return nil }
            }
        }

        public func renderText() -> String {
            var out = ""
            var pageHeaderPrinted = false
            var shown = 0
            for t in translations {
                if case .failure = t { continue }
                if shown > 0 { out += "\n" }
                shown += 1
                switch t {
                case .failure:
                    break
                case let .notKernelAddress(v):
                    out += "VIRTUAL           PHYSICAL        \n"
                    out += ljust(hexDigits(v), 8) + "  (not a kernel virtual address)\n\n"
                case let .notUserAddress(v):
                    out += "VIRTUAL     PHYSICAL        \n"
                    out += ljust(hexDigits(v), 10) + "  (not accessible)\n\n"
                case let .walk(e):
                    render(e, into: &out, pageHeaderPrinted: &pageHeaderPrinted)
                }
            }
            return out
        }

        private func render(_ e: Entry, into out: inout String, pageHeaderPrinted: inout Bool) {
            let width = e.isUser ? 10 : 16
            out += ljust("VIRTUAL", width) + "  " + ljust("PHYSICAL", 16) + "\n"
            out += ljust(hexDigits(e.virtual), width) + "  " + (e.physical.map { ljust(hexDigits($0), 16) } ?? "(not mapped)") + "\n\n"
            let w = e.walk
            for (n, step) in w.steps.enumerated() {
                if n == 0 && !w.isUserWalk {
                    out += "PGD DIRECTORY: \(hexDigits(w.rootVirtual ?? w.rootPhysical))\n"
                    out += "PAGE DIRECTORY: \(hexDigits(step.entry.raw))\n"
                } else {
                    out += "   \(step.level.rawValue): \(hexDigits(step.entryAddress)) => \(hexDigits(step.entry.raw))\n"
                }
            }
            switch w.outcome {
            case let .mapped(_, base, size):
                if size == 1 << 30 {
                    out += "  PAGE: \(hexDigits(base))  (1GB)\n\n"
                } else if size == 1 << 21 {
                    out += "  PAGE: \(hexDigits(base))  (2MB)\n\n"
                } else if w.isUserWalk {
                    out += "  PAGE: \(hexDigits(base))  \(e.isZeroPage ? "(ZERO PAGE)" : "")\n\n"
                } else {
                    out += "  PAGE: \(hexDigits(base))\n\n"
                }
                if let leaf = w.leafEntry { out += entryBlock(leaf, physical: base) }
            case .notPresent:
                if let last = w.steps.last, last.level == .pte, last.entry.raw != 0 {
                    out += "\n" + entryBlock(last.entry, physical: last.entry.frame)
                }
            case let .unreadable(level, error):
                out += "   \(level.rawValue): \(error)\n"
            }
            out += "\n"
            if e.isUser {
                // crash shows the VMA between the walk and the struct page; for a page that is
                // not in memory, also where in the mapped file it would come from.
                out += vmaHeader
                if let vma = e.vma {
                    out += vmaLine(.area(vma))
                    if e.physical == nil, case let .success(path)? = vma.path, !path.isEmpty,
                       let offset = vma.fileOffset(of: e.virtual) {
                        out += "\nFILE: \(path)  OFFSET: \(hexDigits(offset))\n"
                    }
                } else if let why = e.vmaError {
                    out += "(VMAs unreadable: \(why))\n"
                }
                out += "\n"
            }
            if let p = e.page {
                if !pageHeaderPrinted {
                    out += "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS\n"
                    pageHeaderPrinted = true
                }
                out += pageLine(p) + "\n"
            } else if let why = e.pageError, e.physical != nil {
                out += "(struct page not shown: \(why))\n"
            }
        }

        /// The "PTE  PHYSICAL  FLAGS" block crash prints for the entry that maps the page.
        private func entryBlock(_ entry: PageTableEntry, physical: UInt64) -> String {
            let pte = hexDigits(entry.raw), phys = hexDigits(physical)
            let w1 = max(pte.count, 3), w2 = max(phys.count, 8)
            var s = center("PTE", w1) + "  " + center("PHYSICAL", w2) + "  FLAGS\n"
            let names = entry.raw == 0 ? "no mapping" : entry.flagNames.joined(separator: "|")
            s += rjust(pte, w1) + "  " + rjust(phys, w2) + "  (" + names + ")\n"
            return s
        }

        private func pageLine(_ p: PageDescriptor) -> String {
            var s = ljust(hexDigits(p.address), 16) + " " + rjust(hexDigits(p.pfn << 12), 8) + " "
            s += p.mapping.map { rjust(hexDigits($0), 16) } ?? center("-------", 16, leanRight: true)
            s += " "
            s += p.index.map { rjust(hexDigits($0), 8) } ?? center("-----", 8, leanRight: true)
            s += " " + rjust(String(p.refcount), 2) + " " + hexDigits(p.flags)
            if let names = p.flagNames, !names.isEmpty, p.flags != 0 { s += " " + names.joined(separator: ",") }
            return s
        }

        public func renderJSON() -> JSONValue {
            .array(translations.map { t -> JSONValue in
                switch t {
                case let .notKernelAddress(v):
                    return .object([("virtual", .address(v)), ("error", .string("not a kernel virtual address"))])
                case let .notUserAddress(v):
                    return .object([("virtual", .address(v)), ("error", .string("not accessible: no VMA of the task holds it"))])
                case let .failure(word, message):
                    return .object([("argument", .string(word)), ("error", .string(message))])
                case let .walk(e):
                    var o: [(String, JSONValue)] = [("virtual", .address(e.virtual)),
                                                    ("space", .string(e.isUser ? "user" : "kernel"))]
                    if let task = e.task {
                        o.append(("task", .object([("address", .address(task.address)), ("pid", .int(Int64(task.pid)))])))
                    }
                    o.append(("physical", e.physical.map { .address($0) } ?? .null))
                    if e.isZeroPage { o.append(("zero_page", .bool(true))) }
                    if let vma = e.vma {
                        o.append(("vma", vmaJSON(.area(vma))))
                        if e.physical == nil, let offset = vma.fileOffset(of: e.virtual), vma.file != 0 {
                            o.append(("file_offset", .address(offset)))
                        }
                    } else if let why = e.vmaError {
                        o.append(("vma_error", .string(why)))
                    }
                    if let rv = e.walk.rootVirtual { o.append(("pgd_directory", .address(rv))) }
                    o.append(("pgd_physical", .address(e.walk.rootPhysical)))
                    o.append(("levels", .array(e.walk.steps.map { s in
                        .object([("level", .string(s.level.rawValue)), ("entry_address", .address(s.entryAddress)),
                                 ("entry", .address(s.entry.raw)),
                                 ("flags", .array(s.entry.flagNames.map { .string($0) }))])
                    })))
                    switch e.walk.outcome {
                    case let .mapped(_, base, size):
                        o.append(("page", .address(base)))
                        o.append(("page_size", .uint(size)))
                    case let .notPresent(level):
                        o.append(("error", .string("\(level.rawValue) entry not present")))
                    case let .unreadable(level, error):
                        o.append(("error", .string("\(level.rawValue): \(error)")))
                    }
                    if let p = e.page {
                        o.append(("struct_page", .object([
                            ("address", .address(p.address)), ("physical", .address(p.pfn << 12)),
                            ("mapping", p.mapping.map { .address($0) } ?? .null),
                            ("index", p.index.map { .uint($0) } ?? .null),
                            ("count", .int(Int64(p.refcount))), ("flags", .address(p.flags)),
                            ("flag_names", p.flagNames.map { .array($0.map { .string($0) }) } ?? .null),
                        ])))
                    } else if let why = e.pageError, e.physical != nil {
                        o.append(("struct_page_error", .string(why)))
                    }
                    return .object(o)
                }
            })
        }
    }

    static let synopsis = "vtop [-c [pid | taskp]] [-u|-k] address ..."

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        var contextWord: String?
        var forceUser = false, forceKernel = false
        var words: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            if a == "-c" {
                guard i < arguments.count else { throw CommandError("option -c needs a PID or task address (usage: \(synopsis))") }
                contextWord = arguments[i]
                i += 1
            } else if a.hasPrefix("-c") && a.count > 2 {
                contextWord = String(a.dropFirst(2))
            } else if a.hasPrefix("-") && a.count > 1 {
                for c in a.dropFirst() {
                    switch c {
                    case "u": forceUser = true
                    case "k": forceKernel = true
                    default: throw CommandError("invalid option -\(c) (usage: \(synopsis))")
                    }
                }
            } else {
                words.append(a)
            }
        }
        if forceUser && forceKernel { throw CommandError("-u and -k options are mutually exclusive") }
        guard !words.isEmpty else { throw CommandError("an address is needed (usage: \(synopsis))") }

        let space = try session.addressSpace()
        var task: KernelTask?
        var userPGD: UInt64?
        var memoryMap: Swift.Result<VMAList, Error>?
        // A user address goes through the page table of the task -c names, or of the current
        // context (`set`; the panic task by default), as in crash.
        let needsTask = contextWord != nil || forceUser || words.contains { w in
            (parseHexAddress(w).map { $0 < space.userAddressLimit }) ?? false
        }
        if needsTask {
            let kernel = try session.crashedKernel()
            let t = try contextWord.map { try session.task(named: $0) } ?? kernel.currentTask()
            task = t
            userPGD = try kernel.userPageTable(of: t)
            if t.mm != 0 { memoryMap = Swift.Result { try kernel.memoryMap(of: t) ?? VMAList(records: [], stop: .complete) } }
        }

        var translations: [Translation] = []
        for word in words {
            let vaddr: UInt64
            do { vaddr = try address(word, session) } catch let e as CommandError {
                translations.append(.failure(word: word, message: e.message))
                continue
            }
            let isUser: Bool
            if forceUser {
                guard vaddr < space.userAddressLimit else { translations.append(.notUserAddress(vaddr)); continue }
                isUser = true
            } else if forceKernel {
                guard vaddr >= space.kernelHalfStart else { translations.append(.notKernelAddress(vaddr)); continue }
                isUser = false
            } else if vaddr < space.userAddressLimit {
                isUser = true
            } else if vaddr >= (space.pageOffsetBase ?? space.kernelHalfStart) {
                isUser = false
            } else {
                translations.append(.failure(word: word, message: "ambiguous address: \(hexDigits(vaddr))  (requires -u or -k)"))
                continue
            }
            var vma: VirtualMemoryArea?
            var vmaError: String?
            if isUser {
                // As crash: a user address no VMA of the task holds (or any user address of a
                // kernel thread) is not accessible, whatever the page tables say.
                switch memoryMap {
                case nil:
                    translations.append(.notUserAddress(vaddr))
                    continue
                case let .success(map)?:
                    if map.stop == .interrupted { throw CommandError.interrupted }
                    guard let area = map.area(containing: vaddr) else { translations.append(.notUserAddress(vaddr)); continue }
                    vma = area
                case let .failure(error)?:
                    vmaError = "\(error)"
                }
                if userPGD == nil { translations.append(.notUserAddress(vaddr)); continue }
            }
            var entry = translate(vaddr, isUser: isUser, userPGD: userPGD, task: task, space: space)
            entry.vma = vma
            entry.vmaError = vmaError
            translations.append(.walk(entry))
        }
        return try Result(translations: translations).unlessEveryArgumentFailed()
    }

    static func translate(_ vaddr: UInt64, isUser: Bool, userPGD: UInt64?, task: KernelTask?,
                          space: KernelAddressSpace) -> Entry {
        let walk = space.walk(vaddr, userPGD: isUser ? userPGD : nil)
        // Like crash: the kernel image and the direct map are linear (the kernel's own __pa()), the
        // rest is what the walk found.
        let physical: UInt64?
        if isUser { physical = walk.physicalAddress } else { physical = (try? space.translate(vaddr)) ?? walk.physicalAddress }
        var entry = Entry(virtual: vaddr, isUser: isUser, physical: physical, walk: walk, task: task)
        if isUser, let physical, let zero = space.layout.symbolAddress("empty_zero_page"),
           let zeroPhysical = try? space.translate(zero) {
            entry.isZeroPage = physical >> 12 == zeroPhysical >> 12
        }
        if let physical, walk.physicalAddress != nil {
            do { entry.page = try KernelMemory(space: space).pageDescriptor(pfn: physical >> 12) } catch { entry.pageError = "\(error)" }
        }
        return entry
    }

    static func address(_ word: String, _ session: Session) throws -> UInt64 {
        if let v = parseHexAddress(word) { return v }
        if let table = try? session.kernelSymbols(), let s = table.symbol(named: word) { return s.address }
        throw CommandError("invalid address: \(word)")
    }

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        prefix.hasPrefix("-") ? [] : session.symbolCompletions(prefix: prefix)
    }
}

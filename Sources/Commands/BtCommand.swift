import DumpModel
import SymbolResolver

/// `bt`: the kernel stack trace of a task, as crash prints it, from the kernel's ORC unwind
/// tables, or its DWARF CFI and frame pointers where it has none (DumpModel/Stacks).
public enum BtCommand: CrashCommand {
    public static let name = "bt"
    public static let summary = "backtrace"
    public static let usage = """
    NAME
      bt - backtrace

    SYNOPSIS
      bt [-a | -c cpu(s)] [-f | -F[F]] [-e] [-s] [-x] [-l] [-t] [-r] [pid | task]...

    DESCRIPTION
      Shows the kernel stack of the current context's task (see `set`), of the tasks named, of the
      task running on each CPU (-a), or of those on the CPUs given (-c 0,2-3). Frames are found
      with the kernel's ORC unwind tables, else (kernels before 4.14) with the vmlinux's DWARF
      call-frame information and frame pointers: a running task starts from its CPU's register
      note, a sleeping task from the frame it saved when it was switched out. The walk crosses
      from the IRQ and exception stacks to the interrupted context through the registers the
      entry code saved, prints them as crash does, and ends in user mode (with the user
      registers), at the end of the stack, or with one line saying why it stopped (an excluded
      page, a stack pointer outside the task's stacks, no unwind rule, a loop, the frame limit).

        -a   the active task of every CPU
        -c   the active tasks of the CPUs given
        -f   each frame's stack words
        -F   the same, symbolically: a kernel or module symbol's address as symbol+offset, an
             address in a slab object as [cache name] (-FF: [address:cache name])
        -e   search the task's stack for registers an entry saved (exception frames), as crash
             does: kernel-mode frames with the symbol of their ip, user-mode frames
        -s   symbol+offset for each frame (decimal; hexadecimal with -x)
        -x   hexadecimal offsets
        -l   the source file and line of each frame
        -t   the text symbols found on the stack, from the starting stack pointer up
        -r   the raw words of the task's stack

    EXAMPLES
      crash> bt
      PID: 1        TASK: ffff8a15411f8000  CPU: 0    COMMAND: "init"
       #0 [ffffcf3c00013ca0] __crash_kexec at ffffffffb076475a
       #1 [ffffcf3c00013d58] panic at ffffffffb0fcd06e
      ...
    """

    /// What `bt` shows besides the frames.
    public struct Options: Sendable, Equatable {
        public var frameWords = false
        /// -F: stack words that hold a symbol's address show it, those pointing into a slab
        /// object show the cache's name in brackets.
        public var symbolicWords = false
        /// -FF: the slab objects' addresses too ("[address:cache]").
        public var slabAddresses = false
        public var symbolOffsets = false
        public var hexOffsets = false
        public var lines = false
        public var textSymbols = false
        public var raw = false
        /// -e: search the task's stack for saved registers (exception frames) instead of tracing.
        public var exceptionSearch = false
        public init() {}
    }

    /// One frame with its symbol and source resolved.
    public struct ResolvedFrame {
        public var frame: StackFrame
        public var symbol: String?
        public var offset: UInt64?
        public var module: String?
        public var file: String?
        public var line: Int?
        /// With -l: the functions inlined at the frame's code, innermost first.
        public var inlined: [String] = []
        /// Stack words shown by -f: (address, values).
        public var words: (start: UInt64, values: [UInt64])?
        /// With -F: what each of `words` shows instead of its value, where it shows something.
        public var wordLabels: [Int: String] = [:]
        /// The symbol of the interrupted instruction of the frame's exception registers.
        public var exceptionSymbol: String?
    }

    /// One task's trace, resolved and ready to render: what `foreach bt` prints for each task.
    public struct TraceResult: CommandResult {
        public var task: KernelTask
        public var trace: Backtrace
        public var frames: [ResolvedFrame]
        public var options: Options
        /// `-t`: text symbols on the stack as (slot, value, symbol).
        public var textSymbols: [(slot: UInt64, value: UInt64, symbol: String)]
        /// `-r`: the raw stack (start address, words).
        public var rawWords: (start: UInt64, values: [UInt64])?
        /// `-r`: "symbol+offset" for the raw words that are text addresses, by index.
        public var rawSymbols: [Int: String] = [:]
        /// `-e`: the exception frames found on the task's stack, with the symbol of each
        /// kernel-mode frame's ip.
        public var foundFrames: [(found: FoundExceptionFrame, symbol: String?)] = []

        public func renderText() -> String {
            var out = taskHeader(task) + "\n"
            if options.exceptionSearch {
                for (f, symbol) in foundFrames {
                    let e = f.frame
                    out += "\n  \(e.isUserMode ? "USER" : "KERNEL")-MODE EXCEPTION FRAME AT: \(hexDigits(e.address))\n"
                    if !e.isUserMode { out += "    [exception RIP: \(symbol ?? "unknown or invalid address")]\n" }
                    var r = e.registers
                    r.cs = f.rawCS
                    r.ss = f.rawSS
                    out += BtCommand.registerBlock(r, maskSegments: false)
                }
                return out
            }
            if options.textSymbols {
                if let f = frames.first {
                    out += "              START: \(f.symbol ?? hexDigits(f.frame.pc)) at \(hexDigits(f.frame.pc))\n"
                }
                for t in textSymbols {
                    out += "  [\(hexDigits(t.slot))] \(t.symbol) at \(hexDigits(t.value))\n"
                }
                if let e = frames.last?.frame.exception, e.isUserMode { out += BtCommand.registerBlock(e.registers) }
                return out
            }
            if options.raw, let raw = rawWords {
                // crash's raw stack: two words a line, text addresses as symbol+offset.
                var k = 0
                while k < raw.values.count {
                    out += hexDigits(raw.start &+ UInt64(k * 8), width: 16) + ":  "
                    for j in k..<min(raw.values.count, k + 2) {
                        out += ljust(rawSymbols[j] ?? hexDigits(raw.values[j], width: 16), 16) + " "
                    }
                    out += "\n"
                    k += 2
                }
                return out
            }
            for (i, f) in frames.enumerated() {
                var name = f.symbol ?? hexDigits(f.frame.pc)
                if options.symbolOffsets, let off = f.offset, f.symbol != nil {
                    name += options.hexOffsets ? "+0x" + String(off, radix: 16) : "+\(off)"
                }
                out += (i < 10 ? " " : "") + "#\(i) [\(hexDigits(f.frame.slot, width: 16))] \(name) at \(hexDigits(f.frame.pc, width: 16))"
                if let m = f.module { out += " [\(m)]" }
                out += "\n"
                if options.lines, let file = f.file, let line = f.line { out += "    \(file): \(line)\n" }
                if options.lines, !f.inlined.isEmpty { out += "    inlined: \(f.inlined.joined(separator: " <- "))\n" }
                if options.frameWords, let w = f.words, !w.values.isEmpty {
                    out += BtCommand.wordLines(start: w.start, values: w.values, labels: f.wordLabels, indent: "    ",
                                               perLine: 2)
                }
                if let e = f.frame.exception {
                    if !e.isUserMode { out += "    [exception RIP: \(f.exceptionSymbol ?? "unknown or invalid address")]\n" }
                    out += BtCommand.registerBlock(e.registers)
                }
                if let left = f.frame.leftStack, left.kind != .task { out += "--- <\(left.crashName)> ---\n" }
            }
            if frames.isEmpty, trace.end == .userMode, let r = trace.startRegisters {
                out += BtCommand.registerBlock(r)
            }
            if !trace.end.isNormal { out += "bt: \(trace.end.description)\n" }
            return out
        }

        public func renderJSON() -> JSONValue {
            var framesJSON: [JSONValue] = []
            for (i, f) in frames.enumerated() {
                var pairs: [(String, JSONValue)] = [
                    ("level", .int(Int64(i))), ("pc", .address(f.frame.pc)), ("sp", .address(f.frame.sp)),
                    ("slot", .address(f.frame.slot)),
                    ("symbol", f.symbol.map { .string($0) } ?? .null),
                    ("offset", f.offset.map { .int(Int64(clamping: $0)) } ?? .null),
                    ("module", f.module.map { .string($0) } ?? .null),
                    ("file", f.file.map { .string($0) } ?? .null),
                    ("line", f.line.map { .int(Int64($0)) } ?? .null),
                    ("inline", .bool(false)),
                    ("inlined", .array(f.inlined.map { .string($0) })),
                    ("origin", .string(f.frame.origin.rawValue)),
                    ("unwinder", f.frame.rule.map { .string($0.rawValue) } ?? .null),
                    ("stack", f.frame.stack.map { .string($0.label) } ?? .null),
                ]
                if let e = f.frame.exception {
                    pairs.append(("exception", BtCommand.exceptionJSON(e, symbol: f.exceptionSymbol)))
                }
                if let w = f.words, options.frameWords {
                    pairs.append(("words", .array(w.values.map { .address($0) })))
                    if options.symbolicWords {
                        pairs.append(("word_labels", .array(w.values.indices.map { k in
                            f.wordLabels[k].map { .string($0) } ?? .null
                        })))
                    }
                }
                framesJSON.append(.object(pairs))
            }
            var pairs: [(String, JSONValue)] = [
                ("task", taskJSON(task)),
                ("active_cpu", trace.activeCPU.map { .int(Int64($0)) } ?? .null),
                ("start", .string(trace.startMethod)),
                ("frames", .array(framesJSON)),
                ("end", .object([("reason", .string(BtCommand.endCode(trace.end))), ("normal", .bool(trace.end.isNormal)),
                                 ("message", .string(trace.end.description))])),
                ("stacks", .array(trace.stacks.map {
                    .object([("kind", .string($0.label)), ("base", .address($0.base)), ("top", .address($0.top))])
                })),
            ]
            // The registers, where the frames do not start from them: none was found, or (kdump's
            // panic CPU) the trace starts at the call made after they were saved.
            if frames.isEmpty || trace.startMethod == "later-call", let r = trace.startRegisters {
                pairs.append(("registers", BtCommand.registersJSON(r)))
            }
            if options.exceptionSearch {
                pairs.append(("exception_frames", .array(foundFrames.map { f, symbol in
                    BtCommand.exceptionJSON(f.frame, symbol: symbol)
                })))
            }
            if options.textSymbols {
                pairs.append(("text_symbols", .array(textSymbols.map {
                    .object([("slot", .address($0.slot)), ("value", .address($0.value)), ("symbol", .string($0.symbol))])
                })))
            }
            return .object(pairs)
        }
    }

    /// Several tasks' traces (`bt -a`, `bt PID PID`), separated by blank lines as crash does.
    public struct Result: CommandResult {
        public var traces: [TraceResult]
        public func renderText() -> String { traces.map { $0.renderText() }.joined(separator: "\n") }
        public func renderJSON() -> JSONValue {
            traces.count == 1 ? traces[0].renderJSON() : .array(traces.map { $0.renderJSON() })
        }
    }

    // MARK: Running

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        var options = Options()
        var all = false
        var cpuSpec: String?
        var words: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a.hasPrefix("-"), a.count > 1, Int(a) == nil {
                var letters = Array(a.dropFirst())
                while !letters.isEmpty {
                    let c = letters.removeFirst()
                    switch c {
                    case "a": all = true
                    case "f": options.frameWords = true
                    case "F":
                        if options.symbolicWords { options.slabAddresses = true }
                        options.frameWords = true
                        options.symbolicWords = true
                    case "s": options.symbolOffsets = true
                    case "x": options.hexOffsets = true
                    case "l": options.lines = true
                    case "t", "T": options.textSymbols = true
                    case "r": options.raw = true
                    case "e": options.exceptionSearch = true
                    case "d": options.hexOffsets = false
                    case "c":
                        if !letters.isEmpty {
                            cpuSpec = String(letters)
                            letters = []
                        } else {
                            i += 1
                            guard i < arguments.count else { throw CommandError("option -c needs a CPU list") }
                            cpuSpec = arguments[i]
                        }
                    default:
                        throw CommandError("invalid option -\(c) (usage: bt [-a|-c cpus] [-f|-F[F]] [-e] [-s] [-x] [-l] [-t] [-r] [pid|task]...)")
                    }
                }
            } else {
                words.append(a)
            }
            i += 1
        }
        let kernel = try session.crashedKernel()
        let index = try kernel.tasks()
        var tasks: [KernelTask] = []
        if all || cpuSpec != nil {
            let cpus = try CPUSpecification.cpus(all ? "a" : cpuSpec ?? "", cpuCount: index.activeTasks.count,
                                                 current: { try kernel.currentTask().cpu })
            for cpu in cpus {
                guard let a = index.activeTasks[cpu], let t = index.task(address: a) else { continue }
                tasks.append(t)
            }
        } else if words.isEmpty {
            tasks.append(try kernel.currentTask())
        } else {
            for w in words { tasks.append(try session.task(named: w)) }
        }
        var traces: [TraceResult] = []
        for t in tasks {
            if session.interruptRequested() { throw CommandError.interrupted }
            traces.append(try trace(task: t, session: session, options: options))
        }
        return Result(traces: traces)
    }

    /// The trace of one task, resolved for rendering: what `foreach bt` calls for each task.
    public static func trace(task: KernelTask, session: Session, options: Options) throws -> TraceResult {
        let tracer = try session.taskBacktracer()
        let trace = tracer.trace(task)
        let symbols = try? session.kernelSymbols()
        let lookup = try? SymbolLookup(session: session)
        let slide = (try? session.kernelSlide().offset) ?? 0
        let wordLabel = options.symbolicWords ? symbolicWordLabeler(session: session, lookup: lookup, options: options) : nil
        var resolved: [ResolvedFrame] = []
        for (i, f) in trace.frames.enumerated() {
            var r = ResolvedFrame(frame: f)
            if let s = btSymbol(lookup: lookup, address: f.lookupPC) {
                r.symbol = s.name
                r.offset = f.pc &- s.address
                r.module = s.module
            }
            if options.lines, let line = session.sourceLine(runtimeAddress: f.lookupPC, slide: slide) {
                r.file = line.file
                r.line = line.line
            }
            if options.lines {
                r.inlined = session.inlinedFunctions(runtimeAddress: f.lookupPC, slide: slide)
            }
            if let e = f.exception, !e.isUserMode, let s = btSymbol(lookup: lookup, address: e.registers.rip) {
                let off = e.registers.rip &- s.address
                r.exceptionSymbol = options.hexOffsets ? "\(s.name)+0x\(String(off, radix: 16))" : "\(s.name)+\(off)"
            }
            if options.frameWords {
                let next = i + 1 < trace.frames.count ? trace.frames[i + 1] : nil
                if let range = frameWordRange(f, next: next) {
                    let w = tracer.unwinder.words(at: range.lowerBound, count: Int((range.upperBound - range.lowerBound) / 8))
                    r.words = (range.lowerBound, w.words)
                    if let wordLabel {
                        for (k, v) in w.words.enumerated() { if let l = wordLabel(v) { r.wordLabels[k] = l } }
                    }
                }
            }
            resolved.append(r)
        }
        var result = TraceResult(task: task, trace: trace, frames: resolved, options: options, textSymbols: [], rawWords: nil)
        if options.exceptionSearch, let stack = trace.stacks.first(where: { $0.kind == .task }) {
            let modules = lookup?.modules.modules ?? []
            let found = tracer.unwinder.searchExceptionFrames(
                // A sleeping task's from its first frame (crash's starting stack pointer), a
                // running task's from the stack's base.
                on: stack, from: trace.activeCPU == nil ? trace.frames.first.map { stack.contains($0.slot) ? $0.slot : stack.base } ?? stack.base : stack.base,
                isKernelText: { a in
                    guard let t = lookup?.table.symbol(at: a)?.symbol.typeLetter else { return false }
                    return t == "t" || t == "T"
                },
                isModuleText: { a in modules.contains { a >= $0.base && a < $0.textEnd } })
            result.foundFrames = found.map { f in
                guard !f.frame.isUserMode, let s = btSymbol(lookup: lookup, address: f.frame.registers.rip) else { return (f, nil) }
                let off = f.frame.registers.rip &- s.address
                let name = off == 0 ? s.name : options.hexOffsets ? "\(s.name)+0x\(String(off, radix: 16))" : "\(s.name)+\(off)"
                return (f, name)
            }
        }
        if options.textSymbols || options.raw, let stack = trace.stacks.first(where: { $0.kind == .task }) {
            let from = options.raw ? stack.base : (trace.frames.first.map { $0.slot } ?? stack.base)
            let start = stack.contains(from) ? from : stack.base
            let w = tracer.unwinder.words(at: start, count: Int((stack.top - start) / 8))
            if options.raw {
                result.rawWords = (start, w.words)
                if let symbols {
                    for (k, v) in w.words.enumerated() {
                        guard let loc = symbols.symbol(at: v) else { continue }
                        result.rawSymbols[k] = loc.offset == 0 ? loc.symbol.name : "\(loc.symbol.name)+\(loc.offset)"
                    }
                }
            }
            if options.textSymbols, let symbols {
                for (k, v) in w.words.enumerated() {
                    guard let loc = symbols.symbol(at: v), loc.symbol.typeLetter == "t" || loc.symbol.typeLetter == "T" else { continue }
                    result.textSymbols.append((start &+ UInt64(k * 8), v, loc.symbol.name))
                }
            }
        }
        return result
    }

    /// The stack words crash shows with -f for a frame: from above its return address (or from
    /// its stack pointer for a frame from registers) up to and including the next frame's return
    /// address, or up to the registers the entry code saved.
    static func frameWordRange(_ f: StackFrame, next: StackFrame?) -> Range<UInt64>? {
        let start = f.isReturnAddress ? f.slot &+ 8 : f.slot
        var end: UInt64
        if let e = f.exception {
            end = e.address
        } else if let next, next.stack == f.stack, f.leftStack == nil {
            end = next.slot &+ 8
        } else if let stack = f.stack, f.leftStack != nil {
            end = stack.top
        } else {
            return nil
        }
        guard end > start, end - start <= 8 * 4096 else { return nil }
        return start..<end
    }

    /// The symbol for a code address: the kernel's, else a loaded module's (with its name).
    static func btSymbol(lookup: SymbolLookup?, address: UInt64) -> (name: String, address: UInt64, module: String?)? {
        guard let lookup else { return nil }
        if let loc = lookup.table.symbol(at: address) { return (loc.symbol.name, address &- loc.offset, nil) }
        guard let (found, offset) = lookup.moduleLocation(address), case let .module(e) = found else { return nil }
        return (e.name, address &- offset, e.module)
    }

    /// crash's `bt -F` label for a stack word: for a readable address, the kernel or module
    /// symbol it holds ("name" or "name+offset", decimal), else the slab cache of the object it
    /// points into ("[cache]", "[address:cache]" with -FF); nil to show the word in hexadecimal.
    static func symbolicWordLabeler(session: Session, lookup: SymbolLookup?, options: Options) -> ((UInt64) -> String?)? {
        guard let kernel = try? session.crashedKernel() else { return nil }
        let memory = kernel.memory
        let caches = session.slabCaches()
        return { value in
            guard value >= memory.space.kernelHalfStart, (try? memory.load(UInt8.self, value)) != nil else { return nil }
            if let label = lookup?.label(for: value) { return label }
            guard let cache = caches?.cache(containing: value) else { return nil }
            return options.slabAddresses ? "[\(hexDigits(value)):\(cache)]" : "[\(cache)]"
        }
    }

    // MARK: Rendering helpers

    static func wordLines(start: UInt64, values: [UInt64], labels: [Int: String] = [:], indent: String,
                          perLine: Int) -> String {
        var out = ""
        var k = 0
        while k < values.count {
            out += indent + hexDigits(start &+ UInt64(k * 8), width: 16) + ": "
            for j in k..<min(values.count, k + perLine) {
                out += (labels[j].map { ljust($0, 16) } ?? hexDigits(values[j], width: 16)) + " "
            }
            out += "\n"
            k += perLine
        }
        return out
    }

    /// crash's register block of an exception frame.
    static func registerBlock(_ r: X86Registers, maskSegments: Bool = true) -> String {
        func h(_ v: UInt64) -> String { hexDigits(v, width: 16) }
        var out = ""
        out += "    RIP: \(h(r.rip))  RSP: \(h(r.rsp))  RFLAGS: \(hexDigits(r.rflags, width: 8))\n"
        out += "    RAX: \(h(r.rax))  RBX: \(h(r.rbx))  RCX: \(h(r.rcx))\n"
        out += "    RDX: \(h(r.rdx))  RSI: \(h(r.rsi))  RDI: \(h(r.rdi))\n"
        out += "    RBP: \(h(r.rbp))   R8: \(h(r.r8))   R9: \(h(r.r9))\n"
        out += "    R10: \(h(r.r10))  R11: \(h(r.r11))  R12: \(h(r.r12))\n"
        out += "    R13: \(h(r.r13))  R14: \(h(r.r14))  R15: \(h(r.r15))\n"
        let mask: UInt64 = maskSegments ? 0xffff : .max
        out += "    ORIG_RAX: \(h(r.origRax))  CS: \(hexDigits(r.cs & mask, width: 4))  SS: \(hexDigits(r.ss & mask, width: 4))\n"
        return out
    }

    static func registersJSON(_ r: X86Registers) -> JSONValue {
        let names = ["rip", "rsp", "rflags", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11",
                     "r12", "r13", "r14", "r15", "orig_rax", "cs", "ss"]
        let values = [r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11,
                      r.r12, r.r13, r.r14, r.r15, r.origRax, r.cs & 0xffff, r.ss & 0xffff]
        return .object(zip(names, values).map { ($0.0, JSONValue.address($0.1)) })
    }

    static func exceptionJSON(_ e: ExceptionFrame, symbol: String?) -> JSONValue {
        .object([("address", .address(e.address)), ("user_mode", .bool(e.isUserMode)), ("partial", .bool(e.isPartial)),
                 ("rip_symbol", symbol.map { .string($0) } ?? .null), ("registers", registersJSON(e.registers))])
    }

    static func endCode(_ end: TraceEnd) -> String {
        switch end {
        case .userMode: return "user-mode"
        case .endOfStack: return "end-of-stack"
        case let .unreadable(f):
            if case .excludedPage = f.reason { return "excluded-page" }
            return "unreadable-stack"
        case .noRule: return "no-rule"
        case .outsideStacks: return "outside-stacks"
        case .badReturnAddress: return "bad-return-address"
        case .loop: return "loop"
        case .frameLimit: return "frame-limit"
        case .noStart: return "no-start"
        case .interrupted: return "interrupted"
        }
    }
}

extension Session {
    /// The stack unwinder over the vmlinux's ORC table (moved by the KASLR slide), built once.
    /// A kernel without ORC tables (before 4.14, or built with frame pointers) is unwound by
    /// the vmlinux's DWARF CFI and frame pointers alone.
    func stackUnwinder() throws -> StackUnwinder {
        if let stackUnwinderState { return try stackUnwinderState.get() }
        let r = Result { try makeStackUnwinder(useORC: true) }
        stackUnwinderState = r
        return try r.get()
    }

    /// Builds the unwinder; `useORC: false` leaves the ORC tables out even where the kernel has
    /// them (how a kernel before 4.14 is walked, for tests on the fixtures).
    func makeStackUnwinder(useORC: Bool) throws -> StackUnwinder {
        let k = try kernel()
        let kernelState = try crashedKernel()
        let slide = try kernelSlide().offset
        var tables: [ORCTable] = []
        if useORC, let ips = k.sectionContents(named: ".orc_unwind_ip"), let entries = k.sectionContents(named: ".orc_unwind") {
            do {
                tables = [try ORCTable(ipTable: ips.bytes, ipTableAddress: ips.address &+ slide, entries: entries.bytes,
                                       hasHeader: k.sectionContents(named: ".orc_header") != nil)]
            } catch {
                throw CommandError("\(error)")
            }
        }
        var u = StackUnwinder(memory: kernelState.memory, tables: tables)
        // Module code: each module's own tables, in the image's format, read on first need.
        let memory = kernelState.memory
        if let format = tables.first?.format {
            u.moduleTables = LazyORCTables { [weak self] in
                guard let self else { return [] }
                return self.moduleSymbols().modules.compactMap { m in
                    (try? ModuleORCTables.table(of: m.module, memory: memory, format: format)) ?? nil
                }
            }
        }
        let symbols = try? kernelSymbols()
        u.functionName = { symbols?.symbol(at: $0)?.symbol.name }
        u.functionStart = { address in symbols?.symbol(at: address).map { address &- $0.offset } }
        // Code objtool left without ORC (kexec_core.o...) still has the compiler's CFI.
        u.fallbackRule = { pc in
            guard let r = k.cfiRule(atLinkAddress: pc &- slide) else { return nil }
            let base: UnwindRow.Register
            switch r.cfaRegister {
            case 7: base = .sp
            case 6: base = .bp
            default: return nil
            }
            return UnwindRow(kind: .call, cfaRegister: base, cfaOffset: Int32(clamping: r.cfaOffset),
                             bpRegister: r.bpSavedAt == nil ? .undefined : .cfa,
                             bpOffset: Int32(clamping: r.bpSavedAt ?? 0), signal: r.signal, source: .dwarfCFI)
        }
        u.interrupted = { [weak self] in self?.interruptRequested() ?? false }
        if memory.layout.memberOffset("inactive_task_frame", "ret_addr") == nil {
            u.switchMacroFrame = switchMacroFrame(symbols: symbols, memory: memory)
        }
        return u
    }

    /// Where tasks switched out by the `switch_to` macro of kernels before 4.9 resume: the
    /// `thread_return` label, else the instruction after the call of `__switch_to` in schedule or
    /// __schedule (crash looks in the same places).
    func switchMacroFrame(symbols: SymbolTable?, memory: KernelMemory) -> SwitchMacroFrame? {
        guard let symbols else { return nil }
        let functions: [(start: UInt64, code: [UInt8])] = ["__schedule", "schedule"].compactMap { name in
            guard let s = symbols.symbol(named: name), s.size > 0, s.size <= 1 << 16,
                  let code = try? memory.bytes(s.address, count: Int(s.size)) else { return nil }
            return (s.address, code)
        }
        return SwitchMacroFrame.find(threadReturn: symbols.symbol(named: "thread_return")?.address,
                                     switchTo: symbols.symbol(named: "__switch_to")?.address, functions: functions)
    }

    /// The slab caches of the crashed kernel, read once (nil without the kernel's memory).
    func slabCaches() -> SlabCaches? {
        if let slabCachesState { return slabCachesState }
        guard let kernel = try? crashedKernel() else { return nil }
        let caches = SlabCaches(memory: kernel.memory)
        slabCachesState = caches
        return caches
    }

    /// Traces tasks with the CPU notes of the dump.
    func taskBacktracer() throws -> TaskBacktracer {
        let kernel = try crashedKernel()
        let index = try kernel.tasks()
        let pids = index.activeTasks.map { a in a.flatMap { index.task(address: $0)?.pid } }
        let notes: CPURegisterNotes
        if let sadump = dump as? SadumpFile {
            // sadump keeps the CPU states by APIC id: the kernel says which CPU id has which.
            let ids = (try? kernel.perCPU())?.apicIDs() ?? []
            var states = sadump.registers(apicIDs: ids)
            states += [X86Registers?](repeating: nil, count: max(0, pids.count - states.count))
            notes = CPURegisterNotes(ownStates: Array(states.prefix(pids.count)))
        } else {
            notes = CPURegisterNotes(prstatus: dump.prstatus, fromQEMU: !dump.qemuCPUStates.isEmpty, activePIDs: pids,
                                     panicCPU: kernel.panicCPU())
        }
        return TaskBacktracer(kernel: kernel, unwinder: try stackUnwinder(), notes: notes)
    }
}

import DumpModel
import SymbolResolver

/// Everything one crashsh run works on: the dump, its physical memory, VMCOREINFO, and the
/// vmlinux (opened on first use, so commands that do not need symbols never pay for it).
///
/// Not thread-safe: the shell runs one command at a time.
public final class Session {
    public let dump: any DumpFile
    public let memory: PhysicalMemory
    public let vmcoreinfo: VMCoreInfo?
    /// Path of the vmlinux given on the command line or found in the usual places, if any.
    public let vmlinuxPath: String?
    /// When no vmlinux was given or found: what was looked for and where, for the error message
    /// ("for 6.1.0-56-cloud-amd64 in /usr/lib/debug or ~/.cache/crashsh/debuginfo").
    public var vmlinuxSearch: String?
    /// Where a stripped vmlinux's (and modules') separate debug files are looked for: the
    /// distribution's debug root and crashsh's debuginfo cache (see `DebuginfoLocator`).
    public var debugRoots = ["/usr/lib/debug"]
    /// Open the vmlinux even when its build-id or release does not match the dump (crash's --no_... override).
    public var ignoreMismatch = false
    /// True once the user pressed Ctrl-C in the interactive shell (and clears that record).
    /// Commands that walk many objects (every task, page or log record) ask now and then and
    /// stop with `CommandError.interrupted`. Always false outside the interactive shell, where
    /// Ctrl-C ends the process.
    public var interruptRequested: () -> Bool = { false }
    /// `set json on`: commands print JSON instead of text.
    public var jsonOutput = false
    /// `set scroll on` (crash's setting): at the interactive prompt, output goes through a pager.
    /// The interactive shell turns it on when its output is a terminal; -c, -i and piped use
    /// never page, whatever it says.
    public var scroll = false
    /// How many values `p` has printed: its next result is `$<count + 1>`, as in crash.
    public var printedValueCount = 0
    /// The values `p` printed, for `$N`, `$` and `$$` in later expressions.
    public let valueHistory = ValueHistory()

    /// Told once, when the first command that needs symbols finds no vmlinux and reads the
    /// kernel from the dump's memory, where symbols and types come from (the shell prints it on
    /// stderr). Commands that need no symbols (vmcoreinfo, rd -p) never pay for kallsyms.
    public var kernelSourceReport: ((String) -> Void)?
    private var kernelCache: KernelImage?
    private var kernelError: Error?
    /// Variables whose guessed type was reported (`noteGuessedType`).
    private var guessedTypeNames: Set<String> = []
    /// The kernel address space or why it cannot be built, once asked for (see `addressSpace()`).
    var addressSpaceState: Result<KernelAddressSpace, Error>?
    /// The kernel views' shared state, once asked for (see `crashedKernel()`).
    var crashedKernelState: CrashedKernel?
    /// The loaded modules and their symbols, once read (see `moduleSymbols()`).
    var moduleIndexCache: ModuleSymbolIndex?
    /// The stack unwinder (ORC tables read from the vmlinux) once built (see `BtCommand`).
    var stackUnwinderState: Result<StackUnwinder, Error>?
    /// The slab caches, once read (see `BtCommand`'s `-F`).
    var slabCachesState: SlabCaches?
    /// Where the kernel image lies, found from the CPU state when the dump has no VMCOREINFO
    /// phys_base (see `KernelPlacement.swift`); set when the vmlinux is opened.
    var imagePlacementState: Result<KernelImagePlacement, Error>?
    /// Without VMCOREINFO or vmlinux: where the CPU state put the kernel image, and its
    /// kallsyms (set when the kernel is read from memory).
    var kernelFoundFromCPUState: KernelFoundFromCPUState?
    /// How the kernel read from memory reads kernel addresses before the address space is built.
    private var memoryKernelRead: ((UInt64, Int) throws -> [UInt8])?

    public init(dump: any DumpFile, vmlinuxPath: String?) {
        self.dump = dump
        memory = PhysicalMemory(dump: dump)
        vmcoreinfo = dump.vmcoreinfo
        self.vmlinuxPath = vmlinuxPath
    }

    /// Opens the dump at `path` (format detected by content).
    public convenience init(dumpPath: String, vmlinuxPath: String?) throws {
        self.init(dump: try DumpOpener.open(path: dumpPath), vmlinuxPath: vmlinuxPath)
    }

    /// The kernel address space built from VMCOREINFO alone (no debuginfo): what the vmlinux
    /// check reads `linux_banner` through before the vmlinux is accepted. Nil when VMCOREINFO
    /// does not say enough (no phys_base, no init_top_pgt).
    func vmcoreinfoAddressSpace() -> KernelAddressSpace? {
        try? KernelAddressSpace(memory: memory, vmcoreinfo: vmcoreinfo, layout: nil, physBase: dump.headerPhysBase)
    }

    /// The kernel as its memory in the dump describes it: symbols from kallsyms (found through
    /// VMCOREINFO, else in the kernel image the CPU state's page tables map), types from the
    /// kernel's BTF and unwind tables from its ORC sections, read on first use. Throws when
    /// neither way finds kallsyms.
    func kernelFromMemory() throws -> KernelImage {
        let table: KallsymsTable
        let read: (UInt64, Int) throws -> [UInt8]
        if KallsymsLocation(vmcoreinfo: vmcoreinfo) != nil || dump.qemuCPUStates.isEmpty {
            guard let space = vmcoreinfoAddressSpace() else {
                throw CommandError("VMCOREINFO does not say where the kernel's page tables are")
            }
            let memory = KernelMemory(space: space)
            table = try KallsymsTable(memory: memory)
            read = { try memory.bytes($0, count: $1) }
        } else {
            // No VMCOREINFO kallsyms: the image from the CPUs' page tables, kallsyms from its bytes.
            let found = try KallsymsFinder.locate(memory: memory, cpuStates: dump.qemuCPUStates,
                                                  interrupted: { [weak self] in self?.interruptRequested() ?? false })
            kernelFoundFromCPUState = found
            table = found.table
            read = { [memory] address, count in
                try memory.bytes(physical: try Session.imagePhysical(address, physBase: found.start.physBase), count: count)
            }
        }
        memoryKernelRead = read
        let source = InMemoryKernel(kallsymsNames: table.nameBytes, kallsymsNameStarts: table.nameStarts,
                                    kallsymsTypeLetters: table.typeLetters, kallsymsAddresses: table.addresses,
                                    read: read)
        return KernelImage(memory: source, path: "no vmlinux")
    }

    /// The physical address of kernel-image address `address` (the image mapping is linear).
    static func imagePhysical(_ address: UInt64, physBase: UInt64) throws -> UInt64 {
        guard address >= KernelAddressSpace.startKernelMap else {
            throw DumpError.missing(what: "\(hexDigits(address, width: 16)) outside the kernel image mapping (no page tables known yet)")
        }
        return address &- KernelAddressSpace.startKernelMap &+ physBase
    }

    /// Where a kernel read from memory gets its symbols, types and unwind tables, or what
    /// cannot be had and why: "no vmlinux: symbols from kallsyms, types from the kernel's BTF".
    /// Says once per variable, where the kernel-source note goes, that a value is read with a
    /// guessed type: without a vmlinux the kernel's BTF declares only per-cpu variables, and a
    /// small symbol is read as an unsigned integer of its size (right for `jiffies`, wrong for a
    /// 16-byte `struct list_head`).
    func noteGuessedType(of name: String, as typeName: String?) {
        guard guessedTypeNames.insert(name).inserted else { return }
        kernelSourceReport?("no vmlinux: \(name) has no declared type; read as \(typeName ?? "an integer") from its symbol's size"
                            + " (cast it to its declared type if that is wrong)")
    }

    func kernelSourceNote(_ k: KernelImage) -> String {
        var parts = ["symbols from kallsyms"]
        if let found = kernelFoundFromCPUState {
            parts[0] += " (no VMCOREINFO: found in the kernel image at \(hexDigits(found.start.text, width: 16)) by CPU \(found.start.cpu)'s page tables)"
        }
        var missing: [String] = []
        if let btf = k.memorySectionRange(named: ".BTF") {
            do {
                _ = try memory(kernelRead: btf.start, count: 4)
                parts.append("types from the kernel's BTF")
            } catch {
                missing.append("no types: the kernel's BTF at \(hexDigits(btf.start, width: 16)) is not in the dump (\(error))")
            }
        } else {
            missing.append("no types: the kernel has no BTF")
        }
        if k.memorySectionRange(named: ".orc_unwind_ip") == nil {
            missing.append("no ORC tables: stacks are unwound by frame pointers only")
        }
        return "no vmlinux: " + parts.joined(separator: ", ") + missing.map { "; " + $0 }.joined()
    }

    private func memory(kernelRead address: UInt64, count: Int) throws -> [UInt8] {
        guard let memoryKernelRead else { throw CommandError("no kernel page tables") }
        return try memoryKernelRead(address, count)
    }

    /// The vmlinux, opened once on first use. Throws a `CommandError` saying why when there is none,
    /// and `VmlinuxMismatch` when it belongs to another kernel (unless `ignoreMismatch`).
    public func kernel() throws -> KernelImage {
        if let kernelCache { return kernelCache }
        if let kernelError { throw kernelError }
        guard let vmlinuxPath else {
            // No vmlinux: the kernel's own kallsyms, BTF and ORC tables, read from the dump.
            do {
                let k = try kernelFromMemory()
                kernelCache = k
                kernelSourceReport?(kernelSourceNote(k))
                return k
            } catch {
                let searched = vmlinuxSearch.map { " (none found \($0))" } ?? ""
                let e = CommandError("no vmlinux\(searched) and no kallsyms in the dump (\(error)):"
                                     + " give the kernel's debuginfo (vmlinux) after the dump file")
                kernelError = e
                throw e
            }
        }
        do {
            let k = try KernelImage(path: vmlinuxPath, debugRoots: debugRoots)
            let placement = locateImage(kernel: k)
            // A vmlinux of another kernel gives wrong answers everywhere: refuse it (KernelSymbols.swift).
            if !ignoreMismatch, let m = Session.vmlinuxMismatch(kernel: k, vmcoreinfo: vmcoreinfo, dumpPath: dump.path,
                                                                 slide: try? placement?.get().slide,
                                                                 readMemory: { [self] in readKernelImage($0, $1, placement: placement) }) {
                throw m
            }
            imagePlacementState = placement
            kernelCache = k
            return k
        } catch {
            kernelError = error
            throw error
        }
    }
}

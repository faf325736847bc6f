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

    private var kernelCache: KernelImage?
    private var kernelError: Error?
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

    /// The vmlinux, opened once on first use. Throws a `CommandError` saying why when there is none,
    /// and `VmlinuxMismatch` when it belongs to another kernel (unless `ignoreMismatch`).
    public func kernel() throws -> KernelImage {
        if let kernelCache { return kernelCache }
        if let kernelError { throw kernelError }
        guard let vmlinuxPath else {
            let searched = vmlinuxSearch.map { " (none found \($0))" } ?? ""
            let e = CommandError("no vmlinux\(searched): give the kernel's debuginfo (vmlinux) after the dump file")
            kernelError = e
            throw e
        }
        do {
            let k = try KernelImage(path: vmlinuxPath)
            // A vmlinux of another kernel gives wrong answers everywhere: refuse it (KernelSymbols.swift).
            if !ignoreMismatch, let m = Session.vmlinuxMismatch(kernel: k, vmcoreinfo: vmcoreinfo, dumpPath: dump.path,
                                                                 readMemory: { [self] in try? vmcoreinfoAddressSpace()?.bytes(virtual: $0, count: $1) }) {
                throw m
            }
            kernelCache = k
            return k
        } catch {
            kernelError = error
            throw error
        }
    }
}

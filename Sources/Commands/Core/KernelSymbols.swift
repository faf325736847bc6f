import DumpModel
import SymbolResolver

/// The vmlinux given for a dump was built from another kernel: the one line the user sees, naming
/// both files and the fact that differs.
public struct VmlinuxMismatch: Error, Equatable, Sendable, CustomStringConvertible {
    public var vmlinuxPath: String
    public var dumpPath: String
    /// What was compared: "build-id", "release", "linux_banner" or "_stext".
    public var what: String
    public var vmlinuxValue: String
    public var dumpValue: String

    public init(vmlinuxPath: String, dumpPath: String, what: String, vmlinuxValue: String, dumpValue: String) {
        self.vmlinuxPath = vmlinuxPath
        self.dumpPath = dumpPath
        self.what = what
        self.vmlinuxValue = vmlinuxValue
        self.dumpValue = dumpValue
    }

    public var description: String {
        "vmlinux \(vmlinuxPath) does not match dump \(dumpPath): \(what) \(vmlinuxValue) != \(dumpValue)"
            + " (--ignore-mismatch to use it anyway)"
    }
}

/// How the kernel image was moved at boot (KASLR) and where that fact came from.
public struct KernelSlide: Sendable, Equatable {
    /// Added to a link-time address of the kernel image to get its run-time address.
    public var offset: UInt64
    /// "KERNELOFFSET" (VMCOREINFO), "SYMBOL(_stext)" (VMCOREINFO against the vmlinux's _stext),
    /// or "none" (no KASLR information in the dump: the link-time addresses are used).
    public var source: String
}

extension Session {
    /// Checks that `kernel` was built from the kernel that wrote the dump: the GNU build-id
    /// against VMCOREINFO's BUILD-ID where both exist; else the release in the vmlinux's
    /// `linux_banner` against VMCOREINFO's OSRELEASE, then the whole `linux_banner` string
    /// against the bytes at its run-time address in the dump's memory (`readMemory`, when given
    /// and the read succeeds: another build of the same release differs in its build number,
    /// compiler or date). As a last check, VMCOREINFO's SYMBOL(_stext) must agree with the
    /// vmlinux's _stext moved by KERNELOFFSET. Without VMCOREINFO only the banner is compared, at
    /// the address `slide` (found from the CPU state) gives it.
    /// Returns nil when they match or when the dump says too little to tell.
    public static func vmlinuxMismatch(kernel: KernelImage, vmcoreinfo: VMCoreInfo?, dumpPath: String, slide knownSlide: UInt64? = nil,
                                       readMemory: ((_ address: UInt64, _ count: Int) -> [UInt8]?)? = nil) -> VmlinuxMismatch? {
        func mismatch(_ what: String, _ mine: String, _ theirs: String) -> VmlinuxMismatch {
            VmlinuxMismatch(vmlinuxPath: kernel.path, dumpPath: dumpPath, what: what, vmlinuxValue: mine, dumpValue: theirs)
        }
        guard let info = vmcoreinfo else {
            guard let knownSlide else { return nil }
            return bannerMismatch(kernel: kernel, slide: knownSlide, readMemory: readMemory, mismatch: mismatch)
        }
        if let dumpID = info.buildID?.lowercased().trimmingWhitespace(), !dumpID.isEmpty,
           let fileID = kernel.buildID?.lowercased() {
            // The kernel writes the whole note (20 bytes for SHA-1); compare what both have.
            let n = min(dumpID.count, fileID.count)
            if dumpID.prefix(n) != fileID.prefix(n) { return mismatch("build-id", fileID, dumpID) }
            return nil
        }
        if let dumpRelease = info.osRelease?.trimmingWhitespace(), !dumpRelease.isEmpty,
           let fileRelease = kernel.osRelease, fileRelease != dumpRelease {
            return mismatch("release", fileRelease, dumpRelease)
        }
        if let table = try? kernel.symbols(),
           let slide = KernelAddressSpace.kernelOffset(vmcoreinfo: info, linkedStext: table.symbol(named: "_stext")?.address) ?? knownSlide,
           let m = bannerMismatch(kernel: kernel, slide: slide, readMemory: readMemory, mismatch: mismatch) {
            return m
        }
        if let offset = info.kernelOffset, let runStext = info.symbol("_stext"),
           let table = try? kernel.symbols(), let linkStext = table.symbol(named: "_stext")?.address,
           linkStext &+ offset != runStext {
            return mismatch("_stext", hexDigits(linkStext &+ offset, width: 16), hexDigits(runStext, width: 16))
        }
        return nil
    }

    /// The vmlinux's `linux_banner` against the bytes at its run-time address in the dump.
    private static func bannerMismatch(kernel: KernelImage, slide: UInt64,
                                       readMemory: ((_ address: UInt64, _ count: Int) -> [UInt8]?)?,
                                       mismatch: (String, String, String) -> VmlinuxMismatch) -> VmlinuxMismatch? {
        guard let readMemory, let banner = kernel.linuxBanner, !banner.isEmpty,
              let table = try? kernel.symbols(), let link = table.symbol(named: "linux_banner")?.address else { return nil }
        let expected = Array(banner.utf8)
        // One byte more than the file's string: the dump's must end where the file's does.
        guard let bytes = readMemory(link &+ slide, expected.count + 1) else { return nil }
        let inMemory = Array(bytes.prefix(while: { $0 != 0 }))
        guard inMemory != expected else { return nil }
        func shown(_ b: [UInt8]) -> String {
            "\"" + String(decoding: b, as: UTF8.self).trimmingWhitespace() + "\""
        }
        return mismatch("linux_banner", shown(expected), shown(inMemory))
    }

    /// Throws `VmlinuxMismatch` when the session's vmlinux does not belong to the dump (unless
    /// `ignoreMismatch` is set: `kernel()` checks), or the reason the vmlinux cannot be opened. The shell calls this
    /// at start-up when a vmlinux is given, so a wrong file is reported before the first prompt,
    /// as crash does; `kernel()` users get the same answer on first use.
    public func checkVmlinux() throws {
        _ = try kernel()
    }

    /// The KASLR slide of the kernel image: VMCOREINFO's KERNELOFFSET, else SYMBOL(_stext)
    /// minus the vmlinux's link-time _stext, else what the CPU state says (a dump without
    /// VMCOREINFO: `imagePlacement()`), else none; 0 without a vmlinux (kallsyms addresses
    /// are run-time ones).
    public func kernelSlide() throws -> KernelSlide {
        // kallsyms holds run-time addresses: nothing to move.
        if vmlinuxPath == nil, (try? kernel())?.isFromMemory == true { return KernelSlide(offset: 0, source: "kallsyms") }
        if let offset = vmcoreinfo?.kernelOffset { return KernelSlide(offset: offset, source: "KERNELOFFSET") }
        if vmcoreinfo?.symbol("_stext") != nil,
           let slide = KernelAddressSpace.kernelOffset(
               vmcoreinfo: vmcoreinfo, linkedStext: try kernel().symbols().symbol(named: "_stext")?.address) {
            return KernelSlide(offset: slide, source: "SYMBOL(_stext)")
        }
        do {
            if let p = try imagePlacement() {
                return KernelSlide(offset: p.slide, source: "CPU \(p.cpu) \(p.method.rawValue)")
            }
        } catch {
            // With some VMCOREINFO (an old kernel without NUMBER(phys_base)) the image is taken as not moved.
            if vmcoreinfo == nil { throw error }
        }
        return KernelSlide(offset: 0, source: "none")
    }

    /// The vmlinux's symbols at run-time addresses (moved by the KASLR slide), after checking
    /// that the vmlinux belongs to the dump.
    public func kernelSymbols() throws -> SymbolTable {
        return try kernel().symbols().relocated(by: kernelSlide().offset)
    }

    /// Symbol names starting with `prefix`, for tab completion of an argument that takes a
    /// symbol. Empty when there is no usable vmlinux (completion never reports errors), and
    /// empty for an empty prefix (listing 100,000 names helps nobody).
    public func symbolCompletions(prefix: String) -> [String] {
        guard !prefix.isEmpty, let table = try? kernelSymbols() else { return [] }
        return table.names(withPrefix: prefix)
    }

    /// Completion for the REPL when only a word is known: command names, then symbols.
    public func completions(prefix: String) -> [String] {
        let commands = CommandRegistry.all.flatMap { [$0.name] + $0.aliases }.filter { $0.hasPrefix(prefix) }.sorted()
        return commands + symbolCompletions(prefix: prefix).filter { !commands.contains($0) }
    }
}

private extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace || c == "\0" { s.removeFirst() }
        while let c = s.last, c.isWhitespace || c == "\0" { s.removeLast() }
        return String(s)
    }
}

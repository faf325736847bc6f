/// What a kernel read from the dump's memory is built from (no vmlinux): its kallsyms table,
/// decoded by the caller, and a way to read its memory for the BTF and ORC tables. SymbolResolver
/// does not read dumps: the session passes the decoded table and a read function.
public struct InMemoryKernel {
    /// The kallsyms names, each followed by a NUL.
    public var kallsymsNames: [UInt8]
    /// Where each symbol's name starts in `kallsymsNames`.
    public var kallsymsNameStarts: [UInt32]
    /// nm's letter of each symbol.
    public var kallsymsTypeLetters: [UInt8]
    /// Run-time address of each symbol (per-cpu symbols: their per-cpu offset).
    public var kallsymsAddresses: [UInt64]
    /// `count` bytes of kernel virtual memory at a run-time address; throws the reason a page
    /// cannot be read (excluded from the dump, not mapped).
    public var read: (_ address: UInt64, _ count: Int) throws -> [UInt8]

    public init(kallsymsNames: [UInt8], kallsymsNameStarts: [UInt32], kallsymsTypeLetters: [UInt8],
                kallsymsAddresses: [UInt64], read: @escaping (_ address: UInt64, _ count: Int) throws -> [UInt8]) {
        self.kallsymsNames = kallsymsNames
        self.kallsymsNameStarts = kallsymsNameStarts
        self.kallsymsTypeLetters = kallsymsTypeLetters
        self.kallsymsAddresses = kallsymsAddresses
        self.read = read
    }

    /// `read` without the reason.
    func bytesIfPresent(_ address: UInt64, _ count: Int) -> [UInt8]? { try? self.read(address, count) }
}

extension KernelImage {
    /// The linker symbols that bound, in kernel memory, what a vmlinux has as sections: the
    /// kernel's BTF (CONFIG_DEBUG_INFO_BTF) and ORC tables (CONFIG_UNWINDER_ORC).
    static let memorySections: [String: (start: String, end: String?)] = [
        ".BTF": ("__start_BTF", "__stop_BTF"),
        ".orc_unwind_ip": ("__start_orc_unwind_ip", "__stop_orc_unwind_ip"),
        ".orc_unwind": ("__start_orc_unwind", "__stop_orc_unwind"),
        // 6.4+: a 16-byte hash of the ORC format, its own section with one symbol.
        ".orc_header": ("orc_header", nil),
    ]

    /// Where a section named as in a vmlinux lies in kernel memory, from the kallsyms symbols
    /// that bound it; nil when the kernel has no such symbols.
    public func memorySectionRange(named name: String) -> (start: UInt64, size: Int)? {
        guard let bounds = Self.memorySections[name], let table = try? symbols(),
              let start = table.symbol(named: bounds.start)?.address else { return nil }
        guard let endName = bounds.end else { return (start, 16) }
        guard let end = table.symbol(named: endName)?.address, end >= start,
              let size = Int(exactly: end - start) else { return nil }
        return (start, size)
    }

    /// `sectionContents(named:)` for a kernel read from memory: the bytes between the section's
    /// bounding symbols, at its run-time address.
    func memorySectionContents(named name: String, maxSize: Int) -> (address: UInt64, bytes: [UInt8])? {
        guard let source = memorySource, let range = memorySectionRange(named: name), range.size <= maxSize,
              let bytes = source.bytesIfPresent(range.start, range.size) else { return nil }
        return (range.start, bytes)
    }

    /// The kernel's BTF read from its memory. Throws a one-line reason when the kernel has no
    /// BTF or its pages are not in the dump.
    func memoryBTF() throws -> BTFTable {
        guard let source = memorySource else { throw SymbolError.noDebugInfo(path: path) }
        guard let range = memorySectionRange(named: ".BTF"), range.size > 24 else {
            throw SymbolError.missing(path: path, what: "the kernel has no BTF (no __start_BTF/__stop_BTF in kallsyms): types are not available")
        }
        guard range.size <= 1 << 28 else {
            throw SymbolError.missing(path: path, what: "the kernel's BTF is \(range.size) bytes, more than any kernel's")
        }
        let bytes: [UInt8]
        do {
            bytes = try source.read(range.start, range.size)
        } catch {
            throw SymbolError.missing(path: path, what: "the kernel's BTF (\(range.size) bytes at 0x\(String(range.start, radix: 16))) cannot be read: \(error)")
        }
        let owned = OwnedBytes(bytes)
        guard let table = BTFTable(section: owned.view, owner: owned) else {
            throw SymbolError.missing(path: path, what: "the bytes between __start_BTF and __stop_BTF are not BTF")
        }
        return table
    }

    /// A global variable of a kernel read from memory that its BTF does not describe (the
    /// kernel's BTF has VAR records for per-cpu variables only). A guess, for the scalars that
    /// are most of what one prints by name (`p jiffies`): a data symbol with at most a cache
    /// line (64 bytes: the padding of an aligned scalar) to the next symbol gets the unsigned
    /// integer type of the widest aligned size up to 8 bytes that fits. A larger one (a struct,
    /// an array) gets none: `variableNotFound`, and `p` says to cast it.
    func inferredVariable(_ sym: Symbol, isPerCPU: Bool, types: KernelTypes) throws -> GlobalVariable {
        guard sym.kind == .object, sym.size > 0, sym.size <= 64 else { throw SymbolError.variableNotFound(name: sym.name) }
        var width: UInt64 = 8
        while width > 1, width > sym.size || sym.address % width != 0 { width /= 2 }
        let name: String
        switch width {
        case 8: name = "unsigned long"
        case 4: name = "unsigned int"
        case 2: name = "unsigned short"
        default: name = "unsigned char"
        }
        let id = types.type(named: name, in: .base) ?? types.intern(.base(name: name, size: width, encoding: .unsigned))
        var guessed = GlobalVariable(name: sym.name, symbol: sym, type: id, isPerCPU: isPerCPU)
        guessed.typeIsGuessed = true
        return guessed
    }
}

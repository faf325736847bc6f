/// The few symbol addresses the kernel views need when the layout has no symbols (no vmlinux
/// and no usable BTF): from the kernel's own kallsyms table, which VMCOREINFO locates (6.0+),
/// decoded once by `KallsymsTable` and trusted only when it puts `_stext` where VMCOREINFO does.
extension KernelMemory {
    /// The kallsyms table VMCOREINFO names, checked against its SYMBOL(_stext).
    /// - Throws: `.missing` when VMCOREINFO lacks the table's symbols or `_stext`, or the table
    ///   disagrees with it; the read's `MemoryFault`.
    public func kallsymsFromVMCOREINFO() throws -> KallsymsTable {
        guard let location = KallsymsLocation(vmcoreinfo: space.vmcoreinfo) else {
            throw DumpError.missing(what: "the kallsyms symbols in VMCOREINFO")
        }
        guard let stext = space.vmcoreinfo?.symbol("_stext") else {
            throw DumpError.missing(what: "SYMBOL(_stext) in VMCOREINFO, to check kallsyms against")
        }
        let table = try KallsymsTable.decode(at: location, stext: stext) { address, count in
            try self.bytes(address, count: count)
        }
        guard table.address(of: "_stext") == stext else {
            throw DumpError.missing(what: "a kallsyms table that agrees with SYMBOL(_stext)")
        }
        return table
    }

    /// The address of the kernel variable `name`: from the layout, else from the kernel's kallsyms
    /// table (for the dumps opened without a vmlinux). Nil when neither knows.
    public func symbolAddressWithKallsyms(_ name: String) -> UInt64? {
        if let a = layout.symbolAddress(name) { return a }
        return (try? kallsymsFromVMCOREINFO())?.address(of: name)
    }
}

extension KernelAddressSpace {
    /// `KernelMemory.symbolAddressWithKallsyms(_:)` through this space.
    public func symbolAddressWithKallsyms(_ name: String) -> UInt64? {
        KernelMemory(space: self).symbolAddressWithKallsyms(name)
    }
}

import SymbolResolver

/// Source lines of kernel text addresses, for `sym`.
enum KernelSourceLines {
    /// File and line of link-time `linkAddress`, or nil when the vmlinux has no line info for it
    /// (no DWARF, as in a vmlinux stripped with --strip-debug: `sym` then shows the symbol alone,
    /// as crash does).
    static func line(in kernel: KernelImage, linkAddress: UInt64) -> (file: String, line: Int)? {
        guard let found = try? kernel.sourceLine(atLinkAddress: linkAddress) else { return nil }
        return (found.file, found.line)
    }
}

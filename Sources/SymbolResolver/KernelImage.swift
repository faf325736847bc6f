/// The vmlinux: ELF symbols, BTF and DWARF types, line info. (Filled in by the symbol work.)
public final class KernelImage {
    public let path: String
    public init(path: String) throws {
        self.path = path
    }
}

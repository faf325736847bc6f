#if canImport(Glibc)
import Glibc
#endif

/// Everything that can go wrong while reading a vmlinux, as a value whose `description` is the
/// one line the user sees (it names the file).
public enum SymbolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// open(2) or fstat(2) failed; `errno` is the C error number.
    case cannotOpen(path: String, errno: Int32)
    /// The path is a directory or another non-regular file.
    case notRegularFile(path: String)
    /// The file has no bytes.
    case emptyFile(path: String)
    /// The file is not ELF at all.
    case notELF(path: String)
    /// ELF, but not a kernel image: a core file, a shared object, another machine...
    case notVmlinux(path: String, reason: String)
    /// An ELF structure is damaged or runs past the end of the file.
    case malformed(path: String, what: String)
    /// The file has no .symtab (it was stripped); symbols must come from a debuginfo vmlinux.
    case noSymbolTable(path: String)
    /// The file has neither .BTF nor DWARF type information.
    case noDebugInfo(path: String)
    /// No type of that name (in BTF or DWARF).
    case typeNotFound(name: String)
    /// A member path component is not a member of the type.
    case memberNotFound(type: String, member: String)
    /// No global variable of that name with a type in the debuginfo.
    case variableNotFound(name: String)
    /// Something the file needs to answer a question is missing (a section, line info...).
    case missing(path: String, what: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, err):
            return "\(path): cannot open: \(String(cString: strerror(err)))"
        case let .notRegularFile(path):
            return "\(path): not a regular file"
        case let .emptyFile(path):
            return "\(path): empty file, not a vmlinux"
        case let .notELF(path):
            return "\(path): not an ELF file, not a vmlinux"
        case let .notVmlinux(path, reason):
            return "\(path): not a vmlinux: \(reason)"
        case let .malformed(path, what):
            return "\(path): damaged ELF file: \(what)"
        case let .noSymbolTable(path):
            return "\(path): no symbol table (stripped vmlinux): use the vmlinux with debuginfo"
        case let .noDebugInfo(path):
            return "\(path): no debuginfo (no .BTF and no DWARF): types are not available"
        case let .typeNotFound(name):
            return "type not found: \(name)"
        case let .memberNotFound(type, member):
            return "\(type) has no member \(member)"
        case let .variableNotFound(name):
            return "no debuginfo for variable: \(name)"
        case let .missing(path, what):
            return "\(path): \(what)"
        }
    }
}

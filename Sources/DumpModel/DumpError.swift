/// Everything that can go wrong while reading a dump, as a value that says what and where.
///
/// The dump comes from a crashed machine and is untrusted: every parser reports a problem
/// through one of these cases instead of trapping. `description` is the one line the user sees.
public enum DumpError: Error, Equatable, Sendable, CustomStringConvertible {
    /// open(2) failed; `errno` is the C error number (ENOENT, EACCES, ...).
    case cannotOpen(path: String, errno: Int32)
    /// read(2) failed on an open file (an I/O error, not the end of the file).
    case cannotRead(path: String, errno: Int32, offset: UInt64)
    /// Creating or writing an output file failed.
    case cannotWrite(path: String, errno: Int32)
    /// The path names a directory, not a file.
    case isDirectory(path: String)
    /// The file has no bytes at all.
    case emptyFile(path: String)
    /// No known dump signature at the start of the file.
    case unknownFormat(path: String, detail: String)
    /// A structure runs past the end of the file (or of the enclosing range).
    case truncated(path: String, what: String, offset: UInt64, length: UInt64, fileSize: UInt64)
    /// A header field holds a value that cannot be right.
    case badHeader(path: String, field: String, value: String, reason: String)
    /// The page is RAM the crashed machine had, but the dump tool left it out (dump level filtering).
    case excludedPage(paddr: UInt64)
    /// The physical address is not RAM that this dump describes.
    case notInDump(paddr: UInt64)
    /// A page's stored bytes do not decompress to one page.
    case corruptPage(path: String, pfn: UInt64, offset: UInt64, reason: String)
    /// The file uses a feature crashsh does not read (yet).
    case unsupported(path: String, what: String)
    /// One part of a makedumpfile --split dump, opened alone: it holds the pages of
    /// `startPFN ..< endPFN` only.
    case splitPart(path: String, startPFN: UInt64, endPFN: UInt64, maxMapnr: UInt64)
    /// A virtual address could not be translated; `level` names the page-table level that failed.
    case translationFailed(vaddr: UInt64, level: String, reason: String)
    /// Something needed from the dump (a note, a VMCOREINFO key) is missing.
    case missing(what: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, err):
            return "\(path): cannot open: \(DumpError.errnoText(err))"
        case let .cannotRead(path, err, offset):
            return "\(path): read error at offset \(hex(offset)): \(DumpError.errnoText(err))"
        case let .cannotWrite(path, err):
            return "\(path): cannot write: \(DumpError.errnoText(err))"
        case let .isDirectory(path):
            return "\(path): is a directory, not a dump file"
        case let .emptyFile(path):
            return "\(path): empty file"
        case let .unknownFormat(path, detail):
            return "\(path): not a kernel crash dump or vmlinux (\(detail))"
        case let .truncated(path, what, offset, length, size):
            return "\(path): truncated: \(what) at offset \(hex(offset)) needs \(length) bytes, file has \(size)"
        case let .badHeader(path, field, value, reason):
            return "\(path): bad header: \(field) = \(value): \(reason)"
        case let .excludedPage(paddr):
            return "physical address \(hex(paddr)): page excluded from the dump (filtered by dump level)"
        case let .notInDump(paddr):
            return "physical address \(hex(paddr)): not in the dump"
        case let .corruptPage(path, pfn, offset, reason):
            return "\(path): corrupt page \(hex(pfn)) (pfn) at file offset \(hex(offset)): \(reason)"
        case let .unsupported(path, what):
            return "\(path): unsupported: \(what)"
        case let .splitPart(path, start, end, maxMapnr):
            let which = start == 0 ? "part 1" : end >= maxMapnr ? "the last part" : "a middle part"
            return "\(path): \(which) of a split dump (makedumpfile --split; pfns \(hex(start))-\(hex(end &- 1)) of \(hex(maxMapnr))): give all parts"
        case let .translationFailed(vaddr, level, reason):
            return "virtual address \(hex(vaddr)): \(level): \(reason)"
        case let .missing(what):
            return "missing: \(what)"
        }
    }

    static func errnoText(_ err: Int32) -> String {
        switch err {
        case 2: return "no such file (ENOENT)"
        case 13: return "permission denied (EACCES)"
        case 21: return "is a directory (EISDIR)"
        case 40: return "too many symbolic links (ELOOP)"
        case 12: return "out of memory (ENOMEM)"
        case 17: return "file exists (EEXIST)"
        case 28: return "no space left on device (ENOSPC)"
        case 5: return "input/output error (EIO)"
        case 19: return "cannot be mapped (ENODEV)"
        default: return "error \(err)"
        }
    }
}

@inline(__always)
func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

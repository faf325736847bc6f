#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened read-only and mapped into memory. Nothing is read until it is touched, so a
/// 64 GiB dump opens in microseconds and costs only the pages a command looks at.
///
/// Immutable after `init`; the mapping lives as long as the object.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: UInt64
    private let base: UnsafeRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw DumpError.cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw DumpError.cannotOpen(path: path, errno: errno) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw DumpError.isDirectory(path: path) }
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw DumpError.unsupported(path: path, what: "not a regular file")
        }
        let length = UInt64(max(0, st.st_size))
        size = length
        if length == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, Int(length), PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw DumpError.cannotOpen(path: path, errno: errno)
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), Int(size)) }
    }

    /// The bytes `offset ..< offset+count`, or nil when they are not all in the file.
    @inline(__always)
    public func pointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer? {
        guard let base else { return count == 0 && offset == 0 ? UnsafeRawPointer(bitPattern: 1) : nil }
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else { return nil }
        return base + Int(offset)
    }

    /// Tells the kernel how the mapping will be read (for a sequential benchmark pass).
    public func adviseSequential() {
        if let base { madvise(UnsafeMutableRawPointer(mutating: base), Int(size), MADV_SEQUENTIAL) }
    }
}

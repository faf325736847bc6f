#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who a file on disk is: enough to tell that a file seen before has not changed since (an index
/// kept on disk for it is still good).
public struct FileIdentity: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var size: UInt64
    public var modifiedSeconds: Int64
    public var modifiedNanoseconds: Int64
}

/// A file opened read-only, read through a whole-file mapping when the address space has room
/// for one, else with pread(2). Nothing is read until it is touched, so a 64 GiB dump opens in
/// microseconds and costs only the pages a command looks at.
///
/// Under a limited address space (`ulimit -v`) mmap of a large dump fails with ENOMEM: then the
/// file is read with pread and `directPointer` answers nil, which every reader handles by copying
/// into its own buffer. A scan over the whole file (`streamingFetch`) always uses pread, so the
/// pages it passes over do not stay resident in this process.
///
/// Immutable after `init`; the descriptor and mapping live as long as the object.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: UInt64
    public let identity: FileIdentity
    private let fd: Int32
    private let base: UnsafeRawPointer?

    /// `mapping: false` reads with pread only (what happens anyway when the mapping fails).
    public init(path: String, mapping: Bool = true) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw DumpError.cannotOpen(path: path, errno: errno) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let err = errno
            close(fd)
            throw DumpError.cannotOpen(path: path, errno: err)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { close(fd); throw DumpError.isDirectory(path: path) }
        if (st.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw DumpError.unsupported(path: path, what: "not a regular file")
        }
        let length = UInt64(max(0, st.st_size))
        size = length
        self.fd = fd
        #if canImport(Glibc)
        identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: length,
                                modifiedSeconds: Int64(st.st_mtim.tv_sec), modifiedNanoseconds: Int64(st.st_mtim.tv_nsec))
        #else
        identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: length,
                                modifiedSeconds: Int64(st.st_mtimespec.tv_sec),
                                modifiedNanoseconds: Int64(st.st_mtimespec.tv_nsec))
        #endif
        guard mapping, length > 0, length <= UInt64(Int.max),
              let p = mmap(nil, Int(length), PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            base = nil
            return
        }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), Int(size)) }
        close(fd)
    }

    /// True when the file is read through a mapping (false: pread, e.g. under `ulimit -v`).
    public var isMapped: Bool { base != nil }

    /// The bytes `offset ..< offset+count` in the mapping, or nil when they are not all in the
    /// file or the file is not mapped.
    @inline(__always)
    public func pointer(at offset: UInt64, count: UInt64) -> UnsafeRawPointer? {
        guard let base else { return count == 0 && offset == 0 && size == 0 ? UnsafeRawPointer(bitPattern: 1) : nil }
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else { return nil }
        return base + Int(offset)
    }

    /// Tells the kernel how the file will be read (for a sequential benchmark pass).
    public func adviseSequential() {
        if let base { madvise(UnsafeMutableRawPointer(mutating: base), Int(size), MADV_SEQUENTIAL) }
        #if canImport(Glibc)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
    }

    /// Copies the bytes at `offset` into `buffer` with pread(2), whatever the mapping; throws
    /// `.truncated` when the file ends first.
    public func readWithoutMapping(from offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        guard buffer.count > 0, let dst = buffer.baseAddress else { return }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(buffer.count))
        guard !overflow, end <= size, end <= UInt64(Int64.max) else {
            throw truncated(what, at: offset, length: UInt64(buffer.count))
        }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, dst + done, buffer.count - done, off_t(offset + UInt64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw DumpError.cannotRead(path: path, errno: errno, offset: offset + UInt64(done))
            }
            if n == 0 { throw truncated(what, at: offset, length: UInt64(buffer.count)) }
            done += n
        }
    }
}

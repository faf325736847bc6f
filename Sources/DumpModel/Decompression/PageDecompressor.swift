import CDecompress
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How one page is stored in a kdump-compressed file.
public enum PageCompression: String, Sendable, CaseIterable {
    /// Stored as the page's bytes.
    case none
    case zlib
    case lzo
    case snappy
    case zstd
}

/// Decompresses stored pages into exactly one page, with the system libdeflate (zlib pages: it
/// inflates a whole buffer two to three times faster than zlib's streaming inflate, which is most
/// of opening a dump without a vmlinux), liblzo2, libsnappy and libzstd. Anything other than
/// exactly `dest.count` bytes of output is a failure: a dump page never legitimately decompresses
/// to a different size.
///
/// One decoder per open dump: it keeps the zstd decompression context and a libdeflate
/// decompressor, so reading a page allocates nothing. Not thread-safe for zstd (a dump is read
/// from one thread). zlib pages stay readable from several threads at once, as they were with
/// zlib's stateless `uncompress`: the kept libdeflate decompressor is taken under a try-lock, and
/// a reader that finds it busy uses one of its own for that page.
public final class PageDecompressor {
    /// liblzo2 must be initialised once per process before use; `static let` runs it exactly once,
    /// thread-safely, with no mutable global.
    private static let lzoReady: Bool = crashsh_lzo_init() == LZO_E_OK

    private var zstdContext: OpaquePointer?
    /// Made at init (nil when libdeflate cannot allocate one); used only while `deflateLock` is held.
    private let deflateContext: OpaquePointer?
    private let deflateLock: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        deflateContext = libdeflate_alloc_decompressor()
        deflateLock = .allocate(capacity: 1)
        pthread_mutex_init(deflateLock, nil)
    }

    deinit {
        if let zstdContext { ZSTD_freeDCtx(zstdContext) }
        if let deflateContext { libdeflate_free_decompressor(deflateContext) }
        pthread_mutex_destroy(deflateLock)
        deflateLock.deallocate()
    }

    /// Runs `body` with a libdeflate decompressor no other thread is using: the kept one when it
    /// is free, else a new one for this call (allocating one costs about a page's inflating).
    private func withDeflateContext(_ body: (OpaquePointer) -> String?) -> String? {
        if let kept = deflateContext, pthread_mutex_trylock(deflateLock) == 0 {
            defer { pthread_mutex_unlock(deflateLock) }
            return body(kept)
        }
        guard let own = libdeflate_alloc_decompressor() else { return "zlib: cannot create a decompressor" }
        defer { libdeflate_free_decompressor(own) }
        return body(own)
    }

    /// Decompresses `source` with `kind` into all of `dest`.
    /// Returns nil on success, else why the bytes are not a valid page (for `.corruptPage`).
    public func decompress(_ kind: PageCompression, source: UnsafeRawBufferPointer,
                           into dest: UnsafeMutableRawBufferPointer) -> String? {
        guard let dst = dest.baseAddress, dest.count > 0 else { return "empty destination" }
        guard let src = source.baseAddress, source.count > 0 else { return "no stored bytes" }
        let want = dest.count
        switch kind {
        case .none:
            guard source.count == want else { return "raw page of \(source.count) bytes, expected \(want)" }
            dst.copyMemory(from: src, byteCount: want)
            return nil

        case .zlib:
            return withDeflateContext { ctx in
                // A zlib stream (header, deflate data, Adler-32 checked), as makedumpfile's
                // compress2 writes it.
                var outLen = 0
                switch libdeflate_zlib_decompress(ctx, src, source.count, dst, want, &outLen) {
                case LIBDEFLATE_SUCCESS:
                    guard outLen == want else { return "zlib produced \(outLen) bytes, expected \(want)" }
                    return nil
                case LIBDEFLATE_INSUFFICIENT_SPACE:
                    return "zlib data longer than \(want) bytes"
                default:
                    return "zlib: invalid data"
                }
            }

        case .lzo:
            guard PageDecompressor.lzoReady else { return "liblzo2 failed to initialise" }
            var outLen = lzo_uint(want)
            let rc = lzo1x_decompress_safe(src.assumingMemoryBound(to: UInt8.self), lzo_uint(source.count),
                                           dst.assumingMemoryBound(to: UInt8.self), &outLen, nil)
            guard rc == LZO_E_OK else { return "lzo error \(rc)" }
            guard outLen == lzo_uint(want) else { return "lzo produced \(outLen) bytes, expected \(want)" }
            return nil

        case .snappy:
            let csrc = src.assumingMemoryBound(to: CChar.self)
            var declared = 0
            guard snappy_uncompressed_length(csrc, source.count, &declared) == SNAPPY_OK else {
                return "snappy: unreadable length"
            }
            guard declared == want else { return "snappy declares \(declared) bytes, expected \(want)" }
            var outLen = want
            guard snappy_uncompress(csrc, source.count, dst.assumingMemoryBound(to: CChar.self), &outLen)
                    == SNAPPY_OK else { return "snappy: invalid input" }
            guard outLen == want else { return "snappy produced \(outLen) bytes, expected \(want)" }
            return nil

        case .zstd:
            if zstdContext == nil { zstdContext = ZSTD_createDCtx() }
            guard let ctx = zstdContext else { return "zstd: cannot create a context" }
            let n = ZSTD_decompressDCtx(ctx, dst, want, src, source.count)
            if ZSTD_isError(n) != 0 {
                return "zstd: " + String(cString: ZSTD_getErrorName(n))
            }
            guard n == want else { return "zstd produced \(n) bytes, expected \(want)" }
            return nil
        }
    }
}

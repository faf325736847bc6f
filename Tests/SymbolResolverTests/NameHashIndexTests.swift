import Testing
@testable import SymbolResolver

/// The name index behind symbol and BTF lookups by name.
@Suite struct NameHashIndexTests {
    /// Builds an index over `names` and returns the entries that match `key`, in visit order.
    static func matches(_ names: [String], _ key: String) -> [Int] {
        let bytes = names.map { Array($0.utf8) }
        let index = bytes.withUnsafeBufferPointerArray { buffers in
            NameHashIndex(count: names.count) { buffers[$0] }
        }
        var found: [Int] = []
        key.withBytes { k in
            index.forEachMatch(k, equals: { i, k in bytes[i].elementsEqual(k) }) { found.append($0) }
        }
        return found
    }

    @Test func everyEntryOfANameInInsertionOrder() {
        let names = ["a", "b", "a", "c", "a", "bb", "b"]
        #expect(Self.matches(names, "a") == [0, 2, 4])
        #expect(Self.matches(names, "b") == [1, 6])
        #expect(Self.matches(names, "bb") == [5])
        #expect(Self.matches(names, "zz") == [])
        #expect(Self.matches([], "a") == [])
    }

    /// A crafted vmlinux can repeat one name a million times; chaining equal names keeps the
    /// build linear (with one probe sequence per copy it took minutes).
    @Test func aNameRepeatedManyTimesIsOneChain() {
        var names = [String](repeating: "same_name", count: 300_000)
        names.append("other")
        let found = Self.matches(names, "same_name")
        #expect(found.count == 300_000)
        #expect(found.first == 0 && found.last == 299_999)
        #expect(Self.matches(names, "other") == [300_000])
    }
}

private extension Array where Element == [UInt8] {
    /// Calls `body` with a raw buffer for each element, valid for the duration of the call.
    func withUnsafeBufferPointerArray<R>(_ body: ([UnsafeRawBufferPointer]) -> R) -> R {
        var pointers: [UnsafeMutableRawBufferPointer] = []
        defer { for p in pointers { p.deallocate() } }
        for bytes in self {
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(1, bytes.count), alignment: 1)
            p.copyBytes(from: bytes)
            pointers.append(UnsafeMutableRawBufferPointer(rebasing: p[0..<bytes.count]))
        }
        return body(pointers.map { UnsafeRawBufferPointer($0) })
    }
}

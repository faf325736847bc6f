import Testing
@testable import DumpModel

/// The page cache of PhysicalMemory: bounded, least recently used out first, and a failed read
/// takes no slot and evicts nothing.
@Suite struct PhysicalMemoryTests {
    /// pfn 1, 2, 16 present (stamped), pfn 3-4 excluded (a tail), pfn 5 not in the dump.
    static func dump() throws -> ElfCoreFile {
        let pages = TestWriter.stampedPage(pfn: 1) + TestWriter.stampedPage(pfn: 2)
        let bytes = TestWriter.elfCore(notes: [], loads: [
            .init(paddr: 0x1000, data: pages, memsz: 0x4000),
            .init(paddr: 0x10000, data: TestWriter.stampedPage(pfn: 16), memsz: 0x1000),
        ])
        return try ElfCoreFile(reader: ByteBuffer(bytes, name: "cache.elf"))
    }

    static func firstBytes(_ memory: PhysicalMemory, _ pfn: UInt64) throws -> [UInt8] {
        try memory.bytes(physical: pfn << 12, count: 64)
    }

    @Test func leastRecentlyUsedPageIsEvicted() throws {
        let d = try Self.dump()
        let memory = PhysicalMemory(dump: d, cachePages: 2)
        #expect(memory.capacity == 2 && memory.cachedPageCount == 0)
        #expect(try Self.firstBytes(memory, 1) == Array(TestWriter.stampedPage(pfn: 1)[0..<64]))
        #expect(try Self.firstBytes(memory, 2) == Array(TestWriter.stampedPage(pfn: 2)[0..<64]))
        #expect(memory.cachedPageCount == 2 && memory.misses == 2 && memory.hits == 0)
        _ = try Self.firstBytes(memory, 1)                 // 1 is now the most recently used
        #expect(memory.hits == 1)
        #expect(try Self.firstBytes(memory, 16) == Array(TestWriter.stampedPage(pfn: 16)[0..<64]))
        #expect(memory.cachedPageCount == 2)
        #expect(memory.isCached(pfn: 1) && memory.isCached(pfn: 16) && !memory.isCached(pfn: 2))
        // Round and round: the bytes stay right and the cache stays at two pages.
        for round in 0..<20 {
            for pfn: UInt64 in [2, 16, 1] {
                #expect(try Self.firstBytes(memory, pfn) == Array(TestWriter.stampedPage(pfn: pfn)[0..<64]), "round \(round)")
                #expect(memory.cachedPageCount <= 2)
            }
        }
        // A read across two pages goes through both.
        let across = try memory.bytes(physical: 0x1ff8, count: 16)
        #expect(across == Array(TestWriter.stampedPage(pfn: 1)[4088..<4096]) + Array(TestWriter.stampedPage(pfn: 2)[0..<8]))
    }

    @Test func failedReadsTakeNoSlotAndEvictNothing() throws {
        let d = try Self.dump()
        let memory = PhysicalMemory(dump: d, cachePages: 2)
        _ = try Self.firstBytes(memory, 1)
        _ = try Self.firstBytes(memory, 2)
        for _ in 0..<50 {
            #expect(throws: DumpError.excludedPage(paddr: 0x3000)) { try Self.firstBytes(memory, 3) }
            #expect(throws: DumpError.notInDump(paddr: 0x5000)) { try Self.firstBytes(memory, 5) }
        }
        #expect(memory.cachedPageCount == 2)
        #expect(memory.isCached(pfn: 1) && memory.isCached(pfn: 2))
        let misses = memory.misses
        #expect(try Self.firstBytes(memory, 2) == Array(TestWriter.stampedPage(pfn: 2)[0..<64]))
        #expect(try Self.firstBytes(memory, 1) == Array(TestWriter.stampedPage(pfn: 1)[0..<64]))
        #expect(memory.misses == misses)                     // both still hits

        // A cache not yet full: failures do not use up its free slots either.
        let fresh = PhysicalMemory(dump: d, cachePages: 3)
        for _ in 0..<10 { #expect(throws: DumpError.self) { try Self.firstBytes(fresh, 4) } }
        #expect(fresh.cachedPageCount == 0)
        for pfn: UInt64 in [1, 2, 16] { _ = try Self.firstBytes(fresh, pfn) }
        #expect(fresh.cachedPageCount == 3)
        #expect(fresh.isCached(pfn: 1) && fresh.isCached(pfn: 2) && fresh.isCached(pfn: 16))
    }
}

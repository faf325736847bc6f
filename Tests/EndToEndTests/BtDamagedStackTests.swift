import Commands
import DumpModel
import Foundation
import Testing

/// A fixture dump with some page frames damaged: reported as excluded (as makedumpfile's
/// filtering leaves them out), or read with their bytes from an offset on zeroed (a corrupt stack).
final class DamagedDump: DumpFile {
    let base: any DumpFile
    let excluded: Set<UInt64>
    /// Page frame -> offset from which its bytes read as zero.
    let zeroedFrom: [UInt64: Int]

    init(_ base: any DumpFile, excluded: Set<UInt64>, zeroedFrom: [UInt64: Int]) {
        self.base = base
        self.excluded = excluded
        self.zeroedFrom = zeroedFrom
    }

    var path: String { base.path }
    var format: DumpFormat { base.format }
    var pageSize: Int { base.pageSize }
    var vmcoreinfo: VMCoreInfo? { base.vmcoreinfo }
    var notes: [DumpNote] { base.notes }
    var prstatus: [PRStatus] { base.prstatus }
    var headerPhysBase: UInt64? { base.headerPhysBase }
    var qemuCPUStates: [QEMUCPUState] { base.qemuCPUStates }
    func summary() -> DumpSummary { base.summary() }
    func presentPages() -> AnySequence<UInt64> { AnySequence(base.presentPages().lazy.filter { !self.excluded.contains($0) }) }
    func pageState(pfn: UInt64) -> PageState { excluded.contains(pfn) ? .excluded : base.pageState(pfn: pfn) }
    func readPage(pfn: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        if excluded.contains(pfn) { throw DumpError.excludedPage(paddr: pfn &* UInt64(pageSize)) }
        try base.readPage(pfn: pfn, into: buffer)
        if let from = zeroedFrom[pfn], from < buffer.count {
            for i in from..<buffer.count { buffer[i] = 0 }
        }
    }
}

/// A stack that cannot be read in the middle of `foreach bt` or `bt -a` ends that task's trace
/// with one clear line; every other task still prints as it does on the intact dump.
@Suite(.enabled(if: Harness.fixturesAvailable), .serialized)
struct BtDamagedStackTests {
    static func slots(_ session: Session, pid: Int) throws -> [UInt64] {
        session.jsonOutput = true
        defer { session.jsonOutput = false }
        let r = try Harness.jsonObject(session, "bt \(pid)")
        return (r["frames"] as? [[String: Any]] ?? []).compactMap { ($0["slot"] as? String).flatMap { UInt64($0.dropFirst(2), radix: 16) } }
    }

    @Test func aDamagedStackEndsOneTraceAndTheOthersPrint() throws {
        let intact = try TypeCommandTests.session("dump.kdump")
        let space = try intact.addressSpace()
        // sh (110): the page of its switch frame is excluded. sleep (114): its stack reads as zero
        // from hrtimer_nanosleep's return address on, so the walk stops after three frames.
        let sh = try Self.slots(intact, pid: 110)
        let sleep = try Self.slots(intact, pid: 114)
        #expect(sh.count == 7 && sleep.count == 8)
        guard sh.count == 7, sleep.count == 8 else { return }
        let shPage = try space.translate(sh[0]) >> 12
        let zeroAt = try space.translate(sleep[3])
        let dump = DamagedDump(try DumpOpener.open(path: Harness.fixture("dump.kdump")), excluded: [shPage],
                               zeroedFrom: [zeroAt >> 12: Int(zeroAt & 0xfff)])
        let damaged = try Session(dump: dump, vmlinuxPath: Harness.fixture(Harness.vmlinuxName))

        let before = BtTests.blocks(try BtTests.output(intact, "foreach bt"))
        let after = BtTests.blocks(try BtTests.output(damaged, "foreach bt"))
        #expect(before.count == after.count && before.count > 40)
        var same = 0
        for (b, a) in zip(before, after) {
            if b.contains("PID: 110 ") {
                let lines = a.split(separator: "\n")
                #expect(lines.count == 2)
                #expect(lines.last?.hasPrefix("bt: stack unreadable: ") == true)
                #expect(lines.last?.contains("excluded") == true, "\(a)")
            } else if b.contains("PID: 114 ") {
                #expect(BtTests.functions(a) == Array(BtTests.functions(b).prefix(3)), "\(a)")
                let last = a.split(separator: "\n").last ?? ""
                #expect(last == "bt: return address 0x0 at 0x\(String(sleep[3], radix: 16)) is not a kernel address: the stack is corrupt")
                #expect(a.split(separator: "\n").filter { $0.hasPrefix("bt: ") }.count == 1)
            } else {
                #expect(a == b)
                if a == b { same += 1 }
            }
        }
        #expect(same == before.count - 2)
        // bt -a is not touched; bt with both damaged tasks and an intact one prints all three.
        let all = try BtTests.output(damaged, "bt -a")
        #expect(all == (try BtTests.output(intact, "bt -a")))
        let three = BtTests.blocks(try BtTests.output(damaged, "bt 110 114 112"))
        let alone = BtTests.blocks(try BtTests.output(intact, "bt 112"))
        #expect(three.count == 3 && three.last == alone.first)
    }
}

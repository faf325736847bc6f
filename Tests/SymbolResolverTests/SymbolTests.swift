import Foundation
import Testing
import TestSupport
@testable import SymbolResolver

@Suite(.enabled(if: Fixture.setAvailable, Comment(rawValue: SharedFixtures.setMissing))) struct SymbolTests {
    /// Every symbol nm lists, with nm's address and type letter, and nothing nm does not list.
    @Test func symbolsMatchNm() throws {
        let nm = try Fixture.run("nm", [Fixture.vmlinux!])
        #expect(nm.status == 0)
        var expected = Set<String>()
        for line in nm.stdout.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 3, f[1] != "U", f[1] != "w" else { continue }
            expected.insert(line.lowercased() == line ? String(line) : String(line))
        }
        try withKernel { k in
            let table = try k.symbols()
            var got = Set<String>()
            for s in table.allSymbolsByAddress() {
                let hex = String(s.address, radix: 16)
                got.insert(String(repeating: "0", count: 16 - hex.count) + hex + " \(s.typeLetter) \(s.elfName)")
            }
            #expect(got.count > 100_000)
            let missing = expected.subtracting(got), extra = got.subtracting(expected)
            #expect(missing.isEmpty, "missing: \(missing.sorted().prefix(5))")
            #expect(extra.isEmpty, "extra: \(extra.sorted().prefix(5))")
        }
    }

    /// crash's cut of clone names: the first of .isra., .part., .llvm. (in that order) that occurs.
    @Test func cloneNamesCutLikeCrash() {
        let cases = [("free_ext_idx.isra.0", "free_ext_idx"), ("nmi_handle.part.0.cold", "nmi_handle"),
                     ("acpi_ns_check_sorted_list.part.0.isra.0", "acpi_ns_check_sorted_list.part.0"),
                     ("f.constprop.0", "f.constprop.0"), ("set_pages_state.cold", "set_pages_state.cold"),
                     ("g.llvm.123456", "g"), ("h.constprop.0.isra.0", "h.constprop.0"), ("schedule", "schedule"),
                     (".isra.", ""), ("a.part", "a.part"), ("", "")]
        for (elf, shown) in cases { #expect(crashDisplayName(elf) == shown, "\(elf)") }
    }

    /// The KASLR slide of dump.kdump from crash's own output, to compare run-time addresses.
    static func slide(_ table: SymbolTable) throws -> UInt64 {
        let line = try Fixture.ref("sym_linux_banner.txt")
        let runtime = UInt64(line.prefix(16), radix: 16)!
        return runtime &- table.symbol(named: "linux_banner")!.address
    }

    @Test func symScheduleMatchesCrash() throws {
        try withKernel { k in
            let table = try k.symbols()
            let slid = table.relocated(by: try SymbolTests.slide(table))
            let sym = try #require(slid.symbol(named: "schedule"))
            let line = try #require(try k.sourceLine(atLinkAddress: sym.address - slid.slide))
            #expect("\(sym) \(line)\n" == (try Fixture.ref("sym_schedule.txt")))
            #expect("\(try #require(slid.symbol(named: "linux_banner")))\n" == (try Fixture.ref("sym_linux_banner.txt")))
            // By run-time address: the start and the inside of the function.
            let at = try #require(slid.symbol(at: sym.address + 0x10))
            #expect(at.symbol.name == "schedule" && at.offset == 0x10 && at.isInside)
            #expect(slid.symbol(at: sym.address - slid.slide) == nil || slid.slide == 0)
        }
    }

    @Test func symQueryMatchesCrash() throws {
        try withKernel { k in
            let table = try k.symbols()
            let slid = table.relocated(by: try SymbolTests.slide(table))
            let text = slid.symbols(containing: "sysrq_handle").map { "\($0)\n" }.joined()
            #expect(text == (try Fixture.ref("sym_-q_sysrq_handle.txt")))
            #expect(slid.names(withPrefix: "sysrq_handle_c") == ["sysrq_handle_crash"])
        }
    }

    /// Aliases resolve to the sized object; the sorted index agrees with the linear scan the
    /// first lookups use.
    @Test func addressLookups() throws {
        try withKernel { k in
            let table = try k.symbols()
            let jiffies = try #require(table.symbol(named: "jiffies"))
            #expect(table.symbol(at: jiffies.address)?.symbol.name == "jiffies_64")
            let store = table.store
            let text = try #require(k.image?.section(named: ".text"))
            var rng = SystemRandomNumberGenerator()
            for _ in 0..<300 {
                let a = text.address + UInt64.random(in: 0..<text.size, using: &rng)
                let linear = try #require(store.scanAddress(a))
                let indexed = try #require(table.symbol(at: a))
                #expect(store.name(linear) == indexed.symbol.elfName, "at \(String(a, radix: 16))")
            }
            #expect(store.hasAddressIndex)
            // Per-cpu offsets and addresses outside the image have no symbol.
            #expect(table.symbol(at: 0x1000) == nil)
            #expect(table.symbol(at: 0xffff_8880_0000_0000) == nil)
        }
    }

    @Test func buildIDAndBanner() throws {
        let notes = try Fixture.run("eu-readelf", ["-n", Fixture.vmlinux!])
        let id = notes.stdout.split(separator: "\n").first { $0.contains("Build ID:") }?
            .split(separator: " ").last.map(String.init)
        try withKernel { k in
            #expect(k.buildID != nil && k.buildID == id)
            // rd -64 linux_banner 8 shows the banner's first 64 bytes in its ASCII column.
            let rd = try Fixture.ref("rd_-64_linux_banner_8.txt")
            let ascii = rd.split(separator: "\n").map { String($0.suffix(16)) }.joined()
            let banner = try #require(k.linuxBanner)
            #expect(banner.hasPrefix(ascii))
            #expect(k.osRelease == "6.1.0-56-cloud-amd64" && banner.hasPrefix("Linux version \(k.osRelease!) "))
        }
    }
}

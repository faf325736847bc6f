import Foundation
import Testing
@testable import SymbolResolver

@Suite(.enabled(if: Fixture.available)) struct DwarfTests {
    /// File and line agree with crash 8.0.6's `sym` (gdb's choice among the line table's rows)
    /// on the addresses of Expected/sym-lines: mostly addresses that carry several rows (inlined
    /// code starting where its caller's line does, file switches), where the choice matters.
    /// eu-addr2line is no reference here: it reports the last row at an address, so for
    /// schedule+5 it says core.c:6654 (a non-statement row after the switch back to core.c),
    /// where gdb and crash say current.h:15.
    @Test func sourceLinesMatchCrash() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Expected/sym-lines")
        let addresses = try String(contentsOf: dir.appendingPathComponent("addresses.txt"), encoding: .utf8)
            .split(separator: "\n").compactMap { UInt64($0, radix: 16) }
        let crash = try String(contentsOf: dir.appendingPathComponent("crash-sym.txt"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(addresses.count == crash.count && addresses.count > 400)
        try withKernel { k in
            var withLine = 0
            for (address, line) in zip(addresses, crash) {
                // "ffffffffb10114f5 (T) schedule+5 FILE: LINE", or nothing after the name (and one
                // space) when gdb has no line there.
                let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                let expected = words.count == 4 && !words[3].isEmpty ? String(words[3]) : nil
                let got = try k.sourceLine(atLinkAddress: address)
                #expect(got?.description == expected, "\(String(address, radix: 16))")
                if expected != nil { withLine += 1 }
            }
            #expect(withLine > 400)
            let table = try k.symbols()
            let schedule = try #require(try k.sourceLine(atLinkAddress: table.symbol(named: "schedule")!.address))
            #expect(schedule.file.hasSuffix("kernel/sched/core.c") && schedule.line == 6654)
            let inlined = try #require(try k.sourceLine(atLinkAddress: table.symbol(named: "schedule")!.address + 5))
            #expect(inlined.file.hasSuffix("arch/x86/include/asm/current.h") && inlined.line == 15)
        }
    }

    @Test func globalVariableTypes() throws {
        try withKernel { k in
            let t = try k.types()
            func decl(_ name: String) throws -> String {
                let v = try k.variable(named: name)
                return t.declaration(of: v.type, name: name)
            }
            #expect(try decl("jiffies") == "volatile unsigned long jiffies")
            #expect(try decl("jiffies_64") == "u64 jiffies_64")
            #expect(try decl("init_task") == "struct task_struct init_task")
            #expect(try decl("linux_banner") == "const char linux_banner[]")
            #expect(try decl("nr_cpu_ids") == "unsigned int nr_cpu_ids")
            let rq = try k.variable(named: "runqueues")
            #expect(rq.isPerCPU && t.declaration(of: rq.type, name: "runqueues") == "struct rq runqueues")
            let jiffies = try k.variable(named: "jiffies")
            #expect(t.size(of: jiffies.type) == 8)
            #expect(throws: SymbolError.variableNotFound(name: "no_such_variable_xyz")) { try k.variable(named: "no_such_variable_xyz") }
        }
    }

    /// The BTF layout of a few structs agrees with DWARF, translated without BTF.
    @Test func btfAgreesWithDwarf() throws {
        try withKernel { k in
            let btfTypes = try k.types()
            let dwarfTypes = KernelTypes(btf: nil)
            let d = try #require(k.dwarfIndex())
            // init_task's DIE leads to the DWARF struct task_struct.
            let sym = try #require(try k.symbols().symbol(named: "init_task"))
            let table = try k.symbols()
            let index = try #require(table.index(named: "init_task"))
            let (first, last) = try #require(k.candidateUnits(forSymbol: index, table: table, dwarf: d))
            var die = try #require(d.findVariable(named: "init_task", address: sym.address, units: first, through: last,
                                                  stopAtDeclaration: false))
            let dwarfTask = d.typeOf(&die, into: dwarfTypes)
            let btfTask = try btfTypes.type(named: "struct task_struct")
            #expect(dwarfTypes.size(of: dwarfTask) == btfTypes.size(of: btfTask))
            #expect(dwarfTypes.size(of: dwarfTask) == 9728)
            for path in ["pid", "comm", "tgid", "se.vruntime", "thread.sp", "mm", "tasks.next", "rcu_users", "stack_canary"] {
                let a = try dwarfTypes.member(path, in: dwarfTask), b = try btfTypes.member(path, in: btfTask)
                #expect(a.bitOffset == b.bitOffset && a.bitSize == b.bitSize, "\(path)")
                #expect(dwarfTypes.typeName(of: a.type) == btfTypes.typeName(of: b.type), "\(path)")
            }
            #expect(try btfTypes.member("pid", in: btfTask).byteOffset == 2416)
            #expect(try btfTypes.member("comm", in: btfTask).byteOffset == 2976)
            // Every member of task_struct, recursively one level: same offsets and spellings.
            let dm = try #require(dwarfTypes.composite(dwarfTask)).members
            let bm = try #require(btfTypes.composite(btfTask)).members
            #expect(dm.count == bm.count)
            for (x, y) in zip(dm, bm) {
                #expect(x.name == y.name && x.bitOffset == y.bitOffset && x.bitSize == y.bitSize)
                #expect(dwarfTypes.declaration(of: x.type, name: x.name ?? "") == btfTypes.declaration(of: y.type, name: y.name ?? ""))
                #expect(dwarfTypes.size(of: x.type) == btfTypes.size(of: y.type), "\(x.name ?? "anon")")
            }
        }
    }
}

import Foundation
import Testing
import TestSupport
@testable import SymbolResolver

@Suite(.enabled(if: Fixture.available, Comment(rawValue: SharedFixtures.sampleMissing))) struct DwarfTests {
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
            let table = try k.symbols()
            for (address, line) in zip(addresses, crash) {
                // "ffffffffb10114f5 (T) schedule+5 FILE: LINE", or nothing after the name (and one
                // space) when gdb has no line there.
                let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                // The symbol and offset as crash names them (clone suffixes cut off).
                let loc = table.symbol(at: address)
                let shown = loc.map { $0.offset == 0 ? $0.symbol.name : "\($0.symbol.name)+\($0.offset)" }
                #expect(words.count >= 3 && shown == String(words[2]), "\(String(address, radix: 16)): \(shown ?? "nil")")
                let expected = words.count == 4 && !words[3].isEmpty ? String(words[3]) : nil
                let got = try k.sourceLine(atLinkAddress: address)
                #expect(got?.description == expected, "\(String(address, radix: 16))")
                if expected != nil { withLine += 1 }
            }
            #expect(withLine > 400)
            let schedule = try #require(try k.sourceLine(atLinkAddress: table.symbol(named: "schedule")!.address))
            #expect(schedule.file.hasSuffix("kernel/sched/core.c") && schedule.line == 6654)
            let inlined = try #require(try k.sourceLine(atLinkAddress: table.symbol(named: "schedule")!.address + 5))
            #expect(inlined.file.hasSuffix("arch/x86/include/asm/current.h") && inlined.line == 15)
        }
    }

    /// BTF gives `u8 extended_state_area[0]` and `const char iname[]` both 0 elements; DWARF
    /// tells them apart, as crash 8.0.6 (gdb) prints them. `composite` keeps BTF's answer.
    @Test func zeroLengthArraysAsDeclared() throws {
        try withKernel { k in
            let t = try k.types()
            func lastMember(_ spelled: String, declared: Bool) throws -> KType {
                let id = try t.type(named: spelled)
                let c = try #require(declared ? t.compositeAsDeclared(id) : t.composite(id))
                return t.type(t.resolved(try #require(c.members.last).type))
            }
            let u8 = try t.type(named: "u8")
            #expect(try lastMember("struct xregs_state", declared: true) == .array(of: u8, count: 0))
            #expect(try lastMember("struct xregs_state", declared: false) == .array(of: u8, count: nil))
            // gcc writes `const char iname[]` as a const array, and so does BTF.
            let iname = try #require(t.compositeAsDeclared(try t.type(named: "struct filename"))?.members.last)
            guard case let .qualified(.const, array) = t.type(iname.type), case .array(_, nil) = t.type(array) else {
                Issue.record("filename.iname is \(t.type(iname.type))")
                return
            }
            #expect(try lastMember("struct mm_struct", declared: true) == lastMember("struct mm_struct", declared: false))
            // Structs without such a member come back unchanged.
            let task = try t.type(named: "struct task_struct")
            #expect(t.compositeAsDeclared(task) == t.composite(task))
        }
    }

    @Test func globalVariableTypes() throws {
        try withKernel { k in
            let t = try k.types()
            func type(_ name: String) throws -> String {
                shape(try k.variable(named: name).type, in: t)
            }
            #expect(try type("jiffies") == "volatile unsigned long")
            #expect(try type("jiffies_64") == "u64")
            #expect(try type("init_task") == "struct task_struct")
            let banner = try type("linux_banner")
            #expect(banner == "const [] const char", "\(banner)")
            #expect(try type("nr_cpu_ids") == "unsigned int")
            let rq = try k.variable(named: "runqueues")
            #expect(rq.isPerCPU && shape(rq.type, in: t) == "struct rq")
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
                #expect(shape(a.type, in: dwarfTypes) == shape(b.type, in: btfTypes), "\(path)")
            }
            #expect(try btfTypes.member("pid", in: btfTask).byteOffset == 2416)
            #expect(try btfTypes.member("comm", in: btfTask).byteOffset == 2976)
            // Every member of task_struct: same names, offsets, bit sizes, types and sizes.
            // Anonymous struct and union members are compared member by member too.
            var compared = 0
            func compare(_ dwarfID: TypeID, _ btfID: TypeID, depth: Int) throws {
                let dm = try #require(dwarfTypes.composite(dwarfID)).members
                let bm = try #require(btfTypes.composite(btfID)).members
                #expect(dm.count == bm.count)
                for (x, y) in zip(dm, bm) {
                    compared += 1
                    #expect(x.name == y.name && x.bitOffset == y.bitOffset && x.bitSize == y.bitSize)
                    #expect(shape(x.type, in: dwarfTypes) == shape(y.type, in: btfTypes), "\(x.name ?? "anon")")
                    #expect(dwarfTypes.size(of: x.type) == btfTypes.size(of: y.type), "\(x.name ?? "anon")")
                    if x.name == nil, depth < 8 { try compare(x.type, y.type, depth: depth + 1) }
                }
            }
            try compare(dwarfTask, btfTask, depth: 0)
            #expect(compared > 200)
        }
    }
}

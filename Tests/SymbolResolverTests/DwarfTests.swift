import Foundation
import Testing
@testable import SymbolResolver

@Suite(.enabled(if: Fixture.available)) struct DwarfTests {
    /// File and line of function entries agree with eu-addr2line.
    @Test func linesMatchAddr2line() throws {
        try withKernel { k in
            let table = try k.symbols()
            var picks = ["schedule", "do_exit", "panic", "sysrq_handle_crash", "vfs_read", "start_kernel"]
                .compactMap { table.symbol(named: $0) }
            let functions = table.allSymbolsByAddress().filter { $0.kind == .function && $0.isRelocatable }
            for i in stride(from: 0, to: functions.count, by: max(1, functions.count / 40)) { picks.append(functions[i]) }
            let out = try Fixture.run("eu-addr2line", ["-e", Fixture.vmlinux!] + picks.map { "0x" + String($0.address, radix: 16) })
            let lines = out.stdout.split(separator: "\n")
            #expect(lines.count == picks.count)
            for (sym, want) in zip(picks, lines) {
                let got = try k.sourceLine(atLinkAddress: sym.address)
                if want.hasPrefix("??") {
                    #expect(got == nil, "\(sym.name)")
                    continue
                }
                // eu-addr2line prints FILE:LINE:COLUMN (column only when known).
                let parts = want.split(separator: ":")
                let expected = got.map { "\($0.file):\($0.line)" }
                #expect(expected == parts.prefix(2).joined(separator: ":"), "\(sym.name)")
            }
            let schedule = try #require(try k.sourceLine(atLinkAddress: table.symbol(named: "schedule")!.address))
            #expect(schedule.file.hasSuffix("kernel/sched/core.c") && schedule.line == 6654)
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

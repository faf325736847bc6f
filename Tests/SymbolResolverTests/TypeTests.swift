import Foundation
import Testing
import TestSupport
@testable import SymbolResolver

// The C text of types (crash's `whatis task_struct`, `struct -o list_head`) is the Commands
// layer's: TypeCommandTests compares it with crash on every fixture. Here: the type model.
@Suite(.enabled(if: Fixture.available, Comment(rawValue: SharedFixtures.sampleMissing))) struct TypeTests {
    /// Prototypes from BTF's FUNC records, as crash's `whatis` shows them
    /// (Expected/typecmds: "void sysrq_handle_crash(int);", "int _printk(const char *, ...);").
    @Test func functionPrototypesFromBTF() throws {
        try withKernel { k in
            let t = try k.types()
            func proto(_ name: String) throws -> String? {
                try k.functionType(named: name).map { shape($0, in: t) }
            }
            #expect(try proto("schedule") == "fn() -> void")
            #expect(try proto("sysrq_handle_crash") == "fn(int) -> void")
            #expect(try proto("_printk") == "fn(* const char, ...) -> int")
            #expect(try proto("do_exit") == "fn(long) -> void")
            #expect(try proto("vfs_read") == "fn(* struct file, * char, size_t, * loff_t) -> ssize_t")
            // Parameter names come along.
            guard case let .function(_, params, _)? = try k.functionType(named: "vfs_read").map({ t.type($0) }) else {
                Issue.record("vfs_read is not a function type"); return
            }
            #expect(params.map(\.name) == ["file", "buf", "count", "pos"])
            // Not functions, or unknown.
            #expect(try k.functionType(named: "jiffies") == nil)
            #expect(try k.functionType(named: "no_such_function_xyz") == nil)
            #expect(t.function(named: "task_struct") == nil)
        }
    }

    /// The DWARF subprogram gives the same prototype as BTF (what a vmlinux without .BTF uses),
    /// for named functions and a spread of the symbol table's functions.
    @Test func functionPrototypesFromDWARFAgreeWithBTF() throws {
        try withKernel { k in
            let btfTypes = try k.types()
            let dwarfTypes = KernelTypes(btf: nil)
            let table = try k.symbols()
            var names = ["schedule", "sysrq_handle_crash", "_printk", "do_exit", "vfs_read", "panic", "start_kernel"]
            let functions = table.allSymbolsByAddress().filter { $0.kind == .function && $0.isRelocatable && !$0.elfName.contains(".") }
            for i in stride(from: 0, to: functions.count, by: max(1, functions.count / 60)) { names.append(functions[i].name) }
            var compared = 0
            for name in names {
                guard let b = btfTypes.function(named: name) else { continue }
                let d = try #require(k.dwarfFunctionType(named: name, into: dwarfTypes), "\(name)")
                #expect(shape(d, in: dwarfTypes) == shape(b, in: btfTypes), "\(name)")
                compared += 1
            }
            #expect(compared > 40)
        }
    }
}

import DumpModel
import SymbolResolver

/// What `p`, `struct`, `union` and `whatis` work with: the vmlinux's types and symbols as a
/// `TypeSource`, and kernel memory. Memory is opened only when a command reads it, so `whatis`
/// and `struct NAME` work even where the address space cannot be built.
struct ExpressionContext {
    let source: KernelTypeSource
    let session: Session

    init(session: Session) throws {
        self.session = session
        let kernel = try session.kernel()
        let types = try kernel.types()
        let symbols = try session.kernelSymbols()
        source = KernelTypeSource(types: types, symbols: symbols, variableType: { name in
            guard let v = try? kernel.variable(named: name), !v.typeIsGuessed else { return nil }
            return v.type
        }, functionType: { name in
            (try? kernel.functionType(named: name)) ?? nil
        })
        // Without a vmlinux a small global is read as an integer of its size, and the user told once.
        source.guessedVariableType = { [session] name in
            guard let v = try? kernel.variable(named: name), v.typeIsGuessed else { return nil }
            session.noteGuessedType(of: name, as: types.name(of: v.type))
            return v.type
        }
        source.moduleSymbol = { [session] address in SymbolLookup.moduleLabel(session: session, address: address) }
        // Only modules whose debuginfo `mod -s`/`-S` loaded can answer, so the list is not read for this.
        session.useModuleBTF(in: types)
        source.moduleType = { [session] name in
            if session.hasReadModules, let t = session.moduleSymbols().type(named: name, into: types) { return t }
            return types.moduleType(named: name)
        }
        source.moduleGlobal = { [session] name in
            session.hasReadModules ? session.moduleSymbols().global(named: name, into: types) : nil
        }
    }


    /// Kernel virtual memory; throws why it cannot be read at all (no page tables found...).
    func memory() throws -> KernelMemoryReader {
        KernelMemoryReader(memory: try session.crashedKernel().memory)
    }

    var formatter: DeclarationFormatter { DeclarationFormatter(source: source) }

    /// An evaluator whose memory is opened on the first read.
    func evaluator() -> ExpressionEvaluator {
        ExpressionEvaluator(source: source, memory: LazyMemory(context: self), history: session.valueHistory)
    }

    /// A struct/union type for `struct`/`union`/`whatis` arguments: "task_struct", a typedef
    /// of a struct ("atomic_t"), or with the keyword given ("struct list_head").
    func recordType(_ name: String, kind: CRecord.Kind?) -> CType? {
        if name.hasPrefix("struct ") || name.hasPrefix("union ") { return source.type(named: name) }
        if let kind, let t = source.type(named: "\(kind.rawValue) \(name)") { return t }
        if let t = source.type(named: name), t.record != nil { return t }
        if kind == nil { return source.type(named: "union \(name)") }
        return nil
    }
}

/// Opens the address space on first read, so type-only commands never build it.
final class LazyMemory: MemoryReader {
    let context: ExpressionContext
    private var reader: KernelMemoryReader?
    init(context: ExpressionContext) { self.context = context }
    func read(_ address: UInt64, count: Int) throws -> [UInt8] {
        if reader == nil { reader = try context.memory() }
        guard let reader else {
            throw MemoryFault(address: address, space: .kernel, reason: .refused(detail: "no address space"))
        }
        return try reader.read(address, count: count)
    }
}

@testable import SymbolResolver

/// A type's structure as a plain string, for comparing types built from BTF and from DWARF
/// without the C declaration syntax (which is the Commands layer's business): named types by
/// `KernelTypes.name(of:)`, derived types spelled out from the outside in, e.g.
/// "volatile unsigned long", "* struct list_head", "[16] char", "fn(* struct file, int) -> void".
func shape(_ id: TypeID, in types: KernelTypes, depth: Int = 0) -> String {
    guard depth < 16 else { return "…" }
    let inner = { (t: TypeID) in shape(t, in: types, depth: depth + 1) }
    switch types.type(id) {
    case let .pointer(target): return "* " + inner(target)
    case let .array(elem, count): return "[\(count.map(String.init) ?? "")] " + inner(elem)
    case let .qualified(q, target): return q.rawValue + " " + inner(target)
    case let .function(returns, parameters, variadic):
        let list = parameters.map { inner($0.type) } + (variadic ? ["..."] : [])
        return "fn(" + list.joined(separator: ", ") + ") -> " + inner(returns)
    case let .structure(c) where c.name == nil: return "struct {size \(c.size), \(c.members.count) members}"
    case let .union(c) where c.name == nil: return "union {size \(c.size), \(c.members.count) members}"
    case let .enumeration(nil, size, _, values): return "enum {size \(size), \(values.count) values}"
    default: return types.name(of: id) ?? "?"
    }
}

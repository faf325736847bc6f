import DumpModel

/// `ptov`: the direct-map (kernel virtual) address of a physical address, as crash shows it.
public enum PtovCommand: CrashCommand {
    public static let name = "ptov"
    public static let summary = "physical to virtual address translation"
    public static let usage = """
    NAME
      ptov - physical to virtual

    SYNOPSIS
      ptov address ...

    DESCRIPTION
      Translates each hexadecimal physical address to the kernel virtual address that maps it in
      the direct map of all physical memory: page_offset_base + address. page_offset_base (moved
      by KASLR) is read from the kernel's variable when the vmlinux is given, and otherwise
      derived from VMCOREINFO.

    EXAMPLES
      crashsh> ptov 1021aa40
      VIRTUAL           PHYSICAL
      ffff8a155021aa40  1021aa40
    """

    public struct Result: CommandResult {
        public var pairs: [(virtual: UInt64, physical: UInt64)]

        public func renderText() -> String {
            var out = ""
            for (i, p) in pairs.enumerated() {
                if i > 0 { out += "\n" }
                out += "VIRTUAL           PHYSICAL        \n"
                out += ljust(hexDigits(p.virtual), 16) + "  " + ljust(hexDigits(p.physical), 16) + "\n"
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            .array(pairs.map { .object([("virtual", .address($0.virtual)), ("physical", .address($0.physical))]) })
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard !arguments.isEmpty else { throw CommandError("a physical address is needed (usage: ptov address ...)") }
        let space = try session.addressSpace()
        var pairs: [(UInt64, UInt64)] = []
        for word in arguments {
            if word.hasPrefix("-") { throw CommandError("invalid option \(word) (usage: ptov address ...)") }
            guard let paddr = parseHexAddress(word) else {
                throw CommandError("invalid physical address: \(word)")
            }
            do {
                pairs.append((try space.directMapAddress(physical: paddr), paddr))
            } catch let e as DumpError {
                throw CommandError("ptov: \(e)")
            }
        }
        return Result(pairs: pairs)
    }
}

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
      crash> ptov 1021aa40
      VIRTUAL           PHYSICAL
      ffff8a155021aa40  1021aa40
    """

    /// What one argument came to: its direct-map address, or why it has none.
    public enum Translation {
        case mapped(virtual: UInt64, physical: UInt64)
        case failure(word: String, message: String)
    }

    public struct Result: PerArgumentResult {
        public var translations: [Translation]

        public var argumentFailures: [String?] {
            translations.map { t -> String? in
                if case let .failure(_, message) = t { return message } else { return nil }
            }
        }

        public func renderText() -> String {
            var out = ""
            for case let .mapped(virtual, physical) in translations {
                if !out.isEmpty { out += "\n" }
                out += "VIRTUAL           PHYSICAL        \n"
                out += ljust(hexDigits(virtual), 16) + "  " + ljust(hexDigits(physical), 16) + "\n"
            }
            return out
        }

        public func renderJSON() -> JSONValue {
            .array(translations.map { t -> JSONValue in
                switch t {
                case let .mapped(virtual, physical):
                    return .object([("virtual", .address(virtual)), ("physical", .address(physical))])
                case let .failure(word, message):
                    return .object([("argument", .string(word)), ("error", .string(message))])
                }
            })
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard !arguments.isEmpty else { throw CommandError("a physical address is needed (usage: ptov address ...)") }
        if let option = arguments.first(where: { $0.hasPrefix("-") }) {
            throw CommandError("invalid option \(option) (usage: ptov address ...)")
        }
        let space = try session.addressSpace()
        var translations: [Translation] = []
        for word in arguments {
            guard let paddr = parseHexAddress(word) else {
                translations.append(.failure(word: word, message: "invalid physical address: \(word)"))
                continue
            }
            do {
                translations.append(.mapped(virtual: try space.directMapAddress(physical: paddr), physical: paddr))
            } catch let e as DumpError {
                translations.append(.failure(word: word, message: "\(e)"))
            }
        }
        return try Result(translations: translations).unlessEveryArgumentFailed()
    }
}

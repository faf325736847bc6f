import DumpModel

/// `vmcoreinfo`: the VMCOREINFO note as the kernel wrote it; in JSON, its keys and values.
public enum VmcoreinfoCommand: CrashCommand {
    public static let name = "vmcoreinfo"
    public static let summary = "print the dump's VMCOREINFO note"
    public static let usage = """
    NAME
      vmcoreinfo - print the VMCOREINFO note

    SYNOPSIS
      vmcoreinfo

    DESCRIPTION
      Prints the KEY=VALUE lines that the crashed kernel wrote about itself (release,
      page size, build-id, symbol addresses, structure sizes and offsets), exactly as
      found in the dump's ELF note or kdump sub-header. With JSON output the lines are
      given as an ordered object of keys and values.
    """

    public struct Result: CommandResult {
        public var info: VMCoreInfo
        public func renderText() -> String {
            var t = info.raw
            while t.hasSuffix("\0") { t.removeLast() }
            return t.hasSuffix("\n") || t.isEmpty ? t : t + "\n"
        }
        public func renderJSON() -> JSONValue {
            .object(info.entries.map { ($0.key, .string($0.value)) })
        }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        guard arguments.isEmpty else { throw CommandError("vmcoreinfo: takes no arguments") }
        guard let info = session.vmcoreinfo else {
            throw CommandError("vmcoreinfo: \(session.dump.path) has no VMCOREINFO note")
        }
        return Result(info: info)
    }
}

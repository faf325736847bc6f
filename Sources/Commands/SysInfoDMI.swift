import DumpModel

/// The DMI part of crash's `sys -i`: the firmware identification strings, one per line, the
/// names right-aligned to the longest `enum dmi_field` enumerator. The `sys` command calls
/// `dmiResult(session:)`.
public enum SysDMICommandPart {
    /// `sys -i` for `session`'s kernel.
    public static func dmiResult(session: Session) throws -> DMIResult {
        let memory = try session.crashedKernel().memory
        do {
            return DMIResult(info: try DMIInfo.read(from: memory))
        } catch {
            throw CommandError("cannot read the DMI strings: \(error)")
        }
    }
}

public struct DMIResult: CommandResult {
    public var info: DMIInfo

    public func renderText() -> String {
        let width = info.enumeratorNames.map(\.count).max() ?? 0
        var out = ""
        for f in info.fields {
            let label = f.name.map { rjust($0, width) } ?? "dmi_ident[\(f.index)]"
            switch f.value {
            case let .success(s): out += "  \(label): \(s)\n"
            case let .failure(e): out += "  \(label): (\(e))\n"
            }
        }
        return out
    }

    public func renderJSON() -> JSONValue {
        .object(info.fields.map { f in
            let key = f.name ?? "dmi_ident[\(f.index)]"
            switch f.value {
            case let .success(s): return (key, .string(s))
            case let .failure(e): return (key, .object([("error", .string(e.description))]))
            }
        })
    }
}

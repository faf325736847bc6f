/// `set`: shows and changes session settings. Today `json on|off`; the task context
/// (`set PID`, `set -c CPU`, `set -p`) comes with the task views.
public enum SetCommand: CrashCommand {
    public static let name = "set"
    public static let summary = "show or change session settings (json output)"
    public static let usage = """
    NAME
      set - show or change session settings

    SYNOPSIS
      set
      set json on|off

    DESCRIPTION
      Without arguments, shows the settings.
        json on|off   print every command's result as JSON (crashsh --json sets it at start).

    EXAMPLES
      crashsh> set json on
      crashsh> vmcoreinfo | head
    """

    /// The settings after the command ran.
    public struct Result: CommandResult {
        public var json: Bool
        public func renderText() -> String { "   json: \(json ? "on" : "off")\n" }
        public func renderJSON() -> JSONValue { .object([("json", .bool(json))]) }
    }

    public static func run(_ arguments: [String], in session: Session) throws -> any CommandResult {
        switch arguments.count {
        case 0:
            break
        case 2 where arguments[0] == "json":
            switch arguments[1] {
            case "on": session.jsonOutput = true
            case "off": session.jsonOutput = false
            default: throw CommandError("json: expected on or off, not \"\(arguments[1])\"")
            }
        case 1 where arguments[0] == "json":
            throw CommandError("json: expected on or off")
        default:
            throw CommandError("unknown setting: \(arguments.joined(separator: " "))")
        }
        return Result(json: session.jsonOutput)
    }

    public static func completions(forArgument index: Int, prefix: String, in session: Session) -> [String] {
        index == 0 ? ["json"] : index == 1 ? ["on", "off"] : []
    }
}

import Foundation
import Testing
@testable import Commands

/// Every command's JSON against its published schema (docs/schemas/NAME.schema.json), and the
/// JSON Lines contract (docs/json.md) on every line: one object per command with `command` and
/// exactly one of `result`/`error`, no integer past 2^53.
@Suite(.enabled(if: Harness.fixturesAvailable, "fixtures unavailable: ../shared/fixtures/prepare.sh not found"))
struct JSONSchemaTests {
    static let schemas = Harness.packageRoot.appendingPathComponent("docs/schemas")
    static let commands = Harness.packageRoot.appendingPathComponent("Tests/EndToEndTests/Expected/json/commands.txt")

    static func schema(_ name: String) throws -> [String: Any] {
        // p/x is in p-x.schema.json: a file name has no slash.
        let file = name.replacingOccurrences(of: "/", with: "-")
        let data = try Data(contentsOf: schemas.appendingPathComponent("\(file).schema.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every command crashsh knows has a schema, and every schema names a command.
    @Test func everyCommandHasASchema() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.schemas.path)
            .filter { $0.hasSuffix(".schema.json") }.map { String($0.dropLast(".schema.json".count)) }
        // `crashsh triage DUMP...` ends with a line of its own, `triage --buckets` (TriageTests).
        let names = CommandRegistry.all.map { $0.name.replacingOccurrences(of: "/", with: "-") }.filter { $0 != "exit" }
            + ["triage-buckets"]
        #expect(Set(files) == Set(names), "schemas \(Set(files).symmetricDifference(Set(names)))")
    }

    @Test(arguments: ["dump.kdump", "qemu.elf"])
    func outputFollowsTheSchemas(_ dump: String) throws {
        let run = try Harness.run(["--json", "-i", Self.commands.path, Harness.fixture(dump), Harness.fixture(Harness.vmlinuxName)])
        let lines = run.stdout.split(separator: "\n")
        let commandCount = try String(contentsOf: Self.commands, encoding: .utf8).split(separator: "\n").count
        #expect(lines.count == commandCount, "one line per command")
        var validated = 0
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line.prefix(80))")
            let command = try #require(object["command"] as? String)
            #expect((object["result"] == nil) != (object["error"] == nil), "\(command): result or error")
            #expect(Set(object.keys).isSubset(of: ["command", "result", "error"]), "\(command)")
            guard let result = object["result"] else { continue }
            let name = String(command.split(separator: " ").first ?? "")
            var problems: [String] = []
            SchemaValidator.validate(result, against: try Self.schema(name), at: name, problems: &problems)
            SchemaValidator.checkIntegers(result, at: name, problems: &problems)
            #expect(problems.isEmpty, "\(dump): \(command): \(problems.prefix(5))")
            validated += 1
        }
        #expect(validated >= commandCount - 2)
    }

    /// The validator itself: it finds what it should.
    @Test func validatorCatchesWrongShapes() throws {
        let schema: [String: Any] = ["type": "object", "required": ["task"],
                                     "properties": ["task": ["type": "string", "pattern": "^0x[0-9a-f]+$"],
                                                    "pid": ["type": "integer"],
                                                    "list": ["type": "array", "items": ["type": "boolean"]]]]
        var problems: [String] = []
        SchemaValidator.validate(["task": "ffff", "pid": "1", "list": [true, 3]] as [String: Any], against: schema, at: "x", problems: &problems)
        #expect(problems.count == 3, "\(problems)")
        problems = []
        SchemaValidator.validate(["pid": 1] as [String: Any], against: schema, at: "x", problems: &problems)
        #expect(problems == ["x: missing task"])
        problems = []
        SchemaValidator.validate(["task": "0x1f", "pid": 1, "list": [false]] as [String: Any], against: schema, at: "x", problems: &problems)
        #expect(problems.isEmpty)
        problems = []
        SchemaValidator.checkIntegers(["big": NSNumber(value: UInt64(1) << 60)] as [String: Any], at: "x", problems: &problems)
        #expect(problems.count == 1)
    }
}

/// The subset of JSON Schema the published schemas use: type (one or a list), properties,
/// required, items, pattern, additionalProperties (a schema), anyOf (a value that meets one
/// of several shapes: a command whose result depends on what its argument names).
enum SchemaValidator {
    static func type(of v: Any) -> String {
        if v is NSNull { return "null" }
        if let n = v as? NSNumber {
            let t = String(cString: n.objCType)
            if t == "c" || t == "B" { return "boolean" }
            if t == "d" || t == "f" { return n.doubleValue.rounded() == n.doubleValue ? "integer" : "number" }
            return "integer"
        }
        if v is Bool { return "boolean" }
        if v is String { return "string" }
        if v is [Any] { return "array" }
        if v is [String: Any] { return "object" }
        return "unknown"
    }

    static func validate(_ v: Any, against schema: [String: Any], at path: String, problems: inout [String]) {
        if let alternatives = schema["anyOf"] as? [[String: Any]] {
            var each: [[String]] = []
            for alternative in alternatives {
                var found: [String] = []
                validate(v, against: alternative, at: path, problems: &found)
                if found.isEmpty { return }
                each.append(found)
            }
            let closest = each.min(by: { $0.count < $1.count }) ?? []
            problems.append("\(path): matches none of \(alternatives.count) shapes; closest: \(closest.joined(separator: "; "))")
            return
        }
        let actual = type(of: v)
        var allowed: [String] = []
        if let t = schema["type"] as? String { allowed = [t] } else if let ts = schema["type"] as? [String] { allowed = ts }
        if !allowed.isEmpty {
            let ok = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !ok { problems.append("\(path): \(actual), expected \(allowed.joined(separator: "|"))"); return }
        }
        if let s = v as? String, let pattern = schema["pattern"] as? String, s.range(of: pattern, options: .regularExpression) == nil {
            problems.append("\(path): \"\(s.prefix(40))\" does not match \(pattern)")
        }
        if let o = v as? [String: Any] {
            for key in schema["required"] as? [String] ?? [] where o[key] == nil { problems.append("\(path): missing \(key)") }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (k, x) in o {
                if let p = properties[k] as? [String: Any] {
                    validate(x, against: p, at: "\(path).\(k)", problems: &problems)
                } else if let extra = schema["additionalProperties"] as? [String: Any] {
                    validate(x, against: extra, at: "\(path).\(k)", problems: &problems)
                } else if schema["properties"] != nil {
                    problems.append("\(path): unexpected key \(k)")
                }
            }
        }
        if let a = v as? [Any], let items = schema["items"] as? [String: Any] {
            for (i, x) in a.enumerated() { validate(x, against: items, at: "\(path)[\(i)]", problems: &problems) }
        }
    }

    /// No integer that a JSON reader could not keep exactly (past 2^53).
    static func checkIntegers(_ v: Any, at path: String, problems: inout [String]) {
        if let n = v as? NSNumber, type(of: v) == "integer", n.doubleValue.magnitude > 9_007_199_254_740_992 {
            problems.append("\(path): integer \(n) past 2^53")
        } else if let o = v as? [String: Any] {
            for (k, x) in o { checkIntegers(x, at: "\(path).\(k)", problems: &problems) }
        } else if let a = v as? [Any] {
            for x in a { checkIntegers(x, at: path + "[]", problems: &problems) }
        }
    }
}

import Commands
import Foundation
import Testing

/// REPL completion of struct/union member names after `struct TYPE.`, `whatis TYPE.` and
/// `p SYMBOL.`, through the hook the line editor calls (`Session.completions`), with the word
/// boundaries libedit uses (a word ends at ">" and "&", not at ".").
struct MemberCompletionTests {
    static func session() throws -> Session { try TypeCommandTests.session("dump.kdump") }

    /// What TAB offers when the cursor is at the end of `line` and the word starts after the
    /// last blank, ">" or "&".
    static func complete(_ session: Session, _ line: String) -> [String] {
        let start = line.lastIndex(where: { $0 == " " || $0 == ">" || $0 == "&" }).map { line.index(after: $0) } ?? line.startIndex
        return session.completions(line: line, wordStart: line.utf8.distance(from: line.startIndex, to: start),
                                   word: String(line[start...]))
    }

    /// Member names of `struct task_struct` as crash's `whatis task_struct` declares them.
    static func crashMemberNames() throws -> Set<String> {
        let text = try String(contentsOfFile: Harness.fixture("refs/crash-8.0.6/dump.kdump/whatis_task_struct.txt"), encoding: .utf8)
        var names = Set<String>()
        for raw in text.split(separator: "\n") {
            var line = raw.trimmingCharacters(in: .whitespaces)
            guard line.hasSuffix(";"), !line.hasPrefix("}") || line.count > 2 else { continue }
            line.removeLast()
            if let fp = line.range(of: "(*") {
                names.insert(String(line[fp.upperBound...].prefix(while: { $0 != ")" })))
                continue
            }
            if let colon = line.range(of: " : ") { line = String(line[..<colon.lowerBound]) }
            if let bracket = line.firstIndex(of: "[") { line = String(line[..<bracket]) }
            if let last = line.split(separator: " ").last { names.insert(String(last.drop(while: { $0 == "*" }))) }
        }
        return names
    }

    @Test(Harness.needsFixtureSet) func structMembers() throws {
        let session = try Self.session()
        let offered = Self.complete(session, "struct task_struct.pi")
        let expected = try Self.crashMemberNames().filter { $0.hasPrefix("pi") }.map { "task_struct." + $0 }
        #expect(expected.count >= 5)
        #expect(Set(offered) == Set(expected))
        #expect(offered.contains("task_struct.pid") && offered.contains("task_struct.pi_lock"))
        #expect(offered == offered.sorted())
        // Nested paths, comma lists, options before the type, whatis and union.
        #expect(Self.complete(session, "struct task_struct.se.vr") == ["task_struct.se.vruntime"])
        #expect(Self.complete(session, "struct -o task_struct.se.vr") == ["task_struct.se.vruntime"])
        #expect(Self.complete(session, "struct task_struct.pid,com").contains("task_struct.pid,comm"))
        #expect(Self.complete(session, "whatis task_struct.pid_l") == ["task_struct.pid_links"])
        #expect(Self.complete(session, "union rcu_special.b.bl") == ["rcu_special.b.blocked"])
        // Nothing for what is not a member path.
        #expect(Self.complete(session, "struct task_struct.nosuch.x").isEmpty)
        #expect(Self.complete(session, "struct nosuch_type_xyz.p").isEmpty)
        #expect(Self.complete(session, "struct task_struct.pid.x").isEmpty)
    }

    @Test(Harness.needsSample) func expressionMembers() throws {
        let session = try Self.session()
        #expect(Self.complete(session, "p init_task.se.vr") == ["init_task.se.vruntime"])
        #expect(Self.complete(session, "p init_task.co").contains("init_task.comm"))
        // After "&" the word starts anew; after "->" the pointer's target is completed.
        #expect(Self.complete(session, "p &init_task.se.vr") == ["init_task.se.vruntime"])
        let viaPointer = Self.complete(session, "p init_task.mm->pg")
        #expect(viaPointer.contains("pgd") && viaPointer.allSatisfy { $0.hasPrefix("pg") })
        #expect(Self.complete(session, "p init_task.sched_class->enq") == ["enqueue_task"])
        // Array elements, anonymous unions of a per-cpu variable's type, p/x.
        #expect(Self.complete(session, "p init_task.pid_links[1].ne") == ["init_task.pid_links[1].next"])
        #expect(Set(Self.complete(session, "p runqueues.__lock.raw_lock.lo")) == ["runqueues.__lock.raw_lock.locked",
                                                                                   "runqueues.__lock.raw_lock.locked_pending"])
        #expect(Self.complete(session, "p/x init_task.se.vr") == ["init_task.se.vruntime"])
        // "." on a pointer is not offered (the evaluator rejects it); "->" on a structure is, as
        // the evaluator takes it like gdb.
        #expect(Self.complete(session, "p init_task.mm.pg").isEmpty)
        #expect(Self.complete(session, "p init_task.se->vr") == ["vruntime"])
        // Symbols without a member chain, as before.
        #expect(Self.complete(session, "p jiffi").contains("jiffies"))
        #expect(Self.complete(session, "p -x init_task.se.vr") == ["init_task.se.vruntime"])
    }

    /// The words after the type: `struct TYPE SYMBOL` completes the symbol; `union` completes
    /// type names (issue 11).
    @Test(Harness.needsSample) func symbolAndTypePositions() throws {
        let session = try Self.session()
        let symbols = Self.complete(session, "struct task_struct init_t")
        #expect(symbols.contains("init_task") && symbols.allSatisfy { $0.hasPrefix("init_t") })
        #expect(Self.complete(session, "struct task_struct init_tas").contains("init_task"))
        #expect(Self.complete(session, "union rcu_sp").contains("rcu_special"))
        // This kernel has no union thread_union (crash 8.0.6: "union: invalid data structure
        // reference: thread_union"), so there is nothing to offer for it.
        #expect(Self.complete(session, "union thread_un").isEmpty)
        #expect(Self.complete(session, "struct -o list_he").contains("list_head"))
    }
}

/// Tab completion of structure and union member names in the arguments of `struct`, `union`,
/// `whatis` and `p`:
///
///     struct task_struct.pi<TAB>        -> task_struct.pid, task_struct.pi_lock, ...
///     struct task_struct.pid,co<TAB>    -> task_struct.pid,comm
///     p init_task.se.vr<TAB>            -> init_task.se.vruntime
///     p &init_task.mm->pg<TAB>          -> &init_task.mm->pgd
///
/// Candidates are the whole word with the partial member name completed, as the line editor
/// replaces the whole word. Members of anonymous struct/union members count as members (C
/// reaches them by name). Completion never reads kernel memory.
enum MemberCompletion {
    /// Most members offered for one word (task_struct has about 250).
    static let maxCandidates = 2_000

    /// One step of a member chain: `.name` or `->name`, then `[i]` subscripts.
    struct Step {
        var arrow: Bool
        var name: Substring
        var subscripts: Int
    }

    /// "TYPE.member.path[,member...]": members of the struct/union (or typedef of one) named
    /// TYPE, for the `struct`, `union` and `whatis` forms; `kind` prefers that keyword's type.
    static func typePath(_ word: String, kind: CRecord.Kind?, context: ExpressionContext) -> [String] {
        guard let dot = word.firstIndex(of: ".") else { return [] }
        let typeText = String(word[..<dot])
        guard !typeText.isEmpty, let type = context.recordType(typeText, kind: kind) else { return [] }
        // Only the member path after the last comma is being typed.
        let pathStart = word[word.index(after: dot)...].lastIndex(of: ",").map { word.index(after: $0) } ?? word.index(after: dot)
        guard let (steps, partial) = parseChain(word[pathStart...], leadingDot: false) else { return [] }
        return candidates(from: type, steps: steps, partial: partial, word: word, context: context)
    }

    /// "[&*(]SYMBOL.member->member[i].part": members along a C member chain that starts at a
    /// global variable, for `p` and `whatis`. Leading unary operators and parentheses are kept.
    static func expression(_ word: String, context: ExpressionContext) -> [String] {
        guard let rootStart = word.firstIndex(where: { isIdentifierHead($0) }) else { return [] }
        let head = word[..<rootStart]
        guard head.allSatisfy({ "&*( ".contains($0) }) else { return [] }
        let body = word[rootStart...]
        guard let rootEnd = body.firstIndex(where: { !isIdentifierBody($0) }) else { return [] }
        let root = String(body[..<rootEnd])
        guard let global = context.source.global(named: root), let type = global.type,
              let (steps, partial) = parseChain(body[rootEnd...], leadingDot: true) else { return [] }
        return candidates(from: type, steps: steps, partial: partial, word: word, context: context)
    }

    /// Member names of `type` after following `steps`, that start with `partial`, each as the
    /// word typed so far with the partial name completed.
    private static func candidates(from type: CType, steps: [Step], partial: Substring, word: String,
                                   context: ExpressionContext) -> [String] {
        var current = type
        for step in steps {
            guard let record = step.arrow ? arrowTarget(current) : current.record,
                  let (member, _) = context.source.findMember(String(step.name), in: record) else { return [] }
            current = member.type
            for _ in 0..<step.subscripts {
                switch current.resolved {
                case let .array(element, _), let .pointer(element): current = element
                default: return []
                }
            }
        }
        // After the steps comes "." (a struct or union) or "->" (a pointer to one).
        let stem = String(word.dropLast(partial.count))
        guard let record = stem.hasSuffix("->") ? arrowTarget(current) : current.record else { return [] }
        var out: [String] = []
        for name in memberNames(of: record, context: context) where name.hasPrefix(partial) {
            out.append(stem + name)
            if out.count >= maxCandidates { break }
        }
        return out
    }

    /// The record "->" reaches from a value of type `t`: a pointer's target, or (as the
    /// evaluator allows, like gdb) a structure itself.
    private static func arrowTarget(_ t: CType) -> CRecord? {
        if case let .pointer(target) = t.resolved { return target.record }
        return t.record
    }

    /// The named members of `record`, with those of anonymous struct/union members in place.
    static func memberNames(of record: CRecord, context: ExpressionContext) -> [String] {
        var names: [String] = []
        // As in `TypeSource.findMember`: a record is listed once (a second visit adds only names
        // already there), so damaged type information that shares anonymous members cannot make
        // the walk exponential.
        var visited = Set<CRecord>()
        func collect(_ r: CRecord, depth: Int) {
            guard depth < maxAnonymousMemberDepth, visited.insert(r).inserted else { return }
            for m in context.source.members(of: r) {
                if let name = m.name { names.append(name) } else if let inner = m.type.record { collect(inner, depth: depth + 1) }
            }
        }
        collect(record, depth: 0)
        return names
    }

    /// Splits ".a[1]->b.c" (or "a[1]->b.c" when `leadingDot` is false) into the complete steps
    /// and the partial name after the last "." or "->". Nil when the text is not such a chain.
    static func parseChain(_ text: Substring, leadingDot: Bool) -> ([Step], Substring)? {
        var steps: [Step] = []
        var rest = text
        var arrow = false
        if leadingDot {
            if rest.hasPrefix(".") { rest = rest.dropFirst() }
            else if rest.hasPrefix("->") { rest = rest.dropFirst(2); arrow = true }
            else { return nil }
        }
        var count = 0
        while true {
            count += 1
            guard count < 1_000 else { return nil }
            let nameEnd = rest.firstIndex(where: { !isIdentifierBody($0) }) ?? rest.endIndex
            let name = rest[..<nameEnd]
            rest = rest[nameEnd...]
            if rest.isEmpty { return (steps, name) }
            guard !name.isEmpty, let first = name.first, isIdentifierHead(first) else { return nil }
            var subscripts = 0
            while rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return nil }
                subscripts += 1
                rest = rest[rest.index(after: close)...]
            }
            steps.append(Step(arrow: arrow, name: name, subscripts: subscripts))
            if rest.hasPrefix(".") { rest = rest.dropFirst(); arrow = false }
            else if rest.hasPrefix("->") { rest = rest.dropFirst(2); arrow = true }
            else { return nil }
        }
    }

    static func isIdentifierHead(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
    static func isIdentifierBody(_ c: Character) -> Bool { c == "_" || (c.isASCII && (c.isLetter || c.isNumber)) }
}

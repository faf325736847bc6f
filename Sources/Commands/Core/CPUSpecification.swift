/// crash's CPU specifier, the text after the colon of `symbol:cpuspec` (`p`, `struct`, `union`)
/// and of the `-c` options of later commands:
///
///     (empty)       the CPU of the current context
///     a, all        every CPU
///     1,3,5-7,10    a list of CPUs and ranges
///
/// CPUs come back in ascending order, each once, as crash visits them.
public enum CPUSpecification {
    /// The CPUs `text` names among `0 ..< cpuCount`; `current` gives the current context's CPU
    /// and is asked only for an empty specifier.
    ///
    /// - Throws: `CommandError("invalid cpu specification: TEXT")` for a CPU outside the range,
    ///   a word that is not a number, or an empty list item, as crash says it.
    public static func cpus(_ text: String, cpuCount: Int, current: () throws -> Int) throws -> [Int] {
        if text.isEmpty { return [try current()] }
        let invalid = CommandError("invalid cpu specification: \(text)")
        var chosen = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            if item == "a" || item == "all" {
                chosen.formUnion(0..<max(0, cpuCount))
                continue
            }
            let ends = item.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard let first = ends.first, let start = Int(first),
                  let end = ends.count == 2 ? Int(ends[1]) : start,
                  start >= 0, start < cpuCount, end >= 0, end < cpuCount else { throw invalid }
            if start <= end { chosen.formUnion(start...end) }
        }
        return chosen.sorted()
    }

    /// Splits `word` at its last colon into a name and a CPU specifier (nil when it has no colon).
    public static func split(_ word: String) -> (name: String, cpus: String?) {
        guard let colon = word.lastIndex(of: ":") else { return (word, nil) }
        return (String(word[..<colon]), String(word[word.index(after: colon)...]))
    }
}

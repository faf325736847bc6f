/// gdb's value history as crash's `p` exposes it: every printed value is `$N` (N counting from
/// 1 over the session), and later expressions can name `$N`, `$` (the last value), `$$` (the one
/// before it) and `$$K` (K values back from the last).
///
/// Bounded: only the newest `capacity` values are kept (older numbers still count, but naming
/// one is an error), so a long scripted session does not grow without limit. A value in kernel
/// memory is kept as its type and address: the dump does not change, so reading it again gives
/// the bytes gdb kept.
public final class ValueHistory {
    public static let capacity = 1024
    /// Number of the newest value (0: none yet).
    public private(set) var lastNumber = 0
    private var values: [TypedValue] = []

    public init() {}

    /// Stores the value just printed as `$number` (the session's count of printed values; a
    /// number that does not follow the last one starts the kept values afresh).
    public func record(_ value: TypedValue, number: Int) {
        if number != lastNumber + 1 { values.removeAll() }
        values.append(value)
        if values.count > Self.capacity { values.removeFirst(values.count - Self.capacity) }
        lastNumber = number
    }

    /// The value `$number` names, or throws gdb's message.
    public func value(number: Int) throws -> TypedValue {
        guard number >= 1, number <= lastNumber else {
            throw EvaluationError("History has not yet reached $\(number).")
        }
        let index = values.count - 1 - (lastNumber - number)
        guard index >= 0, index < values.count else { throw EvaluationError("History value $\(number) is no longer kept (the last \(Self.capacity) are).") }
        return values[index]
    }

    /// The value a history name means: "$N", "$", "$$", "$$K"; nil when `name` is not one
    /// (e.g. a `$`-prefixed convenience variable, which crashsh does not have).
    public func value(named name: String) throws -> TypedValue? {
        guard name.hasPrefix("$") else { return nil }
        let rest = name.dropFirst()
        if rest.isEmpty { return try back(0) }
        if let n = Int(rest) { return try value(number: n) }
        if rest.hasPrefix("$") {
            let k = rest.dropFirst()
            if k.isEmpty { return try back(1) }
            if let n = Int(k) { return try back(n) }
        }
        return nil
    }

    /// The value `k` back from the newest ($ is 0 back, $$ is 1 back).
    private func back(_ k: Int) throws -> TypedValue {
        guard lastNumber > 0 else { throw EvaluationError("History is empty.") }
        guard k >= 0, k < lastNumber else { throw EvaluationError("History has not yet reached $\(k >= lastNumber ? 1 : lastNumber - k).") }
        return try value(number: lastNumber - k)
    }
}

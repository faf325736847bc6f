// Text layout the commands share: crash's address and value formats, and its mkstring
// justification (left, right, centred).

/// Lowercase hexadecimal without a prefix, zero-padded to `width` digits: crash prints
/// addresses as "ffffffffb10114f0" and values as "0000000000000001".
func hexDigits(_ v: UInt64, width: Int = 0) -> String {
    let h = String(v, radix: 16)
    return h.count >= width ? h : String(repeating: "0", count: width - h.count) + h
}

/// `s` followed by spaces up to `width` columns.
func ljust(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// `s` after spaces up to `width` columns.
func rjust(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

/// `s` centred in `width` columns. An odd leftover space goes right, or with `leanRight` left
/// (crash's CENTER|LJUST, CENTER|RJUST).
func center(_ s: String, _ width: Int, leanRight: Bool = false) -> String {
    guard s.count < width else { return s }
    let extra = width - s.count
    let left = extra / 2 + (leanRight ? extra % 2 : 0)
    return String(repeating: " ", count: left) + s + String(repeating: " ", count: width - s.count - left)
}

/// Parses "ffffffffb10114f0", "0xffffffffb10114f0" (crash accepts both) as an address: at most
/// 16 hex digits, nothing else (no sign).
func parseHexAddress(_ word: String) -> UInt64? {
    var digits = Substring(word)
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
    guard !digits.isEmpty, digits.count <= 16, digits.allSatisfy({ $0.isHexDigit }) else { return nil }
    return UInt64(digits, radix: 16)
}

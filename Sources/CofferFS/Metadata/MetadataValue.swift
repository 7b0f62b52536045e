/// Parsers and formatters of the numbers and times other tools store in S3 user metadata.
///
/// Every parser returns nil for anything it does not fully understand (empty, garbage, negative where a value
/// cannot be, too large), never traps. Surrounding ASCII whitespace is ignored.
enum MetadataValue {
    /// The file types (`S_IFMT` values) of POSIX: FIFO, character device, directory, block device, regular file,
    /// symlink, socket.
    static let fileTypes: Set<UInt32> = [0o010000, 0o020000, 0o040000, 0o060000, 0o100000, 0o120000, 0o140000]

    // MARK: - Modes

    /// An `st_mode` as s3fs, s3cmd, geesefs, s3sync and rclone write `mode` (and s3sync `permissions`).
    ///
    /// `0x…` is hexadecimal and `0…` octal (s3fs reads the value with `strtol(base 0)`). Bare digits are decimal
    /// when that is a mode with a valid file type (`33188` = 0o100644); otherwise, when they are octal digits that
    /// make a mode with a valid file type, they are rclone's `%o` (`100644`: decimal 100644 = 0o304464 has no valid
    /// type); otherwise a decimal up to 0o7777 is permission bits without a type (`420` = 0o644). Anything else
    /// (a value above 0o177777, an invalid type) is rejected.
    static func mode(_ text: String) -> UInt32? {
        guard let (digits, radix) = strtolDigits(text) else { return nil }
        guard radix == 10 else {
            return unsigned(digits, radix: radix).flatMap(validMode)
        }
        let decimal = unsigned(digits, radix: 10)
        if let mode = decimal.flatMap(validMode), mode & 0o170000 != 0 { return mode }
        if let mode = unsigned(digits, radix: 8).flatMap(validMode), mode & 0o170000 != 0 { return mode }
        if let decimal, decimal <= 0o7777 { return UInt32(decimal) }
        return nil
    }

    /// An octal `st_mode`, with or without type bits, as GCS writes `goog-reserved-posix-mode` (`644`).
    static func octalMode(_ text: String) -> UInt32? {
        unsigned(trimmed(text), radix: 8).flatMap(validMode)
    }

    /// `value` as a mode when it fits in `st_mode`'s 16 bits and its type bits are none or a valid type.
    static func validMode(_ value: UInt64) -> UInt32? {
        guard value <= 0o177777 else { return nil }
        let mode = UInt32(value)
        let type = mode & 0o170000
        return type == 0 || fileTypes.contains(type) ? mode : nil
    }

    // MARK: - Owners

    /// A uid or gid: decimal, or `0…` octal / `0x…` hexadecimal (s3fs's `strtol(base 0)`), at most `UInt32.max`.
    static func id(_ text: String) -> UInt32? {
        guard let (digits, radix) = strtolDigits(text), let value = unsigned(digits, radix: radix),
              value <= UInt64(UInt32.max) else { return nil }
        return UInt32(value)
    }

    // MARK: - Times

    /// A time as decimal seconds since the epoch (s3fs `1700000000` or `1700000000.000000005`, rclone
    /// `1700000000.5`, s3cmd and GCS integers), or RFC 3339 (rclone's `atime`/`btime`, gcsfuse).
    ///
    /// The fraction is scaled as decimal digits: `.5` is 500 ms, `.000000005` is 5 ns; digits past the ninth are
    /// dropped. A negative value is a real number of seconds (`-1.5` is 1.5 s before the epoch).
    static func timestamp(_ text: String) -> Timestamp? {
        decimalTimestamp(text) ?? RFC3339.timestamp(trimmed(text))
    }

    /// The AWS convention of FSx for Lustre, Amazon File Cache and S3 File Gateway (`file-mtime` and its
    /// siblings): an integer count of nanoseconds since the epoch ending in `ns`, or of milliseconds without it.
    static func epochCount(_ text: String) -> Timestamp? {
        var digits = trimmed(text)
        let perSecond: Int64
        if digits.hasSuffix("ns") {
            digits = digits.dropLast(2)
            perSecond = 1_000_000_000
        } else {
            perSecond = 1_000
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let count = Int64(digits) else { return nil }
        var seconds = count / perSecond
        var remainder = count % perSecond
        if remainder < 0 {
            seconds -= 1
            remainder += perSecond
        }
        return Timestamp(seconds: seconds, nanoseconds: UInt32(remainder * (1_000_000_000 / perSecond)))
    }

    /// Decimal seconds: `-?[0-9]+(\.[0-9]+)?`.
    static func decimalTimestamp(_ text: String) -> Timestamp? {
        var rest = trimmed(text)
        let negative = rest.hasPrefix("-")
        if negative { rest = rest.dropFirst() }
        let parts = rest.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = unsigned(parts[0], radix: 10), whole <= Int64.min.magnitude else { return nil }
        var nanoseconds: UInt32 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            let nine = String(fraction.prefix(9)) + String(repeating: "0", count: max(0, 9 - fraction.count))
            nanoseconds = UInt32(nine)!
        }
        guard negative else {
            guard whole <= UInt64(Int64.max) else { return nil }
            return Timestamp(seconds: Int64(whole), nanoseconds: nanoseconds)
        }
        // -(s + f) = -(s + 1) + (1 - f), which must not go below Int64.min.
        if nanoseconds == 0 { return Timestamp(seconds: Int64(truncatingIfNeeded: 0 &- whole)) }
        guard whole < Int64.min.magnitude else { return nil }
        return Timestamp(seconds: -Int64(whole) - 1, nanoseconds: 1_000_000_000 - nanoseconds)
    }

    /// `"%ld"` seconds, or `"%ld.%09ld"` when the nanoseconds are not zero: s3fs's format, which rclone reads
    /// exactly too. A time before the epoch is written as the real number it is (`-1.500000000`), which s3fs ignores
    /// (it only honours times after the epoch) and rclone reads right.
    static func format(_ time: Timestamp) -> String {
        guard time.nanoseconds != 0 else { return String(time.seconds) }
        if time.seconds >= 0 { return "\(time.seconds).\(nineDigits(time.nanoseconds))" }
        // s + f with s < 0 is -((-s - 1) + (1 - f)).
        let whole = UInt64(-(time.seconds + 1))
        return "-\(whole).\(nineDigits(1_000_000_000 - time.nanoseconds))"
    }

    private static func nineDigits(_ value: UInt32) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 9 - digits.count)) + digits
    }

    // MARK: - Digits

    /// `text` without surrounding ASCII whitespace.
    static func trimmed(_ text: String) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        let view = Substring(text)
        guard let first = view.firstIndex(where: { !isSpace($0) }),
              let last = view.lastIndex(where: { !isSpace($0) }) else { return "" }
        return view[first...last]
    }

    /// The digits and radix of a non-negative `strtol(base 0)` number: `0x…` hex, `0…` octal, decimal; a leading
    /// `+` is allowed, `-` is not.
    static func strtolDigits(_ text: String) -> (Substring, Int)? {
        var rest = trimmed(text)
        if rest.hasPrefix("+") { rest = rest.dropFirst() }
        if rest.hasPrefix("0x") || rest.hasPrefix("0X") { return (rest.dropFirst(2), 16) }
        if rest.hasPrefix("0"), rest.count > 1 { return (rest.dropFirst(), 8) }
        return (rest, 10)
    }

    /// The value of `digits` (non-empty, nothing but digits of `radix`), nil when it overflows.
    static func unsigned(_ digits: Substring, radix: Int) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for scalar in digits.unicodeScalars {
            let digit: UInt64
            switch scalar {
            case "0"..."9": digit = UInt64(scalar.value - 48)
            case "a"..."f": digit = UInt64(scalar.value - 87)
            case "A"..."F": digit = UInt64(scalar.value - 55)
            default: return nil
            }
            guard digit < UInt64(radix) else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: UInt64(radix))
            let (sum, overflow2) = shifted.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }
}

import Foundation

/// Parsing and formatting of the date forms AWS uses: RFC 7231 HTTP dates and ISO 8601 timestamps.
public enum HTTPDate {
    /// Parses the IMF-fixdate form `Wed, 21 Oct 2015 07:28:00 GMT` that S3 and every current server send.
    public static func parse(_ string: String) -> Date? {
        let parts = string.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]),
              let month = months.firstIndex(of: String(parts[2])) else { return nil }
        let clock = parts[4].split(separator: ":")
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
              (1...31).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(hour)
        t.tm_min = Int32(minute)
        t.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: TimeInterval(timegm(&t)))
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Parses `2015-10-21T07:28:00Z`, `2015-10-21T07:28:00.123Z` or with a `+00:00` offset.
    public static func parseISO8601(_ string: String) -> Date? {
        let chars = Array(string.utf8)
        guard chars.count >= 19 else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? {
            var value = 0
            for i in from..<(from + count) {
                guard i < chars.count, chars[i] >= 48, chars[i] <= 57 else { return nil }
                value = value * 10 + Int(chars[i] - 48)
            }
            return value
        }
        guard let year = number(0, 4), chars[4] == UInt8(ascii: "-"), let month = number(5, 2),
              chars[7] == UInt8(ascii: "-"), let day = number(8, 2),
              chars[10] == UInt8(ascii: "T") || chars[10] == UInt8(ascii: " "),
              let hour = number(11, 2), chars[13] == UInt8(ascii: ":"), let minute = number(14, 2),
              chars[16] == UInt8(ascii: ":"), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < chars.count, chars[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < chars.count, chars[index] >= 48, chars[index] <= 57 {
                fraction += Double(chars[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < chars.count {
            switch chars[index] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                index += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = chars[index] == UInt8(ascii: "-") ? -1 : 1
                guard let h = number(index + 1, 2) else { return nil }
                var m = 0
                if index + 3 < chars.count {
                    let minuteStart = chars[index + 3] == UInt8(ascii: ":") ? index + 4 : index + 3
                    guard let mm = number(minuteStart, 2) else { return nil }
                    m = mm
                    index = minuteStart + 2
                } else {
                    index += 3
                }
                offsetSeconds = sign * (h * 3600 + m * 60)
            default:
                return nil
            }
        }
        guard index == chars.count else { return nil }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month - 1)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(hour)
        t.tm_min = Int32(minute)
        t.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: TimeInterval(timegm(&t) - offsetSeconds) + fraction)
    }

    /// Formats as `Wed, 21 Oct 2015 07:28:00 GMT`.
    public static func format(_ date: Date) -> String {
        formatted(date, "%a, %d %b %Y %H:%M:%S GMT")
    }

    /// Formats as `20151021T072800Z`, the SigV4 `X-Amz-Date` form.
    public static func formatAMZ(_ date: Date) -> String {
        formatted(date, "%Y%m%dT%H%M%SZ")
    }

    private static func formatted(_ date: Date, _ format: String) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var t = tm()
        gmtime_r(&seconds, &t)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, format, &t)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

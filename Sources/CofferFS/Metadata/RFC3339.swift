/// RFC 3339 date-times (`2023-11-14T22:13:20.5Z`, `2023-11-14T23:13:20+01:00`), as rclone writes `atime`/`btime`.
enum RFC3339 {
    /// The instant `text` names, or nil when it is not an RFC 3339 date-time.
    static func timestamp(_ text: Substring) -> Timestamp? {
        let bytes = Array(text.utf8)
        var position = 0

        func number(_ width: Int) -> Int? {
            guard position + width <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[position..<(position + width)] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            position += width
            return value
        }
        func expect(_ allowed: Set<UInt8>) -> Bool {
            guard position < bytes.count, allowed.contains(bytes[position]) else { return false }
            position += 1
            return true
        }

        guard let year = number(4), expect([0x2d]), let month = number(2), expect([0x2d]), let day = number(2),
              expect([0x54, 0x74, 0x20]), let hour = number(2), expect([0x3a]), let minute = number(2),
              expect([0x3a]), let second = number(2) else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour <= 23,
              minute <= 59, second <= 60 else { return nil }

        var nanoseconds = 0
        if position < bytes.count, bytes[position] == 0x2e {
            position += 1
            var digits = 0
            while position < bytes.count, bytes[position] >= 48, bytes[position] <= 57 {
                if digits < 9 { nanoseconds = nanoseconds * 10 + Int(bytes[position] - 48) }
                digits += 1
                position += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 9)..<9 { nanoseconds *= 10 }
        }

        var offsetSeconds = 0
        guard position < bytes.count else { return nil }
        switch bytes[position] {
        case 0x5a, 0x7a:
            position += 1
        case 0x2b, 0x2d:
            let sign = bytes[position] == 0x2d ? -1 : 1
            position += 1
            guard let offsetHours = number(2), expect([0x3a]), let offsetMinutes = number(2), offsetHours <= 23,
                  offsetMinutes <= 59 else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        default:
            return nil
        }
        guard position == bytes.count else { return nil }

        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return Timestamp(seconds: seconds, nanoseconds: UInt32(nanoseconds))
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthFromMarch = (month + 9) % 12
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

import Foundation

/// The two UTC renderings of a signing time that SigV4 uses, computed without a `DateFormatter`.
struct SigV4Timestamp: Sendable, Equatable {
    /// `yyyyMMdd'T'HHmmss'Z'`, the value of `X-Amz-Date`.
    var amzDate: String
    /// `yyyyMMdd`, the date part of the credential scope.
    var dateStamp: String

    init(_ date: Date) {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, proleptic Gregorian calendar).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        dateStamp = pad(year, 4) + pad(month, 2) + pad(day, 2)
        amzDate = dateStamp + "T" + pad(secondOfDay / 3600, 2) + pad(secondOfDay % 3600 / 60, 2)
            + pad(secondOfDay % 60, 2) + "Z"
    }
}

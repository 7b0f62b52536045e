/// A set of byte offsets, kept as sorted, disjoint, non-adjacent half-open ranges.
///
/// `StagedFile` uses two of them: the ranges of the base object that are present in the staging file (fetched or
/// overwritten), and the ranges written since the last upload. Ranges that touch or overlap are merged on insertion,
/// so the representation of a set is unique and `==` compares sets. Lookups are binary searches.
struct ByteRangeSet: Sendable, Equatable, CustomStringConvertible {
    /// The ranges, ascending, none empty, each separated from the next by at least one byte.
    private(set) var ranges: [Range<UInt64>] = []

    /// The empty set.
    init() {}

    /// The union of `ranges`, which may be in any order and may overlap.
    init(_ ranges: [Range<UInt64>]) {
        for range in ranges { insert(range) }
    }

    /// True when the set holds no byte.
    var isEmpty: Bool { ranges.isEmpty }

    /// The number of bytes in the set.
    var byteCount: UInt64 { ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) } }

    /// Such as `[0..<10, 20..<30]`.
    var description: String { "\(ranges)" }

    /// Adds every byte of `range`.
    mutating func insert(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        // Ranges ending at or after range.lowerBound and starting at or before range.upperBound touch it.
        let start = index { $0.upperBound >= range.lowerBound }
        var end = start
        var merged = range
        while end < ranges.count, ranges[end].lowerBound <= range.upperBound {
            merged = min(merged.lowerBound, ranges[end].lowerBound)..<max(merged.upperBound, ranges[end].upperBound)
            end += 1
        }
        ranges.replaceSubrange(start..<end, with: CollectionOfOne(merged))
    }

    /// Adds every byte of `other`.
    mutating func formUnion(_ other: ByteRangeSet) {
        for range in other.ranges { insert(range) }
    }

    /// Removes every byte of `range`.
    mutating func remove(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        let start = index { $0.upperBound > range.lowerBound }
        var end = start
        var remainder: [Range<UInt64>] = []
        while end < ranges.count, ranges[end].lowerBound < range.upperBound {
            let existing = ranges[end]
            if existing.lowerBound < range.lowerBound { remainder.append(existing.lowerBound..<range.lowerBound) }
            if existing.upperBound > range.upperBound { remainder.append(range.upperBound..<existing.upperBound) }
            end += 1
        }
        ranges.replaceSubrange(start..<end, with: remainder)
    }

    /// Removes every byte at or after `offset`.
    mutating func removeAll(from offset: UInt64) {
        remove(offset..<UInt64.max)
    }

    /// True when every byte of `range` is in the set (always for an empty range).
    func contains(_ range: Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return true }
        let i = index { $0.upperBound > range.lowerBound }
        return i < ranges.count && ranges[i].lowerBound <= range.lowerBound && ranges[i].upperBound >= range.upperBound
    }

    /// True when some byte of `range` is in the set.
    func intersects(_ range: Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return false }
        let i = index { $0.upperBound > range.lowerBound }
        return i < ranges.count && ranges[i].lowerBound < range.upperBound
    }

    /// The bytes of the set that lie in `range`.
    func intersection(_ range: Range<UInt64>) -> ByteRangeSet {
        guard !range.isEmpty else { return ByteRangeSet() }
        var result = ByteRangeSet()
        var i = index { $0.upperBound > range.lowerBound }
        while i < ranges.count, ranges[i].lowerBound < range.upperBound {
            let lower = max(ranges[i].lowerBound, range.lowerBound)
            result.ranges.append(lower..<min(ranges[i].upperBound, range.upperBound))
            i += 1
        }
        return result
    }

    /// The parts of `range` that are not in the set, ascending.
    func gaps(in range: Range<UInt64>) -> [Range<UInt64>] {
        guard !range.isEmpty else { return [] }
        var gaps: [Range<UInt64>] = []
        var cursor = range.lowerBound
        var i = index { $0.upperBound > range.lowerBound }
        while i < ranges.count, ranges[i].lowerBound < range.upperBound, cursor < range.upperBound {
            if ranges[i].lowerBound > cursor { gaps.append(cursor..<ranges[i].lowerBound) }
            cursor = max(cursor, ranges[i].upperBound)
            i += 1
        }
        if cursor < range.upperBound { gaps.append(cursor..<range.upperBound) }
        return gaps
    }

    /// The first index whose range satisfies `isAtOrAfter`, which must be false for a prefix of `ranges` and true
    /// for the rest (the ranges are sorted and disjoint, so bounds compared with one offset are).
    private func index(where isAtOrAfter: (Range<UInt64>) -> Bool) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if isAtOrAfter(ranges[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

import Testing

@testable import CofferCache

@Suite("ReadAheadTracker")
struct ReadAheadTrackerTests {
    static let block: UInt64 = 1 << 20

    /// The read-ahead of reads of `size` bytes from `start` to `end`, one after the other.
    func aheadOfSequentialReads(_ tracker: inout ReadAheadTracker, key: String = "k", from start: UInt64 = 0,
                                to end: UInt64, size: UInt64, blockCount: UInt64 = 32) -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        var offset = start
        while offset < end {
            let ahead = tracker.record(key: key, etag: "e", offset: offset, end: offset + size, blockCount: blockCount)
            if !ahead.isEmpty { ranges.append(ahead) }
            offset += size
        }
        return ranges
    }

    @Test func theWindowDoublesUpToItsMaximumInBatches() {
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 8)
        let ranges = aheadOfSequentialReads(&tracker, to: 32 * Self.block, size: 128 << 10)
        #expect(ranges == [1..<2, 2..<4, 4..<8, 8..<16, 16..<24, 24..<32])
    }

    @Test func theFirstWindowIsAtLeastTheReadsSize() {
        // Reads of 4 blocks at a time (1 MiB reads of 256 KiB blocks): no batch is shorter than a read, so the reader
        // never waits for a window smaller than what it asks for.
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 16)
        let ranges = aheadOfSequentialReads(&tracker, to: 64 * Self.block, size: 4 * Self.block, blockCount: 64)
        #expect(ranges == [8..<12, 12..<20, 20..<36, 36..<52, 52..<64])
    }

    @Test func randomReadsAndRereadsFetchNothingAhead() {
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 8)
        for block: UInt64 in [5, 20, 9, 30, 1] {
            let offset = block * Self.block + 100
            #expect(tracker.record(key: "k", etag: "e", offset: offset, end: offset + 4096, blockCount: 32).isEmpty)
            #expect(tracker.record(key: "k", etag: "e", offset: offset, end: offset + 4096, blockCount: 32).isEmpty)
        }
    }

    @Test func slightlyReorderedReadsStaySequential() {
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 8)
        let chunk: UInt64 = 128 << 10
        var ahead: [Range<UInt64>] = []
        // Pairs of chunks arrive swapped, as concurrent FUSE reads may.
        var offset: UInt64 = 0
        while offset < 16 * Self.block {
            for start in [offset + chunk, offset] {
                let range = tracker.record(key: "k", etag: "e", offset: start, end: start + chunk, blockCount: 32)
                if !range.isEmpty { ahead.append(range) }
            }
            offset += 2 * chunk
        }
        #expect(ahead == [1..<2, 2..<4, 4..<8, 8..<16, 16..<24])
    }

    @Test func twoInterleavedReadersOfOneObjectAreTwoStreams() {
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 4)
        let chunk: UInt64 = 256 << 10
        var ahead: [[Range<UInt64>]] = [[], []]
        let starts: [UInt64] = [0, 16 * Self.block]
        for step in 0..<16 {
            for reader in 0..<2 {
                let offset = starts[reader] + UInt64(step) * chunk
                let range = tracker.record(key: "k", etag: "e", offset: offset, end: offset + chunk, blockCount: 64)
                if !range.isEmpty { ahead[reader].append(range) }
            }
        }
        #expect(ahead[0] == [1..<2, 2..<4, 4..<8])
        #expect(ahead[1] == [17..<18, 18..<20, 20..<24])
    }

    @Test func aNewETagStartsOver() {
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 8)
        _ = aheadOfSequentialReads(&tracker, to: 4 * Self.block, size: Self.block)
        let offset = 4 * Self.block
        #expect(tracker.record(key: "k", etag: "new", offset: offset, end: offset + Self.block, blockCount: 32).isEmpty)
        tracker.forget(key: "k")
        #expect(tracker.objectCount == 0)
    }

    @Test func readAheadStopsAtTheEndOfTheObject() {
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 8)
        let ranges = aheadOfSequentialReads(&tracker, to: 5 * Self.block, size: 128 << 10, blockCount: 5)
        #expect(ranges == [1..<2, 2..<4, 4..<5])
    }

    @Test func disabledWithAZeroWindow() {
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 0)
        #expect(aheadOfSequentialReads(&tracker, to: 8 * Self.block, size: 128 << 10).isEmpty)
    }

    @Test func theNumberOfObjectsTrackedIsBounded() {
        var tracker = ReadAheadTracker(blockSize: Self.block, maxWindowBlocks: 8, maxObjects: 100)
        for index in 0..<1000 {
            _ = tracker.record(key: "k\(index)", etag: "e", offset: 0, end: 10, blockCount: 1)
        }
        #expect(tracker.objectCount <= 100)
    }
}

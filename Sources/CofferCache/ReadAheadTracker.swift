/// Recognises sequential reads of each object and decides which blocks to fetch ahead of them.
///
/// Each object has up to `maxStreamsPerObject` streams (two `cat`s of one file are two streams). A stream remembers
/// where its reads ended (`nextOffset`), its window, and the last batch it fetched ahead. A read belongs to a
/// stream when it starts within `tolerance` of the stream's end or inside the window just behind it (FUSE may
/// deliver the kernel's concurrent read-ahead requests slightly out of order); otherwise it starts a new stream.
///
/// Read-ahead is triggered, as in Linux's readahead, when a read that moves a stream forward reaches the last
/// batch fetched ahead (at the first forward read of a new stream, the read that created it). The window then
/// doubles (one block, two, four, ... up to `maxWindowBlocks`), and is at least as long as the read, and the next
/// batch, of one window, is fetched right after what was fetched before. So a `cat` reading 64 KiB at a time
/// fetches block 0, then 1, 2–3, 4–7, ...; one reading 1 MiB at a time starts with 16 blocks; then batches of a
/// whole window, keeping between one and two windows ahead of the reader. A read that does not move a stream
/// forward (a re-read, a random read) never fetches anything beyond its own blocks.
struct ReadAheadTracker {
    /// How far a read may start past a stream's end and still continue it, at least.
    static let minimumTolerance: UInt64 = 128 << 10

    private struct Stream {
        var etag: String
        /// The end of the furthest read so far.
        var nextOffset: UInt64
        /// The current window in blocks (0 until the first read-ahead).
        var windowBlocks: UInt64
        /// The first block of the last batch fetched ahead: reaching it triggers the next batch.
        var batchStart: UInt64
        /// The block after the last one fetched ahead (or read).
        var prefetchEnd: UInt64
        /// When the stream was last used, in `tick`s.
        var lastUse: UInt64
    }

    let blockSize: UInt64
    /// The largest window in blocks; 0 disables read-ahead.
    let maxWindowBlocks: UInt64
    let maxStreamsPerObject: Int
    let maxObjects: Int

    private var streams: [String: [Stream]] = [:]
    private var tick: UInt64 = 0

    init(blockSize: UInt64, maxWindowBlocks: UInt64, maxStreamsPerObject: Int = 4, maxObjects: Int = 1024) {
        self.blockSize = blockSize
        self.maxWindowBlocks = maxWindowBlocks
        self.maxStreamsPerObject = max(1, maxStreamsPerObject)
        self.maxObjects = max(1, maxObjects)
    }

    /// Records a read of bytes `offset..<end` (non-empty) of an object of `blockCount` blocks and returns the blocks
    /// to fetch ahead of it: empty unless the read continues a stream and reached its last batch.
    mutating func record(key: String, etag: String, offset: UInt64, end: UInt64, blockCount: UInt64) -> Range<UInt64> {
        tick += 1
        let lastBlock = (end - 1) / blockSize
        let tolerance = max(end - offset, Self.minimumTolerance)
        var list = streams[key] ?? []
        list.removeAll { $0.etag != etag }

        var ahead: Range<UInt64> = 0..<0
        let blockSize = self.blockSize
        if let i = list.firstIndex(where: {
            Self.continues($0, offset: offset, tolerance: tolerance, blockSize: blockSize)
        }) {
            var stream = list[i]
            stream.lastUse = tick
            let movesForward = end > stream.nextOffset
            stream.nextOffset = max(stream.nextOffset, end)
            if movesForward, maxWindowBlocks > 0, lastBlock >= stream.batchStart {
                // At least the read's own size: a 1 MiB read fetches 1 MiB ahead at once, not 64 KiB, 128 KiB, ...
                let readBlocks = lastBlock - offset / blockSize + 1
                let doubled = stream.windowBlocks == 0 ? 1 : stream.windowBlocks * 2
                stream.windowBlocks = min(maxWindowBlocks, max(doubled, readBlocks))
                let from = max(stream.prefetchEnd, lastBlock + 1)
                let to = min(blockCount, from + stream.windowBlocks)
                if from < to {
                    ahead = from..<to
                    stream.batchStart = from
                    stream.prefetchEnd = to
                } else {
                    // At the end of the object: nothing left to fetch, and nothing to trigger again.
                    stream.batchStart = blockCount
                    stream.prefetchEnd = max(stream.prefetchEnd, from)
                }
            }
            list[i] = stream
        } else {
            let stream = Stream(etag: etag, nextOffset: end, windowBlocks: 0, batchStart: lastBlock,
                                prefetchEnd: lastBlock + 1, lastUse: tick)
            if list.count >= maxStreamsPerObject,
               let oldest = list.indices.min(by: { list[$0].lastUse < list[$1].lastUse }) {
                list[oldest] = stream
            } else {
                list.append(stream)
            }
        }
        streams[key] = list
        if streams.count > maxObjects { pruneObjects() }
        return ahead
    }

    /// Only the start of a batch `record` returned is fetched, up to `end` (memory is short): the stream fetches the
    /// rest with a later batch, triggered by its next forward read.
    mutating func shorten(key: String, batch: Range<UInt64>, to end: UInt64) {
        guard var list = streams[key],
              let i = list.firstIndex(where: { $0.batchStart == batch.lowerBound && $0.prefetchEnd == batch.upperBound })
        else { return }
        list[i].prefetchEnd = end
        streams[key] = list
    }

    /// Forgets the streams of `key` (after the object was rewritten or deleted).
    mutating func forget(key: String) {
        streams[key] = nil
    }

    /// The number of objects with streams (for tests).
    var objectCount: Int { streams.count }

    private static func continues(_ stream: Stream, offset: UInt64, tolerance: UInt64, blockSize: UInt64) -> Bool {
        let (behind, overflow) = stream.windowBlocks.multipliedReportingOverflow(by: blockSize)
        let reach = overflow ? UInt64.max : behind.addingReportingOverflow(tolerance).partialValue
        let low = stream.nextOffset > reach ? stream.nextOffset - reach : 0
        let (high, highOverflow) = stream.nextOffset.addingReportingOverflow(tolerance)
        return offset >= low && (highOverflow || offset <= high)
    }

    /// Drops the least recently used quarter of the objects.
    private mutating func pruneObjects() {
        let byUse = streams.map { (key: $0.key, lastUse: $0.value.map(\.lastUse).max() ?? 0) }
            .sorted { $0.lastUse < $1.lastUse }
        for entry in byUse.prefix(max(1, streams.count / 4)) {
            streams[entry.key] = nil
        }
    }
}

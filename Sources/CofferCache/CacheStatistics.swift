/// Counters of a `BlockCache`, for tests and benchmarks.
///
/// Hits and misses count blocks, not reads: a read of three blocks of which one was cached counts one hit and two
/// misses. A miss is either fetched by the read itself or shared with a fetch already in flight (`sharedFetches`).
public struct CacheStatistics: Sendable, Equatable, CustomStringConvertible {
    /// Blocks that reads found in the cache.
    public var hits: Int
    /// Blocks that reads did not find in the cache.
    public var misses: Int
    /// Of the `misses`, the blocks that were already being fetched (by another read or by read-ahead).
    public var sharedFetches: Int
    /// Blocks fetched ahead of sequential reads, before any read asked for them.
    public var readAheadBlocks: Int
    /// Ranged GETs sent to the store, successful or not.
    public var getRequests: Int
    /// GETs that failed.
    public var failedRequests: Int
    /// Bytes received from successful GETs.
    public var bytesFetched: UInt64
    /// Blocks dropped to stay within the capacity.
    public var evictions: Int
    /// Blocks in the cache now.
    public var cachedBlocks: Int
    /// Bytes in the cache now (never more than the capacity once a fetch has been stored).
    public var cachedBytes: Int
    /// Blocks in the disk cache now (0 without one).
    public var diskBlocks = 0
    /// Bytes of the disk cache's files now.
    public var diskBytes = 0
    /// Blocks read from the disk cache instead of S3.
    public var diskHits = 0
    /// Blocks of the disk cache that did not verify (deleted and fetched again).
    public var corruptDiskBlocks = 0
    /// Blocks written to the disk cache.
    public var diskWrites = 0

    /// Counters from their values (all zero by default).
    public init(hits: Int = 0, misses: Int = 0, sharedFetches: Int = 0, readAheadBlocks: Int = 0, getRequests: Int = 0,
                failedRequests: Int = 0, bytesFetched: UInt64 = 0, evictions: Int = 0, cachedBlocks: Int = 0,
                cachedBytes: Int = 0) {
        self.hits = hits
        self.misses = misses
        self.sharedFetches = sharedFetches
        self.readAheadBlocks = readAheadBlocks
        self.getRequests = getRequests
        self.failedRequests = failedRequests
        self.bytesFetched = bytesFetched
        self.evictions = evictions
        self.cachedBlocks = cachedBlocks
        self.cachedBytes = cachedBytes
    }

    public var description: String {
        "hits \(hits), misses \(misses) (shared \(sharedFetches)), read-ahead \(readAheadBlocks) blocks, "
            + "\(getRequests) GETs (\(failedRequests) failed), \(bytesFetched) bytes fetched, "
            + "\(evictions) evictions, \(cachedBlocks) blocks / \(cachedBytes) bytes cached; disk: \(diskHits) hits, "
            + "\(diskBlocks) blocks / \(diskBytes) bytes, \(diskWrites) written, \(corruptDiskBlocks) corrupt"
    }
}

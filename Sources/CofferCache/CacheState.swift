import CofferObjectStore

/// Everything a `BlockCache` changes, kept behind its lock and touched only for short, non-blocking work.
struct CacheState: ~Copyable {
    /// A GET in flight for a run of adjacent blocks, shared by every read that needs one of them.
    struct Fetch: Sendable {
        /// Tells this fetch from a later one of the same blocks (after an invalidation or a failure).
        var id: UInt64
        /// The first block of the run.
        var firstBlock: UInt64
        /// The GET, answering the bytes of each block of the run, in order.
        var task: Task<Result<[BlockBytes], ObjectStoreError>, Never>
    }

    var blocks = BlockLRU()
    var inFlight: [BlockKey: Fetch] = [:]
    var readAhead: ReadAheadTracker
    var statistics = CacheStatistics()
    var nextFetchID: UInt64 = 0
    /// Bytes of the GETs in flight: counted against the capacity before they arrive, so cached blocks plus bytes on
    /// their way stay within it.
    var inFlightBytes = 0

    /// What cached blocks may take while `inFlightBytes` are on their way.
    func room(in capacity: Int) -> Int { max(0, capacity - inFlightBytes) }

    init(readAhead: ReadAheadTracker) {
        self.readAhead = readAhead
    }

    /// Forgets the fetches in flight for `key` (each still completes for the reads awaiting it, but stores nothing).
    mutating func abandonFetches(of key: String, where shouldAbandon: (BlockKey) -> Bool = { _ in true }) {
        let abandoned = inFlight.keys.filter { $0.key == key && shouldAbandon($0) }
        for block in abandoned { inFlight[block] = nil }
    }
}

import CofferObjectStore
import Logging
import Synchronization

/// The read side of the filesystem: object bytes fetched with ranged GETs, in blocks, kept in memory (and on disk
/// when asked).
///
/// - **Blocks.** An object is cut into blocks of `blockSize` bytes (the last one may be shorter), cached by
///   (key, ETag, index), so a new version of an object (a new ETag) never returns bytes of the old one. A read
///   fetches only the blocks it touches that are not cached, each run of adjacent missing blocks in ranged GETs of
///   at most `maxGetSize` sent with `If-Match: <etag>`.
/// - **Block size.** 64 KiB by default: what a random read fetches (a 4 KiB read of a database or an archive index
///   downloads 64 KiB, not a megabyte). Sequential reads grow their fetches by read-ahead instead (below), so the
///   small block costs them only the first few round trips.
/// - **Sharing.** Concurrent reads of a block share one fetch: the first read starts a `Task` for the GET and
///   registers it for every block of the run; the others await that task. Awaiting never blocks a thread; the lock
///   only guards in-memory bookkeeping.
/// - **Read-ahead.** Sequential reads of an object (see `ReadAheadTracker`) fetch ahead in batches whose size
///   doubles from one block up to `maxReadAhead` (at most a quarter of the capacity), in the same GETs as the
///   blocks the read needs when those are missing too, cut into GETs of `maxGetSize` that run in parallel. A
///   `cat` of a large file therefore keeps one to two windows ahead of the reader with several GETs in flight.
///   Random reads fetch no read-ahead.
/// - **Disk.** With a disk directory, fetched blocks are also written there (`DiskBlockStore`) and read from it
///   when they are not in memory, across remounts. Read-ahead in flight fits in what the disk cache's writer can
///   still queue, so a sequential read keeps every block it fetches (a block the writer's full queue refuses is
///   not kept on disk).
/// - **Memory.** Cached blocks are evicted least recently used first so that, with the bytes of the GETs in flight
///   (counted from the moment they are sent), they take at most `capacity` bytes.
/// - **Errors** of the store are thrown to the reads that needed the failed GET and are never cached: the next
///   read sends a new GET. `.preconditionFailed` (the object changed since the caller's ETag) and `.notFound`
///   also drop the blocks cached for that ETag.
public final class BlockCache: Sendable {
    /// The size of a block in bytes.
    public let blockSize: Int
    /// The most bytes of blocks kept.
    public let capacity: Int
    /// The largest read-ahead window in bytes actually used: `maxReadAhead` rounded down to whole blocks, at most a
    /// quarter of the capacity (so that read-ahead does not evict itself).
    public let maxReadAhead: Int
    /// The largest range one GET asks for: a longer run of missing blocks is fetched by several GETs at once.
    public let maxGetSize: Int

    private let store: any ObjectStore
    private let logger: Logger
    private let state: Mutex<CacheState>
    /// Blocks kept on disk too, when a disk cache was given.
    private let disk: DiskBlockStore?

    /// A cache of the objects of `store`.
    /// - Parameters:
    ///   - blockSize: the unit of fetching and caching, in bytes (> 0).
    ///   - capacity: the most bytes of blocks kept in memory.
    ///   - maxReadAhead: the largest read-ahead window for sequential reads, in bytes; 0 disables read-ahead.
    ///   - maxGetSize: the largest range of one GET. 16 MiB by default: a 32 MiB window is fetched by two GETs at
    ///     once, and fewer, larger GETs cost the server less per byte (a cold `dd` of 512 MiB from the local S3
    ///     server: 42 GETs and about 0.45 s of server CPU, against 136 GETs and 0.8 s with 4 MiB; 2026-12-07).
    ///   - diskDirectory: where blocks are kept on disk too (`DiskBlockStore`), up to `diskCapacity` bytes; nil
    ///     for none. Never with plaintext of encrypted files.
    public init(store: any ObjectStore, blockSize: Int = 64 << 10, capacity: Int = 256 << 20,
                maxReadAhead: Int = 32 << 20, maxGetSize: Int = 16 << 20, diskDirectory: String? = nil,
                diskCapacity: Int = 0, logger: Logger = Logger(label: "coffer.cache")) {
        precondition(blockSize > 0, "the block size must be positive")
        precondition(capacity >= 0 && maxReadAhead >= 0, "the capacity and read-ahead must not be negative")
        self.store = store
        self.blockSize = blockSize
        self.capacity = capacity
        let windowBlocks = min(maxReadAhead, capacity / 4) / blockSize
        self.maxReadAhead = windowBlocks * blockSize
        self.maxGetSize = max(blockSize, maxGetSize)
        self.logger = logger
        self.state = Mutex(CacheState(readAhead: ReadAheadTracker(blockSize: UInt64(blockSize),
                                                                  maxWindowBlocks: UInt64(windowBlocks))))
        self.disk = diskDirectory.flatMap { directory in
            diskCapacity > 0 ? DiskBlockStore.open(directory: directory, capacity: diskCapacity, logger: logger) : nil
        }
    }

    /// Up to `count` bytes at `offset` of object `key` whose ETag is `etag` and size `size` (fewer only at the end;
    /// none at or after the end, without any request).
    ///
    /// Fetches the missing blocks with ranged GETs sent with `If-Match: etag`; adjacent missing blocks are fetched in
    /// one GET; concurrent reads of the same block share one fetch; blocks are cached (LRU by bytes, bounded by
    /// `capacity`).
    /// - Throws: `.preconditionFailed` if the object changed (the caller then refreshes its ETag and retries), and
    ///   any other error of the store.
    public func read(key: String, etag: String, size: UInt64, offset: UInt64,
                     count: Int) async throws(ObjectStoreError) -> [UInt8] {
        let segments = try await readSegments(key: key, etag: etag, size: size, offset: offset, count: count)
        guard segments.count != 1 else { return Array(segments[0]) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segments.reduce(0) { $0 + $1.count })
        for segment in segments { bytes += segment }
        return bytes
    }

    /// `read`, as the slices of the cached blocks that hold the bytes, in order, without copying them into one
    /// array (a FUSE reply sends them as they are).
    public func readSegments(key: String, etag: String, size: UInt64, offset: UInt64,
                             count: Int) async throws(ObjectStoreError) -> [ArraySlice<UInt8>] {
        guard count > 0, offset < size else { return [] }
        let end = size - offset > UInt64(count) ? offset + UInt64(count) : size
        let sources = plan(key: key, etag: etag, size: size, offset: offset, end: end)

        let blockSize = UInt64(self.blockSize)
        let firstBlock = offset / blockSize
        var segments: [ArraySlice<UInt8>] = []
        segments.reserveCapacity(sources.count)
        for (position, source) in sources.enumerated() {
            let index = firstBlock + UInt64(position)
            let block: BlockBytes
            switch source {
            case .cached(let cached):
                block = cached
            case .fetching(let fetch):
                block = try await fetch.task.value.get()[Int(index - fetch.firstBlock)]
            case .onDisk(let key):
                block = try await readFromDisk(key, size: size)
            }
            let blockStart = index * blockSize
            guard UInt64(block.count) == min(blockSize, size - blockStart) else {
                // Only when callers disagree on the size of one version of the object.
                throw .invalidResponse("block \(index) of \(key) (ETag \(etag)) has \(block.count) bytes, "
                                       + "which does not match the object's size \(size)")
            }
            let low = Int(max(offset, blockStart) - blockStart)
            let high = Int(min(end, blockStart + blockSize) - blockStart)
            segments.append(block[(block.startIndex + low)..<(block.startIndex + high)])
        }
        return segments
    }

    /// Forgets every block of `key` (after the object was rewritten or deleted), in memory and on disk, and its
    /// read-ahead state. GETs in flight for it still answer the reads waiting for them, but their bytes are not
    /// cached.
    public func invalidate(key: String) {
        state.withLock { state in
            state.blocks.removeBlocks(of: key)
            state.abandonFetches(of: key)
            state.readAhead.forget(key: key)
        }
        disk?.removeBlocks(of: key)
    }

    /// Waits until the blocks queued for the disk cache are written (tests, and before unmount).
    public func flushDiskCache() {
        disk?.flush()
    }

    /// Forgets every block.
    public func removeAll() {
        state.withLock { state in
            state.blocks = BlockLRU()
            state.inFlight = [:]
        }
    }

    /// Counters for tests and benchmarks: hits, misses, bytes fetched, GET requests, what is cached.
    public var statistics: CacheStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.cachedBlocks = state.blocks.count
            statistics.cachedBytes = state.blocks.totalBytes
            if let disk = self.disk?.statistics {
                statistics.diskBlocks = disk.blocks
                statistics.diskBytes = disk.bytes
                statistics.diskHits = disk.hits
                statistics.corruptDiskBlocks = disk.corrupt
                statistics.diskWrites = disk.writes
            }
            return statistics
        }
    }

    /// A block the disk cache holds: read, verified and kept in memory; when it does not verify (or vanished),
    /// fetched from S3 like any missing block.
    private func readFromDisk(_ block: BlockKey, size: UInt64) async throws(ObjectStoreError) -> BlockBytes {
        if let bytes = disk?.read(block) {
            state.withLock { state in
                if !state.blocks.contains(block) {
                    state.blocks.insert(bytes, for: block)
                    state.statistics.evictions += state.blocks.evict(downTo: state.room(in: capacity))
                }
            }
            return bytes
        }
        let fetch: CacheState.Fetch = state.withLock { state in
            if let running = state.inFlight[block] { return running }
            return startFetch(&state, key: block.key, etag: block.etag, size: size, blocks: block.index..<(block.index + 1))
        }
        return try await fetch.task.value.get()[Int(block.index - fetch.firstBlock)]
    }

    // MARK: - Planning and fetching

    /// Where a read finds one block.
    private enum Source: Sendable {
        case cached(BlockBytes)
        case fetching(CacheState.Fetch)
        case onDisk(BlockKey)
    }

    /// For each block of `offset..<end`, the cached bytes or the fetch that brings them; starts the fetches of the
    /// missing blocks and of the read-ahead, one GET per run of adjacent blocks.
    private func plan(key: String, etag: String, size: UInt64, offset: UInt64, end: UInt64) -> [Source] {
        let blockSize = UInt64(self.blockSize)
        let firstBlock = offset / blockSize
        let lastBlock = (end - 1) / blockSize
        let blockCount = (size - 1) / blockSize + 1
        return state.withLock { state in
            var ahead = state.readAhead.record(key: key, etag: etag, offset: offset, end: end, blockCount: blockCount)
            // Read-ahead in flight takes at most half the capacity, for all streams together: beyond that, blocks
            // fetched ahead would evict each other before they are read. The stream fetches the rest later.
            // With a disk cache, read-ahead also fits in what its writer's queue can take: blocks it could not queue
            // would not be kept, and the next read of the file would download them again.
            let memoryRoom = capacity / 2 - state.inFlightBytes
            let diskRoom = disk.map { $0.writeRoom - state.inFlightBytes } ?? memoryRoom
            let allowed = max(0, min(memoryRoom, diskRoom)) / self.blockSize
            if ahead.count > allowed {
                let shortened = ahead.lowerBound..<(ahead.lowerBound + UInt64(allowed))
                state.readAhead.shorten(key: key, batch: ahead, to: shortened.upperBound)
                ahead = shortened
            }
            var sources: [Source?] = []
            var missing: [UInt64] = []
            for index in firstBlock...lastBlock {
                let block = BlockKey(key: key, etag: etag, index: index)
                if let bytes = state.blocks.use(block) {
                    state.statistics.hits += 1
                    sources.append(.cached(bytes))
                } else if let fetch = state.inFlight[block] {
                    state.statistics.misses += 1
                    state.statistics.sharedFetches += 1
                    sources.append(.fetching(fetch))
                } else if let disk, disk.contains(block) {
                    state.statistics.misses += 1
                    sources.append(.onDisk(block))
                } else {
                    state.statistics.misses += 1
                    sources.append(nil)
                    missing.append(index)
                }
            }
            for index in ahead {
                let block = BlockKey(key: key, etag: etag, index: index)
                if !state.blocks.contains(block), state.inFlight[block] == nil, !(disk?.contains(block) ?? false) {
                    state.statistics.readAheadBlocks += 1
                    missing.append(index)
                }
            }
            // One GET per run of adjacent missing blocks (`missing` is ascending), at most `maxGetSize` each: the
            // GETs of a long read-ahead window run in parallel.
            let maxBlocksPerGet = max(1, maxGetSize / self.blockSize)
            var runStart = 0
            while runStart < missing.count {
                var runEnd = runStart + 1
                while runEnd < missing.count, missing[runEnd] == missing[runEnd - 1] + 1,
                      runEnd - runStart < maxBlocksPerGet { runEnd += 1 }
                let blocks = missing[runStart]..<(missing[runEnd - 1] + 1)
                let fetch = startFetch(&state, key: key, etag: etag, size: size, blocks: blocks)
                for index in blocks where index <= lastBlock {
                    sources[Int(index - firstBlock)] = .fetching(fetch)
                }
                runStart = runEnd
            }
            return sources.map { $0! }
        }
    }

    /// Starts the GET of `blocks` and registers it as their fetch in flight.
    private func startFetch(_ state: inout CacheState, key: String, etag: String, size: UInt64,
                            blocks: Range<UInt64>) -> CacheState.Fetch {
        let id = state.nextFetchID
        state.nextFetchID += 1
        state.statistics.getRequests += 1
        // Bytes on their way count against the capacity from now: cached blocks make room for them.
        let blockSize = UInt64(self.blockSize)
        let bytes = Int(min(size, blocks.upperBound * blockSize) - blocks.lowerBound * blockSize)
        state.inFlightBytes += bytes
        state.statistics.evictions += state.blocks.evict(downTo: state.room(in: capacity))
        let task = Task { [self] in
            await get(key: key, etag: etag, size: size, blocks: blocks, id: id)
        }
        let started = CacheState.Fetch(id: id, firstBlock: blocks.lowerBound, task: task)
        for index in blocks {
            state.inFlight[BlockKey(key: key, etag: etag, index: index)] = started
        }
        return started
    }

    /// The GET of fetch `id`: the bytes of `blocks`, one array per block, stored in the cache unless the fetch was
    /// abandoned meanwhile. (The arrays are shared with the cache, not copied.)
    private func get(key: String, etag: String, size: UInt64, blocks: Range<UInt64>,
                     id: UInt64) async -> Result<[BlockBytes], ObjectStoreError> {
        let blockSize = UInt64(self.blockSize)
        let range = (blocks.lowerBound * blockSize)..<min(size, blocks.upperBound * blockSize)
        var result: Result<[BlockBytes], ObjectStoreError>
        do {
            // One array per block, received as such: the cache frees exactly the blocks it evicts.
            let pieces = try await store.get(key, range: range, ifMatch: etag, pieceSize: Int(blockSize))
            let received = pieces.reduce(0) { $0 + $1.count }
            if received == range.count, pieces.count == blocks.count,
               pieces.dropLast().allSatisfy({ $0.count == Int(blockSize) }) {
                result = .success(pieces.map { $0[...] })
            } else {
                result = .failure(.invalidResponse("GET \(key) [\(range)] answered \(received) bytes, "
                                                   + "not \(range.count) (is the object's size \(size) right?)"))
            }
        } catch {
            result = .failure(error)
        }
        if case .failure(let error) = result {
            logger.debug("GET \(key) [\(range)] failed: \(error)")
        }
        let outcome = result
        state.withLock { state in
            finish(id, with: outcome, blocks: blocks, key: key, etag: etag, size: size, in: &state)
        }
        return result
    }

    /// Ends fetch `id`: caches its blocks on success, and forgets it either way.
    private func finish(_ id: UInt64, with result: Result<[BlockBytes], ObjectStoreError>, blocks: Range<UInt64>,
                        key: String, etag: String, size: UInt64, in state: inout CacheState) {
        let blockSize = UInt64(self.blockSize)
        state.inFlightBytes -= Int(min(size, blocks.upperBound * blockSize) - blocks.lowerBound * blockSize)
        switch result {
        case .success(let fetched):
            var stored = false
            for (index, bytes) in zip(blocks, fetched) {
                state.statistics.bytesFetched += UInt64(bytes.count)
                let block = BlockKey(key: key, etag: etag, index: index)
                guard state.inFlight[block]?.id == id else { continue }
                state.inFlight[block] = nil
                state.blocks.insert(bytes, for: block)
                disk?.write(block, bytes)
                stored = true
            }
            if stored {
                // This version exists: blocks of older versions will not be read again.
                state.blocks.removeBlocks(of: key) { $0.etag != etag }
                state.statistics.evictions += state.blocks.evict(downTo: state.room(in: capacity))
                disk?.removeBlocks(of: key) { $0.etag != etag }
            }
        case .failure(let error):
            state.statistics.failedRequests += 1
            for index in blocks {
                let block = BlockKey(key: key, etag: etag, index: index)
                if state.inFlight[block]?.id == id { state.inFlight[block] = nil }
            }
            switch error {
            case .preconditionFailed, .notFound:
                // The caller's version is gone: none of its blocks will be read again.
                state.blocks.removeBlocks(of: key) { $0.etag == etag }
                disk?.removeBlocks(of: key) { $0.etag == etag }
            default:
                break
            }
        }
    }
}

import CofferObjectStore
import Testing

@testable import CofferCache

@Suite("BlockCache")
struct BlockCacheTests {
    static let kib = 1 << 10
    static let mib = 1 << 20

    // MARK: - Small reads

    /// The default block: 64 KiB, what a random read fetches.
    static let block = 64 * kib

    @Test func smallReadInTheMiddleOfALargeObjectCostsOneGETOfOneBlock() async throws {
        let store = InMemoryObjectStore()
        let bytes = patternBytes(64 * Self.mib)
        let etag = try await store.put("big", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store)
        let offset = 33 * Self.mib + 1234

        let read = try await cache.read(key: "big", etag: etag, size: UInt64(bytes.count), offset: UInt64(offset),
                                        count: 4 * Self.kib)
        #expect(read == Array(bytes[offset..<(offset + 4 * Self.kib)]))
        #expect(store.requestCount() == 1)
        #expect(getRanges(store) == [UInt64(33 * Self.mib)..<UInt64(33 * Self.mib + Self.block)],
                "a random 4 KiB read downloads one 64 KiB block")

        let again = try await cache.read(key: "big", etag: etag, size: UInt64(bytes.count), offset: UInt64(offset),
                                         count: 4 * Self.kib)
        #expect(again == read)
        #expect(store.requestCount() == 1, "the same read again is served from the cache")
        let statistics = cache.statistics
        #expect(statistics.hits == 1)
        #expect(statistics.misses == 1)
        #expect(statistics.getRequests == 1)
        #expect(statistics.bytesFetched == UInt64(Self.block))
        #expect(statistics.cachedBlocks == 1)
        #expect(statistics.cachedBytes == Self.block)
    }

    @Test func aReadAcrossABlockBoundaryFetchesBothBlocksInOneGET() async throws {
        let store = InMemoryObjectStore()
        let bytes = patternBytes(8 * 64 * Self.kib)
        let etag = try await store.put("k", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store, blockSize: 64 * Self.kib)
        let offset = 3 * 64 * Self.kib - 100

        let read = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(offset), count: 200)
        #expect(read == Array(bytes[offset..<(offset + 200)]))
        #expect(getRanges(store) == [UInt64(2 * 64 * Self.kib)..<UInt64(4 * 64 * Self.kib)])
    }

    @Test func randomSmallReadsFetchOnlyTheBlocksTheyTouch() async throws {
        let blockSize = 64 * Self.kib
        let store = InMemoryObjectStore()
        let bytes = patternBytes(128 * blockSize)
        let etag = try await store.put("k", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store, blockSize: blockSize)

        let blocks = [5, 77, 13, 100, 42, 64, 21, 120, 90, 33]
        for block in blocks {
            let offset = block * blockSize + 1000
            let read = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(offset),
                                            count: 4 * Self.kib)
            #expect(read == Array(bytes[offset..<(offset + 4 * Self.kib)]))
        }
        #expect(getRanges(store) == blocks.map { UInt64($0 * blockSize)..<UInt64(($0 + 1) * blockSize) })
        #expect(cache.statistics.readAheadBlocks == 0)
    }

    @Test func aLargeReadFetchesEachRunOfMissingBlocksInOneGET() async throws {
        let blockSize = 4 * Self.kib
        let store = InMemoryObjectStore()
        let bytes = patternBytes(10 * blockSize)
        let etag = try await store.put("k", bytes: bytes)
        let cache = BlockCache(store: store, blockSize: blockSize, maxReadAhead: 0)
        _ = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(2 * blockSize), count: 1)
        store.resetCounts()

        let read = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 10,
                                        count: 5 * blockSize - 20)
        #expect(read == Array(bytes[10..<(5 * blockSize - 10)]))
        // The two runs are fetched concurrently: in either order, each exactly once.
        #expect(getRanges(store).compactMap { $0 }.sorted { $0.lowerBound < $1.lowerBound }
                == [0..<UInt64(2 * blockSize), UInt64(3 * blockSize)..<UInt64(5 * blockSize)])
        #expect(getRanges(store).count == 2)
        #expect(cache.statistics.hits == 1)
    }

    // MARK: - Sequential reads

    @Test func aSequentialReadMakesFewLargeGETsAndReturnsEveryByte() async throws {
        let store = InMemoryObjectStore()
        let bytes = patternBytes(32 * Self.mib, seed: 7)
        let etag = try await store.put("movie", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store, maxGetSize: 4 << 20)

        var copy: [UInt8] = []
        copy.reserveCapacity(bytes.count)
        var offset = 0
        while true {
            let chunk = try await cache.read(key: "movie", etag: etag, size: UInt64(bytes.count), offset: UInt64(offset),
                                             count: 128 * Self.kib)
            if chunk.isEmpty { break }
            copy += chunk
            offset += chunk.count
        }
        #expect(copy == bytes)

        let ranges = getRanges(store).compactMap { $0 }
        // Windows of 1, 2, 4 … blocks of 64 KiB doubling up to 32 MiB, cut into GETs of at most 4 MiB: at most 16
        // GETs for 32 MiB.
        #expect(ranges.count <= 16, "\(ranges.count) GETs for 512 blocks: \(ranges)")
        #expect(ranges.contains { $0.count == UInt64(4 * Self.mib) }, "read-ahead windows reach whole 4 MiB GETs")
        #expect(ranges.allSatisfy { $0.count <= UInt64(4 * Self.mib) })
        #expect(ranges.reduce(0) { $0 + $1.count } == UInt64(bytes.count), "no byte is fetched twice")
        #expect(ranges.allSatisfy { $0.lowerBound % UInt64(Self.block) == 0 })
        #expect(cache.statistics.readAheadBlocks > 0)
    }

    @Test func withoutReadAheadASequentialReadFetchesBlockByBlock() async throws {
        let blockSize = 16 * Self.kib
        let store = InMemoryObjectStore()
        let bytes = patternBytes(8 * blockSize)
        let etag = try await store.put("k", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store, blockSize: blockSize, maxReadAhead: 0)
        for offset in stride(from: 0, to: bytes.count, by: 4 * Self.kib) {
            _ = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(offset),
                                     count: 4 * Self.kib)
        }
        #expect(store.requestCount(.get) == 8)
        #expect(cache.maxReadAhead == 0)
    }

    @Test func readAheadIsCappedByAQuarterOfTheCapacity() {
        let cache = BlockCache(store: InMemoryObjectStore(), blockSize: Self.mib, capacity: 16 * Self.mib,
                               maxReadAhead: 64 * Self.mib)
        #expect(cache.maxReadAhead == 4 * Self.mib)
        let rounded = BlockCache(store: InMemoryObjectStore(), blockSize: 3 * Self.kib, capacity: Self.mib,
                                 maxReadAhead: 10 * Self.kib)
        #expect(rounded.maxReadAhead == 9 * Self.kib)
    }

    // MARK: - Sharing fetches

    @Test func concurrentReadersOfOneBlockShareOneGET() async throws {
        let gated = GatedObjectStore()
        let bytes = patternBytes(4 * Self.mib)
        let etag = try await gated.base.put("k", bytes: bytes)
        gated.base.resetCounts()
        let cache = BlockCache(store: gated)
        let readers = 8
        let offset = 2 * Self.mib + 512

        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<readers {
                group.addTask {
                    try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(offset),
                                         count: 4 * Self.kib)
                }
            }
            try await waitUntil("every reader waits for the one GET") {
                gated.waitingCount == 1 && cache.statistics.misses == readers
            }
            gated.open()
            for try await read in group {
                #expect(read == Array(bytes[offset..<(offset + 4 * Self.kib)]))
            }
        }
        #expect(gated.base.requestCount(.get) == 1)
        #expect(cache.statistics.sharedFetches == readers - 1)
    }

    @Test func concurrentReadersAllSeeAFailedFetchAndTheNextReadRetries() async throws {
        let gated = GatedObjectStore()
        let bytes = patternBytes(64 * Self.kib)
        let etag = try await gated.base.put("k", bytes: bytes)
        gated.base.resetCounts()
        gated.base.failNext(.get, with: .transport("connection reset"))
        let cache = BlockCache(store: gated, blockSize: 16 * Self.kib)

        let errors = await withTaskGroup(of: ObjectStoreError?.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    await failure { () async throws(ObjectStoreError) in
                        _ = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 100, count: 10)
                    }
                }
            }
            try? await waitUntil("the readers share the GET") { gated.waitingCount == 1 && cache.statistics.misses == 3 }
            gated.open()
            var errors: [ObjectStoreError?] = []
            for await error in group { errors.append(error) }
            return errors
        }
        #expect(errors == Array(repeating: .transport("connection reset"), count: 3))
        let read = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 100, count: 10)
        #expect(read == Array(bytes[100..<110]))
        #expect(gated.base.requestCount(.get) == 2)
    }

    // MARK: - Versions

    @Test func aNewETagNeverReadsBlocksOfTheOldVersion() async throws {
        let blockSize = 16 * Self.kib
        let store = InMemoryObjectStore()
        let v1 = patternBytes(4 * blockSize, seed: 1)
        let v2 = patternBytes(4 * blockSize, seed: 2)
        let e1 = try await store.put("k", bytes: v1)
        let cache = BlockCache(store: store, blockSize: blockSize)
        #expect(try await cache.read(key: "k", etag: e1, size: UInt64(v1.count), offset: 10, count: 10) == Array(v1[10..<20]))

        let e2 = try await store.put("k", bytes: v2)
        store.resetCounts()
        #expect(try await cache.read(key: "k", etag: e2, size: UInt64(v2.count), offset: 10, count: 10) == Array(v2[10..<20]))
        #expect(store.requestCount(.get) == 1, "block 0 of the new version is fetched, not taken from the old one")
        #expect(cache.statistics.cachedBlocks == 1, "the old version's block was dropped")
    }

    @Test func aChangedObjectSurfacesPreconditionFailed() async throws {
        let blockSize = 16 * Self.kib
        let store = InMemoryObjectStore()
        let v1 = patternBytes(4 * blockSize, seed: 1)
        let e1 = try await store.put("k", bytes: v1)
        let cache = BlockCache(store: store, blockSize: blockSize, maxReadAhead: 0)
        _ = try await cache.read(key: "k", etag: e1, size: UInt64(v1.count), offset: 0, count: 10)
        let v2 = patternBytes(4 * blockSize, seed: 2)
        let e2 = try await store.put("k", bytes: v2)
        store.resetCounts()

        let error = await failure { () async throws(ObjectStoreError) in
            _ = try await cache.read(key: "k", etag: e1, size: UInt64(v1.count), offset: UInt64(2 * blockSize), count: 10)
        }
        guard case .preconditionFailed = error else {
            Issue.record("expected preconditionFailed, got \(String(describing: error))")
            return
        }
        #expect(cache.statistics.cachedBlocks == 0, "blocks of the stale ETag are dropped")
        // The caller refreshes its ETag and retries.
        let read = try await cache.read(key: "k", etag: e2, size: UInt64(v2.count), offset: UInt64(2 * blockSize), count: 10)
        #expect(read == Array(v2[(2 * blockSize)..<(2 * blockSize + 10)]))
    }

    @Test func invalidateForgetsTheBlocksOfOneKey() async throws {
        let store = InMemoryObjectStore()
        let bytes = patternBytes(32 * Self.kib)
        let etag = try await store.put("a", bytes: bytes)
        let otherETag = try await store.put("b", bytes: bytes)
        let cache = BlockCache(store: store, blockSize: 16 * Self.kib)
        _ = try await cache.read(key: "a", etag: etag, size: UInt64(bytes.count), offset: 0, count: 10)
        _ = try await cache.read(key: "b", etag: otherETag, size: UInt64(bytes.count), offset: 0, count: 10)
        store.resetCounts()

        cache.invalidate(key: "a")
        _ = try await cache.read(key: "a", etag: etag, size: UInt64(bytes.count), offset: 0, count: 10)
        _ = try await cache.read(key: "b", etag: otherETag, size: UInt64(bytes.count), offset: 0, count: 10)
        #expect(store.requestLog.map(\.key) == ["a"])
    }

    @Test func aFetchInFlightDuringInvalidateAnswersItsReadButIsNotCached() async throws {
        let gated = GatedObjectStore()
        let bytes = patternBytes(32 * Self.kib)
        let etag = try await gated.base.put("k", bytes: bytes)
        let cache = BlockCache(store: gated, blockSize: 16 * Self.kib)

        async let read = cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 5, count: 10)
        try await waitUntil("the GET is in flight") { gated.waitingCount == 1 }
        cache.invalidate(key: "k")
        gated.open()
        #expect(try await read == Array(bytes[5..<15]))
        #expect(cache.statistics.cachedBlocks == 0)
    }

    // MARK: - Memory

    @Test func evictionKeepsTheCacheWithinItsCapacityLeastRecentlyUsedFirst() async throws {
        let blockSize = 4 * Self.kib
        let store = InMemoryObjectStore()
        let bytes = patternBytes(64 * blockSize)
        let etag = try await store.put("k", bytes: bytes)
        let cache = BlockCache(store: store, blockSize: blockSize, capacity: 4 * blockSize, maxReadAhead: 0)
        func read(block: Int) async throws -> [UInt8] {
            try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(block * blockSize + 7),
                                 count: 100)
        }

        for block in [0, 10, 20, 30] { _ = try await read(block: block) }
        _ = try await read(block: 0)  // 0 is now the most recently used; 10 the least.
        _ = try await read(block: 40)
        #expect(cache.statistics.cachedBytes <= 4 * blockSize)
        store.resetCounts()
        _ = try await read(block: 0)
        #expect(store.requestCount(.get) == 0, "block 0 was used recently and stayed")
        _ = try await read(block: 10)
        #expect(store.requestCount(.get) == 1, "block 10 was the least recently used and was evicted")

        for block in stride(from: 0, to: 64, by: 3) {
            let read = try await read(block: block)
            #expect(read == Array(bytes[(block * blockSize + 7)..<(block * blockSize + 107)]))
            #expect(cache.statistics.cachedBytes <= 4 * blockSize)
        }
        let statistics = cache.statistics
        #expect(statistics.cachedBlocks == 4)
        #expect(statistics.evictions > 10)
    }

    @Test func aReadLargerThanTheCapacityIsStillAnsweredWhole() async throws {
        let blockSize = 4 * Self.kib
        let store = InMemoryObjectStore()
        let bytes = patternBytes(16 * blockSize)
        let etag = try await store.put("k", bytes: bytes)
        let cache = BlockCache(store: store, blockSize: blockSize, capacity: 2 * blockSize)
        let read = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 0, count: bytes.count)
        #expect(read == bytes)
        #expect(cache.statistics.cachedBytes <= 2 * blockSize)
    }

    // MARK: - Ends of objects

    @Test func readsAtOrAfterTheEndReturnNothingWithoutARequest() async throws {
        let store = InMemoryObjectStore()
        let bytes = patternBytes(1000)
        let etag = try await store.put("k", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store, blockSize: 4 * Self.kib)
        #expect(try await cache.read(key: "k", etag: etag, size: 1000, offset: 1000, count: 10) == [])
        #expect(try await cache.read(key: "k", etag: etag, size: 1000, offset: 5000, count: 10) == [])
        #expect(try await cache.read(key: "k", etag: etag, size: 1000, offset: 0, count: 0) == [])
        #expect(try await cache.read(key: "k", etag: etag, size: 1000, offset: 0, count: -1) == [])
        #expect(store.requestCount() == 0)
    }

    @Test func aZeroSizeObjectIsReadWithoutAnyRequest() async throws {
        let store = InMemoryObjectStore()
        let etag = try await store.put("empty", bytes: [])
        store.resetCounts()
        let cache = BlockCache(store: store)
        #expect(try await cache.read(key: "empty", etag: etag, size: 0, offset: 0, count: 4096) == [])
        #expect(store.requestCount() == 0)
        #expect(cache.statistics == CacheStatistics())
    }

    @Test func theLastPartialBlockIsFetchedUpToTheEndOnly() async throws {
        let blockSize = 64 * Self.kib
        let store = InMemoryObjectStore()
        let bytes = patternBytes(2 * blockSize + 1000)
        let etag = try await store.put("k", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store, blockSize: blockSize)

        let tail = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(2 * blockSize + 10),
                                        count: 4096)
        #expect(tail == Array(bytes[(2 * blockSize + 10)...]))
        #expect(getRanges(store) == [UInt64(2 * blockSize)..<UInt64(bytes.count)])
        #expect(cache.statistics.cachedBytes == 1000)

        let across = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(bytes.count - 10),
                                          count: 100)
        #expect(across == Array(bytes[(bytes.count - 10)...]))
        let all = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 0, count: Int.max)
        #expect(all == bytes)
    }

    @Test func aSizeLargerThanTheObjectIsAnErrorNotGarbage() async throws {
        let store = InMemoryObjectStore()
        let bytes = patternBytes(1000)
        let etag = try await store.put("k", bytes: bytes)
        let cache = BlockCache(store: store, blockSize: 4 * Self.kib)
        let error = await failure { () async throws(ObjectStoreError) in
            _ = try await cache.read(key: "k", etag: etag, size: 2000, offset: 0, count: 2000)
        }
        guard case .invalidResponse = error else {
            Issue.record("expected invalidResponse, got \(String(describing: error))")
            return
        }
        #expect(cache.statistics.cachedBlocks == 0)

        // A cached block that does not match the size given is not returned either.
        _ = try await cache.read(key: "k", etag: etag, size: 1000, offset: 0, count: 10)
        let mismatch = await failure { () async throws(ObjectStoreError) in
            _ = try await cache.read(key: "k", etag: etag, size: 2000, offset: 0, count: 10)
        }
        guard case .invalidResponse = mismatch else {
            Issue.record("expected invalidResponse, got \(String(describing: mismatch))")
            return
        }
    }

    @Test func removeAllForgetsEveryBlock() async throws {
        let store = InMemoryObjectStore()
        let etag = try await store.put("k", bytes: patternBytes(100))
        let cache = BlockCache(store: store, blockSize: 4 * Self.kib)
        _ = try await cache.read(key: "k", etag: etag, size: 100, offset: 0, count: 10)
        cache.removeAll()
        #expect(cache.statistics.cachedBlocks == 0)
        _ = try await cache.read(key: "k", etag: etag, size: 100, offset: 0, count: 10)
        #expect(store.requestCount(.get) == 2)
    }

    // MARK: - Errors

    @Test func storeErrorsPropagateAndTheNextReadRetries() async throws {
        let store = InMemoryObjectStore()
        let bytes = patternBytes(10 * Self.kib)
        let etag = try await store.put("k", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store, blockSize: 4 * Self.kib)

        store.failNext(.get, with: .throttled("slow down"))
        let error = await failure { () async throws(ObjectStoreError) in
            _ = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 0, count: 100)
        }
        #expect(error == .throttled("slow down"))
        #expect(cache.statistics.failedRequests == 1)
        #expect(cache.statistics.cachedBlocks == 0)

        let read = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 0, count: 100)
        #expect(read == Array(bytes[0..<100]))
        #expect(store.requestCount(.get) == 2)
    }

    @Test func aMissingObjectSurfacesNotFound() async throws {
        let cache = BlockCache(store: InMemoryObjectStore())
        let error = await failure { () async throws(ObjectStoreError) in
            _ = try await cache.read(key: "gone", etag: "abc", size: 10, offset: 0, count: 10)
        }
        guard case .notFound = error else {
            Issue.record("expected notFound, got \(String(describing: error))")
            return
        }
    }

    @Test func aFailedReadAheadIsFetchedAgainWhenNeeded() async throws {
        let blockSize = 16 * Self.kib
        let store = InMemoryObjectStore()
        let bytes = patternBytes(8 * blockSize)
        let etag = try await store.put("k", bytes: bytes)
        store.resetCounts()
        let cache = BlockCache(store: store, blockSize: blockSize)

        _ = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: 0, count: 4 * Self.kib)
        store.failNext(.get, with: .transport("reset"))
        // Sequential: triggers read-ahead of block 1, which fails in the background.
        _ = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(4 * Self.kib),
                                 count: 4 * Self.kib)
        try await waitUntil("the read-ahead failed") { cache.statistics.failedRequests == 1 }

        var offset = 8 * Self.kib
        while offset < bytes.count {
            let read = try await cache.read(key: "k", etag: etag, size: UInt64(bytes.count), offset: UInt64(offset),
                                            count: 4 * Self.kib)
            #expect(read == Array(bytes[offset..<(offset + 4 * Self.kib)]))
            offset += 4 * Self.kib
        }
        #expect(cache.statistics.failedRequests == 1)
    }
}

import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

@testable import CofferCache

/// The disk cache under a `BlockCache`: blocks survive a new cache on the same directory (a remount) and cost no GET,
/// the bound holds, a damaged block is fetched again and never returned, a new version never reads the old one's.
@Suite("Disk block cache")
struct DiskBlockStoreTests {
    static let mib = 1 << 20

    static func readAll(_ cache: BlockCache, key: String, etag: String, size: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < size {
            let chunk = try await cache.read(key: key, etag: etag, size: UInt64(size), offset: UInt64(bytes.count),
                                             count: 128 << 10)
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return bytes
    }

    static func blockFiles(_ directory: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var files: [String] = []
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory),
               !isDirectory.boolValue { files.append(directory + "/" + name) }
        }
        return files
    }

    @Test func aNewCacheOnTheSameDirectoryReadsTheBlocksWithoutAGet() async throws {
        let directory = try ProjectPaths.temporaryDirectory("coffer-disk-cache")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryObjectStore()
        let bytes = patternBytes(3 * Self.mib + 777, seed: 3)
        let etag = try await store.put("f", bytes: bytes)
        do {
            let first = BlockCache(store: store, capacity: 64 * Self.mib, diskDirectory: directory,
                                   diskCapacity: 64 * Self.mib)
            #expect(try await Self.readAll(first, key: "f", etag: etag, size: bytes.count) == bytes)
            first.flushDiskCache()
            #expect(first.statistics.diskWrites == 49, "every 64 KiB block of 3 MiB + 777 bytes")
        }
        store.resetCounts()
        let second = BlockCache(store: store, capacity: 64 * Self.mib, diskDirectory: directory,
                                diskCapacity: 64 * Self.mib)
        #expect(try await Self.readAll(second, key: "f", etag: etag, size: bytes.count) == bytes)
        #expect(store.requestCount(.get) == 0, "a remount reads from the disk cache")
        #expect(second.statistics.diskHits == 49)
        // A new version of the object never finds the old one's blocks.
        let changed = patternBytes(3 * Self.mib + 777, seed: 9)
        let newETag = try await store.put("f", bytes: changed)
        #expect(try await Self.readAll(second, key: "f", etag: newETag, size: changed.count) == changed)
        #expect(store.requestCount(.get) > 0)
        second.flushDiskCache()
        #expect(second.statistics.diskBlocks == 49, "the old version's blocks are deleted once the new one is stored")
    }

    @Test func theDiskCacheStaysWithinItsBound() async throws {
        let directory = try ProjectPaths.temporaryDirectory("coffer-disk-cache")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryObjectStore()
        let bytes = patternBytes(8 * Self.mib, seed: 5)
        let etag = try await store.put("big", bytes: bytes)
        let cache = BlockCache(store: store, capacity: 4 * Self.mib, diskDirectory: directory, diskCapacity: 2 * Self.mib)
        for _ in 0..<2 {
            #expect(try await Self.readAll(cache, key: "big", etag: etag, size: bytes.count) == bytes)
            cache.flushDiskCache()
            let onDisk = Self.blockFiles(directory).reduce(0) {
                $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0)
            }
            #expect(onDisk <= 2 * Self.mib, "\(onDisk) bytes of block files")
            #expect(cache.statistics.diskBytes == onDisk)
            #expect(cache.statistics.diskBlocks > 16, "the most recent blocks are kept")
        }
        // Reopened with a smaller bound, the store trims itself at once.
        let smaller = BlockCache(store: store, capacity: 4 * Self.mib, diskDirectory: directory, diskCapacity: Self.mib)
        #expect(smaller.statistics.diskBytes <= Self.mib)
    }

    @Test func aDamagedBlockIsFetchedAgainAndNeverReturned() async throws {
        let directory = try ProjectPaths.temporaryDirectory("coffer-disk-cache")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryObjectStore()
        let bytes = patternBytes(Self.mib, seed: 1)
        let etag = try await store.put("f", bytes: bytes)
        do {
            let first = BlockCache(store: store, capacity: 8 * Self.mib, diskDirectory: directory, diskCapacity: 8 * Self.mib)
            _ = try await Self.readAll(first, key: "f", etag: etag, size: bytes.count)
            first.flushDiskCache()
        }
        let files = Self.blockFiles(directory).sorted()
        #expect(files.count == 16)
        // One block damaged in its data, one cut short (a torn write).
        let damaged = try #require(files.first)
        var contents = try #require(FileManager.default.contents(atPath: damaged))
        contents[contents.count - 100] ^= 0xFF
        try contents.write(to: URL(fileURLWithPath: damaged))
        let torn = files[1]
        let tornContents = try #require(FileManager.default.contents(atPath: torn))
        try tornContents.prefix(tornContents.count / 2).write(to: URL(fileURLWithPath: torn))

        store.resetCounts()
        let second = BlockCache(store: store, capacity: 8 * Self.mib, diskDirectory: directory, diskCapacity: 8 * Self.mib)
        #expect(try await Self.readAll(second, key: "f", etag: etag, size: bytes.count) == bytes)
        #expect(store.requestCount(.get) == 2, "the two blocks, fetched again (the torn one was dropped at open)")
        #expect(getRanges(store).allSatisfy { $0?.count == 64 << 10 })
        #expect(second.statistics.corruptDiskBlocks == 1)
        second.flushDiskCache()
        #expect(second.statistics.diskBlocks == 16, "both are written again")
    }

    @Test func aSequentialReadFasterThanTheDiskKeepsEveryBlock() async throws {
        // The in-memory store answers at once, far faster than block files are written: read-ahead must not fetch
        // more than the writer's queue takes, or blocks are dropped and the next read downloads them again.
        let directory = try ProjectPaths.temporaryDirectory("coffer-disk-cache")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryObjectStore()
        let bytes = patternBytes(96 * Self.mib, seed: 4)
        let etag = try await store.put("f", bytes: bytes)
        let cache = BlockCache(store: store, capacity: 160 * Self.mib, diskDirectory: directory,
                               diskCapacity: 256 * Self.mib)
        #expect(try await Self.readAll(cache, key: "f", etag: etag, size: bytes.count) == bytes)
        cache.flushDiskCache()
        #expect(cache.statistics.diskBlocks == 96 * 16, "every 64 KiB block of 96 MiB is on disk")
        #expect(cache.statistics.readAheadBlocks > 0)
    }

    @Test func theFileFormatNamesItsBlockAndChecksIt() throws {
        let block = BlockKey(key: "dir/a file.txt", etag: "0123abcd", index: 42)
        let data = patternBytes(1000, seed: 2)
        let file = DiskBlockStore.header(of: block, data[...]) + data
        let header = try #require(DiskBlockStore.header(file))
        #expect(header.block == block)
        #expect(header.fileSize == file.count)
        #expect(DiskBlockStore.header(Array(file.prefix(20))) == nil)
        // The checksum covers the header after it and the data: the file reads back, and one flipped data byte fails.
        let directory = try ProjectPaths.temporaryDirectory("coffer-block-format")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/block"
        try Data(file).write(to: URL(fileURLWithPath: path))
        #expect(DiskBlockStore.readVerified(path, expecting: block).map(Array.init) == data)
        var damaged = file
        damaged[damaged.count - 1] ^= 1
        try Data(damaged).write(to: URL(fileURLWithPath: path))
        #expect(DiskBlockStore.readVerified(path, expecting: block) == nil)
    }

    @Test func anUnusableDirectoryMeansNoDiskCacheAndReadsStillWork() async throws {
        let store = InMemoryObjectStore()
        let bytes = patternBytes(300_000)
        let etag = try await store.put("f", bytes: bytes)
        let cache = BlockCache(store: store, diskDirectory: "/proc/coffer-no-such/blocks", diskCapacity: Self.mib)
        #expect(try await Self.readAll(cache, key: "f", etag: etag, size: bytes.count) == bytes)
        #expect(cache.statistics.diskWrites == 0)
    }
}

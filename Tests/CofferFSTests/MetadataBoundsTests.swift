import CofferFS
import CofferObjectStore
import CofferTestSupport
import Foundation
import Synchronization
import Testing

/// The in-memory metadata of the core stays bounded and listing streams: a walk of 100,000 objects keeps the inode
/// table near its bound, the first readdir of a big directory waits for one LIST page, and readers share one
/// mount-wide budget of HEADs.
@Suite("Metadata memory bounds and streaming listings")
struct MetadataBoundsTests {
    static let root = FileSystem.rootInode

    /// A store that holds each HEAD a moment and records how many were in flight at once.
    final class SlowHeadStore: ForwardingObjectStore, Sendable {
        let underlying: any ObjectStore
        private let counts = Mutex((current: 0, most: 0))

        init(_ underlying: any ObjectStore) {
            self.underlying = underlying
        }

        var mostHeadsInFlight: Int { counts.withLock { $0.most } }

        func head(_ key: String) async throws(ObjectStoreError) -> ObjectInfo {
            counts.withLock { counts in
                counts.current += 1
                counts.most = max(counts.most, counts.current)
            }
            defer { counts.withLock { $0.current -= 1 } }
            try? await Task.sleep(for: .milliseconds(3))
            return try await underlying.head(key)
        }
    }

    static func make(_ store: any ObjectStore, configure: (inout FileSystemOptions) -> Void = { _ in }) throws -> FileSystem {
        let cache = try ProjectPaths.temporaryDirectory("coffer-bounds-cache")
        var options = FileSystemOptions(metadataTTL: 60, cacheDirectory: cache)
        configure(&options)
        return FileSystem(store: store, options: options)
    }

    static func fill(_ store: InMemoryObjectStore, _ directory: String, count: Int) async throws {
        for i in 0..<count {
            _ = try await store.put("\(directory)/obj-\(String(format: "%06d", i))", body: .bytes([UInt8(i & 0xff)]),
                                    options: PutOptions())
        }
    }

    /// Reads a whole directory the way the kernel does, `batch` entries per request; with `plus`, forgets every
    /// entry right after (a kernel under memory pressure). Returns the names and the largest inode table seen.
    static func walk(_ fs: FileSystem, _ inode: UInt64, plus: Bool, batch: Int) async throws -> (names: [String], peak: Int) {
        let handle = try await fs.opendir(inode)
        defer { fs.releasedir(inode, handle: handle) }
        var names: [String] = []
        var offset: UInt64 = 0
        var peak = 0
        while true {
            let entries = try await fs.readdir(inode, handle: handle, offset: offset, plus: plus, limit: batch)
            guard let last = entries.last else { break }
            for entry in entries {
                if entry.name != ".", entry.name != ".." { names.append(entry.name) }
                if entry.countsLookup { fs.forget(entry.attributes.inode, count: 1) }
            }
            offset = last.nextOffset
            peak = max(peak, fs.metadataStatistics.inodes)
        }
        return (names, peak)
    }

    @Test func aWalkOfAHundredThousandObjectsKeepsTheInodeTableBounded() async throws {
        let store = InMemoryObjectStore()
        try await Self.fill(store, "big", count: 100_000)
        let fs = try Self.make(store) {
            $0.unreferencedInodeLimit = 2_000
            $0.listedNameLimit = 20_000
        }
        let big = try await fs.lookup(parent: Self.root, name: "big").attributes.inode
        store.resetCounts()

        // getdents (find, ls -f): no lookups, so nothing references the inodes the listing made.
        let plain = try await Self.walk(fs, big, plus: false, batch: 128)
        #expect(plain.names.count == 100_000)
        #expect(Set(plain.names).count == 100_000)
        #expect(plain.peak <= 2 * 2_000 + 8, "peak \(plain.peak) inodes")
        #expect(store.requestCount(.list) == 100)

        // readdirplus (ls -l): every entry is a kernel reference until the kernel forgets it.
        let plus = try await Self.walk(fs, big, plus: true, batch: 27)
        #expect(plus.names.count == 100_000)
        #expect(plus.peak <= 2 * 2_000 + 8, "peak \(plus.peak) inodes")
        let after = fs.metadataStatistics
        #expect(after.inodes <= 2 * 2_000 + 8)
        #expect(after.listedNames <= 20_000, "a listing of more names than the bound is not kept")

        // What the kernel still references stays, whatever the bound: looked-up names keep their inode numbers.
        var held: [String: UInt64] = [:]
        for i in stride(from: 0, to: 100_000, by: 20) {
            let name = "obj-\(String(format: "%06d", i))"
            held[name] = try await fs.lookup(parent: big, name: name).attributes.inode
        }
        _ = try await Self.walk(fs, big, plus: false, batch: 1000)
        for (name, inode) in held.prefix(200) {
            #expect(try await fs.lookup(parent: big, name: name).attributes.inode == inode)
            #expect(try await fs.getattr(inode).0.size == 1)
        }
    }

    @Test func theFirstReaddirOfABigDirectoryWaitsForOneListPage() async throws {
        let store = InMemoryObjectStore()
        try await Self.fill(store, "d", count: 5_000)
        let fs = try Self.make(store)
        let directory = try await fs.lookup(parent: Self.root, name: "d").attributes.inode
        store.resetCounts()
        let handle = try await fs.opendir(directory)
        #expect(store.requestCount(.list) == 0, "opendir lists nothing")
        let first = try await fs.readdir(directory, handle: handle, offset: 0, limit: 100)
        #expect(first.count == 100)
        #expect(store.requestCount(.list) == 1)
        // Offsets past the first page read on, one page at a time.
        let later = try await fs.readdir(directory, handle: handle, offset: 2_500, limit: 10)
        #expect(later.first?.name == "obj-002498")
        #expect(store.requestCount(.list) == 3)
        fs.releasedir(directory, handle: handle)

        store.resetCounts()
        let plusHandle = try await fs.opendir(directory)
        let plus = try await fs.readdir(directory, handle: plusHandle, offset: 0, plus: true, limit: 27)
        #expect(plus.count == 27)
        #expect(plus.filter(\.countsLookup).count == 25, "every entry but . and ..")
        #expect(store.requestCount(.list) == 1)
        #expect(store.requestCount(.head) <= 25 + 128, "this reply's names, and at most 128 fetched ahead")
        for entry in plus where entry.countsLookup { fs.forget(entry.attributes.inode, count: 1) }
        fs.releasedir(directory, handle: plusHandle)

        // However large the kernel's buffer (glibc sizes it by st_blksize, up to 1 MiB: 6,900 direntplus), one
        // reply waits for the HEADs of at most 128 entries.
        store.resetCounts()
        let bigHandle = try await fs.opendir(directory)
        let big = try await fs.readdir(directory, handle: bigHandle, offset: 0, plus: true, limit: 6_900)
        #expect(big.count == 128)
        #expect(store.requestCount(.list) == 1)
        #expect(store.requestCount(.head) <= 128 + 128)
        for entry in big where entry.countsLookup { fs.forget(entry.attributes.inode, count: 1) }
        fs.releasedir(directory, handle: bigHandle)
        #expect(try await fs.getattr(directory).0.blockSize == 4096, "glibc's getdents buffer stays at 32 KiB")
    }

    @Test func concurrentListingsShareTheMountWideHeadBudget() async throws {
        let memory = InMemoryObjectStore()
        try await Self.fill(memory, "a", count: 400)
        try await Self.fill(memory, "b", count: 400)
        let store = SlowHeadStore(memory)
        let fs = try Self.make(store) { $0.metadataRequestBudget = 32 }
        let a = try await fs.lookup(parent: Self.root, name: "a").attributes.inode
        let b = try await fs.lookup(parent: Self.root, name: "b").attributes.inode
        async let first = Self.walk(fs, a, plus: true, batch: 27)
        async let second = Self.walk(fs, b, plus: true, batch: 27)
        let (listedA, listedB) = try await (first, second)
        #expect(listedA.names.count == 400 && listedB.names.count == 400)
        #expect(store.mostHeadsInFlight <= 32, "\(store.mostHeadsInFlight) HEADs at once")
        #expect(fs.metadataStatistics.mostMetadataRequestsInFlight <= 32)
        #expect(store.mostHeadsInFlight >= 16, "HEADs run ahead of each reader: \(store.mostHeadsInFlight)")
        #expect(memory.requestCount(.head) <= 800 + 2, "each name asked about once")
    }

    @Test func listingsAreBoundedByTheNamesTheyHold() async throws {
        let store = InMemoryObjectStore()
        for directory in ["d1", "d2", "d3", "d4", "d5"] { try await Self.fill(store, directory, count: 300) }
        let fs = try Self.make(store) { $0.listedNameLimit = 1_000 }
        for directory in ["d1", "d2", "d3", "d4", "d5"] {
            let inode = try await fs.lookup(parent: Self.root, name: directory).attributes.inode
            _ = try await Self.walk(fs, inode, plus: false, batch: 1000)
        }
        #expect(fs.metadataStatistics.listedNames <= 1_000)
        // The most recent listing is kept: a lookup in it asks S3 nothing; an evicted one costs a LIST again.
        let d5 = try await fs.lookup(parent: Self.root, name: "d5").attributes.inode
        let d1 = try await fs.lookup(parent: Self.root, name: "d1").attributes.inode
        store.resetCounts()
        #expect(await FileSystemTests.errno { _ = try await fs.lookup(parent: d5, name: "absent") } == ENOENT)
        #expect(store.requestCount(.list, .head) == 0)
        #expect(await FileSystemTests.errno { _ = try await fs.lookup(parent: d1, name: "absent") } == ENOENT)
        #expect(store.requestCount(.list) == 1)
    }
}

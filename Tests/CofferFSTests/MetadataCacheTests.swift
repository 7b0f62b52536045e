import CofferFS
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// The persistent metadata cache through the filesystem core: listings and lookups of objects it knows unchanged
/// cost no HEAD after a remount with the same cache directory; changed objects are fetched again.
@Suite("Metadata cache across remounts")
struct MetadataCacheTests {
    static let root = FileSystem.rootInode

    static func make(store: InMemoryObjectStore, cache: String? = nil) async throws -> (FileSystem, String) {
        let (fs, _, directory) = try WriteBackTests.make(store: store, cache: cache) { $0.metadataCacheEntries = 10_000 }
        _ = try await fs.recoverPendingUploads()
        return (fs, directory)
    }

    /// `ls -l`: readdirplus of the root, the attributes of every entry by name.
    static func listWithAttributes(_ fs: FileSystem) async throws -> [String: FileAttributes] {
        let handle = try await fs.opendir(root)
        defer { fs.releasedir(root, handle: handle) }
        let entries = try await fs.readdir(root, handle: handle, offset: 0, plus: true)
        return Dictionary(entries.filter { !$0.name.hasPrefix(".") }.map { ($0.name, $0.attributes) }) { first, _ in first }
    }

    static func putForeign(_ store: InMemoryObjectStore, _ key: String, _ bytes: [UInt8], mode: UInt32) async throws {
        _ = try await store.put(key, body: .bytes(bytes), options: PutOptions(
            metadata: ["mode": String(FileMode.regular | mode), "uid": "33", "gid": "33"]))
    }

    @Test func aRemountListsKnownObjectsWithoutHeadAndFetchesChangedOnes() async throws {
        let store = InMemoryObjectStore()
        for i in 0..<40 { try await Self.putForeign(store, "f\(i)", Array("file \(i)".utf8), mode: 0o640) }
        let (first, cache) = try await Self.make(store: store)
        store.resetCounts()
        let cold = try await Self.listWithAttributes(first)
        #expect(cold.count == 40)
        #expect(store.requestCount(.head) == 40, "the first listing fetches every object's metadata")
        await first.shutdown()

        let (second, _) = try await Self.make(store: store, cache: cache)
        // Another client rewrites two objects: new bytes, and the same bytes with new metadata a second later.
        try await Self.putForeign(store, "f1", Array("changed".utf8), mode: 0o600)
        try await Task.sleep(for: .milliseconds(1100))
        try await Self.putForeign(store, "f2", Array("file 2".utf8), mode: 0o604)
        store.resetCounts()
        let warm = try await Self.listWithAttributes(second)
        #expect(warm.count == 40)
        #expect(store.requestCount(.head) == 2, "only the two changed objects are asked about")
        #expect(warm["f0"]?.mode == FileMode.regular | 0o640)
        #expect(warm["f0"]?.uid == 33)
        #expect(warm["f1"]?.mode == FileMode.regular | 0o600)
        #expect(warm["f2"]?.mode == FileMode.regular | 0o604, "same ETag, later Last-Modified: fetched again")
        await second.shutdown()
    }

    @Test func filesThisMountWroteNeedNoHeadAfterARemountAndLookupsUseTheListing() async throws {
        let store = InMemoryObjectStore()
        let (first, cache) = try await Self.make(store: store)
        for i in 0..<20 {
            let inode = try await FileSystemTests.writeFile(first, Self.root, "w\(i)", Array(repeating: UInt8(i), count: 100 + i))
            _ = try await first.setattr(inode, AttributeChanges(mode: 0o600), handle: nil, caller: FileSystemTests.me)
        }
        try await first.fsyncDirectory(Self.root)
        await first.shutdown()

        let (second, _) = try await Self.make(store: store, cache: cache)
        store.resetCounts()
        // rsync's lstat of every name: one LIST of the directory, then nothing per name.
        for i in 0..<20 {
            let entry = try await second.lookup(parent: Self.root, name: "w\(i)")
            #expect(entry.attributes.mode == FileMode.regular | 0o600)
            #expect(entry.attributes.size == UInt64(100 + i))
        }
        #expect(store.requestCount(.head) == 0)
        #expect(store.requestCount(.list) == 1)
        let listed = try await Self.listWithAttributes(second)
        #expect(listed.count == 20)
        #expect(store.requestCount(.head) == 0)
        await second.shutdown()
    }

    @Test func withoutTheCacheEveryRemountAsksAgain() async throws {
        let store = InMemoryObjectStore()
        for i in 0..<10 { try await Self.putForeign(store, "f\(i)", [1], mode: 0o644) }
        let (first, _, cache) = try WriteBackTests.make(store: store)
        _ = try await first.recoverPendingUploads()
        _ = try await Self.listWithAttributes(first)
        await first.shutdown()
        let (second, _, _) = try WriteBackTests.make(store: store, cache: cache)
        _ = try await second.recoverPendingUploads()
        store.resetCounts()
        _ = try await Self.listWithAttributes(second)
        #expect(store.requestCount(.head) == 10)
        #expect(!FileManager.default.fileExists(atPath: cache + "/metadata.sqlite"))
        await second.shutdown()
    }

    @Test func getattrOfAnExpiredDirectoryWhoseMarkerIsKnownCostsOneListAndNoHead() async throws {
        let store = InMemoryObjectStore()
        let (first, cache) = try await Self.make(store: store)
        _ = try await first.mkdir(parent: Self.root, name: "d", mode: 0o750, caller: FileSystemTests.me)
        try await first.fsyncDirectory(Self.root)
        await first.shutdown()

        let (second, _, _) = try WriteBackTests.make(store: store, cache: cache) {
            $0.metadataCacheEntries = 10_000
            $0.metadataTTL = 0.2
        }
        _ = try await second.recoverPendingUploads()
        let directory = try await second.lookup(parent: Self.root, name: "d")
        #expect(directory.attributes.mode == FileMode.directory | 0o750)
        try await Task.sleep(for: .milliseconds(300))  // past the TTL
        store.resetCounts()
        let (attributes, _) = try await second.getattr(directory.attributes.inode)
        #expect(attributes.mode == FileMode.directory | 0o750)
        #expect(store.requestCount(.head) == 0)
        #expect(store.requestCount(.list) == 1, "the directory's own page shows its marker unchanged")
        await second.shutdown()
    }
}

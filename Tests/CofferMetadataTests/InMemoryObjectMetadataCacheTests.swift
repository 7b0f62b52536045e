import CofferMetadata
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// The in-memory metadata store (a mount whose cache directory holds no usable database): the same matching rules
/// as the SQLite one, for both implementations of `ObjectMetadataStore`.
@Suite("Object metadata stores: the same rules in memory and on disk")
struct InMemoryObjectMetadataCacheTests {
    static let when = Date(timeIntervalSince1970: 1_700_000_000.250)

    static func stores() throws -> [any ObjectMetadataStore] {
        let directory = try ProjectPaths.temporaryDirectory("coffer-metadata-stores")
        let onDisk = try #require(ObjectMetadataCache.open(path: directory + "/metadata.sqlite", mount: "m",
                                                           maxEntries: 100, logger: ObjectMetadataCacheTests.logger))
        return [InMemoryObjectMetadataCache(maxEntries: 100), onDisk]
    }

    @Test func aHeadAnswerMatchesOnlyItsVersion() throws {
        for store in try Self.stores() {
            store.remember(ObjectMetadataCacheTests.info("a"))
            #expect(store.info(matching: ObjectMetadataCacheTests.summary("a", at: Self.when.addingTimeInterval(0.5)))?
                .metadata["uid"] == "33", "\(type(of: store))")
            #expect(store.info(matching: ObjectMetadataCacheTests.summary("a", etag: "e2")) == nil)
            #expect(store.info(matching: ObjectMetadataCacheTests.summary("a", size: 11)) == nil)
            #expect(store.info(matching: ObjectMetadataCacheTests.summary("a", at: Self.when.addingTimeInterval(1))) == nil)
            store.forget("a")
            #expect(!store.contains("a"))
        }
    }

    @Test func aWriteMatchesWithinItsWindowAndIsThenPinned() throws {
        for store in try Self.stores() {
            let start = Self.when
            store.rememberWrite(of: ObjectMetadataCacheTests.info("w"), startedAt: start,
                                endedAt: start.addingTimeInterval(0.3))
            #expect(store.info(matching: ObjectMetadataCacheTests.summary("w", at: start.addingTimeInterval(100))) == nil)
            #expect(store.info(matching: ObjectMetadataCacheTests.summary("w", at: start.addingTimeInterval(1))) != nil)
            // Pinned to that second: another second no longer matches.
            #expect(store.info(matching: ObjectMetadataCacheTests.summary("w", at: start.addingTimeInterval(2))) == nil,
                    "\(type(of: store))")
            #expect(store.info(matching: ObjectMetadataCacheTests.summary("w", at: start.addingTimeInterval(1))) != nil)
        }
    }

    @Test func bothSizesOfAnEncryptedObject() throws {
        for store in try Self.stores() {
            var head = ObjectMetadataCacheTests.info("s", size: 100)
            head.storedSize = 1_230
            store.remember(head)
            let hit = try #require(store.info(matching: ObjectMetadataCacheTests.summary("s", size: 1_230)))
            #expect(hit.size == 100 && hit.storedSize == 1_230)
            #expect(store.storedSize(of: "s", etag: "e1") == 1_230)
        }
    }

    @Test func theInMemoryStoreIsBounded() {
        let store = InMemoryObjectMetadataCache(maxEntries: 50)
        for i in 0..<200 { store.remember(ObjectMetadataCacheTests.info("k\(i)")) }
        #expect(store.count <= 50)
        #expect(store.contains("k199"), "the most recent entries stay")
    }
}

import CofferMetadata
import CofferObjectStore
import CofferTestSupport
import Foundation
import Logging
import Testing

/// The on-disk metadata cache: what a row matches, the window of rows written by this mount's uploads, the bound,
/// and what happens to databases it cannot use.
@Suite("Object metadata cache (SQLite)")
struct ObjectMetadataCacheTests {
    static let logger = Logger(label: "test.metadata")

    static func directory() throws -> String { try ProjectPaths.temporaryDirectory("coffer-metadata-cache") }

    static func open(_ path: String, mount: String = "s3://bucket/", maxEntries: Int = 1000) throws -> ObjectMetadataCache {
        try #require(ObjectMetadataCache.open(path: path, mount: mount, maxEntries: maxEntries, logger: logger))
    }

    static let when = Date(timeIntervalSince1970: 1_700_000_000.250)

    static func info(_ key: String, etag: String = "e1", size: UInt64 = 10, at date: Date = when,
                     mode: String = "33188") -> ObjectInfo {
        ObjectInfo(key: key, size: size, etag: etag, lastModified: date, contentType: "text/plain",
                   metadata: ["mode": mode, "uid": "33"])
    }

    static func summary(_ key: String, etag: String = "e1", size: UInt64 = 10, at date: Date = when) -> ObjectSummary {
        ObjectSummary(key: key, size: size, etag: etag, lastModified: date)
    }

    @Test func aHeadAnswerMatchesTheSameKeyETagSizeAndSecond() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try Self.open(dir + "/metadata.sqlite")
        cache.remember(Self.info("a"))
        // LIST gives milliseconds, HEAD whole seconds: the same second matches.
        let hit = try #require(cache.info(matching: Self.summary("a", at: Self.when.addingTimeInterval(0.5))))
        #expect(hit.metadata == ["mode": "33188", "uid": "33"])
        #expect(hit.contentType == "text/plain")
        #expect(cache.info(matching: Self.summary("a", etag: "e2")) == nil, "another ETag")
        #expect(cache.info(matching: Self.summary("a", size: 11)) == nil, "another size")
        #expect(cache.info(matching: Self.summary("a", at: Self.when.addingTimeInterval(1))) == nil,
                "rewritten with the same bytes (a metadata copy): another Last-Modified")
        #expect(cache.info(matching: Self.summary("b")) == nil)
        cache.remember(Self.info("a", etag: "e2", mode: "33261"))
        #expect(cache.info(matching: Self.summary("a", etag: "e2"))?.metadata["mode"] == "33261", "replaced")
        #expect(cache.count == 1)
    }

    @Test func aRowOfThisMountsWriteMatchesInsideItsWindowThenOnlyItsPinnedTime() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try Self.open(dir + "/metadata.sqlite")
        let start = Date(timeIntervalSince1970: 1_700_000_100.9)
        let end = start.addingTimeInterval(0.3)
        cache.rememberWrite(of: Self.info("w", etag: "up"), startedAt: start, endedAt: end)
        #expect(cache.info(matching: Self.summary("w", etag: "up", at: start.addingTimeInterval(-60))) == nil,
                "long before the write")
        #expect(cache.info(matching: Self.summary("w", etag: "up", at: end.addingTimeInterval(60))) == nil,
                "long after: someone else's write of the same bytes")
        #expect(cache.info(matching: Self.summary("w", etag: "up", at: start.addingTimeInterval(0.2))) != nil)
        // Pinned to that second now: another time inside the window no longer matches.
        #expect(cache.info(matching: Self.summary("w", etag: "up", at: start.addingTimeInterval(1.2))) == nil)
        #expect(cache.info(matching: Self.summary("w", etag: "up", at: start.addingTimeInterval(0.2))) != nil)
    }

    @Test func rowsSurviveReopeningAndForgetRemovesThem() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/metadata.sqlite"
        do {
            let cache = try Self.open(path)
            for i in 0..<20 { cache.remember(Self.info("k\(i)")) }
            cache.forget("k3")
            #expect(cache.count == 19)
        }
        let reopened = try Self.open(path)
        #expect(reopened.count == 19)
        let found = reopened.info(matching: (0..<20).map { Self.summary("k\($0)") })
        #expect(found.count == 19)
        #expect(found["k3"] == nil)
        let mode = try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0, "the database is private: \(String(mode, radix: 8))")
    }

    @Test func theBoundEvictsTheLeastRecentlyUsedRows() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try Self.open(dir + "/metadata.sqlite", maxEntries: 100)
        for i in 0..<100 { cache.remember(Self.info("k\(i)")) }
        // Read the ten oldest: they become the most recently used.
        #expect(cache.info(matching: (0..<10).map { Self.summary("k\($0)") }).count == 10)
        for i in 100..<150 { cache.remember(Self.info("k\(i)")) }
        #expect(cache.count <= 100)
        let left = cache.info(matching: (0..<150).map { Self.summary("k\($0)") })
        #expect((0..<10).allSatisfy { left["k\($0)"] != nil }, "recently read rows stay")
        #expect((140..<150).allSatisfy { left["k\($0)"] != nil }, "the newest rows stay")
        #expect(left["k10"] == nil, "the least recently used went first")
    }

    @Test func aDamagedDatabaseIsSetAsideAndTheCacheStartsEmpty() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/metadata.sqlite"
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        let cache = try Self.open(path)
        #expect(cache.count == 0)
        cache.remember(Self.info("a"))
        #expect(cache.info(matching: Self.summary("a")) != nil)
        #expect(FileManager.default.fileExists(atPath: path + ".unusable"))
    }

    @Test func aDatabaseOfANewerFormatIsNotRead() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/metadata.sqlite"
        do {
            let cache = try Self.open(path)
            cache.remember(Self.info("a"))
        }
        try await Shell.check("python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"PRAGMA user_version=99\"); c.commit()' \(Shell.quote(path))")
        let cache = try Self.open(path)
        #expect(cache.count == 0)
        #expect(cache.info(matching: Self.summary("a")) == nil)
    }

    @Test func aRowOfAnEncryptedObjectMatchesTheStoredSizeAndShowsThePlaintextSize() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/metadata.sqlite"
        do {
            let cache = try Self.open(path)
            var head = Self.info("secret", size: 100)
            head.storedSize = 1_230
            cache.remember(head)
            #expect(cache.info(matching: Self.summary("secret", size: 100)) == nil, "listings show the stored size")
            #expect(cache.storedSize(of: "secret", etag: "e1") == 1_230)
            #expect(cache.storedSize(of: "secret", etag: "e2") == nil)
        }
        let cache = try Self.open(path)
        let hit = try #require(cache.info(matching: Self.summary("secret", size: 1_230)))
        #expect(hit.size == 100)
        #expect(hit.storedSize == 1_230)
        cache.remember(Self.info("plain", size: 7))
        #expect(cache.info(matching: Self.summary("plain", size: 7))?.storedSize == nil)
    }

    @Test func aDatabaseOfTheFirstFormatIsUpgradedInPlace() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/metadata.sqlite"
        // The first format, as the previous Coffer wrote it: no visible_size column.
        let script = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.executescript(\"\"\"
              CREATE TABLE objects (key TEXT PRIMARY KEY NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL,
                last_modified INTEGER, written_after INTEGER, written_before INTEGER, content_type TEXT,
                metadata TEXT NOT NULL, used INTEGER NOT NULL);
              CREATE INDEX objects_by_use ON objects(used);
              CREATE TABLE mount (identity TEXT NOT NULL);
              INSERT INTO mount VALUES ('s3://bucket/');
              INSERT INTO objects VALUES ('a', 'e1', 10, 1700000000, NULL, NULL, 'text/plain',
                '{"mode": "33188", "uid": "33"}', 1);
              PRAGMA user_version = 1;
            \"\"\")
            c.commit()
            """
        try await Shell.check("python3 -c \(Shell.quote(script)) \(Shell.quote(path))")
        let cache = try Self.open(path)
        #expect(cache.count == 1)
        let hit = try #require(cache.info(matching: Self.summary("a")))
        #expect(hit.size == 10 && hit.storedSize == nil)
        #expect(hit.metadata["uid"] == "33")
        var encrypted = Self.info("b", size: 5)
        encrypted.storedSize = 500
        cache.remember(encrypted)
        #expect(cache.info(matching: Self.summary("b", size: 500))?.size == 5)
    }

    @Test func anotherMountsRowsAreDropped() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/metadata.sqlite"
        do {
            let cache = try Self.open(path, mount: "s3://one/")
            cache.remember(Self.info("a"))
        }
        #expect(try Self.open(path, mount: "s3://two/").count == 0)
    }

    @Test func noUsableLocationMeansNoCache() {
        #expect(ObjectMetadataCache.open(path: "/proc/coffer-no-such-dir/metadata.sqlite", mount: "m", maxEntries: 10,
                                         logger: Self.logger) == nil)
        #expect(ObjectMetadataCache.open(path: "/tmp/unused.sqlite", mount: "m", maxEntries: 0, logger: Self.logger) == nil,
                "0 entries turns it off")
    }
}

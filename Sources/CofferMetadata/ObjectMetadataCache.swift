import CofferObjectStore
import Foundation
import Logging
import Synchronization

/// What S3 said about objects (their HEAD answers: size, ETag, Last-Modified, Content-Type, user metadata), kept in
/// a SQLite database in the cache directory, so that a listing needs no HEAD for an object it shows unchanged —
/// after a remount too.
///
/// An object's metadata can change only by writing the object again, which gives it a new Last-Modified (and
/// usually a new ETag). So a row stays valid for as long as a listing shows the same key, ETag, size and
/// Last-Modified (compared in whole seconds: HEAD gives seconds, LIST milliseconds): no TTL, nothing to expire.
///
/// Rows come from two sources:
/// - a HEAD answer (`remember(_:)`): exact, with the object's Last-Modified;
/// - this mount's own upload or copy (`rememberWrite(of:startedAt:endedAt:)`): S3's answer carries the ETag but not
///   the Last-Modified, which S3 sets while the request runs. The row matches a listed Last-Modified inside the
///   request's time window (this host's clock, widened by `MetadataEntry.clockAllowance` either side) and is pinned to that
///   exact time at the first match. The cost of the window: another client's metadata-only change of the same
///   bytes within those seconds would be missed until the object is written again.
///
/// The cache is bounded (`maxEntries`, least recently used rows go first) and never required: a database that
/// cannot be opened, is damaged or was written by a newer format is set aside (`PATH.unusable`) and replaced by an
/// empty one, and when even that fails the cache is off (`open` returns nil) — with one warning each time. Only
/// one mount uses a cache directory at a time (its lock), so one process owns the database.
public final class ObjectMetadataCache: ObjectMetadataStore {
    /// The schema this version reads and writes (`PRAGMA user_version`). Version 1 had no `visible_size`; it is
    /// added in place.
    static let schemaVersion: Int64 = 2

    /// The database file.
    public let path: String
    /// The most rows kept.
    public let maxEntries: Int
    private let logger: Logger
    private let connection: Mutex<Connection>

    /// The open database, its prepared statements and the bookkeeping of the LRU order.
    private struct Connection: ~Copyable {
        let database: SQLiteDatabase
        let select: SQLiteStatement
        let upsert: SQLiteStatement
        let pin: SQLiteStatement
        let touch: SQLiteStatement
        let delete: SQLiteStatement
        let evict: SQLiteStatement
        var count: Int
        /// The LRU clock: the `used` value of the next row touched.
        var clock: Int64
        /// Keys read since the last flush, with their new `used` value, written in one transaction.
        var touched: [String: Int64] = [:]
        var failed = false
    }

    /// Opens the cache at `path` (created when missing) for the objects of `mount` (bucket and prefix: rows of
    /// another mount's objects are dropped), or returns nil with a warning when no database can be used there.
    /// `maxEntries` of 0 turns the cache off.
    public static func open(path: String, mount: String, maxEntries: Int, logger: Logger) -> ObjectMetadataCache? {
        guard maxEntries > 0 else { return nil }
        do {
            return try ObjectMetadataCache(path: path, mount: mount, maxEntries: maxEntries, logger: logger)
        } catch {
            logger.warning("the metadata cache database cannot be used; starting with an empty one",
                           metadata: ["path": "\(path)", "error": "\(error)", "kept-as": "\(path).unusable"])
        }
        setAside(path)
        do {
            return try ObjectMetadataCache(path: path, mount: mount, maxEntries: maxEntries, logger: logger)
        } catch {
            logger.warning("no metadata cache: the database cannot be created; every listed object's metadata is fetched with HEAD",
                           metadata: ["path": "\(path)", "error": "\(error)"])
            return nil
        }
    }

    private init(path: String, mount: String, maxEntries: Int, logger: Logger) throws(SQLiteError) {
        self.path = path
        self.maxEntries = maxEntries
        self.logger = logger
        if !FileManager.default.fileExists(atPath: path) {
            // Private like the rest of the cache directory; SQLite gives its -wal and -shm files the same mode.
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let database = try SQLiteDatabase(path: path)
        let version = try database.integer("PRAGMA user_version") ?? 0
        if version > Self.schemaVersion {
            throw SQLiteError(code: 0, message: "written by a newer Coffer (format \(version), this one reads \(Self.schemaVersion))")
        }
        let check = try database.text("PRAGMA quick_check") ?? ""
        guard check == "ok" else { throw SQLiteError(code: 11, message: "damaged: \(check)") }
        _ = try database.text("PRAGMA journal_mode=WAL")
        try database.execute("PRAGMA synchronous=NORMAL")
        try database.execute("""
            CREATE TABLE IF NOT EXISTS objects (
                key TEXT PRIMARY KEY NOT NULL,
                etag TEXT NOT NULL,
                size INTEGER NOT NULL,
                last_modified INTEGER,
                written_after INTEGER,
                written_before INTEGER,
                content_type TEXT,
                metadata TEXT NOT NULL,
                used INTEGER NOT NULL,
                visible_size INTEGER
            );
            CREATE INDEX IF NOT EXISTS objects_by_use ON objects(used);
            CREATE TABLE IF NOT EXISTS mount (identity TEXT NOT NULL);
            """)
        if version == 1 {
            try database.execute("ALTER TABLE objects ADD COLUMN visible_size INTEGER")
        }
        try database.execute("PRAGMA user_version = \(Self.schemaVersion)")
        let owner = try database.text("SELECT identity FROM mount LIMIT 1")
        if owner != mount {
            if let owner {
                logger.notice("the metadata cache held another mount's objects; starting empty",
                              metadata: ["path": "\(path)", "was": "\(owner)", "now": "\(mount)"])
            }
            let record = try database.prepare("INSERT INTO mount (identity) VALUES (?1)")
            try record.bind(mount, at: 1)
            try database.transaction { () throws(SQLiteError) in
                try database.execute("DELETE FROM objects; DELETE FROM mount")
                try record.run()
            }
        }
        let count = Int(try database.integer("SELECT count(*) FROM objects") ?? 0)
        let clock = (try database.integer("SELECT max(used) FROM objects") ?? 0) + 1
        connection = Mutex(Connection(
            database: database,
            select: try database.prepare("""
                SELECT etag, size, last_modified, written_after, written_before, content_type, metadata, visible_size
                FROM objects WHERE key = ?1
                """),
            upsert: try database.prepare("""
                INSERT INTO objects (key, etag, size, last_modified, written_after, written_before, content_type,
                                     metadata, used, visible_size)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                ON CONFLICT(key) DO UPDATE SET etag = ?2, size = ?3, last_modified = ?4, written_after = ?5,
                    written_before = ?6, content_type = ?7, metadata = ?8, used = ?9, visible_size = ?10
                """),
            pin: try database.prepare("""
                UPDATE objects SET last_modified = ?2, written_after = NULL, written_before = NULL WHERE key = ?1
                """),
            touch: try database.prepare("UPDATE objects SET used = ?2 WHERE key = ?1"),
            delete: try database.prepare("DELETE FROM objects WHERE key = ?1"),
            evict: try database.prepare("DELETE FROM objects WHERE key IN (SELECT key FROM objects ORDER BY used LIMIT ?1)"),
            count: count, clock: clock))
    }

    deinit { flush() }

    /// Moves an unusable database (and its WAL files) to `PATH.unusable`, replacing an earlier one.
    private static func setAside(_ path: String) {
        for suffix in ["", "-wal", "-shm"] {
            let source = path + suffix
            let target = path + ".unusable" + suffix
            guard FileManager.default.fileExists(atPath: source) else {
                try? FileManager.default.removeItem(atPath: target)
                continue
            }
            try? FileManager.default.removeItem(atPath: target)
            if (try? FileManager.default.moveItem(atPath: source, toPath: target)) == nil {
                try? FileManager.default.removeItem(atPath: source)
            }
        }
    }

    // MARK: - Reading

    /// The metadata of each listed object a row matches, by key.
    public func info(matching summaries: [ObjectSummary]) -> [String: ObjectInfo] {
        guard !summaries.isEmpty else { return [:] }
        return connection.withLock { connection in
            guard !connection.failed else { return [:] }
            var found: [String: ObjectInfo] = [:]
            do throws(SQLiteError) {
                for summary in summaries {
                    guard let row = try Self.row(summary.key, in: &connection) else { continue }
                    switch row.match(summary) {
                    case .different:
                        continue
                    case .exact:
                        break
                    case .pinned(let listed):
                        // The first listing after this mount's write: this is the write's Last-Modified.
                        connection.pin.reset()
                        try connection.pin.bind(summary.key, at: 1)
                        try connection.pin.bind(listed, at: 2)
                        try connection.pin.run()
                    }
                    found[summary.key] = row.info(for: summary)
                    connection.touched[summary.key] = connection.clock
                    connection.clock += 1
                }
                if connection.touched.count >= 512 { try Self.writeTouches(&connection) }
            } catch {
                fail(&connection, error)
            }
            return found
        }
    }

    /// The stored size (what listings show) of the version `etag` of `key`, when a row describes that version.
    public func storedSize(of key: String, etag: String) -> UInt64? {
        connection.withLock { connection in
            guard !connection.failed else { return nil }
            do throws(SQLiteError) {
                guard let row = try Self.row(key, in: &connection), row.etag == etag else { return nil }
                return row.size
            } catch {
                fail(&connection, error)
                return nil
            }
        }
    }

    /// True when a row for `key` is kept (whatever version it describes).
    public func contains(_ key: String) -> Bool {
        connection.withLock { connection in
            guard !connection.failed else { return false }
            do throws(SQLiteError) {
                return try Self.row(key, in: &connection) != nil
            } catch {
                fail(&connection, error)
                return false
            }
        }
    }

    private static func row(_ key: String, in connection: inout Connection) throws(SQLiteError) -> MetadataEntry? {
        let select = connection.select
        select.reset()
        try select.bind(key, at: 1)
        guard try select.step() else { return nil }
        defer { select.reset() }
        guard let etag = select.text(at: 0), let size = select.integer(at: 1), size >= 0,
              let json = select.text(at: 6),
              let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
        else { return nil }
        let visible = select.integer(at: 7).flatMap { $0 >= 0 ? UInt64($0) : nil }
        return MetadataEntry(etag: etag, size: UInt64(size), visibleSize: visible, lastModified: select.integer(at: 2),
                   writtenAfter: select.integer(at: 3), writtenBefore: select.integer(at: 4),
                   contentType: select.text(at: 5), metadata: object)
    }

    // MARK: - Writing

    /// Keeps a HEAD answer.
    public func remember(_ info: ObjectInfo) {
        store(MetadataEntry(info, window: nil), for: info.key)
    }

    /// Keeps what this mount wrote with an upload or a copy that ran from `start` to `end` (this host's clock):
    /// `info` holds the key, the ETag S3 answered, the size (and `storedSize` when the stored one differs),
    /// Content-Type and user metadata; its `lastModified` is not used.
    public func rememberWrite(of info: ObjectInfo, startedAt start: Date, endedAt end: Date) {
        store(MetadataEntry(info, window: (MetadataEntry.seconds(start), MetadataEntry.seconds(end) + 1)), for: info.key)
    }

    /// Drops the row of `key` (deleted, or replaced by something this mount could not describe).
    public func forget(_ key: String) {
        connection.withLock { connection in
            guard !connection.failed else { return }
            do throws(SQLiteError) {
                connection.touched[key] = nil
                connection.delete.reset()
                try connection.delete.bind(key, at: 1)
                try connection.delete.run()
                if connection.database.changes > 0 { connection.count -= 1 }
            } catch {
                fail(&connection, error)
            }
        }
    }

    /// Writes the LRU order of rows read since the last write (also done every 512 reads and at each write).
    public func flush() {
        connection.withLock { connection in
            guard !connection.failed, !connection.touched.isEmpty else { return }
            do throws(SQLiteError) {
                try Self.writeTouches(&connection)
            } catch {
                fail(&connection, error)
            }
        }
    }

    /// Rows kept now.
    public var count: Int { connection.withLock { $0.count } }

    private func store(_ entry: MetadataEntry, for key: String) {
        guard let json = try? JSONSerialization.data(withJSONObject: entry.metadata, options: [.sortedKeys]) else { return }
        connection.withLock { connection in
            guard !connection.failed else { return }
            do throws(SQLiteError) {
                let existed = try Self.row(key, in: &connection) != nil
                let upsert = connection.upsert
                upsert.reset()
                try upsert.bind(key, at: 1)
                try upsert.bind(entry.etag, at: 2)
                try upsert.bind(Int64(clamping: entry.size), at: 3)
                try upsert.bind(entry.lastModified, at: 4)
                try upsert.bind(entry.writtenAfter, at: 5)
                try upsert.bind(entry.writtenBefore, at: 6)
                try upsert.bind(entry.contentType, at: 7)
                try upsert.bind(String(decoding: json, as: UTF8.self), at: 8)
                try upsert.bind(connection.clock, at: 9)
                try upsert.bind(entry.visibleSize.map { Int64(clamping: $0) }, at: 10)
                try upsert.run()
                connection.clock += 1
                connection.touched[key] = nil
                if !existed { connection.count += 1 }
                if connection.count > maxEntries {
                    // Down to 90 %, so that eviction runs once per many inserts.
                    try Self.writeTouches(&connection)
                    let excess = connection.count - maxEntries * 9 / 10
                    connection.evict.reset()
                    try connection.evict.bind(Int64(excess), at: 1)
                    try connection.evict.run()
                    connection.count -= connection.database.changes
                }
            } catch {
                fail(&connection, error)
            }
        }
    }

    private static func writeTouches(_ connection: inout Connection) throws(SQLiteError) {
        let touched = connection.touched
        connection.touched = [:]
        let touch = connection.touch
        try connection.database.transaction { () throws(SQLiteError) in
            for (key, used) in touched {
                touch.reset()
                try touch.bind(key, at: 1)
                try touch.bind(used, at: 2)
                try touch.run()
            }
        }
    }

    /// Turns the cache off for the rest of the mount after an error (a full or failing disk): lookups then HEAD.
    private func fail(_ connection: inout Connection, _ error: SQLiteError) {
        connection.failed = true
        logger.warning("the metadata cache failed and is off until the next mount; metadata is fetched with HEAD",
                       metadata: ["path": "\(path)", "error": "\(error)"])
    }
}

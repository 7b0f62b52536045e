import Foundation

/// The write-back journal: one file per pending upload under `<cache>/journal/`, so that data acknowledged by
/// close() is uploaded even after the mount process is killed.
///
/// **Format and atomicity.** A record is a small JSON document (`JournalRecord`) in `journal/<id>.json`. It is
/// written to `<id>.json.tmp` and renamed over the old one: a kill at any instant leaves the old record or the new
/// one, never a torn one (rename is atomic). Removing a record is one unlink. One file per record means no log to
/// compact and no shared file to corrupt: a damaged record (a torn write after a power loss, a foreign format) loses
/// nothing else and is moved to `lost+found/` with its staging file. Records are not fsync'ed: they survive a crash
/// of the process (the kernel has them); against a power loss, fsync(2) on the file uploads it to S3 before it
/// returns, which is the durability promise fsync makes.
///
/// **Lost and found.** A record that can no longer be uploaded is moved, with its staging file, into
/// `lost+found/<id>/` (`record.json`, `data`, `reason.txt`), never deleted.
public final class Journal: Sendable {
    /// `<cache>/journal`.
    public let directory: String
    /// `<cache>/lost+found`.
    public let lostAndFound: String

    /// The journal of `cacheDirectory`, created (mode 0700) when missing.
    /// - Throws: `.localIO` when the directories cannot be created.
    public init(cacheDirectory: String) throws(WriteBackError) {
        let base = cacheDirectory.hasSuffix("/") ? String(cacheDirectory.dropLast()) : cacheDirectory
        directory = base + "/journal"
        lostAndFound = base + "/lost+found"
        for path in [directory, lostAndFound] {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw .localIO("cannot create \(path): \(error.localizedDescription) (the cache directory must be "
                               + "writable by this process)")
            }
        }
    }

    /// Writes (or replaces) `record`.
    /// - Throws: `.localIO` when the cache disk refuses it (full, read-only).
    public func write(_ record: JournalRecord) throws(WriteBackError) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(record))
        } catch {
            throw .localIO("cannot encode the journal record of \(record.key): \(error)")
        }
        try StagingFileIO.replaceAtomically(path(of: record.id), with: bytes)
    }

    /// Removes the record `id` (its upload is done or no longer wanted). A missing record is not an error.
    public func remove(id: String) {
        StagingFileIO.removeIfPresent(path(of: id))
    }

    /// What `load` found.
    public struct Contents: Sendable {
        /// Readable records of the mount asked for.
        public var records: [JournalRecord]
        /// Record files that could not be read (moved to lost+found by `load`), with why.
        public var unreadable: [(path: String, reason: String)]
        /// Staging files referenced by a record of another mount (leave them alone).
        public var otherMounts: Set<String>
    }

    /// The records of `mount`, oldest first. Unreadable record files are moved to lost+found; leftover `.tmp`
    /// files (a write cut short) are removed; other mounts' records are left in place.
    public func load(mount: String) -> Contents {
        var contents = Contents(records: [], unreadable: [], otherMounts: [])
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        for name in names.sorted() {
            let path = directory + "/" + name
            if name.hasSuffix(".tmp") {
                StagingFileIO.removeIfPresent(path)
                continue
            }
            guard name.hasSuffix(".json") else { continue }
            let record: JournalRecord
            do {
                record = try decoder.decode(JournalRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            } catch {
                let reason = "unreadable journal record: \(error)"
                setAside(recordFile: path, reason: reason)
                contents.unreadable.append((path, reason))
                continue
            }
            guard record.format == JournalRecord.currentFormat else {
                let reason = "journal record of format \(record.format) (this Coffer reads \(JournalRecord.currentFormat))"
                setAside(recordFile: path, reason: reason)
                contents.unreadable.append((path, reason))
                continue
            }
            if record.mount == mount {
                contents.records.append(record)
            } else {
                contents.otherMounts.insert(record.stagingPath)
            }
        }
        contents.records.sort { $0.recordedAt < $1.recordedAt }
        return contents
    }

    /// Moves `record` and its staging file into `lost+found/<id>/` with `reason`, and removes it from the journal.
    /// Returns the folder.
    @discardableResult
    public func moveToLostAndFound(_ record: JournalRecord, reason: String) throws(WriteBackError) -> String {
        let folder = lostAndFound + "/" + record.id
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .localIO("cannot create \(folder): \(error.localizedDescription)")
        }
        if FileManager.default.fileExists(atPath: record.stagingPath) {
            try StagingFileIO.move(record.stagingPath, to: folder + "/data")
        }
        try StagingFileIO.replaceAtomically(folder + "/reason.txt", with: Array((reason + "\n").utf8))
        let recordPath = path(of: record.id)
        if FileManager.default.fileExists(atPath: recordPath) {
            try StagingFileIO.move(recordPath, to: folder + "/record.json")
        }
        return folder
    }

    /// The path of record `id`.
    func path(of id: String) -> String { directory + "/" + id + ".json" }

    private func setAside(recordFile path: String, reason: String) {
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let folder = lostAndFound + "/" + name
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        try? StagingFileIO.move(path, to: folder + "/record.json")
        try? StagingFileIO.replaceAtomically(folder + "/reason.txt", with: Array((reason + "\n").utf8))
    }
}

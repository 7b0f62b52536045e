import Foundation

/// The write-back journal: one file per pending upload under `<cache>/journal/`, so that data acknowledged by
/// close() is uploaded even after the mount process is killed.
///
/// **Format and atomicity.** A record is a small JSON document (`JournalRecord`) kept in `journal/<id>.rec`, a
/// `RecordFile`: two checksummed slots rewritten alternately in place, so that a kill at any instant (or a torn
/// write after a power loss) leaves the old record or the new one, and a rewrite (every close, chmod, utimens and
/// rename of a pending file) costs one `pwrite`, no new inode. A record too large for a slot (a file with tens of
/// thousands of separately written ranges) is written to `<id>.json` through a temporary file and a rename instead;
/// earlier versions wrote every record so, and both forms are read. Removing a record is one unlink. One file per
/// record means no log to compact and no shared file to corrupt: a damaged record loses nothing else and is moved
/// to `lost+found/` with its staging file. Records are not fsync'ed: they survive a crash of the process (the kernel
/// has them); against a power loss, fsync(2) on the file uploads it to S3 before it returns, which is the
/// durability promise fsync makes.
///
/// **Lost and found.** A record that can no longer be uploaded is moved, with its staging file, into
/// `lost+found/<id>/` (`record.json`, `data`, `reason.txt`), never deleted.
public final class Journal: Sendable {
    /// `<cache>/journal`.
    public let directory: String
    /// `<cache>/lost+found`.
    public let lostAndFound: String
    /// Emptied record files for the next pending upload's record (no new inode per pending file).
    private let spares: StagingFilePool

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
        spares = StagingFilePool(directory: directory)
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
        if bytes.count <= RecordFile.maximumPayload {
            let path = path(of: record.id)
            if !FileManager.default.fileExists(atPath: path), let fd = spares.take(as: path) { StagingFileIO.close(fd) }
            try RecordFile.write(bytes, to: path)
            StagingFileIO.removeIfPresent(largePath(of: record.id))
        } else {
            try StagingFileIO.replaceAtomically(largePath(of: record.id), with: bytes)
            StagingFileIO.removeIfPresent(path(of: record.id))
        }
    }

    /// Removes the record `id` (its upload is done or no longer wanted). A missing record is not an error.
    public func remove(id: String) {
        let path = path(of: id)
        if let fd = try? StagingFileIO.openExisting(path) {
            if !spares.give(fd, path: path) {
                StagingFileIO.close(fd)
                StagingFileIO.removeIfPresent(path)
            }
        }
        StagingFileIO.removeIfPresent(largePath(of: id))
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
        var byID: [String: JournalRecord] = [:]
        for name in names.sorted() {
            let path = directory + "/" + name
            if name.hasSuffix(".tmp") {
                StagingFileIO.removeIfPresent(path)
                continue
            }
            guard name.hasSuffix(".rec") || name.hasSuffix(".json") else { continue }
            let record: JournalRecord
            do {
                let bytes: [UInt8]
                if name.hasSuffix(".rec") {
                    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
                    if size == 0 {
                        // A spare taken for a record that was never written (the process died in between).
                        StagingFileIO.removeIfPresent(path)
                        continue
                    }
                    guard let payload = try RecordFile.read(path) else {
                        throw WriteBackError.localIO("no intact version in either slot")
                    }
                    bytes = payload
                } else {
                    bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
                }
                record = try decoder.decode(JournalRecord.self, from: Data(bytes))
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
                // Both forms of one record (a kill between writing one and removing the other): the newer wins.
                if let other = byID[record.id], other.recordedAt > record.recordedAt { continue }
                byID[record.id] = record
            } else {
                contents.otherMounts.insert(record.stagingPath)
            }
        }
        contents.records = byID.values.sorted { $0.recordedAt < $1.recordedAt }
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
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        if let json = try? encoder.encode(record) {
            try StagingFileIO.replaceAtomically(folder + "/record.json", with: Array(json))
        }
        remove(id: record.id)
        return folder
    }

    /// The path of record `id`.
    func path(of id: String) -> String { directory + "/" + id + ".rec" }

    /// The path of record `id` when it is too large for a record file's slot.
    func largePath(of id: String) -> String { directory + "/" + id + ".json" }

    private func setAside(recordFile path: String, reason: String) {
        let url = URL(fileURLWithPath: path)
        let folder = lostAndFound + "/" + url.deletingPathExtension().lastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        try? StagingFileIO.move(path, to: folder + "/record." + url.pathExtension)
        try? StagingFileIO.replaceAtomically(folder + "/reason.txt", with: Array((reason + "\n").utf8))
    }
}

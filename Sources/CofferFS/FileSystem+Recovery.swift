import CofferMetadata
import CofferObjectStore
import CofferWriteBack
import Foundation

/// What `recoverPendingUploads` found and did.
public struct RecoverySummary: Sendable, Equatable {
    /// Journal records of this mount found from an earlier run.
    public var found = 0
    /// Of those, uploaded now.
    public var uploaded = 0
    /// Of those, still pending (the upload failed for now; the queue retries them).
    public var stillPending = 0
    /// Records set aside in `lost+found` (unreadable, staging file missing, or refused by S3).
    public var setAside = 0
    /// Staging files no record referenced, removed.
    public var orphansRemoved = 0
}

/// Why a mount cannot start on its cache directory.
public struct CacheDirectoryError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension FileSystem {
    /// Takes the cache directory's lock, then uploads what an earlier run of this mount left pending (its journal
    /// records), before the mount serves anything, and removes staging files no record references. Call once,
    /// before mounting.
    ///
    /// Each record's file is uploaded under its recorded name with its recorded metadata and condition: a file
    /// another host changed meanwhile is kept under a conflict name; a record S3 refuses (access denied) or whose
    /// staging file is gone is moved to `lost+found` with a log line; a transient failure leaves it pending in the
    /// queue, which keeps retrying.
    /// - Throws: when another mount holds the cache directory.
    public func recoverPendingUploads() async throws(CacheDirectoryError) -> RecoverySummary {
        do {
            let lock = try CacheDirectoryLock(directory: options.cacheDirectory)
            cacheLock.withLock { $0 = lock }
        } catch {
            throw CacheDirectoryError(description: error.description)
        }
        openMetadataCache()
        var summary = RecoverySummary()
        guard let journal else { return summary }
        let contents = journal.load(mount: options.mountIdentity)
        for (path, reason) in contents.unreadable {
            logger.error("a journal record could not be read; it was moved to lost+found",
                         metadata: ["record": "\(path)", "reason": "\(reason)", "lost+found": "\(journal.lostAndFound)"])
            summary.setAside += 1
        }
        var adopted: [UInt64] = []
        var referenced = contents.otherMounts
        for entry in contents.records {
            summary.found += 1
            referenced.insert(entry.stagingPath)
            let relative = entry.key.hasPrefix(options.prefix) ? String(entry.key.dropFirst(options.prefix.count)) : ""
            let path = entry.isDirectoryMarker ? String(relative.dropLast()) : relative
            guard entry.key.hasPrefix(options.prefix), !path.isEmpty,
                  path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({ Names.problem(with: $0) == nil })
            else {
                setAside(entry, reason: "its key \(entry.key) is not a file name under this mount", summary: &summary)
                continue
            }
            var staged: StagedFile?
            if !entry.isDirectoryMarker {
                do {
                    staged = try StagedFile(adopting: entry.stagingPath, state: entry.file, store: store)
                } catch {
                    setAside(entry, reason: "its staging file cannot be used: \(error)", summary: &summary)
                    continue
                }
            }
            logger.notice(entry.isDirectoryMarker ? "writing a directory marker left pending by an earlier run"
                            : "uploading a file left pending by an earlier run",
                          metadata: ["key": "\(entry.key)", "bytes": "\(entry.file.size)", "recorded": "\(entry.recordedAt)"])
            adopted.append(adopt(entry, path: path, staged: staged))
        }
        removeOrphanStagingFiles(keeping: referenced, summary: &summary)
        for inode in adopted {
            do {
                // A conflict counts as done: the file was kept under a conflict name.
                _ = try await locks.withLock(inode) { () throws(FSError) in try await uploadLocked(inode) }
                summary.uploaded += 1
            } catch where error.errno == EACCES {
                summary.setAside += 1
                moveToLostAndFound(inode, reason: "S3 refused the upload: \(error.message)")
            } catch {
                summary.stillPending += 1
                logger.warning("a recovered file could not be uploaded yet; it stays pending and is retried",
                               metadata: ["error": "\(error)"])
                scheduleUpload(inode, immediately: true)
            }
        }
        return summary
    }

    /// Opens the persistent metadata cache (`CACHE/metadata.sqlite`) when it is on, or, when no database can be
    /// used there, an in-memory one for this mount. With encryption its entries hold both sizes: the stored
    /// message's (what listings show, matched) and the file's (what is shown). Entries hold metadata only, never
    /// file contents.
    private func openMetadataCache() {
        guard options.metadataCacheEntries > 0 else { return }
        let directory = options.cacheDirectory.hasSuffix("/") ? String(options.cacheDirectory.dropLast())
            : options.cacheDirectory
        let onDisk = ObjectMetadataCache.open(path: directory + "/metadata.sqlite", mount: options.mountIdentity,
                                              maxEntries: options.metadataCacheEntries, logger: logger)
        if onDisk == nil {
            logger.notice("the metadata cache is kept in memory for this mount only")
        }
        let cache: any ObjectMetadataStore = onDisk ?? InMemoryObjectMetadataCache(maxEntries: options.metadataCacheEntries)
        metadataStore.withLock { $0 = cache }
    }

    /// Registers a recovered record as a pending inode at `path`: a file with its staged data, or a directory
    /// whose marker is still to be written (`staged` nil).
    private func adopt(_ entry: JournalRecord, path: String, staged: StagedFile?) -> UInt64 {
        let metadata = POSIXMetadata(userMetadata: entry.metadata)
        let now = Timestamp.now()
        let type: FileType = entry.isDirectoryMarker ? .directory : .regular
        return state.withLock { state in
            if let stale = state.byPath[path] { state.inodes[stale]?.isUnlinked = true }
            let number = state.nextInode
            state.nextInode += 1
            var record = InodeRecord(
                number: number, path: path, type: type,
                attributes: attributes(inode: number, type: type, size: entry.file.size, lastModified: now,
                                       metadata: metadata),
                validUntil: .infinity, metadata: metadata)
            switch entry.expected {
            case .absent: record.isLocalOnly = true
            case .version(let etag): record.etag = etag
            }
            record.markerIsStale = entry.isDirectoryMarker
            record.staged = staged
            record.journalID = entry.id
            state.inodes[number] = record
            state.byPath[path] = number
            state.negative[path] = nil
            state.listings[Names.parentPath(path)] = nil
            return number
        }
    }

    private func setAside(_ entry: JournalRecord, reason: String, summary: inout RecoverySummary) {
        summary.setAside += 1
        guard let journal else { return }
        do {
            let folder = try journal.moveToLostAndFound(entry, reason: reason)
            logger.error("a pending upload from an earlier run cannot be uploaded; its data was kept in lost+found",
                         metadata: ["key": "\(entry.key)", "reason": "\(reason)", "kept-in": "\(folder)"])
        } catch {
            logger.error("a pending upload from an earlier run cannot be uploaded and could not be moved to lost+found; it stays in the journal",
                         metadata: ["key": "\(entry.key)", "reason": "\(reason)", "error": "\(error)"])
        }
    }

    /// Moves a recovered inode's record and data to lost+found and forgets the inode.
    private func moveToLostAndFound(_ inode: UInt64, reason: String) {
        guard journal != nil, let current = state.withLock({ $0.inodes[inode] }), let id = current.journalID,
              current.staged != nil || current.type == .directory else { return }
        var metadata = uploadMetadata(current)
        metadata.contentHints = [:]
        let entry = JournalRecord(id: id, mount: options.mountIdentity, key: uploadKey(of: current),
                                  expected: current.etag.map { .version(etag: $0) } ?? .absent,
                                  stagingPath: current.staged?.path ?? "", file: current.staged?.persistentState ?? .empty,
                                  metadata: metadata.userMetadata(), contentType: nil)
        queue.remove(inode)
        var summary = RecoverySummary()
        journalOrder.withLock { _ in setAside(entry, reason: reason, summary: &summary) }
        state.withLock { state in
            state.inodes[inode] = nil
            if state.byPath[current.path] == inode { state.byPath[current.path] = nil }
        }
    }

    /// Removes `coffer-staged-*` files (and leftovers of encrypted uploads) that no journal record references: a
    /// run killed before it journaled them had not acknowledged their data to anyone.
    private func removeOrphanStagingFiles(keeping referenced: Set<String>, summary: inout RecoverySummary) {
        let directory = options.cacheDirectory.hasSuffix("/") ? String(options.cacheDirectory.dropLast())
            : options.cacheDirectory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix("coffer-staged-") {
            let path = directory + "/" + name
            let owner = name.hasSuffix(".encoded") ? String(path.dropLast(".encoded".count)) : path
            if referenced.contains(owner) && !name.hasSuffix(".encoded") { continue }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { summary.orphansRemoved += 1 }
        }
        if summary.orphansRemoved > 0 {
            logger.info("removed staging files of an earlier run that held no acknowledged data",
                        metadata: ["files": "\(summary.orphansRemoved)", "cache": "\(directory)"])
        }
    }
}

extension FileSystem {
    /// Stops the upload queue and releases the cache directory without uploading anything: what a crash of the
    /// mount process leaves behind (the journal and staging files stay for the next mount to replay). For tests that
    /// simulate a crash inside one process.
    public func stopWithoutUploading() {
        queue.stop()
        metadataStore.withLock { $0 = nil }
        cacheLock.withLock { $0 = nil }
    }
}

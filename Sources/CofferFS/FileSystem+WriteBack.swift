import CofferMetadata
import CofferObjectStore
import CofferWriteBack
import Foundation

/// What an upload attempt did with a file's pending changes.
enum UploadResult: Sendable {
    /// They are in S3 (or there was nothing to upload).
    case uploaded
    /// The object changed on the server since this mount saw it: it was left alone and this mount's bytes were
    /// stored under a conflict name (`keptAs`), or stay staged when even that failed.
    case conflict(FSError)
}

extension FileSystem {
    // MARK: - Close, fsync and the queue

    /// Makes a closed file's changes pending: journaled and queued for upload after the write-back delay, or
    /// uploaded now when the mount writes through (`--write-back-delay 0`).
    func finishWriting(_ inode: UInt64) async throws(FSError) {
        guard let current = state.withLock({ $0.inodes[inode] }), current.hasPendingUpload, !current.isUnlinked else {
            return
        }
        guard writesBack else {
            do {
                try await upload(inode)
            } catch {
                await retryInBackground(inode, after: error)
                throw error
            }
            return
        }
        try await locks.withLock(inode) { () throws(FSError) in
            try recordPendingUpload(inode)
        }
        if state.withLock({ $0.inodes[inode]?.staged != nil }) {
            scheduleUpload(inode)
        }
    }

    /// After a write-through close whose upload failed (the application got the error): the changes stay staged,
    /// are journaled, and the queue keeps retrying them with backoff, with the same condition (the version they
    /// were made to), so a failure that passes loses nothing and a conflict never overwrites anyone.
    func retryInBackground(_ inode: UInt64, after failure: FSError) async {
        guard state.withLock({ $0.inodes[inode].map { $0.hasPendingUpload && !$0.isUnlinked } ?? false }) else {
            return
        }
        do {
            try await locks.withLock(inode) { () throws(FSError) in try recordPendingUpload(inode) }
        } catch {
            logger.error("a failed upload could not be journaled; the mount keeps retrying it while it runs",
                         metadata: ["error": "\(error)"])
        }
        let bytes = state.withLock { $0.inodes[inode]?.staged?.size ?? 0 }
        queue.scheduleRetry(inode, bytes: bytes, failure: failure.message)
    }

    /// Queues the pending changes of `inode` for upload (at once with `immediately`): files after the write-back
    /// delay, directory markers once the files queued with them are uploaded too (see `WriteBackQueue.Precedence`).
    func scheduleUpload(_ inode: UInt64, immediately: Bool = false) {
        let (bytes, type) = state.withLock { state in
            (state.inodes[inode]?.staged?.size ?? 0, state.inodes[inode]?.type ?? .regular)
        }
        queue.schedule(inode, bytes: bytes, precedence: type == .directory ? .background : .normal,
                       immediately: immediately)
    }

    /// Uploads a file's pending changes now (fsync, write-through close, unmount), in order with the inode's other
    /// operations. A conflict is reported as an error once this mount's bytes are safe under the conflict name.
    func upload(_ inode: UInt64) async throws(FSError) {
        let result = try await locks.withLock(inode) { () throws(FSError) in try await uploadLocked(inode) }
        if case .conflict(let error) = result { throw error }
    }

    /// One attempt of the queue.
    func backgroundUpload(_ inode: UInt64) async -> WriteBackQueue.Outcome {
        do {
            let result = try await locks.withLock(inode) { () throws(FSError) in try await uploadLocked(inode) }
            if case .conflict(let error) = result { return .conflict(error.message) }
            return .uploaded
        } catch {
            let path = state.withLock { $0.inodes[inode]?.path } ?? "inode \(inode)"
            logger.warning("upload failed; the data stays staged and journaled and is retried",
                           metadata: ["path": "\(path)", "error": "\(error)"])
            return .failed(error.message)
        }
    }

    /// Uploads every pending file under the directory `inode` (every one for the root), and the directory's own
    /// marker, and returns the first error: fsync of a directory, and how `coffer unmount` waits for the queue.
    public func fsyncDirectory(_ inode: UInt64) async throws(FSError) {
        let directory = try record(inode)
        let pending: [UInt64] = state.withLock { state in
            state.inodes.values.filter {
                $0.hasPendingUpload && !$0.isUnlinked
                    && (directory.path.isEmpty || $0.number == inode || $0.path.hasPrefix(directory.path + "/"))
            }.map(\.number)
        }
        var firstError: FSError?
        let failures = await queue.drain(Set(pending))
        if let (_, message) = failures.first { firstError = FSError(EIO, message) }
        for inode in pending where state.withLock({ $0.inodes[inode]?.hasPendingUpload ?? false }) {
            do {
                try await upload(inode)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    /// Uploads everything pending (unmount, SIGTERM), then closes the metadata cache and releases the cache
    /// directory. What cannot be uploaded stays staged and journaled, and is uploaded by the next mount with the
    /// same cache directory.
    public func shutdown() async {
        let pending: [UInt64] = state.withLock { state in
            state.inodes.values.filter { $0.hasPendingUpload && !$0.isUnlinked }.map(\.number)
        }
        if !pending.isEmpty {
            logger.info("uploading pending files before unmounting", metadata: ["files": "\(pending.count)"])
        }
        _ = await queue.drain()
        for inode in pending where state.withLock({ $0.inodes[inode]?.hasPendingUpload ?? false }) {
            do {
                try await upload(inode)
            } catch {
                logger.error("could not upload a file before unmounting; it stays staged and journaled for the next mount with this cache directory",
                             metadata: ["error": "\(error)", "cache": "\(options.cacheDirectory)"])
            }
        }
        queue.stop()
        // The end of the mount: blocks queued for the disk cache are written, the metadata cache is closed and the
        // cache directory free for the next mount.
        cache.flushDiskCache()
        metadataStore.withLock { $0 = nil }
        cacheLock.withLock { $0 = nil }
    }

    // MARK: - Upload

    /// Uploads the inode's pending changes with its current name and metadata. The caller holds the inode's lock.
    ///
    /// The upload replaces exactly the version this mount last saw (`If-Match`), or creates the key
    /// (`If-None-Match: *`) for a new file, unless `--on-conflict overwrite`. On a conflict nothing is overwritten:
    /// the bytes go to a conflict name. On failure the data stays staged and journaled, and the error (EACCES for
    /// a refused request, ENOSPC for a full cache disk, EIO otherwise) is thrown.
    func uploadLocked(_ inode: UInt64) async throws(FSError) -> UploadResult {
        guard let current = state.withLock({ $0.inodes[inode] }) else { return .uploaded }
        if current.type == .directory { return try await uploadMarkerLocked(current) }
        guard let staged = current.staged, current.hasPendingUpload, !current.isUnlinked else {
            finishPending(inode)
            return .uploaded
        }
        let objectKey = key(of: current.path)
        var metadata = uploadMetadata(current)
        // The old object's content hints do not describe the new one: the encoder adds the new object's own.
        metadata.contentHints = [:]
        let condition = uploadCondition(for: current)
        let putOptions = PutOptions(metadata: metadata.userMetadata(), contentType: ContentTypes.guess(for: current.path),
                                    condition: condition)
        let uploaded: UploadedObject
        let started = Date()
        do {
            uploaded = try await uploader.send(staged, as: objectKey, options: putOptions)
        } catch {
            if case .store(let storeError, _) = error, Self.isConflict(storeError, condition: condition) {
                return .conflict(try await keepConflictingCopy(current, staged: staged, metadata: putOptions,
                                                               reason: "\(storeError)"))
            }
            if case .baseChanged(let message) = error {
                // The upload copied unchanged parts from the base, which another host replaced. When every byte is
                // here all the same, the changes are complete and are kept like any conflict; otherwise the bytes
                // they need are gone from S3.
                if (try? await staged.markEntirelyDirty()) != nil {
                    return .conflict(try await keepConflictingCopy(current, staged: staged, metadata: putOptions,
                                                                   reason: message))
                }
                return .conflict(try keepIncompleteVersion(current, staged: staged, reason: message))
            }
            let failure = Self.uploadFailure(error, path: current.path)
            logger.error("upload failed; the data stays staged and the error goes to the application",
                         metadata: ["key": "\(objectKey)", "error": "\(error)"])
            throw failure
        }
        cache.invalidate(key: objectKey)
        let etag = uploaded.etag
        rememberWrite(objectKey, size: staged.size, storedSize: uploaded.storedSize, etag: etag,
                      contentType: putOptions.contentType, metadata: uploaded.metadata, startedAt: started)
        let name = Names.baseName(current.path)
        let parent = Names.parentPath(current.path)
        let movedTo: String? = state.withLock { state in
            guard var record = state.inodes[inode] else { return nil }
            if current.isLocalOnly || (current.ownETag != nil && current.ownETag == current.etag) {
                record.ownETag = etag
            }
            record.etag = etag
            record.isLocalOnly = false
            record.metadata = metadata
            record.metadata.contentHints = uploaded.metadata.filter { $0.key.hasPrefix(POSIXMetadata.contentHintPrefix) }
            record.attributes.size = staged.size
            record.validUntil = expiry
            record.cachedETag = nil
            state.inodes[inode] = record
            state.listings[parent]?.children[name] = .file
            state.listings[parent]?.objects[name] = nil
            // A directory rename during the upload moved the file: the object landed at the old name.
            return record.path != current.path && !record.isUnlinked ? record.path : nil
        }
        if let movedTo { try await moveUploadedObject(inode, from: objectKey, etag: etag, to: movedTo) }
        finishPending(inode)
        return .uploaded
    }

    /// Writes a directory's pending marker (`dir/` with its mode, owner and times). The caller holds the inode's
    /// lock. Markers carry no condition: two hosts making one directory agree on what it is, and the later one's
    /// metadata stays (with `--no-overwrite`, the first one's).
    private func uploadMarkerLocked(_ current: InodeRecord) async throws(FSError) -> UploadResult {
        guard current.hasPendingUpload, !current.isUnlinked, !current.path.isEmpty else {
            finishPending(current.number)
            return .uploaded
        }
        let marker = directoryPrefix(of: current.path)
        let metadata = uploadMetadata(current)
        var etag: String?
        do {
            etag = try await putMarker(of: current.path, metadata: metadata,
                                       condition: options.noOverwrite ? .doesNotExist : nil)
        } catch .preconditionFailed where options.noOverwrite {
            // Another host made the directory first; its marker stays.
            etag = nil
        } catch {
            logger.error("directory marker upload failed; it stays journaled and the error goes to the application",
                         metadata: ["key": "\(marker)", "error": "\(error)"])
            throw FSError.from(error, "PUT \(marker)")
        }
        let movedAway: Bool = state.withLock { state in
            guard var record = state.inodes[current.number] else { return false }
            if let etag { record.etag = etag }
            record.isLocalOnly = false
            record.hasMarker = true
            record.validUntil = expiry
            // A rename of the directory during the upload: the marker went to the old name; the new one needs its own.
            let moved = record.path != current.path && !record.isUnlinked
            record.markerIsStale = moved
            state.inodes[current.number] = record
            return moved
        }
        if movedAway {
            try? await store.delete(marker)
            try? recordPendingUpload(current.number)
            scheduleUpload(current.number, immediately: true)
            return .uploaded
        }
        finishPending(current.number)
        return .uploaded
    }

    /// Writes the marker of the directory at `path` (a zero-byte `path/` with its metadata, as s3fs does) and keeps
    /// it in the metadata cache; returns its ETag. Every marker PUT goes through here.
    func putMarker(of path: String, metadata: POSIXMetadata,
                   condition: WriteCondition? = nil) async throws(ObjectStoreError) -> String {
        let marker = directoryPrefix(of: path)
        let started = Date()
        let etag = try await store.put(marker, body: .bytes([]), options: PutOptions(
            metadata: metadata.userMetadata(), contentType: Self.directoryContentType, condition: condition))
        rememberWrite(marker, size: 0, storedSize: 0, etag: etag, contentType: Self.directoryContentType,
                      metadata: metadata.userMetadata(), startedAt: started)
        return etag
    }

    /// After a successful upload, or when nothing is left to upload: the journal record goes when the file is clean
    /// (it is rewritten when writes came in meanwhile), the queue forgets a clean file, and a clean staging file
    /// nobody has open is removed.
    func finishPending(_ inode: UInt64) {
        let (clean, discard): (Bool, StagedFile?) = journalOrder.withLock { _ in
            let outcome: (Bool, StagedFile?, String?) = state.withLock { state in
                guard var record = state.inodes[inode] else { return (true, nil, nil) }
                let clean = !record.hasPendingUpload || record.isUnlinked
                guard clean else { return (false, nil, nil) }
                let (id, discard) = record.endPendingUpload()
                state.inodes[inode] = record
                return (true, discard, id)
            }
            if let id = outcome.2 { journal?.remove(id: id) }
            if !outcome.0 { try? writeJournalRecord(inode) }
            return (outcome.0, outcome.1)
        }
        if clean { queue.remove(inode) }
        discard?.discard()
        dropIfUnused(inode)
    }

    /// The condition an upload of `record` carries.
    func uploadCondition(for record: InodeRecord) -> WriteCondition? {
        if options.noOverwrite {
            // Never another writer's object; this mount's own version of a file it created may be replaced.
            if let own = record.ownETag, own == record.etag { return .etagMatches(own) }
            return .doesNotExist
        }
        if options.conflictPolicy == .overwrite { return nil }
        return record.etag.map { .etagMatches($0) } ?? .doesNotExist
    }

    /// True when `error` says the object is not the version the upload expected.
    static func isConflict(_ error: ObjectStoreError, condition: WriteCondition?) -> Bool {
        switch (error, condition) {
        case (.preconditionFailed, _): return true
        // S3 answers If-Match on a key that is gone with 404: deleted by another host.
        case (.notFound, .etagMatches?): return true
        default: return false
        }
    }

    /// The errno a failed upload becomes.
    static func uploadFailure(_ error: WriteBackError, path: String) -> FSError {
        let code: Int32
        switch error {
        case .store(.accessDenied, _), .store(.invalidCredentials, _): code = EACCES
        case .localIO(let message) where message.contains("full"): code = ENOSPC
        case .tooLarge: code = EFBIG
        case .baseChanged: code = ESTALE
        default: code = EIO
        }
        return FSError(code, "upload of \(path): \(error)")
    }

    /// Stores this mount's version of a file that another host changed under a conflict name next to it, leaves the
    /// other host's object alone, and returns the error for fsync (EEXIST with `--no-overwrite`, else EIO).
    private func keepConflictingCopy(_ current: InodeRecord, staged: StagedFile, metadata: PutOptions,
                                     reason: String) async throws(FSError) -> FSError {
        let originalKey = key(of: current.path)
        let now = Date()
        var conflictPath = ""
        var conflictKey = ""
        var options = metadata
        options.condition = .doesNotExist
        do throws(WriteBackError) {
            // A name no object has: a second conflict of the same file within a second gets "-2", and so on.
            for attempt in 1...100 {
                conflictPath = Names.child(Names.parentPath(current.path),
                                           Self.conflictName(for: Names.baseName(current.path), host: self.options.hostName,
                                                             at: now, attempt: attempt))
                conflictKey = key(of: conflictPath)
                do throws(WriteBackError) {
                    _ = try await uploader.send(staged, as: conflictKey, options: options)
                    break
                } catch .store(.preconditionFailed, _) where attempt < 100 {
                    continue
                }
            }
        } catch {
            record(ConflictRecord(key: originalKey, keptAs: nil, at: Date(), reason: reason))
            logger.error("another host changed the file and this mount's version could not be stored under a conflict name either; it stays staged and journaled",
                         metadata: ["key": "\(originalKey)", "conflict-key": "\(conflictKey)", "error": "\(error)"])
            throw Self.uploadFailure(error, path: conflictPath)
        }
        record(ConflictRecord(key: originalKey, keptAs: conflictKey, at: Date(), reason: reason))
        logger.warning("conflict: another host changed the file since this mount read it; its version stays and this mount's is kept next to it",
                       metadata: ["key": "\(originalKey)", "kept-as": "\(conflictKey)", "s3": "\(reason)"])
        // The name now shows the other host's object: forget this mount's view of it.
        state.withLock { state in
            guard var record = state.inodes[current.number] else { return }
            record.isLocalOnly = false
            record.etag = nil
            record.validUntil = 0
            record.cachedETag = nil
            state.inodes[current.number] = record
            state.listings[Names.parentPath(current.path)] = nil
        }
        cache.invalidate(key: originalKey)
        finishPending(current.number)
        let code = self.options.noOverwrite ? EEXIST : EIO
        return FSError(code, "\(current.path) was changed by another host (\(reason)); this mount's version was "
                       + "stored as \(conflictPath)")
    }

    /// A file another host changed before this mount had fetched all of the version it was editing: this mount's
    /// version cannot be completed any more (the unchanged bytes are gone from S3), so its staged data goes to
    /// `lost+found` in the cache directory with its journal record, and the name shows the other host's object.
    private func keepIncompleteVersion(_ current: InodeRecord, staged: StagedFile,
                                       reason: String) throws(FSError) -> FSError {
        let originalKey = key(of: current.path)
        try recordPendingUpload(current.number)
        var keptIn: String?
        if let journal, let id = state.withLock({ $0.inodes[current.number]?.journalID }) {
            let entry = journalOrder.withLock { _ in
                journal.load(mount: options.mountIdentity).records.first { $0.id == id }
            }
            if let entry {
                keptIn = try? journal.moveToLostAndFound(entry, reason: "another host changed \(originalKey) before "
                                                        + "this mount's changes could be uploaded: \(reason)")
            }
        }
        record(ConflictRecord(key: originalKey, keptAs: keptIn.map { "local:" + $0 }, at: Date(), reason: reason))
        logger.error("conflict: another host changed the file before this mount's changes could be uploaded, and the rest of the version they were made to is gone from S3; the changed file was kept in lost+found",
                     metadata: ["key": "\(originalKey)", "kept-in": "\(keptIn ?? "the staging directory")"])
        state.withLock { state in
            guard var record = state.inodes[current.number] else { return }
            record.journalID = nil
            record.isLocalOnly = false
            record.etag = nil
            record.validUntil = 0
            record.cachedETag = nil
            // Even for a file still open: its changes were reported as failed and are in lost+found, so they must
            // never be uploaded later. Further writes start again from the other host's version.
            record.staged = nil
            state.inodes[current.number] = record
            state.listings[Names.parentPath(current.path)] = nil
        }
        if keptIn == nil { staged.discard() }
        queue.remove(current.number)
        cache.invalidate(key: originalKey)
        return FSError(EIO, "\(current.path) was changed by another host; this mount's changes were kept in "
                       + "\(keptIn ?? "the cache directory")")
    }

    /// Counts a conflict and keeps the latest 20 for `coffer status`.
    private func record(_ conflict: ConflictRecord) {
        conflicts.withLock { log in
            log.total += 1
            log.recent.append(conflict)
            if log.recent.count > 20 { log.recent.removeFirst(log.recent.count - 20) }
        }
    }

    /// `NAME.conflict-HOST-20261203T101500Z` (`-2`, `-3`… appended for later attempts), shortened to fit a
    /// 255-byte name.
    static func conflictName(for name: String, host: String, at date: Date = Date(), attempt: Int = 1) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let safeHost = String(host.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "-" }.prefix(64))
        let suffix = ".conflict-\(safeHost)-\(formatter.string(from: date))" + (attempt > 1 ? "-\(attempt)" : "")
        var stem = name
        while stem.utf8.count + suffix.utf8.count > Names.maximumLength { stem.removeLast() }
        return stem + suffix
    }

    /// Moves an object an upload put at a name the file has left since (a directory rename ran meanwhile).
    private func moveUploadedObject(_ inode: UInt64, from oldKey: String, etag: String,
                                    to newPath: String) async throws(FSError) {
        let newKey = key(of: newPath)
        let size = state.withLock { $0.inodes[inode]?.attributes.size } ?? 0
        let copied: String
        do {
            copied = try await copyObject(from: oldKey, to: newKey, size: size, sourceETag: etag, metadata: .copy,
                                          condition: nil)
            try await store.delete(oldKey)
        } catch {
            throw FSError.from(error, "COPY \(oldKey) to \(newKey) (renamed during its upload)")
        }
        let staged: StagedFile? = state.withLock { state in
            state.inodes[inode]?.etag = copied
            return state.inodes[inode]?.staged
        }
        staged?.rebase(toKey: newKey, etag: copied)
        cache.invalidate(key: oldKey)
    }

    // MARK: - Journal

    /// Writes (or rewrites) the journal record of a file with pending changes: its name, metadata, condition and
    /// which staged bytes are its own. The caller holds the inode's lock.
    func recordPendingUpload(_ inode: UInt64) throws(FSError) {
        try journalOrder.withLock { (_: inout Void) throws(FSError) in try writeJournalRecord(inode) }
    }

    /// Rewrites the journal record of a pending file after its name, size or metadata changed, and pushes its
    /// upload back; a file still open without a record gets one at its close.
    func updatePendingUpload(_ inode: UInt64) throws(FSError) {
        let needsRecord = state.withLock { state in
            state.inodes[inode].map { $0.journalID != nil || $0.openCount == 0 } ?? false
        }
        guard needsRecord else { return }
        try recordPendingUpload(inode)
        scheduleUpload(inode)
    }

    /// Stops a pending upload that is no longer wanted (unlinked, or replaced by a rename over it).
    func abandonPendingUpload(_ inode: UInt64) {
        queue.remove(inode)
        let (id, discard): (String?, StagedFile?) = state.withLock { state in
            guard var record = state.inodes[inode] else { return (nil, nil) }
            let (id, discard) = record.endPendingUpload()
            record.isLocalOnly = false
            state.inodes[inode] = record
            return (id, discard)
        }
        if let id { journalOrder.withLock { _ in journal?.remove(id: id) } }
        discard?.discard()
    }

    /// Writes the record under `journalOrder`.
    private func writeJournalRecord(_ inode: UInt64) throws(FSError) {
        guard let journal else { return }
        let pending: (InodeRecord, String)? = state.withLock { state in
            guard var record = state.inodes[inode], record.hasPendingUpload, !record.isUnlinked,
                  record.staged != nil || record.type == .directory else { return nil }
            let id = record.journalID ?? UUID().uuidString.lowercased()
            record.journalID = id
            state.inodes[inode] = record
            return (record, id)
        }
        guard let (current, id) = pending else { return }
        var metadata = uploadMetadata(current)
        metadata.contentHints = [:]
        let expected: ExpectedObject = current.etag.map { .version(etag: $0) } ?? .absent
        // A directory's record is its marker's: no staging file, a key ending in "/".
        let contentType = current.type == .directory ? Self.directoryContentType : ContentTypes.guess(for: current.path)
        let entry = JournalRecord(id: id, mount: options.mountIdentity, key: uploadKey(of: current),
                                  expected: expected, stagingPath: current.staged?.path ?? "",
                                  file: current.staged?.persistentState ?? .empty,
                                  metadata: metadata.userMetadata(), contentType: contentType)
        do {
            try journal.write(entry)
        } catch {
            throw FSError(error.description.contains("full") ? ENOSPC : EIO,
                          "cannot journal the pending upload of \(current.path): \(error)")
        }
    }
}

import CofferMetadata
import CofferObjectStore
import Foundation
import CofferWriteBack

extension FileSystem {
    public func rename(parent: UInt64, name: String, newParent: UInt64, newName: String,
                       mode: RenameMode) async throws(FSError) {
        try requireWritable("rename \(name)")
        try Names.validate(newName)
        if mode == .exchange { throw .invalid("RENAME_EXCHANGE is not supported on S3") }
        let sourceDirectory = try record(parent)
        let targetDirectory = try record(newParent)
        guard targetDirectory.type == .directory else { throw .notDirectory(targetDirectory.path) }
        let source = try await findRecord(parent: parent, name: name, countLookup: false)
        let oldPath = Names.child(sourceDirectory.path, name)
        let newPath = Names.child(targetDirectory.path, newName)
        if oldPath == newPath { return }
        if source.type == .directory && (newPath.hasPrefix(oldPath + "/")) {
            throw .invalid("cannot move \(oldPath) into itself")
        }
        var displaced: InodeRecord?
        if try await exists(newPath) {
            if mode == .noReplace || options.noOverwrite { throw .exists(newPath) }
            let target = try await findRecord(parent: newParent, name: newName, countLookup: false)
            switch (source.type == .directory, target.type == .directory) {
            case (true, false): throw .notDirectory(newPath)
            case (false, true): throw .isDirectory(newPath)
            case (true, true): try await rmdir(parent: newParent, name: newName)
            case (false, false): displaced = target
            }
        }
        if source.type == .directory {
            try await renameDirectory(from: oldPath, to: newPath)
        } else {
            try await locks.withLock(source.number) { () throws(FSError) in
                try await renameFile(source.number, from: oldPath, to: newPath, displacing: displaced)
            }
        }
        if source.type == .directory {
            invalidateListing(ofParentOf: oldPath)
            invalidateListing(ofParentOf: newPath)
        } else {
            // The listings stay valid with the one name moved (rsync looks up the next file in them right away).
            state.withLock { state in
                state.listings[Names.parentPath(oldPath)]?.children[Names.baseName(oldPath)] = nil
                state.listings[Names.parentPath(newPath)]?.children[Names.baseName(newPath)] = .file
            }
        }
        touchDirectory(parent)
        touchDirectory(newParent)
    }

    /// Moves a file or symlink. The caller holds the inode's lock.
    ///
    /// - A file never uploaded (what `rsync` and editors rename: a temporary file) is retargeted: its pending
    ///   upload goes to the new name, with no request now.
    /// - A file in S3 with changes not uploaded is uploaded under the new name, then the old key is deleted.
    /// - A file in S3 without changes (and a symlink) is copied server-side, then the old key is deleted.
    ///
    /// A file replaced by the rename (`displacing`) loses its own pending upload; the moved file's upload then
    /// replaces the version of it this mount last saw (`If-Match`), or creates the key when it had none.
    private func renameFile(_ inode: UInt64, from oldPath: String, to newPath: String,
                            displacing displaced: InodeRecord?) async throws(FSError) {
        let source = try record(inode)
        guard source.path == oldPath, !source.isUnlinked else { throw .notFound(oldPath) }
        let oldKey = key(of: oldPath)
        let newKey = key(of: newPath)
        // What S3 holds at the new name, as far as this mount knows.
        let replacedETag = displaced?.etag
        if let displaced, displaced.number != inode, displaced.hasPendingUpload {
            abandonPendingUpload(displaced.number)
        }
        if source.isLocalOnly || (source.etag == nil && source.hasPendingUpload) {
            move(inode, from: oldPath, to: newPath)
            state.withLock { state in
                state.inodes[inode]?.etag = replacedETag
                state.inodes[inode]?.isLocalOnly = replacedETag == nil
            }
            if !writesBack && source.openCount == 0 {
                _ = try await uploadOrThrow(inode)
            } else {
                try updatePendingUpload(inode)
            }
            return
        }
        if source.hasPendingUpload {
            move(inode, from: oldPath, to: newPath)
            state.withLock { $0.inodes[inode]?.etag = replacedETag }
            _ = try await uploadOrThrow(inode)
        } else if let etag = source.etag {
            let copied: String
            let started = Date()
            do {
                copied = try await copyObject(from: oldKey, to: newKey, size: source.attributes.size, sourceETag: etag,
                                              metadata: .copy, condition: options.noOverwrite ? .doesNotExist : nil)
            } catch {
                throw FSError.from(error, "COPY \(oldKey) to \(newKey)")
            }
            // The copy carries the source's metadata: known when this mount read or wrote it within the TTL.
            if source.validUntil > Self.monotonicNow() {
                rememberWrite(newKey, size: source.attributes.size,
                              storedSize: storedSize(of: oldKey, etag: etag, size: source.attributes.size),
                              etag: copied, contentType: ContentTypes.guess(for: oldPath),
                              metadata: uploadMetadata(source).userMetadata(), startedAt: started)
            }
            let staged: StagedFile? = state.withLock { state in
                state.inodes[inode]?.etag = copied
                return state.inodes[inode]?.staged
            }
            // An open (clean) staged copy fetches its unchanged bytes from the new key from now on.
            staged?.rebase(toKey: newKey, etag: copied)
            move(inode, from: oldPath, to: newPath)
        } else {
            move(inode, from: oldPath, to: newPath)
        }
        do {
            try await store.delete(oldKey)
        } catch {
            throw FSError.from(error, "DELETE \(oldKey) after copying it to \(newKey)")
        }
        metadataCache?.forget(oldKey)
        cache.invalidate(key: oldKey)
    }

    /// `uploadLocked`, with a conflict thrown as its error.
    private func uploadOrThrow(_ inode: UInt64) async throws(FSError) {
        if case .conflict(let error) = try await uploadLocked(inode) { throw error }
    }

    /// Moves a whole directory: every key under its prefix is copied server-side (16 at a time), then the old keys
    /// are deleted in batches. Files under it that are not uploaded yet move with it and upload under the new name.
    private func renameDirectory(from oldPath: String, to newPath: String) async throws(FSError) {
        let oldPrefix = directoryPrefix(of: oldPath)
        let newPrefix = directoryPrefix(of: newPath)
        let objects: [ObjectSummary]
        do {
            objects = try await store.listAll(prefix: oldPrefix)
        } catch {
            throw FSError.from(error, "LIST \(oldPrefix)")
        }
        let condition: WriteCondition? = options.noOverwrite ? .doesNotExist : nil
        let (failure, copiedETags) = await withTaskGroup(of: (String, Result<String, FSError>).self) { group in
            var next = 0
            var firstError: FSError?
            var copied: [String: String] = [:]
            func addNext() {
                let object = objects[next]
                next += 1
                group.addTask {
                    let destination = newPrefix + object.key.dropFirst(oldPrefix.count)
                    do throws(ObjectStoreError) {
                        return (object.key, .success(try await self.copyObject(
                            from: object.key, to: destination, size: object.size, sourceETag: object.etag,
                            metadata: .copy, condition: condition)))
                    } catch {
                        return (object.key, .failure(FSError.from(error, "COPY \(object.key) to \(destination)")))
                    }
                }
            }
            while next < min(16, objects.count) { addNext() }
            while let (source, result) = await group.next() {
                switch result {
                case .success(let etag): copied[source] = etag
                case .failure(let error): if firstError == nil { firstError = error }
                }
                if next < objects.count && firstError == nil { addNext() }
            }
            return (firstError, copied)
        }
        if let failure { throw failure }
        if objects.isEmpty {
            // A directory whose marker is gone (or that exists only in S3 listings): give the new name a marker. A
            // directory with a pending marker gets it at the new name from the queue.
            let current = state.withLock { state in state.byPath[oldPath].flatMap { state.inodes[$0] } }
            if let current, !current.hasPendingUpload {
                do {
                    _ = try await putMarker(of: newPath, metadata: uploadMetadata(current))
                } catch {
                    throw FSError.from(error, "PUT \(newPrefix)")
                }
            }
        }
        let moved = state.withLock { state -> [(UInt64, String)] in
            state.byPath.filter { $0.key == oldPath || $0.key.hasPrefix(oldPath + "/") }.map { ($0.value, $0.key) }
        }
        for (inode, path) in moved.sorted(by: { $0.1.count < $1.1.count }) {
            move(inode, from: path, to: newPath + path.dropFirst(oldPath.count))
        }
        for (inode, _) in moved {
            // Pending uploads go to the new names; open copies fetch unchanged bytes from the copied objects.
            try? updatePendingUpload(inode)
            if let (staged, newKey) = state.withLock({ state -> (StagedFile, String)? in
                guard let record = state.inodes[inode], let staged = record.staged else { return nil }
                return (staged, key(of: record.path))
            }), let oldKey = staged.base?.key, let etag = copiedETags[oldKey] {
                staged.rebase(toKey: newKey, etag: etag)
                state.withLock { $0.inodes[inode]?.etag = etag }
            }
        }
        let failures: [DeleteFailure]
        do {
            failures = try await store.delete(keys: objects.map(\.key))
        } catch {
            throw FSError.from(error, "DELETE under \(oldPrefix)")
        }
        if let first = failures.first {
            throw FSError(EIO, "could not delete \(failures.count) old keys after moving \(oldPath): \(first.key): \(first.code)")
        }
        for object in objects { cache.invalidate(key: object.key) }
        state.withLock { state in
            state.listings.removeAll { $0 == oldPath || $0.hasPrefix(oldPath + "/") }
        }
    }

    /// Re-files an inode under a new path in the table.
    private func move(_ inode: UInt64, from oldPath: String, to newPath: String) {
        state.withLock { state in
            if state.byPath[oldPath] == inode { state.byPath[oldPath] = nil }
            if let displaced = state.byPath[newPath], displaced != inode { state.inodes[displaced]?.isUnlinked = true }
            state.byPath[newPath] = inode
            state.inodes[inode]?.path = newPath
            state.inodes[inode]?.attributes.ctime = Timestamp.now()
            state.inodes[inode]?.changedAt = Self.monotonicNow()
            state.rememberAbsent(oldPath, until: expiry, now: Self.monotonicNow())
            state.negative[newPath] = nil
        }
    }
}

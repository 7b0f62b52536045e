import CofferObjectStore
import Foundation

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
        if try await exists(newPath) {
            if mode == .noReplace || options.noOverwrite { throw .exists(newPath) }
            let target = try await findRecord(parent: newParent, name: newName, countLookup: false)
            switch (source.type == .directory, target.type == .directory) {
            case (true, false): throw .notDirectory(newPath)
            case (false, true): throw .isDirectory(newPath)
            case (true, true): try await rmdir(parent: newParent, name: newName)
            case (false, false): break
            }
        }
        if source.type == .directory {
            try await renameDirectory(from: oldPath, to: newPath)
        } else {
            try await renameFile(source, to: newPath)
        }
        invalidateListing(ofParentOf: oldPath)
        invalidateListing(ofParentOf: newPath)
        touchDirectory(parent)
        touchDirectory(newParent)
    }

    /// Moves a file or symlink: a server-side copy then a delete, or, for a file with changes not uploaded yet,
    /// an upload under the new name.
    private func renameFile(_ source: InodeRecord, to newPath: String) async throws(FSError) {
        let oldKey = key(of: source.path)
        let newKey = key(of: newPath)
        let pendingUpload = source.isLocalOnly || (source.staged?.isDirty ?? false)
        if !pendingUpload, let etag = source.etag {
            let copied: String
            do {
                copied = try await copyObject(from: oldKey, to: newKey, size: source.attributes.size, sourceETag: etag,
                                              metadata: .copy, condition: options.noOverwrite ? .doesNotExist : nil)
            } catch {
                throw FSError.from(error, "COPY \(oldKey) to \(newKey)")
            }
            state.withLock { $0.inodes[source.number]?.etag = copied }
        }
        move(source.number, from: source.path, to: newPath)
        if pendingUpload && source.openCount == 0 {
            try await upload(source.number)
        }
        if !source.isLocalOnly {
            do {
                try await store.delete(oldKey)
            } catch {
                throw FSError.from(error, "DELETE \(oldKey) after copying it to \(newKey)")
            }
        }
        cache.invalidate(key: oldKey)
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
        let failure: FSError? = await withTaskGroup(of: FSError?.self) { group in
            var next = 0
            var firstError: FSError?
            func addNext() {
                let object = objects[next]
                next += 1
                group.addTask {
                    let destination = newPrefix + object.key.dropFirst(oldPrefix.count)
                    do throws(ObjectStoreError) {
                        _ = try await self.copyObject(from: object.key, to: destination, size: object.size,
                                                      sourceETag: object.etag, metadata: .copy, condition: condition)
                        return nil
                    } catch {
                        return FSError.from(error, "COPY \(object.key) to \(destination)")
                    }
                }
            }
            while next < min(16, objects.count) { addNext() }
            while let result = await group.next() {
                if let result, firstError == nil { firstError = result }
                if next < objects.count && firstError == nil { addNext() }
            }
            return firstError
        }
        if let failure { throw failure }
        if objects.isEmpty {
            // A directory that exists only here (or whose marker is gone): give the new name a marker.
            let current = state.withLock { state in state.byPath[oldPath].flatMap { state.inodes[$0] } }
            if let current, !current.isLocalOnly {
                do {
                    _ = try await store.put(newPrefix, body: .bytes([]), options: PutOptions(
                        metadata: uploadMetadata(current).userMetadata(), contentType: "application/x-directory"))
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
            state.listings = state.listings.filter { !($0.key == oldPath || $0.key.hasPrefix(oldPath + "/")) }
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
            state.negative[oldPath] = expiry
            state.negative[newPath] = nil
        }
    }
}

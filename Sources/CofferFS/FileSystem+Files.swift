import CofferObjectStore
import CofferWriteBack
import Foundation

extension FileSystem {
    public func open(_ inode: UInt64, flags: OpenFlags) async throws(FSError) -> OpenFile {
        var current = try record(inode)
        switch current.type {
        case .directory: throw .isDirectory(current.path)
        case .symlink: throw FSError(ELOOP, "\(current.path) is a symlink")
        case .fifo, .socket, .characterDevice, .blockDevice:
            throw FSError(ENXIO, "\(current.path) is a FIFO, socket or device: the kernel opens those, not the filesystem")
        case .regular: break
        }
        if try await revalidateBeforeOpening(current) { current = try record(inode) }
        if flags.write || flags.truncate {
            try requireWritable("open \(current.path) for writing")
            let staged = try stagedFile(for: current)
            if flags.truncate { try await truncate(staged, to: 0, path: current.path) }
        }
        return state.withLock { state in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.handles[handle] = OpenHandle(inode: inode, flags: flags)
            guard var record = state.inodes[inode] else { return OpenFile(handle: handle) }
            // A new open after every descriptor of the creating session was closed: with --no-overwrite, that
            // version is an existing object like any other now.
            if record.openCount == 0 { record.ownETag = nil }
            record.openCount += 1
            let keepCache = !flags.write && record.etag != nil && record.cachedETag == record.etag
            if !flags.write { record.cachedETag = record.etag }
            state.inodes[inode] = record
            return OpenFile(handle: handle, keepCache: keepCache)
        }
    }

    public func create(parent: UInt64, name: String, mode: UInt32, flags: OpenFlags,
                       caller: Caller) async throws(FSError) -> (Entry, OpenFile) {
        try requireWritable("create \(name)")
        try Names.validate(name)
        let directory = try record(parent)
        guard directory.type == .directory else { throw .notDirectory(directory.path) }
        let path = Names.child(directory.path, name)
        if try await exists(path) {
            if flags.exclusive || options.noOverwrite { throw .exists(path) }
            let existing = try await lookup(parent: parent, name: name)
            var truncating = flags
            truncating.truncate = true
            truncating.write = true
            return (existing, try await open(existing.attributes.inode, flags: truncating))
        }
        let staged: StagedFile
        do {
            staged = try StagedFile(directory: options.cacheDirectory, base: nil, store: store, pool: stagingPool)
        } catch {
            throw FSError(EIO, "cannot stage \(path) in \(options.cacheDirectory): \(error)")
        }
        let now = Timestamp.now()
        let metadata = newMetadata(mode: FileMode.regular | (mode & ~caller.umask & FileMode.permissionMask),
                                   caller: caller, at: now)
        let (record, handle) = state.withLock { state in
            if let stale = state.byPath[path] { state.inodes[stale]?.isUnlinked = true }
            let number = state.nextInode
            state.nextInode += 1
            var record = InodeRecord(
                number: number, path: path, type: .regular,
                attributes: attributes(inode: number, type: .regular, size: 0, lastModified: now, metadata: metadata),
                validUntil: .infinity, etag: nil, metadata: metadata)
            record.isLocalOnly = true
            record.staged = staged
            record.lookupCount = 1
            record.openCount = 1
            state.inodes[number] = record
            state.byPath[path] = number
            state.negative[path] = nil
            state.listings[directory.path]?.children[name] = .file
            let handle = state.nextHandle
            state.nextHandle += 1
            state.handles[handle] = OpenHandle(inode: number, flags: flags)
            return (record, handle)
        }
        touchDirectory(parent)
        return (entry(for: record), OpenFile(handle: handle))
    }

    /// Close-to-open consistency: a file nobody has open here, without local changes, whose attributes are older
    /// than the metadata TTL is checked with one HEAD before it is opened, so that a process opening it after
    /// another host closed it reads that host's version. Returns true when the record was refreshed. While S3 is
    /// unreachable the file opens as last known.
    private func revalidateBeforeOpening(_ current: InodeRecord) async throws(FSError) -> Bool {
        guard current.openCount == 0, !current.hasPendingUpload, current.staged == nil, !current.isUnlinked,
              current.validUntil <= Self.monotonicNow() else { return false }
        let started = Self.monotonicNow()
        let remote: RemoteObject?
        do {
            remote = try await resolve(current.path, knownDirectory: false)
        } catch where error.isUnavailable {
            return false
        }
        guard let remote, remote.type != .directory else {
            removeName(current.path)
            throw .notFound(current.path)
        }
        let updated = register(path: current.path, type: remote.type, etag: remote.etag, size: remote.size,
                               lastModified: remote.lastModified, metadata: remote.metadata, countLookup: false,
                               fetchedAt: started)
        if updated.etag != current.etag { cache.invalidate(key: key(of: current.path)) }
        return true
    }

    /// Reads of a file stay on the version it was opened at (`InodeRecord.holdsVersion`): bytes this mount does
    /// not hold are fetched with `If-Match` on that version's ETag, and when another host changed or removed the
    /// object meanwhile the read fails with ESTALE, never returning the other version's bytes.
    public func read(_ inode: UInt64, handle: UInt64, offset: UInt64, count: Int) async throws(FSError) -> [UInt8] {
        let segments = try await readSegments(inode, handle: handle, offset: offset, count: count)
        guard segments.count != 1 else { return Array(segments[0]) }
        return segments.reduce(into: []) { $0 += $1 }
    }

    /// `read`, as slices of the block cache's buffers (or one array from a staged file), for a reply that sends
    /// them without copying them into one array first.
    public func readSegments(_ inode: UInt64, handle: UInt64, offset: UInt64,
                             count: Int) async throws(FSError) -> [ArraySlice<UInt8>] {
        let current = try record(inode)
        if let staged = current.staged {
            do {
                return [try await staged.read(at: offset, count: count)[...]]
            } catch .baseChanged {
                throw Self.changedWhileOpen(current.path)
            } catch {
                throw FSError(EIO, "read \(current.path): \(error)")
            }
        }
        guard let etag = current.etag, current.attributes.size > 0, offset < current.attributes.size else { return [] }
        do {
            return try await cache.readSegments(key: key(of: current.path), etag: etag, size: current.attributes.size,
                                                offset: offset, count: count)
        } catch .preconditionFailed, .notFound {
            state.withLock { $0.inodes[inode]?.isSuperseded = true }
            throw Self.changedWhileOpen(current.path)
        } catch {
            throw FSError.from(error, "read \(current.path)")
        }
    }

    /// The error of a read that needs bytes of a version another host replaced or removed since the file was opened.
    static func changedWhileOpen(_ path: String) -> FSError {
        FSError(ESTALE, "\(path) was changed or removed by another host while open here; the rest of the version "
                + "it was opened at is gone from S3: close and reopen it to read the current version")
    }

    public func write(_ inode: UInt64, handle: UInt64, offset: UInt64, bytes: [UInt8]) async throws(FSError) -> Int {
        guard let open = state.withLock({ $0.handles[handle] }), open.inode == inode else { throw .badHandle(handle) }
        guard open.flags.write else { throw FSError(EBADF, "handle \(handle) is not open for writing") }
        await queue.waitForRoom()
        let current = try record(inode)
        let staged = try stagedFile(for: current)
        do {
            try await staged.write(bytes, at: offset)
        } catch {
            throw FSError(EIO, "write \(current.path): \(error)")
        }
        let now = Timestamp.now()
        state.withLock { state in
            state.inodes[inode]?.attributes.mtime = now
            state.inodes[inode]?.attributes.ctime = now
            state.inodes[inode]?.attributes.size = staged.size
            state.inodes[inode]?.changedAt = Self.monotonicNow()
        }
        return bytes.count
    }

    /// close(2) of a descriptor (one per close, dup'ed ones included): the changes are journaled and queued for
    /// upload after `writeBackDelay` seconds of quiet, or uploaded now when the delay is 0.
    public func flush(_ inode: UInt64, handle: UInt64) async throws(FSError) {
        try await finishWriting(inode)
    }

    /// fsync(2): returns once the file, with its metadata and latest name, is in S3, or with the upload's error.
    public func fsync(_ inode: UInt64, handle: UInt64) async throws(FSError) {
        try await upload(inode)
    }

    public func release(_ inode: UInt64, handle: UInt64) async {
        let discard: StagedFile? = state.withLock { state in
            state.handles[handle] = nil
            guard var record = state.inodes[inode] else { return nil }
            record.openCount = max(0, record.openCount - 1)
            if record.openCount == 0, record.isSuperseded {
                // Another host changed the object while it was open here: the next open looks again.
                record.isSuperseded = false
                record.validUntil = 0
            }
            var released: StagedFile?
            if record.openCount == 0, let staged = record.staged,
               record.isUnlinked || (!staged.isDirty && !record.isLocalOnly) {
                released = staged
                record.staged = nil
            }
            state.inodes[inode] = record
            return released
        }
        discard?.discard()
        dropIfUnused(inode)
    }

    public func unlink(parent: UInt64, name: String) async throws(FSError) {
        try requireWritable("unlink \(name)")
        let directory = try record(parent)
        let path = Names.child(directory.path, name)
        let found = try await findRecord(parent: parent, name: name, countLookup: false)
        if found.type == .directory { throw .isDirectory(path) }
        try await locks.withLock(found.number) { () throws(FSError) in
            try await unlinkLocked(found.number, path: path)
        }
        cache.invalidate(key: key(of: path))
        removeName(path)
        touchDirectory(parent)
    }

    /// Removes a file's object (unless it was never uploaded) and stops its pending upload. The caller holds the
    /// inode's lock.
    private func unlinkLocked(_ inode: UInt64, path: String) async throws(FSError) {
        let target = try record(inode)
        guard target.path == path, !target.isUnlinked else { throw .notFound(path) }
        if target.openCount > 0, target.staged == nil, target.etag != nil {
            // Keep the contents of an open file readable until it is closed: copy them locally before deleting.
            let staged = try stagedFile(for: target)
            do {
                var offset: UInt64 = 0
                while offset < staged.size {
                    offset += UInt64(try await staged.read(at: offset, count: 8 << 20).count)
                }
            } catch {
                throw FSError(EIO, "cannot keep the contents of open file \(path): \(error)")
            }
        }
        if !target.isLocalOnly {
            do {
                try await store.delete(key(of: path))
                metadataCache?.forget(key(of: path))
            } catch {
                throw FSError.from(error, "DELETE \(key(of: path))")
            }
        }
        abandonPendingUpload(inode)
    }

    public func readlink(_ inode: UInt64) async throws(FSError) -> String {
        let current = try record(inode)
        guard current.type == .symlink else { throw .invalid("\(current.path) is not a symlink") }
        if let target = current.symlinkTarget { return target }
        let data: ObjectData
        do {
            data = try await rawStore.get(key(of: current.path))
        } catch {
            throw FSError.from(error, "GET \(key(of: current.path))")
        }
        let target = String(decoding: data.bytes, as: UTF8.self)
        state.withLock { $0.inodes[inode]?.symlinkTarget = target }
        return target
    }

    public func symlink(target: String, parent: UInt64, name: String, caller: Caller) async throws(FSError) -> Entry {
        let (_, path) = try await placeForNewEntry(parent: parent, name: name, operation: "symlink")
        let now = Timestamp.now()
        let metadata = newMetadata(mode: FileMode.symlink | 0o777, caller: caller, at: now)
        let etag: String
        do {
            etag = try await store.put(key(of: path), body: .bytes(Array(target.utf8)), options: PutOptions(
                metadata: metadata.userMetadata(), contentType: "application/octet-stream",
                condition: options.noOverwrite ? .doesNotExist : nil))
        } catch {
            throw FSError.from(error, "PUT \(key(of: path))")
        }
        invalidateListing(ofParentOf: path)
        touchDirectory(parent)
        return entry(for: register(path: path, type: .symlink, etag: etag, size: UInt64(target.utf8.count),
                                   lastModified: now, metadata: metadata, symlinkTarget: target, countLookup: true,
                                   fetchedAt: .infinity))
    }

    // MARK: - Staging and upload

    /// The staged copy of a file, created from the current object on first use.
    func stagedFile(for current: InodeRecord) throws(FSError) -> StagedFile {
        if let staged = current.staged { return staged }
        let base = current.etag.map { BaseObject(key: key(of: current.path), etag: $0, size: current.attributes.size) }
        let created: StagedFile
        do {
            created = try StagedFile(directory: options.cacheDirectory, base: base, store: store, pool: stagingPool)
        } catch {
            throw FSError(EIO, "cannot stage \(current.path) in \(options.cacheDirectory): \(error)")
        }
        let chosen: StagedFile = state.withLock { state in
            if let raced = state.inodes[current.number]?.staged { return raced }
            state.inodes[current.number]?.staged = created
            return created
        }
        if chosen !== created { created.discard() }
        return chosen
    }

    /// Truncates a staged file and records the new size.
    func truncate(_ staged: StagedFile, to size: UInt64, path: String) async throws(FSError) {
        do {
            try await staged.truncate(to: size)
        } catch {
            throw FSError(EIO, "truncate \(path): \(error)")
        }
    }

    /// The metadata an upload or a metadata copy writes: the s3fs headers from the inode's current attributes, its
    /// xattrs, and the object's content hints.
    func uploadMetadata(_ record: InodeRecord) -> POSIXMetadata {
        var metadata = record.metadata
        metadata.mode = record.attributes.mode
        metadata.uid = record.attributes.uid
        metadata.gid = record.attributes.gid
        metadata.mtime = record.attributes.mtime
        metadata.ctime = record.attributes.ctime
        metadata.atime = record.attributes.atime
        return metadata
    }
}

import CofferMetadata
import CofferObjectStore
import Foundation

extension FileSystem {
    public func setattr(_ inode: UInt64, _ changes: AttributeChanges, handle: UInt64?,
                        caller: Caller) async throws(FSError) -> (FileAttributes, timeout: Double) {
        try requireWritable("setattr")
        return try await locks.withLock(inode) { () throws(FSError) in
            try await setattrLocked(inode, changes)
        }
    }

    /// `setattr` with the inode's lock held.
    private func setattrLocked(_ inode: UInt64,
                               _ changes: AttributeChanges) async throws(FSError) -> (FileAttributes, timeout: Double) {
        var current = try record(inode)
        if let size = changes.size {
            guard current.type == .regular else {
                if current.type == .directory { throw .isDirectory(current.path) }
                throw FSError(EINVAL, "truncate \(current.path): not a regular file")
            }
            let staged = try stagedFile(for: current)
            try await truncate(staged, to: size, path: current.path)
        }
        let now = Timestamp.now()
        current = try state.withLock { state throws(FSError) in
            guard var record = state.inodes[inode] else { throw FSError(ESTALE, "inode \(inode) is unknown") }
            if let mode = changes.mode {
                record.attributes.mode = (record.attributes.mode & FileMode.typeMask) | (mode & FileMode.permissionMask)
            }
            if let uid = changes.uid { record.attributes.uid = uid }
            if let gid = changes.gid { record.attributes.gid = gid }
            switch changes.atime {
            case .now: record.attributes.atime = now
            case .at(let time): record.attributes.atime = time
            case nil: break
            }
            switch changes.mtime {
            case .now: record.attributes.mtime = now
            case .at(let time): record.attributes.mtime = time
            case nil: if changes.size != nil { record.attributes.mtime = now }
            }
            record.attributes.ctime = now
            if let staged = record.staged { record.attributes.size = staged.size }
            Self.markChanged(&record)
            state.inodes[inode] = record
            return record
        }
        try await persistAttributes(of: current)
        return (try localAttributes(try record(inode)), options.metadataTTL)
    }

    /// Writes an inode's attributes to S3 now, unless they can ride along with an upload still to come. The caller
    /// holds the inode's lock.
    ///
    /// A file with a pending upload gets them with that upload (its journal record is updated; with
    /// `--write-back-delay 0` a closed one is uploaded now). Otherwise files and symlinks are copied onto themselves
    /// with new metadata (CopyObject, directive REPLACE, as s3fs does); a directory's marker is rewritten (or
    /// created, for a directory that had none) by the queue, or now with `--write-back-delay 0`.
    func persistAttributes(of current: InodeRecord) async throws(FSError) {
        if current.type == .directory, writesBack, !current.hasPendingUpload, !current.path.isEmpty {
            // The marker is rewritten by the queue: more changes before then fold into that one PUT.
            state.withLock { $0.inodes[current.number]?.markerIsStale = true }
            try recordPendingUpload(current.number)
            scheduleUpload(current.number)
            return
        }
        if current.hasPendingUpload {
            if !writesBack && current.openCount == 0 {
                if case .conflict(let error) = try await uploadLocked(current.number) { throw error }
            } else {
                try updatePendingUpload(current.number)
            }
            return
        }
        let metadata = uploadMetadata(current)
        let etag: String
        switch current.type {
        case .directory:
            guard !current.path.isEmpty else { return }
            do {
                etag = try await putMarker(of: current.path, metadata: metadata)
            } catch {
                throw FSError.from(error, "PUT \(directoryPrefix(of: current.path))")
            }
        case .regular, .symlink, .fifo, .socket, .characterDevice, .blockDevice:
            guard let sourceETag = current.etag else { return }
            let objectKey = key(of: current.path)
            let contentType = current.type == .regular ? ContentTypes.guess(for: current.path) : "application/octet-stream"
            do {
                let started = Date()
                etag = try await copyOntoItself(objectKey, size: current.attributes.size, sourceETag: sourceETag,
                                                metadata: metadata, contentType: contentType)
                rememberWrite(objectKey, size: current.attributes.size,
                              storedSize: storedSize(of: objectKey, etag: sourceETag, size: current.attributes.size),
                              etag: etag, contentType: contentType,
                              metadata: metadata.userMetadata(), startedAt: started)
            } catch {
                throw FSError.from(error, "COPY \(objectKey) (metadata update)")
            }
        }
        state.withLock { state in
            guard var record = state.inodes[current.number] else { return }
            if record.type == .regular, record.etag != etag { record.cachedETag = nil }
            record.etag = etag
            record.metadata = metadata
            record.hasMarker = record.hasMarker || record.type == .directory
            record.validUntil = expiry
            state.inodes[current.number] = record
        }
    }

    /// Replaces an object's metadata in place: CopyObject onto itself up to 5 GiB, a multipart copy above.
    func copyOntoItself(_ objectKey: String, size: UInt64, sourceETag: String, metadata: POSIXMetadata,
                        contentType: String) async throws(ObjectStoreError) -> String {
        try await copyObject(from: objectKey, to: objectKey, size: size, sourceETag: sourceETag,
                             metadata: .replace(metadata.userMetadata(), contentType: contentType), condition: nil)
    }

    /// A server-side copy of any size: CopyObject up to `singleCopyLimit` (5 GiB, S3's limit), UploadPartCopy in
    /// parts above.
    func copyObject(from source: String, to destination: String, size: UInt64, sourceETag: String?,
                    metadata: CopyOptions.Metadata, condition: WriteCondition?) async throws(ObjectStoreError) -> String {
        var size = size
        if encryption != nil, size + size / 2048 + (1 << 20) > options.singleCopyLimit {
            // `size` is the plaintext size; the stored message is a little larger.
            size = try await rawStore.head(source).size
        }
        if size <= options.singleCopyLimit {
            return try await store.copy(from: source, to: destination,
                                        options: CopyOptions(metadata: metadata, sourceETag: sourceETag, condition: condition))
        }
        let putOptions: PutOptions
        switch metadata {
        case .replace(let values, let contentType): putOptions = PutOptions(metadata: values, contentType: contentType)
        case .copy:
            let info = try await store.head(source)
            putOptions = PutOptions(metadata: info.metadata, contentType: info.contentType)
        }
        // Parts of 512 MiB (S3 allows up to 5 GiB), more when 10,000 of them would not do; smaller limits (tests)
        // give parts of that limit's size.
        let partSize: UInt64 = max(min(512 << 20, options.singleCopyLimit), (size + 9_999) / 10_000)
        let uploadId = try await store.createMultipartUpload(destination, options: putOptions)
        do {
            var parts: [CompletedPart] = []
            var offset: UInt64 = 0
            var number = 1
            while offset < size {
                let end = min(size, offset + partSize)
                let etag = try await store.uploadPartCopy(destination, uploadId: uploadId, partNumber: number,
                                                          source: source, range: offset..<end)
                parts.append(CompletedPart(partNumber: number, etag: etag))
                offset = end
                number += 1
            }
            return try await store.completeMultipartUpload(destination, uploadId: uploadId, parts: parts,
                                                           condition: condition)
        } catch {
            try? await store.abortMultipartUpload(destination, uploadId: uploadId)
            throw error
        }
    }

    // MARK: - Extended attributes (s3fs's x-amz-meta-xattr form)

    public func setxattr(_ inode: UInt64, name: String, value: [UInt8], flags: Int32) async throws(FSError) {
        try requireWritable("setxattr")
        guard name.hasPrefix("user.") else { throw FSError(ENOTSUP, "only user.* extended attributes are stored") }
        if inode == Self.rootInode && name == Self.statusAttributeName {
            throw FSError(EPERM, "\(name) is Coffer's status, read-only")
        }
        try await locks.withLock(inode) { () throws(FSError) in
            try await setxattrLocked(inode, name: name, value: value, flags: flags)
        }
    }

    private func setxattrLocked(_ inode: UInt64, name: String, value: [UInt8], flags: Int32) async throws(FSError) {
        let current: InodeRecord = try state.withLock { state throws(FSError) in
            guard var record = state.inodes[inode] else { throw FSError(ESTALE, "inode \(inode) is unknown") }
            let exists = record.metadata.xattrs[name] != nil
            if flags & 1 != 0 && exists { throw FSError(EEXIST, "xattr \(name) exists") }  // XATTR_CREATE
            if flags & 2 != 0 && !exists { throw FSError(ENODATA, "no xattr \(name)") }  // XATTR_REPLACE
            record.metadata.xattrs[name] = value
            record.attributes.ctime = Timestamp.now()
            Self.markChanged(&record)
            state.inodes[inode] = record
            return record
        }
        try await persistAttributes(of: current)
    }

    public func getxattr(_ inode: UInt64, name: String) async throws(FSError) -> [UInt8] {
        // The kernel asks for security.capability on every write: answer without a request.
        guard name.hasPrefix("user.") else { throw FSError(ENODATA, "no xattr \(name)") }
        if inode == Self.rootInode && name == Self.statusAttributeName { return statusJSON() }
        let current = try await freshRecord(inode)
        guard let value = current.metadata.xattrs[name] else { throw FSError(ENODATA, "no xattr \(name)") }
        return value
    }

    public func listxattr(_ inode: UInt64) async throws(FSError) -> [String] {
        try await freshRecord(inode).metadata.xattrs.keys.sorted()
    }

    public func removexattr(_ inode: UInt64, name: String) async throws(FSError) {
        try requireWritable("removexattr")
        try await locks.withLock(inode) { () throws(FSError) in
            try await removexattrLocked(inode, name: name)
        }
    }

    private func removexattrLocked(_ inode: UInt64, name: String) async throws(FSError) {
        let current: InodeRecord = try state.withLock { state throws(FSError) in
            guard var record = state.inodes[inode] else { throw FSError(ESTALE, "inode \(inode) is unknown") }
            guard record.metadata.xattrs.removeValue(forKey: name) != nil else { throw FSError(ENODATA, "no xattr \(name)") }
            record.attributes.ctime = Timestamp.now()
            Self.markChanged(&record)
            state.inodes[inode] = record
            return record
        }
        try await persistAttributes(of: current)
    }

    /// The record with metadata no older than the TTL (getattr refreshes it).
    private func freshRecord(_ inode: UInt64) async throws(FSError) -> InodeRecord {
        _ = try await getattr(inode)
        return try record(inode)
    }
}

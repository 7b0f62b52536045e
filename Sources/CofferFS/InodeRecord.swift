import CofferObjectStore
import CofferWriteBack

/// What the core knows about one inode. Guarded by `FileSystem`'s state lock.
struct InodeRecord {
    let number: UInt64
    /// The path relative to the mount root; changes on rename.
    var path: String
    var type: FileType
    var attributes: FileAttributes
    /// When `attributes` must be refreshed from S3 (monotonic seconds).
    var validUntil: Double
    /// When the inode was last changed here (monotonic seconds). S3 answers to requests sent before that are
    /// older than what the record holds and must not overwrite it.
    var changedAt: Double = 0
    /// The ETag of the object at this inode's key as this mount last saw it (a file's, or a directory's marker);
    /// nil when there is none. An upload replaces exactly this version (`If-Match`), or creates the key when nil
    /// (`If-None-Match: *`).
    var etag: String?
    /// POSIX metadata and extended attributes as last read or set.
    var metadata: POSIXMetadata
    /// The directory has a marker object (`dir/`).
    var hasMarker = false
    /// Lookups the kernel holds (lookup, create, mkdir, symlink and readdirplus entries minus forgets).
    var lookupCount: UInt64 = 0
    /// Open file handles.
    var openCount = 0
    /// The local copy being written, when the file is open for writing or has changes not yet uploaded.
    var staged: StagedFile?
    /// Created here and never uploaded: no object exists yet.
    var isLocalOnly = false
    /// The ETag of the object this mount made for a file it created, and of its own re-uploads of it while the
    /// descriptors of that creation stay open: with `--no-overwrite`, such an upload may replace that version (and
    /// only it, `If-Match`), so a file written through several descriptors (`tar -czf`: tar and gzip each close
    /// it) is not refused as if another writer owned it. Cleared by the next open once every descriptor was
    /// closed: the file is then an existing object that `--no-overwrite` protects. Not kept across a remount.
    var ownETag: String?
    /// The name was removed while the inode was still referenced.
    var isUnlinked = false
    /// A symlink's target.
    var symlinkTarget: String?
    /// The ETag the kernel's page cache holds data of (for keep_cache).
    var cachedETag: String?
    /// The name of the file's journal record while it has changes waiting for upload.
    var journalID: String?
    /// A directory's marker object (`dir/`) must be written: its mode, owner or times changed here and are not in
    /// S3 yet. (A directory made here and never uploaded is `isLocalOnly`.)
    var markerIsStale = false

    /// True when the inode has changes not in S3: new and never uploaded, written since its last upload, or (a
    /// directory) metadata its marker does not carry yet.
    var hasPendingUpload: Bool { isLocalOnly || (staged?.isDirty ?? false) || markerIsStale }

    /// True while this mount holds the file at one version: open here, staged (being written), or with changes not
    /// uploaded. What other hosts do to the object meanwhile is not applied to the record, so no descriptor mixes
    /// two versions' bytes or sees its size change, and an upload replaces exactly the version its changes were
    /// made to. Reads of bytes the mount does not hold fail with ESTALE once the object changed.
    var holdsVersion: Bool { hasPendingUpload || (type == .regular && (openCount > 0 || staged != nil)) }

    /// Another host changed or removed the object while the file was held at its version (`holdsVersion`): the
    /// next open after the last close looks again.
    var isSuperseded = false

    /// Ends the record's pending upload: returns its journal record's id (to remove) and, when no handle has the
    /// file open, its staging file (to discard), both cleared here.
    mutating func endPendingUpload() -> (journalID: String?, staged: StagedFile?) {
        let id = journalID
        journalID = nil
        markerIsStale = false
        guard openCount == 0 else { return (id, nil) }
        defer { staged = nil }
        return (id, staged)
    }

    /// True when the record may be dropped from the table.
    var isDroppable: Bool {
        lookupCount == 0 && openCount == 0 && (isUnlinked || !hasPendingUpload) && number != FileSystem.rootInode
    }
}

/// An open file handle.
struct OpenHandle {
    let inode: UInt64
    let flags: OpenFlags
}

/// A cached listing of one directory: child names and their kinds.
struct CachedListing {
    /// Children by name.
    var children: [String: EntryKind]
    /// Monotonic expiry.
    var validUntil: Double
    /// What the listing showed of each file (ETag, size, Last-Modified), by name: what the metadata cache is
    /// checked against.
    var objects: [String: ObjectSummary] = [:]
}

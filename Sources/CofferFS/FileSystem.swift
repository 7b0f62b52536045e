import CofferCache
import CofferEncryption
import CofferMetadata
import CofferObjectStore
import CofferWriteBack
import Foundation
import Logging
import Synchronization

/// The filesystem core: POSIX operations over an `ObjectStore`.
///
/// Every method maps one FUSE low-level operation; inode numbers and handles are the ones it handed out. All
/// methods are safe to call concurrently: shared state sits behind one lock, held only for short bookkeeping and
/// never across an S3 request. Errors carry the errno the application sees. Operations live in extensions by
/// concern: `+Lookup`, `+Directories`, `+Files`, `+Rename`, `+Attributes`.
public final class FileSystem: Sendable {
    /// The root directory's inode number.
    public static let rootInode: UInt64 = 1

    /// The mount's options.
    public let options: FileSystemOptions
    /// How file contents are encrypted; nil when they are stored as they are.
    public let encryption: EncryptionConfiguration?
    /// Where file contents are read: the bucket, or its decrypting view when encryption is on. Everything but file
    /// contents (listings, metadata, symlinks, directory markers) reads the same through both.
    let store: any ObjectStore
    /// The bucket itself: symlink targets are read here, uploads (already encrypted) go here.
    let rawStore: any ObjectStore
    let cache: BlockCache
    let uploader: Uploader
    let logger: Logger
    let state: Mutex<State>
    /// Orders upload, rename, unlink and setattr of each inode.
    let locks = InodeLocks()
    /// Uploads closed files after `options.writeBackDelay` seconds of quiet.
    let queue: WriteBackQueue
    /// Pending uploads on disk (nil when the cache directory cannot hold one: then every close uploads).
    let journal: Journal?
    /// Serializes writing and removing journal records with the decision that makes them, so that a record is
    /// never left behind for a file that is already clean.
    let journalOrder = Mutex<Void>(())
    /// Conflicts met by uploads of this mount, newest last.
    let conflicts = Mutex<(total: Int, recent: [ConflictRecord])>((0, []))
    /// Emptied staging files for reuse (creating files is slow on a cache disk with many recent deletions).
    let stagingPool: StagingFilePool
    /// The cache directory's lock, taken by `recoverPendingUploads`, held while mounted.
    let cacheLock = Mutex<CacheDirectoryLock?>(nil)
    /// S3's answers about objects (`options.metadataCacheEntries`): on disk, or in memory when no database can be
    /// used; opened by `recoverPendingUploads` once this mount holds the cache directory; nil when off.
    let metadataStore = Mutex<(any ObjectMetadataStore)?>(nil)

    /// HEADs for metadata in flight at once, for the whole mount (`options.metadataRequestBudget`).
    let metadataRequests: RequestBudget
    /// HEADs for metadata running now, by path (directories with a trailing "/"): a name asked for again waits for
    /// the running request.
    let attributeFetches = Mutex<[String: Task<Void, Never>]>([:])

    /// The metadata cache, when it is on.
    var metadataCache: (any ObjectMetadataStore)? { metadataStore.withLock { $0 } }

    /// A filesystem over `store`.
    /// - Parameter encryption: when set, every file written is encrypted (an AWS Encryption SDK message) and files
    ///   are decrypted when read; see `DecryptingObjectStore` for what is read how.
    public init(store: any ObjectStore, options: FileSystemOptions, encryption: EncryptionConfiguration? = nil,
                logger: Logger = Logger(label: "coffer.fs")) {
        self.rawStore = store
        self.encryption = encryption
        let contents: any ObjectStore = encryption.map {
            DecryptingObjectStore(base: store, configuration: $0, logger: logger)
        } ?? store
        self.store = contents
        self.options = options
        self.logger = logger
        if encryption != nil && options.dataCacheCapacity > 0 {
            logger.warning("no disk cache with encryption: cached blocks would be plaintext on disk; reads not in memory go to S3")
        }
        let cacheDirectory = options.cacheDirectory.hasSuffix("/") ? String(options.cacheDirectory.dropLast())
            : options.cacheDirectory
        self.cache = BlockCache(store: contents, capacity: options.readCacheCapacity,
                                diskDirectory: encryption == nil ? cacheDirectory + "/blocks" : nil,
                                diskCapacity: options.dataCacheCapacity, logger: logger)
        self.metadataRequests = RequestBudget(limit: options.metadataRequestBudget)
        self.stagingPool = StagingFilePool(directory: options.cacheDirectory)
        self.uploader = Uploader(store: store, multipartThreshold: options.multipartThreshold, partSize: options.partSize,
                                 concurrency: options.uploadConcurrency,
                                 encoder: encryption.map { EncryptingUploadEncoder(encryptor: FileEncryptor(configuration: $0)) },
                                 logger: logger)
        let now = Timestamp.now()
        let root = InodeRecord(
            number: Self.rootInode, path: "", type: .directory,
            attributes: FileAttributes(inode: Self.rootInode, mode: FileMode.directory | options.defaultDirectoryMode,
                                       linkCount: 2, uid: options.defaultUID, gid: options.defaultGID, size: 4096,
                                       atime: now, mtime: now, ctime: now),
            validUntil: .infinity, metadata: POSIXMetadata(userMetadata: [:]))
        var initial = State(unreferencedInodeLimit: options.unreferencedInodeLimit,
                            listedNameLimit: options.listedNameLimit)
        initial.inodes[Self.rootInode] = root
        initial.byPath[""] = Self.rootInode
        self.state = Mutex(initial)
        try? FileManager.default.createDirectory(atPath: options.cacheDirectory, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        do {
            journal = try Journal(cacheDirectory: options.cacheDirectory)
        } catch {
            journal = nil
            logger.warning("no write-back journal: every close uploads at once", metadata: ["error": "\(error)"])
        }
        queue = WriteBackQueue(settings: WriteBackQueue.Settings(
            delay: options.writeBackDelay, maxPendingBytes: options.maxPendingUploadBytes,
            concurrency: options.backgroundUploads))
        queue.start { [weak self] inode in
            guard let self else { return .uploaded }
            return await self.backgroundUpload(inode)
        }
    }

    deinit {
        queue.stop()
    }

    /// True when closed files wait in the queue rather than being uploaded by close().
    var writesBack: Bool { options.writeBackDelay > 0 && journal != nil }

    /// What `df` shows: S3 has no capacity limit, so 4 PiB of 4 KiB blocks, all free, and 4 G inodes.
    public func statfs() -> FileSystemStatistics {
        FileSystemStatistics(blockSize: 4096, blocks: 1 << 40, freeBlocks: 1 << 40, availableBlocks: 1 << 40,
                             files: 1 << 32, freeFiles: 1 << 32, maximumNameLength: UInt64(Names.maximumLength))
    }

    /// How much metadata the core holds in memory now.
    public var metadataStatistics: MetadataStatistics {
        let mostInFlight = metadataRequests.mostInFlight
        return state.withLock { state in
            MetadataStatistics(inodes: state.inodes.count, listedNames: state.listings.nameCount,
                               listings: state.listings.count, negativeEntries: state.negative.count,
                               mostMetadataRequestsInFlight: mostInFlight)
        }
    }

    /// The read cache's counters (hits, misses, bytes fetched…), for metrics.
    public var readCacheStatistics: CacheStatistics { cache.statistics }

    // MARK: - Shared helpers

    /// Keeps what this mount just wrote to `key` (a PUT, a completed upload or a copy started at `started`) in the
    /// metadata cache, so that later listings that show the object unchanged need no HEAD. S3's answer carries no
    /// Last-Modified: the row holds the request's time window. `size` is the file's size, `storedSize` the
    /// object's (they differ with encryption; a listing shows the stored one): nothing is kept when that is
    /// unknown, or when the cache is off.
    func rememberWrite(_ key: String, size: UInt64, storedSize: UInt64?, etag: String, contentType: String?,
                       metadata: [String: String], startedAt started: Date) {
        guard let metadataCache, let storedSize else { return }
        metadataCache.rememberWrite(
            of: ObjectInfo(key: key, size: size, etag: etag, lastModified: started, contentType: contentType,
                           metadata: metadata, storedSize: storedSize == size ? nil : storedSize),
            startedAt: started, endedAt: Date())
    }

    /// The stored size of version `etag` of `key`, whose file size is `size`: the same without encryption; with
    /// it, what the metadata cache knows of that version (nil when it knows nothing: a copy of it is then not
    /// remembered, and the next listing of the copy costs a HEAD).
    func storedSize(of key: String, etag: String, size: UInt64) -> UInt64? {
        guard encryption != nil else { return size }
        return metadataCache?.storedSize(of: key, etag: etag)
    }

    /// Monotonic seconds, for cache expiry.
    static func monotonicNow() -> Double { ProcessInfo.processInfo.systemUptime }

    /// When something learnt now stops being trusted.
    var expiry: Double { Self.monotonicNow() + options.metadataTTL }

    /// The object key of the file at `path`.
    func key(of path: String) -> String { options.prefix + path }

    /// The listing prefix (and marker key) of the directory at `path`.
    func directoryPrefix(of path: String) -> String { path.isEmpty ? options.prefix : options.prefix + path + "/" }

    /// The key an inode's upload writes: the object of a file or symlink, the marker of a directory.
    func uploadKey(of record: InodeRecord) -> String {
        record.type == .directory ? directoryPrefix(of: record.path) : key(of: record.path)
    }

    /// The Content-Type of directory markers (as s3fs writes them).
    static let directoryContentType = "application/x-directory"

    /// A copy of an inode's record.
    func record(_ inode: UInt64) throws(FSError) -> InodeRecord {
        guard let record = state.withLock({ $0.inodes[inode] }) else { throw FSError(ESTALE, "inode \(inode) is unknown") }
        return record
    }

    /// Refuses changes on a read-only mount.
    func requireWritable(_ what: String) throws(FSError) {
        if options.readOnly { throw .readOnly(what) }
    }

    /// The attributes an object's metadata describes, with defaults from the options.
    func attributes(inode: UInt64, type: FileType, size: UInt64, lastModified: Timestamp,
                    metadata: POSIXMetadata, symlinkLength: UInt64? = nil) -> FileAttributes {
        let defaultMode = type == .directory ? options.defaultDirectoryMode : options.defaultFileMode
        var permissions = (metadata.mode ?? defaultMode) & FileMode.permissionMask
        if type == .symlink { permissions = 0o777 }
        let mtime = metadata.mtime ?? lastModified
        return FileAttributes(inode: inode, mode: type.modeBits | permissions, linkCount: type == .directory ? 2 : 1,
                              uid: metadata.uid ?? options.defaultUID, gid: metadata.gid ?? options.defaultGID,
                              size: type == .directory ? 4096 : (type.isSpecial ? 0 : (symlinkLength ?? size)),
                              atime: metadata.atime ?? mtime, mtime: mtime, ctime: metadata.ctime ?? mtime,
                              rdev: type.isDevice ? metadata.rdev ?? 0 : 0)
    }

    /// The metadata of a new inode made by `caller` now.
    func newMetadata(mode: UInt32, caller: Caller, at now: Timestamp) -> POSIXMetadata {
        var metadata = POSIXMetadata(userMetadata: [:])
        metadata.mode = mode
        metadata.uid = caller.uid
        metadata.gid = caller.gid
        metadata.mtime = now
        metadata.ctime = now
        metadata.atime = now
        return metadata
    }

    /// The kind of inode an S3 object (not a directory marker) is, by the type bits of its stored mode: a symlink,
    /// a FIFO, a socket, a device, or else a regular file (also when the mode says directory: a key without the
    /// trailing slash is never one).
    static func type(of metadata: POSIXMetadata) -> FileType {
        guard let mode = metadata.mode, mode & FileMode.typeMask != 0 else { return .regular }
        let type = FileType(mode: mode)
        return type == .directory ? .regular : type
    }

    /// An entry reply for `record`.
    func entry(for record: InodeRecord) -> Entry {
        Entry(attributes: record.attributes, entryTimeout: options.metadataTTL, attributeTimeout: options.metadataTTL)
    }

    /// Registers (or refreshes) the inode of `path` and returns its number. Existing inodes keep their number and
    /// local state; their remote view is updated unless they have local changes.
    /// - Parameter fetchedAt: when the S3 request that learnt this was sent; a record changed here since keeps its
    ///   own state.
    func register(path: String, type: FileType, etag: String?, size: UInt64, lastModified: Timestamp,
                  metadata: POSIXMetadata, hasMarker: Bool = false, symlinkTarget: String? = nil,
                  countLookup: Bool, fetchedAt: Double) -> InodeRecord {
        state.withLock { state in
            let validUntil = expiry
            if let number = state.byPath[path], var existing = state.inodes[number],
               existing.type == type || Self.isObjectKindChange(existing.type, type)
            {
                if existing.holdsVersion {
                    if existing.etag != etag { existing.isSuperseded = true }
                } else if existing.changedAt < fetchedAt {
                    existing.type = type
                    existing.etag = etag
                    existing.metadata = metadata
                    existing.hasMarker = hasMarker
                    if symlinkTarget != nil { existing.symlinkTarget = symlinkTarget }
                    existing.attributes = attributes(inode: number, type: type, size: size, lastModified: lastModified,
                                                     metadata: metadata,
                                                     symlinkLength: symlinkTarget.map { UInt64($0.utf8.count) })
                    existing.validUntil = validUntil
                }
                if countLookup { existing.lookupCount += 1 }
                state.inodes[number] = existing
                state.negative[path] = nil
                return existing
            }
            if let stale = state.byPath[path] {
                // The name now refers to another kind of object: the old inode keeps living until forgotten.
                state.inodes[stale]?.isUnlinked = true
            }
            let number = state.nextInode
            state.nextInode += 1
            var record = InodeRecord(
                number: number, path: path, type: type,
                attributes: attributes(inode: number, type: type, size: size, lastModified: lastModified, metadata: metadata,
                                       symlinkLength: symlinkTarget.map { UInt64($0.utf8.count) }),
                validUntil: validUntil, etag: etag, metadata: metadata)
            record.hasMarker = hasMarker
            record.symlinkTarget = symlinkTarget
            if countLookup { record.lookupCount = 1 }
            state.insert(record, now: Self.monotonicNow())
            return record
        }
    }

    /// A listing cannot tell a symlink, a FIFO or a device from a file (all are objects; the kind is in the
    /// metadata), so an inode may learn it is another kind once its metadata is read. It keeps its number.
    static func isObjectKindChange(_ old: FileType, _ new: FileType) -> Bool {
        old != new && old != .directory && new != .directory && (old == .regular || new == .regular)
    }

    /// Marks an inode as changed here now (see `InodeRecord.changedAt`).
    static func markChanged(_ record: inout InodeRecord) {
        record.changedAt = monotonicNow()
    }

    /// Forgets what is cached about `path`'s directory listing (after a change in it).
    func invalidateListing(ofParentOf path: String) {
        let parent = Names.parentPath(path)
        state.withLock { _ = $0.listings.removeValue(forKey: parent) }
    }

    /// Drops an inode that nobody references any more.
    func dropIfUnused(_ inode: UInt64) {
        let dropped: InodeRecord? = state.withLock { state in
            guard let record = state.inodes[inode], record.isDroppable else { return nil }
            state.inodes[inode] = nil
            if state.byPath[record.path] == inode { state.byPath[record.path] = nil }
            return record
        }
        guard let dropped else { return }
        if let id = dropped.journalID {
            queue.remove(inode)
            journalOrder.withLock { _ in journal?.remove(id: id) }
        }
        dropped.staged?.discard()
    }
}

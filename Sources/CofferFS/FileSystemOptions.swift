/// How a mount presents the bucket.
public struct FileSystemOptions: Sendable {
    /// Keys under this prefix are the filesystem; "" for the whole bucket, otherwise ending with "/".
    public var prefix: String
    /// Owner of objects without `x-amz-meta-uid` (`--uid`).
    public var defaultUID: UInt32
    /// Group of objects without `x-amz-meta-gid` (`--gid`).
    public var defaultGID: UInt32
    /// Permission bits of files without `x-amz-meta-mode` (`--file-mode`).
    public var defaultFileMode: UInt32
    /// Permission bits of directories without `x-amz-meta-mode` (`--dir-mode`).
    public var defaultDirectoryMode: UInt32
    /// How long listings, attributes and negative lookups are trusted, in seconds (`--metadata-ttl`).
    public var metadataTTL: Double
    /// Where written files are staged before upload (`--cache-dir`).
    public var cacheDirectory: String
    /// Refuse every change (`-o ro`).
    public var readOnly: Bool
    /// Never replace an existing object (`--no-overwrite`): writes use `If-None-Match: *`.
    public var noOverwrite: Bool
    /// Files up to this size are uploaded with one PUT; larger ones with multipart.
    public var multipartThreshold: UInt64
    /// The size of multipart parts (at least 5 MiB on S3).
    public var partSize: UInt64
    /// Parts uploaded at the same time, per file.
    public var uploadConcurrency: Int
    /// Server-side copies (rename, metadata updates) of objects larger than this use multipart UploadPartCopy;
    /// S3's CopyObject stops at 5 GiB.
    public var singleCopyLimit: UInt64
    /// The most bytes of file contents kept in memory for reading (`--read-cache-size`): the block cache's capacity.
    /// Read-ahead windows are at most a quarter of it.
    public var readCacheCapacity: Int
    /// Seconds a closed file with changes waits, quiet, before it is uploaded (`--write-back-delay`); 0 uploads
    /// at close and reports upload errors to close(). The library's default is 0; `coffer mount`'s is 1.5.
    public var writeBackDelay: Double
    /// Bytes of closed files waiting for upload above which writers wait (`--max-dirty-mib`).
    public var maxPendingUploadBytes: UInt64
    /// Files uploaded at the same time by the write-back queue.
    public var backgroundUploads: Int
    /// What an upload does when the object changed on the server since this mount last saw it (`--on-conflict`).
    public var conflictPolicy: ConflictPolicy
    /// Names this mount in its journal records (bucket and prefix), so that a mount replays only its own.
    public var mountIdentity: String
    /// This host's name in conflict file names.
    public var hostName: String
    /// Objects whose metadata is kept on disk (`CACHE/metadata.sqlite`, `--metadata-cache-entries`) so that
    /// listings need no HEAD for objects they show unchanged, across remounts; 0 keeps none. The library's default
    /// is 0; `coffer mount`'s is 250,000.
    public var metadataCacheEntries: Int
    /// Inodes kept in memory that nothing references (the kernel forgot them or never looked them up, no handle,
    /// no pending upload): past this many, they are swept. A cache of S3's answers; referenced inodes are never
    /// dropped.
    public var unreferencedInodeLimit: Int
    /// Names held by all cached directory listings together; past this, the least recently listed directories are
    /// forgotten (a later lookup in one costs a LIST again).
    public var listedNameLimit: Int
    /// HEAD requests for metadata (readdirplus, lookups of listed names) in flight at once, for the whole mount.
    public var metadataRequestBudget: Int
    /// The most bytes of file contents kept on disk (`CACHE/blocks/`, `--data-cache-mib`) so that files read again
    /// after their blocks left memory, or after a remount, are not downloaded again; 0 keeps none. Off with
    /// encryption (the blocks are plaintext).
    public var dataCacheCapacity: Int

    /// Options with the defaults of `coffer mount`, except `writeBackDelay` (0 here: upload at close) and
    /// `metadataCacheEntries` (0 here: no database).
    public init(prefix: String = "", defaultUID: UInt32 = 0, defaultGID: UInt32 = 0, defaultFileMode: UInt32 = 0o644,
                defaultDirectoryMode: UInt32 = 0o755, metadataTTL: Double = 1, cacheDirectory: String,
                readOnly: Bool = false, noOverwrite: Bool = false, multipartThreshold: UInt64 = 16 << 20,
                partSize: UInt64 = 16 << 20, uploadConcurrency: Int = 8, singleCopyLimit: UInt64 = 5 << 30,
                readCacheCapacity: Int = 160 << 20, writeBackDelay: Double = 0,
                maxPendingUploadBytes: UInt64 = 1 << 30, backgroundUploads: Int = 16,
                conflictPolicy: ConflictPolicy = .keepBoth, mountIdentity: String = "", hostName: String = "localhost",
                metadataCacheEntries: Int = 0, unreferencedInodeLimit: Int = 50_000,
                listedNameLimit: Int = 250_000, metadataRequestBudget: Int = 32, dataCacheCapacity: Int = 0) {
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.defaultUID = defaultUID
        self.defaultGID = defaultGID
        self.defaultFileMode = defaultFileMode
        self.defaultDirectoryMode = defaultDirectoryMode
        self.metadataTTL = metadataTTL
        self.cacheDirectory = cacheDirectory
        self.readOnly = readOnly
        self.noOverwrite = noOverwrite
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
        self.uploadConcurrency = uploadConcurrency
        self.singleCopyLimit = singleCopyLimit
        self.readCacheCapacity = max(0, readCacheCapacity)
        self.writeBackDelay = max(0, writeBackDelay)
        self.maxPendingUploadBytes = max(1, maxPendingUploadBytes)
        self.backgroundUploads = max(1, backgroundUploads)
        self.conflictPolicy = conflictPolicy
        self.mountIdentity = mountIdentity.isEmpty ? "prefix:" + self.prefix : mountIdentity
        self.hostName = hostName
        self.metadataCacheEntries = max(0, metadataCacheEntries)
        self.unreferencedInodeLimit = max(1, unreferencedInodeLimit)
        self.listedNameLimit = max(1, listedNameLimit)
        self.metadataRequestBudget = max(1, metadataRequestBudget)
        self.dataCacheCapacity = max(0, dataCacheCapacity)
    }
}

/// What an upload does when the object it would replace changed on the server since this mount last saw it (another
/// host wrote or deleted it).
public enum ConflictPolicy: String, Sendable, Equatable, CaseIterable {
    /// Keep both: the other host's object stays, this mount's bytes go to `NAME.conflict-HOST-TIME` next to it.
    case keepBoth = "keep-both"
    /// Last writer wins, as s3fs does: uploads carry no condition.
    case overwrite
}

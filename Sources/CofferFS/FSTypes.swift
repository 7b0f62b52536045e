/// A name's inode as lookup, mkdir, create and symlink return it (`fuse_entry_param`).
public struct Entry: Sendable, Equatable {
    /// The inode's attributes (`attributes.inode` is the inode number).
    public var attributes: FileAttributes
    /// Makes (inode, generation) unique over the life of the mount.
    public var generation: UInt64
    /// How long the kernel may cache the name → inode binding, in seconds.
    public var entryTimeout: Double
    /// How long the kernel may cache the attributes, in seconds.
    public var attributeTimeout: Double

    /// An entry from its parts.
    public init(attributes: FileAttributes, generation: UInt64 = 1, entryTimeout: Double, attributeTimeout: Double) {
        self.attributes = attributes
        self.generation = generation
        self.entryTimeout = entryTimeout
        self.attributeTimeout = attributeTimeout
    }
}

/// Who is asking (from the FUSE request context).
public struct Caller: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// The umask of the calling process, applied to new files' modes when the kernel does not apply it itself.
    public var umask: UInt32

    /// A caller from its ids.
    public init(uid: UInt32, gid: UInt32, umask: UInt32 = 0) {
        self.uid = uid
        self.gid = gid
        self.umask = umask
    }
}

/// An open file handle and how the kernel should treat its data.
public struct OpenFile: Sendable, Equatable {
    /// The handle to pass to read, write, flush, release.
    public var handle: UInt64
    /// Keep the kernel's page cache from a previous open (the object has not changed since).
    public var keepCache: Bool
    /// Bypass the page cache.
    public var directIO: Bool

    /// A handle and its cache policy.
    public init(handle: UInt64, keepCache: Bool = false, directIO: Bool = false) {
        self.handle = handle
        self.keepCache = keepCache
        self.directIO = directIO
    }
}

/// How a file is opened (the parts of `open(2)` flags the core cares about).
public struct OpenFlags: Sendable, Equatable {
    /// The access mode allows writing (`O_WRONLY` or `O_RDWR`).
    public var write: Bool
    /// The access mode allows reading.
    public var read: Bool
    /// `O_TRUNC`.
    public var truncate: Bool
    /// `O_APPEND`.
    public var append: Bool
    /// `O_EXCL` (with create).
    public var exclusive: Bool

    /// Flags from their parts.
    public init(read: Bool = true, write: Bool = false, truncate: Bool = false, append: Bool = false, exclusive: Bool = false) {
        self.read = read
        self.write = write
        self.truncate = truncate
        self.append = append
        self.exclusive = exclusive
    }

    /// Decodes `open(2)` flags.
    public init(posix flags: Int32) {
        let access = flags & 0o3
        read = access == 0 || access == 2
        write = access == 1 || access == 2
        truncate = flags & 0o1000 != 0
        append = flags & 0o2000 != 0
        exclusive = flags & 0o200 != 0
    }
}

/// One entry of a directory listing.
public struct DirectoryEntry: Sendable, Equatable {
    /// The name within the directory.
    public var name: String
    /// The entry's attributes (for plain readdir only `inode` and the type bits of `mode` matter).
    public var attributes: FileAttributes
    /// The offset cookie that resumes the listing after this entry.
    public var nextOffset: UInt64
    /// `readdir(plus: true)` counted a lookup of this entry's inode, whose attributes it carries: the kernel is to
    /// get both, or the caller forgets the lookup. False for "." and "..", plain readdir, and an entry the core
    /// could not give current attributes (the kernel then looks it up itself).
    public var countsLookup = false

    /// An entry from its parts.
    public init(name: String, attributes: FileAttributes, nextOffset: UInt64) {
        self.name = name
        self.attributes = attributes
        self.nextOffset = nextOffset
    }
}

/// A change to an inode's attributes (`setattr`): only the non-nil fields change.
public struct AttributeChanges: Sendable, Equatable {
    /// A new time, or the current time.
    public enum Time: Sendable, Equatable {
        case now
        case at(Timestamp)
    }

    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    /// Truncate or extend to this size.
    public var size: UInt64?
    public var atime: Time?
    public var mtime: Time?

    /// A change.
    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: UInt64? = nil,
                atime: Time? = nil, mtime: Time? = nil) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.atime = atime
        self.mtime = mtime
    }
}

/// What `statfs` reports. S3 has no capacity limit, so the numbers are large and constant.
public struct FileSystemStatistics: Sendable, Equatable {
    public var blockSize: UInt64
    public var blocks: UInt64
    public var freeBlocks: UInt64
    public var availableBlocks: UInt64
    public var files: UInt64
    public var freeFiles: UInt64
    public var maximumNameLength: UInt64

    /// Statistics from their parts.
    public init(blockSize: UInt64, blocks: UInt64, freeBlocks: UInt64, availableBlocks: UInt64, files: UInt64,
                freeFiles: UInt64, maximumNameLength: UInt64) {
        self.blockSize = blockSize
        self.blocks = blocks
        self.freeBlocks = freeBlocks
        self.availableBlocks = availableBlocks
        self.files = files
        self.freeFiles = freeFiles
        self.maximumNameLength = maximumNameLength
    }
}

/// How `rename` treats an existing target (`renameat2` flags).
public enum RenameMode: Sendable, Equatable {
    /// Replace an existing target (plain rename).
    case replace
    /// Fail with EEXIST when the target exists (`RENAME_NOREPLACE`).
    case noReplace
    /// Swap source and target (`RENAME_EXCHANGE`): not supported on S3, answered EINVAL.
    case exchange
}

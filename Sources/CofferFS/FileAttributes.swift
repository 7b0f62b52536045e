/// What `stat` shows for an inode.
public struct FileAttributes: Sendable, Equatable {
    /// The inode number (1 is the root).
    public var inode: UInt64
    /// The full `st_mode`: file type bits (`S_IFREG`, `S_IFDIR`, `S_IFLNK`) and permission bits.
    public var mode: UInt32
    /// The link count: 1 for files and symlinks, 2 for directories.
    public var linkCount: UInt32
    /// The owner.
    public var uid: UInt32
    /// The group.
    public var gid: UInt32
    /// The size in bytes (for a symlink, the target's length).
    public var size: UInt64
    /// Last access.
    public var atime: Timestamp
    /// Last modification of the contents.
    public var mtime: Timestamp
    /// Last change of the inode (contents or attributes).
    public var ctime: Timestamp
    /// The preferred I/O size (`st_blksize`).
    public var blockSize: UInt32

    /// Attributes from their parts.
    public init(inode: UInt64, mode: UInt32, linkCount: UInt32, uid: UInt32, gid: UInt32, size: UInt64,
                atime: Timestamp, mtime: Timestamp, ctime: Timestamp, blockSize: UInt32 = 1 << 20) {
        self.inode = inode
        self.mode = mode
        self.linkCount = linkCount
        self.uid = uid
        self.gid = gid
        self.size = size
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.blockSize = blockSize
    }

    /// `st_blocks`: 512-byte blocks used.
    public var blocks: UInt64 { (size + 511) / 512 }

    /// The file type bits of `mode`.
    public var fileType: FileType { FileType(mode: mode) }
}

/// The kinds of inode Coffer has.
public enum FileType: Sendable, Equatable {
    case regular, directory, symlink

    /// The type encoded in an `st_mode`; anything unknown is a regular file.
    public init(mode: UInt32) {
        switch mode & FileMode.typeMask {
        case FileMode.directory: self = .directory
        case FileMode.symlink: self = .symlink
        default: self = .regular
        }
    }

    /// The `S_IFMT` bits.
    public var modeBits: UInt32 {
        switch self {
        case .regular: return FileMode.regular
        case .directory: return FileMode.directory
        case .symlink: return FileMode.symlink
        }
    }
}

/// `st_mode` constants, so that no module above the core needs Glibc's.
public enum FileMode {
    public static let typeMask: UInt32 = 0o170000
    public static let regular: UInt32 = 0o100000
    public static let directory: UInt32 = 0o040000
    public static let symlink: UInt32 = 0o120000
    public static let permissionMask: UInt32 = 0o7777
}

/// What `stat` shows for an inode.
public struct FileAttributes: Sendable, Equatable {
    /// The inode number (1 is the root).
    public var inode: UInt64
    /// The full `st_mode`: file type bits (`S_IFREG`, `S_IFDIR`, `S_IFLNK`, `S_IFIFO`, `S_IFSOCK`, `S_IFCHR`,
    /// `S_IFBLK`) and permission bits.
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
    /// The preferred I/O size (`st_blksize`): 1 MiB for files (programs that size their buffers by it, like `cp`,
    /// then move data in few large requests), 4 KiB for directories (glibc sizes its getdents buffer by it, 32 KiB
    /// at least: with 1 MiB, each readdirplus would ask for thousands of entries and their HEADs at once).
    public var blockSize: UInt32
    /// The device number of a character or block device (`st_rdev`); 0 for everything else.
    public var rdev: UInt64

    /// Attributes from their parts.
    public init(inode: UInt64, mode: UInt32, linkCount: UInt32, uid: UInt32, gid: UInt32, size: UInt64,
                atime: Timestamp, mtime: Timestamp, ctime: Timestamp, blockSize: UInt32? = nil, rdev: UInt64 = 0) {
        self.inode = inode
        self.mode = mode
        self.linkCount = linkCount
        self.uid = uid
        self.gid = gid
        self.size = size
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.blockSize = blockSize ?? (mode & FileMode.typeMask == FileMode.directory ? 4096 : 1 << 20)
        self.rdev = rdev
    }

    /// `st_blocks`: 512-byte blocks used.
    public var blocks: UInt64 { (size + 511) / 512 }

    /// The file type bits of `mode`.
    public var fileType: FileType { FileType(mode: mode) }
}

/// The kinds of inode Coffer has. Everything but a directory is one S3 object; FIFOs, sockets and devices are
/// zero-byte objects whose stored mode carries their type, as s3fs stores them.
public enum FileType: Sendable, Equatable {
    case regular, directory, symlink
    case fifo, socket, characterDevice, blockDevice

    /// The type encoded in an `st_mode`; anything unknown is a regular file.
    public init(mode: UInt32) {
        switch mode & FileMode.typeMask {
        case FileMode.directory: self = .directory
        case FileMode.symlink: self = .symlink
        case FileMode.fifo: self = .fifo
        case FileMode.socket: self = .socket
        case FileMode.characterDevice: self = .characterDevice
        case FileMode.blockDevice: self = .blockDevice
        default: self = .regular
        }
    }

    /// The `S_IFMT` bits.
    public var modeBits: UInt32 {
        switch self {
        case .regular: return FileMode.regular
        case .directory: return FileMode.directory
        case .symlink: return FileMode.symlink
        case .fifo: return FileMode.fifo
        case .socket: return FileMode.socket
        case .characterDevice: return FileMode.characterDevice
        case .blockDevice: return FileMode.blockDevice
        }
    }

    /// A FIFO, a socket or a device: an inode with no data of its own in S3 (the kernel serves its opens).
    public var isSpecial: Bool {
        switch self {
        case .fifo, .socket, .characterDevice, .blockDevice: return true
        case .regular, .directory, .symlink: return false
        }
    }

    /// A character or block device: it has a device number.
    public var isDevice: Bool { self == .characterDevice || self == .blockDevice }
}

/// `st_mode` constants, so that no module above the core needs Glibc's.
public enum FileMode {
    public static let typeMask: UInt32 = 0o170000
    public static let regular: UInt32 = 0o100000
    public static let directory: UInt32 = 0o040000
    public static let symlink: UInt32 = 0o120000
    public static let fifo: UInt32 = 0o010000
    public static let socket: UInt32 = 0o140000
    public static let characterDevice: UInt32 = 0o020000
    public static let blockDevice: UInt32 = 0o060000
    public static let permissionMask: UInt32 = 0o7777
}

internal import CFuse
import CofferFS
import Foundation

extension stat {
    /// The `struct stat` the kernel gets for `attributes`.
    init(_ attributes: FileAttributes) {
        self.init()
        st_ino = UInt(attributes.inode)
        st_mode = attributes.mode
        st_nlink = UInt(attributes.linkCount)
        st_uid = attributes.uid
        st_gid = attributes.gid
        st_size = Int(clamping: attributes.size)
        st_blksize = Int(attributes.blockSize)
        st_blocks = Int(clamping: attributes.blocks)
        st_atim = timespec(attributes.atime)
        st_mtim = timespec(attributes.mtime)
        st_ctim = timespec(attributes.ctime)
        st_rdev = UInt(attributes.rdev)
    }
}

extension timespec {
    /// A `timespec` from a core timestamp.
    init(_ timestamp: Timestamp) {
        self.init(tv_sec: Int(timestamp.seconds), tv_nsec: Int(timestamp.nanoseconds))
    }
}

extension Timestamp {
    /// A core timestamp from a `timespec`.
    init(_ time: timespec) {
        self.init(seconds: Int64(time.tv_sec), nanoseconds: UInt32(clamping: max(0, time.tv_nsec)))
    }
}

extension fuse_entry_param {
    /// The entry reply for `entry`.
    init(_ entry: Entry) {
        self.init()
        ino = entry.attributes.inode
        generation = entry.generation
        attr = stat(entry.attributes)
        attr_timeout = entry.attributeTimeout
        entry_timeout = entry.entryTimeout
    }
}

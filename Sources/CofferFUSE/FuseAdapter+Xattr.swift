internal import CFuse
import CofferFS
import Foundation

/// Extended attributes and statfs.
extension FuseAdapter {
    func setxattr(_ request: FuseRequest, inode: UInt64, name: String, value: [UInt8], flags: Int32) {
        serve(request, "setxattr", inode: inode) { () throws(FSError) in
            try await self.fileSystem.setxattr(inode, name: name, value: value, flags: flags)
            self.replyError(request, 0)
        }
    }

    /// `size` 0 asks for the value's size; a smaller non-zero size than needed is ERANGE.
    func getxattr(_ request: FuseRequest, inode: UInt64, name: String, size: Int) {
        serve(request, "getxattr", inode: inode) { () throws(FSError) in
            let value = try await self.fileSystem.getxattr(inode, name: name)
            self.replySized(request, value, size: size)
        }
    }

    /// The names, each followed by a NUL byte; sizes as in `getxattr`.
    func listxattr(_ request: FuseRequest, inode: UInt64, size: Int) {
        serve(request, "listxattr", inode: inode) { () throws(FSError) in
            let names = try await self.fileSystem.listxattr(inode)
            var list: [UInt8] = []
            for name in names {
                list += Array(name.utf8)
                list.append(0)
            }
            self.replySized(request, list, size: size)
        }
    }

    func removexattr(_ request: FuseRequest, inode: UInt64, name: String) {
        serve(request, "removexattr", inode: inode) { () throws(FSError) in
            try await self.fileSystem.removexattr(inode, name: name)
            self.replyError(request, 0)
        }
    }

    /// Inline: the core's numbers are constant (S3 has no capacity limit).
    func statfs(_ request: FuseRequest) {
        replyStatistics(request, fileSystem.statfs())
    }

    private func replySized(_ request: FuseRequest, _ bytes: [UInt8], size: Int) {
        if size == 0 {
            replyXattrSize(request, bytes.count)
        } else if bytes.count > size {
            replyError(request, ERANGE)
        } else {
            replyBuffer(request, bytes)
        }
    }
}

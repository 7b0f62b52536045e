internal import CFuse
import CofferFS
import Foundation

/// Names and attributes: lookup, forget, getattr, setattr, readlink, mkdir, mknod, unlink, rmdir, symlink, rename.
extension FuseAdapter {
    func lookup(_ request: FuseRequest, parent: UInt64, name: String) {
        serve(request, "lookup", inode: parent) { () throws(FSError) in
            let entry = try await self.fileSystem.lookup(parent: parent, name: name)
            self.replyEntry(request, entry)
        }
    }

    /// Inline: the core only adjusts a counter.
    func forget(_ request: FuseRequest, inode: UInt64, count: UInt64) {
        fileSystem.forget(inode, count: count)
        replyNone(request)
    }

    /// Inline, like `forget`.
    func forget(_ request: FuseRequest, _ items: [(inode: UInt64, count: UInt64)]) {
        for item in items { fileSystem.forget(item.inode, count: item.count) }
        replyNone(request)
    }

    func getattr(_ request: FuseRequest, inode: UInt64) {
        serve(request, "getattr", inode: inode) { () throws(FSError) in
            let (attributes, timeout) = try await self.fileSystem.getattr(inode)
            self.replyAttributes(request, attributes, timeout: timeout)
        }
    }

    func setattr(_ request: FuseRequest, inode: UInt64, changes: AttributeChanges, handle: UInt64?, caller: Caller) {
        serve(request, "setattr", inode: inode) { () throws(FSError) in
            let (attributes, timeout) = try await self.fileSystem.setattr(inode, changes, handle: handle, caller: caller)
            self.replyAttributes(request, attributes, timeout: timeout)
        }
    }

    func readlink(_ request: FuseRequest, inode: UInt64) {
        serve(request, "readlink", inode: inode) { () throws(FSError) in
            let target = try await self.fileSystem.readlink(inode)
            self.replyReadlink(request, target)
        }
    }

    func mkdir(_ request: FuseRequest, parent: UInt64, name: String, mode: UInt32, caller: Caller) {
        serve(request, "mkdir", inode: parent) { () throws(FSError) in
            let entry = try await self.fileSystem.mkdir(parent: parent, name: name, mode: mode, caller: caller)
            self.replyEntry(request, entry)
        }
    }

    /// A regular file is made as create + flush + release; FIFOs, sockets and devices are stored as s3fs stores them.
    func mknod(_ request: FuseRequest, parent: UInt64, name: String, mode: UInt32, rdev: UInt64, caller: Caller) {
        let typeBits = mode & FileMode.typeMask
        if typeBits != 0 && typeBits != FileMode.regular {
            let type = FileType(mode: mode)
            // Unknown type bits read as a regular file, which is not special either.
            guard type.isSpecial else {
                fail(request, "mknod", inode: parent, FSError(EINVAL, "mknod of \(name): no such file type"))
                return
            }
            serve(request, "mknod", inode: parent) { () throws(FSError) in
                let entry = try await self.fileSystem.mknod(parent: parent, name: name, type: type,
                                                            mode: mode & FileMode.permissionMask, rdev: rdev,
                                                            caller: caller)
                self.replyEntry(request, entry)
            }
            return
        }
        serve(request, "mknod", inode: parent) { () throws(FSError) in
            let flags = OpenFlags(read: false, write: true)
            let (entry, file) = try await self.fileSystem.create(parent: parent, name: name,
                                                                 mode: mode & FileMode.permissionMask, flags: flags,
                                                                 caller: caller)
            let inode = entry.attributes.inode
            do throws(FSError) {
                try await self.fileSystem.flush(inode, handle: file.handle)
            } catch {
                await self.fileSystem.release(inode, handle: file.handle)
                self.fileSystem.forget(inode, count: 1)
                throw error.errno == ENOSYS ? FSError(EIO, error.message) : error
            }
            await self.fileSystem.release(inode, handle: file.handle)
            self.replyEntry(request, entry)
        }
    }

    func unlink(_ request: FuseRequest, parent: UInt64, name: String) {
        serve(request, "unlink", inode: parent) { () throws(FSError) in
            try await self.fileSystem.unlink(parent: parent, name: name)
            self.replyError(request, 0)
        }
    }

    func rmdir(_ request: FuseRequest, parent: UInt64, name: String) {
        serve(request, "rmdir", inode: parent) { () throws(FSError) in
            try await self.fileSystem.rmdir(parent: parent, name: name)
            self.replyError(request, 0)
        }
    }

    func symlink(_ request: FuseRequest, target: String, parent: UInt64, name: String, caller: Caller) {
        serve(request, "symlink", inode: parent) { () throws(FSError) in
            let entry = try await self.fileSystem.symlink(target: target, parent: parent, name: name, caller: caller)
            self.replyEntry(request, entry)
        }
    }

    /// `flags` are renameat2's: `RENAME_NOREPLACE` (1), `RENAME_EXCHANGE` (2); anything else is EINVAL.
    func rename(_ request: FuseRequest, parent: UInt64, name: String, newParent: UInt64, newName: String,
                flags: UInt32) {
        let mode: RenameMode
        switch flags {
        case 0: mode = .replace
        case 1: mode = .noReplace
        case 2: mode = .exchange
        default:
            fail(request, "rename", inode: parent, FSError(EINVAL, "rename of \(name): unsupported flags \(flags)"))
            return
        }
        serve(request, "rename", inode: parent) { () throws(FSError) in
            try await self.fileSystem.rename(parent: parent, name: name, newParent: newParent, newName: newName,
                                             mode: mode)
            self.replyError(request, 0)
        }
    }
}

extension AttributeChanges {
    /// The changes `setattr` asks for: `toSet` is the `FUSE_SET_ATTR_*` mask, `status` holds the new values.
    /// Modes are passed as permission bits only (`& 0o7777`).
    init(toSet: Int32, status: stat) {
        self.init()
        if toSet & FUSE_SET_ATTR_MODE != 0 { mode = status.st_mode & FileMode.permissionMask }
        if toSet & FUSE_SET_ATTR_UID != 0 { uid = status.st_uid }
        if toSet & FUSE_SET_ATTR_GID != 0 { gid = status.st_gid }
        if toSet & FUSE_SET_ATTR_SIZE != 0 { size = UInt64(max(0, status.st_size)) }
        if toSet & FUSE_SET_ATTR_ATIME_NOW != 0 {
            atime = .now
        } else if toSet & FUSE_SET_ATTR_ATIME != 0 {
            atime = .at(Timestamp(status.st_atim))
        }
        if toSet & FUSE_SET_ATTR_MTIME_NOW != 0 {
            mtime = .now
        } else if toSet & FUSE_SET_ATTR_MTIME != 0 {
            mtime = .at(Timestamp(status.st_mtim))
        }
    }
}

internal import CFuse
import CofferFS
import Foundation

/// Open files: open, create, read, write, flush, release, fsync.
extension FuseAdapter {
    func open(_ request: FuseRequest, inode: UInt64, info: FileInfo) {
        serve(request, "open", inode: inode) { () throws(FSError) in
            let file = try await self.fileSystem.open(inode, flags: OpenFlags(posix: info.flags))
            if !self.replyOpen(request, info, file) {
                // Interrupted: the kernel dropped the reply and will never release this handle.
                await self.fileSystem.release(inode, handle: file.handle)
            }
        }
    }

    func create(_ request: FuseRequest, parent: UInt64, name: String, mode: UInt32, info: FileInfo, caller: Caller) {
        serve(request, "create", inode: parent) { () throws(FSError) in
            let (entry, file) = try await self.fileSystem.create(parent: parent, name: name,
                                                                 mode: mode & FileMode.permissionMask,
                                                                 flags: OpenFlags(posix: info.flags), caller: caller)
            if !self.replyCreate(request, entry, info, file) {
                await self.fileSystem.release(entry.attributes.inode, handle: file.handle)
                self.fileSystem.forget(entry.attributes.inode, count: 1)
            }
        }
    }

    func read(_ request: FuseRequest, inode: UInt64, handle: UInt64, offset: UInt64, count: Int) {
        serve(request, "read", inode: inode) { () throws(FSError) in
            let segments = try await self.fileSystem.readSegments(inode, handle: handle, offset: offset, count: count)
            self.replySegments(request, segments, limit: count)
        }
    }

    func write(_ request: FuseRequest, inode: UInt64, handle: UInt64, offset: UInt64, bytes: [UInt8]) {
        serve(request, "write", inode: inode) { () throws(FSError) in
            let written = try await self.fileSystem.write(inode, handle: handle, offset: offset, bytes: bytes)
            self.replyWrite(request, written)
        }
    }

    /// Upload errors reach close(2) here; ENOSYS is never replied (the kernel would stop sending flushes).
    func flush(_ request: FuseRequest, inode: UInt64, handle: UInt64) {
        serve(request, "flush", inode: inode, neverUnimplemented: true) { () throws(FSError) in
            try await self.fileSystem.flush(inode, handle: handle)
            self.replyError(request, 0)
        }
    }

    func release(_ request: FuseRequest, inode: UInt64, handle: UInt64) {
        serve(request, "release", inode: inode) { () throws(FSError) in
            await self.fileSystem.release(inode, handle: handle)
            self.replyError(request, 0)
        }
    }

    /// Like flush, never ENOSYS.
    func fsync(_ request: FuseRequest, inode: UInt64, handle: UInt64) {
        serve(request, "fsync", inode: inode, neverUnimplemented: true) { () throws(FSError) in
            try await self.fileSystem.fsync(inode, handle: handle)
            self.replyError(request, 0)
        }
    }
}

internal import CFuse
import CofferFS
import Foundation

/// Directory handles: opendir, readdir, readdirplus, releasedir, fsyncdir.
extension FuseAdapter {
    func opendir(_ request: FuseRequest, inode: UInt64, info: FileInfo) {
        serve(request, "opendir", inode: inode) { () throws(FSError) in
            let handle = try await self.fileSystem.opendir(inode)
            if !self.replyOpen(request, info, OpenFile(handle: handle)) {
                self.fileSystem.releasedir(inode, handle: handle)
            }
        }
    }

    /// Fills a buffer of `size` bytes with entries from the cookie `offset` until the next one does not fit.
    ///
    /// With `plus`, entries the core counted a lookup for (`countsLookup`) carry their attributes and make a dentry;
    /// the ones that do not fit, or all of them if the kernel drops the reply, are forgotten again. Other entries
    /// ("." and "..", or one the core had no attributes for) go with inode 0 there: no dentry, the kernel looks
    /// them up when needed.
    func readdir(_ request: FuseRequest, inode: UInt64, handle: UInt64, offset: UInt64, size: Int, plus: Bool) {
        serve(request, plus ? "readdirplus" : "readdir", inode: inode) { () throws(FSError) in
            // No more entries than could fit: a dirent takes at least 32 bytes, a direntplus at least 152.
            let entries = try await self.fileSystem.readdir(inode, handle: handle, offset: offset, plus: plus,
                                                            limit: size / (plus ? 152 : 32) + 1)
            let timeout = self.directoryEntryTimeout
            var sent: [UInt64] = []
            var unsent: [UInt64] = []
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 8)
            defer { buffer.deallocate() }
            let base = buffer.baseAddress!.assumingMemoryBound(to: CChar.self)
            var used = 0
            var full = false
            for entry in entries {
                if full {
                    if entry.countsLookup { unsent.append(entry.attributes.inode) }
                    continue
                }
                let remaining = size - used
                var status = stat(entry.attributes)
                let needed: Int
                if plus {
                    var parameters = fuse_entry_param()
                    parameters.attr = status
                    if entry.countsLookup {
                        // ino 0 (the default) tells the kernel not to make a dentry, so no lookup counts.
                        parameters.ino = entry.attributes.inode
                        parameters.generation = 1
                        parameters.attr_timeout = timeout
                        parameters.entry_timeout = timeout
                    }
                    needed = fuse_add_direntry_plus(request.raw, base + used, remaining, entry.name, &parameters,
                                                    off_t(truncatingIfNeeded: entry.nextOffset))
                } else {
                    needed = fuse_add_direntry(request.raw, base + used, remaining, entry.name, &status,
                                               off_t(truncatingIfNeeded: entry.nextOffset))
                }
                if needed > remaining {
                    full = true
                    if entry.countsLookup { unsent.append(entry.attributes.inode) }
                    continue
                }
                if entry.countsLookup { sent.append(entry.attributes.inode) }
                used += needed
            }
            let result = self.replyBuffer(request, UnsafeRawBufferPointer(rebasing: buffer[..<used]))
            if result != 0 { unsent += sent }
            for inode in unsent { self.fileSystem.forget(inode, count: 1) }
        }
    }

    /// Inline: the core only drops a snapshot.
    func releasedir(_ request: FuseRequest, inode: UInt64, handle: UInt64) {
        fileSystem.releasedir(inode, handle: handle)
        replyError(request, 0)
    }

    /// Directory changes are stored when they are made: nothing to sync.
    /// fsync of a directory uploads every pending file under it (the root: all of them).
    func fsyncdir(_ request: FuseRequest, inode: UInt64) {
        serve(request, "fsyncdir", inode: inode, neverUnimplemented: true) { () throws(FSError) in
            try await self.fileSystem.fsyncDirectory(inode)
            self.replyError(request, 0)
        }
    }
}

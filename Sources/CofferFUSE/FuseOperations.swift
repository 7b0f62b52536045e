internal import CFuse
import CofferFS
import Foundation

/// The `fuse_lowlevel_ops` table. Each callback is a non-capturing closure (so it converts to a C function
/// pointer; pitfall 3: the adapter is reached as `FuseAdapter.from(req)`, qualified), copies what the kernel lends
/// (names, `fuse_file_info`, `struct stat`, the write buffer) and hands plain Swift values to the adapter.
///
/// Not implemented, on purpose: `access` (the mount uses `default_permissions`, the kernel checks modes), locks
/// (`getlk`/`setlk`/`flock`: the kernel keeps them local), `ioctl`, `poll`, `fallocate`, `copy_file_range`,
/// `lseek`, `bmap`. libfuse answers those with ENOSYS.
enum FuseOperations {
    /// The table given to `fuse_session_new`.
    static func make() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, connection in
            guard let connection else { return }
            FuseAdapter.from(userdata: userdata).negotiate(&connection.pointee)
        }
        ops.destroy = { userdata in
            FuseAdapter.from(userdata: userdata).logger.debug("FUSE session destroyed")
        }
        ops.lookup = { req, parent, name in
            let adapter = FuseAdapter.from(req)
            adapter.lookup(adapter.accept(req), parent: parent, name: String(cString: name!))
        }
        ops.forget = { req, inode, count in
            let adapter = FuseAdapter.from(req)
            adapter.forget(adapter.accept(req), inode: inode, count: count)
        }
        ops.forget_multi = { req, count, forgets in
            let adapter = FuseAdapter.from(req)
            let items = (0..<count).map { (inode: forgets![$0].ino, count: forgets![$0].nlookup) }
            adapter.forget(adapter.accept(req), items)
        }
        ops.getattr = { req, inode, _ in
            let adapter = FuseAdapter.from(req)
            adapter.getattr(adapter.accept(req), inode: inode)
        }
        ops.setattr = { req, inode, attributes, toSet, info in
            let adapter = FuseAdapter.from(req)
            let changes = AttributeChanges(toSet: toSet, status: attributes!.pointee)
            let request = adapter.accept(req)
            adapter.setattr(request, inode: inode, changes: changes, handle: info.map { $0.pointee.fh },
                            caller: request.caller)
        }
        ops.readlink = { req, inode in
            let adapter = FuseAdapter.from(req)
            adapter.readlink(adapter.accept(req), inode: inode)
        }
        ops.mknod = { req, parent, name, mode, rdev in
            let adapter = FuseAdapter.from(req)
            let request = adapter.accept(req)
            adapter.mknod(request, parent: parent, name: String(cString: name!), mode: mode, rdev: UInt64(rdev),
                          caller: request.caller)
        }
        ops.mkdir = { req, parent, name, mode in
            let adapter = FuseAdapter.from(req)
            let request = adapter.accept(req)
            adapter.mkdir(request, parent: parent, name: String(cString: name!), mode: mode & FileMode.permissionMask,
                          caller: request.caller)
        }
        ops.unlink = { req, parent, name in
            let adapter = FuseAdapter.from(req)
            adapter.unlink(adapter.accept(req), parent: parent, name: String(cString: name!))
        }
        ops.rmdir = { req, parent, name in
            let adapter = FuseAdapter.from(req)
            adapter.rmdir(adapter.accept(req), parent: parent, name: String(cString: name!))
        }
        ops.symlink = { req, target, parent, name in
            let adapter = FuseAdapter.from(req)
            let request = adapter.accept(req)
            adapter.symlink(request, target: String(cString: target!), parent: parent, name: String(cString: name!),
                            caller: request.caller)
        }
        ops.rename = { req, parent, name, newParent, newName, flags in
            let adapter = FuseAdapter.from(req)
            adapter.rename(adapter.accept(req), parent: parent, name: String(cString: name!), newParent: newParent,
                           newName: String(cString: newName!), flags: flags)
        }
        ops.link = { req, inode, _, _ in
            let adapter = FuseAdapter.from(req)
            adapter.fail(adapter.accept(req), "link", inode: inode, FSError(EPERM, "hard links are not supported"))
        }
        ops.open = { req, inode, info in
            let adapter = FuseAdapter.from(req)
            adapter.open(adapter.accept(req), inode: inode, info: FileInfo(info))
        }
        ops.create = { req, parent, name, mode, info in
            let adapter = FuseAdapter.from(req)
            let request = adapter.accept(req)
            adapter.create(request, parent: parent, name: String(cString: name!), mode: mode, info: FileInfo(info),
                           caller: request.caller)
        }
        ops.read = { req, inode, size, offset, info in
            let adapter = FuseAdapter.from(req)
            adapter.read(adapter.accept(req), inode: inode, handle: FileInfo(info).handle,
                         offset: UInt64(truncatingIfNeeded: offset), count: size)
        }
        ops.write = { req, inode, buffer, size, offset, info in
            let adapter = FuseAdapter.from(req)
            let bytes = [UInt8](UnsafeRawBufferPointer(start: buffer, count: size))
            adapter.write(adapter.accept(req), inode: inode, handle: FileInfo(info).handle,
                          offset: UInt64(truncatingIfNeeded: offset), bytes: bytes)
        }
        ops.flush = { req, inode, info in
            let adapter = FuseAdapter.from(req)
            adapter.flush(adapter.accept(req), inode: inode, handle: FileInfo(info).handle)
        }
        ops.release = { req, inode, info in
            let adapter = FuseAdapter.from(req)
            adapter.release(adapter.accept(req), inode: inode, handle: FileInfo(info).handle)
        }
        ops.fsync = { req, inode, _, info in
            let adapter = FuseAdapter.from(req)
            adapter.fsync(adapter.accept(req), inode: inode, handle: FileInfo(info).handle)
        }
        ops.opendir = { req, inode, info in
            let adapter = FuseAdapter.from(req)
            adapter.opendir(adapter.accept(req), inode: inode, info: FileInfo(info))
        }
        ops.readdir = { req, inode, size, offset, info in
            let adapter = FuseAdapter.from(req)
            adapter.readdir(adapter.accept(req), inode: inode, handle: FileInfo(info).handle,
                            offset: UInt64(truncatingIfNeeded: offset), size: size, plus: false)
        }
        ops.readdirplus = { req, inode, size, offset, info in
            let adapter = FuseAdapter.from(req)
            adapter.readdir(adapter.accept(req), inode: inode, handle: FileInfo(info).handle,
                            offset: UInt64(truncatingIfNeeded: offset), size: size, plus: true)
        }
        ops.releasedir = { req, inode, info in
            let adapter = FuseAdapter.from(req)
            adapter.releasedir(adapter.accept(req), inode: inode, handle: FileInfo(info).handle)
        }
        ops.fsyncdir = { req, inode, _, _ in
            let adapter = FuseAdapter.from(req)
            adapter.fsyncdir(adapter.accept(req), inode: inode)
        }
        ops.statfs = { req, _ in
            let adapter = FuseAdapter.from(req)
            adapter.statfs(adapter.accept(req))
        }
        ops.setxattr = { req, inode, name, value, size, flags in
            let adapter = FuseAdapter.from(req)
            let bytes = [UInt8](UnsafeRawBufferPointer(start: value, count: size))
            adapter.setxattr(adapter.accept(req), inode: inode, name: String(cString: name!), value: bytes, flags: flags)
        }
        ops.getxattr = { req, inode, name, size in
            let adapter = FuseAdapter.from(req)
            adapter.getxattr(adapter.accept(req), inode: inode, name: String(cString: name!), size: size)
        }
        ops.listxattr = { req, inode, size in
            let adapter = FuseAdapter.from(req)
            adapter.listxattr(adapter.accept(req), inode: inode, size: size)
        }
        ops.removexattr = { req, inode, name in
            let adapter = FuseAdapter.from(req)
            adapter.removexattr(adapter.accept(req), inode: inode, name: String(cString: name!))
        }
        return ops
    }
}

extension FuseAdapter {
    /// FUSE_INIT: asks for what Coffer uses and turns off what it must not have.
    ///
    /// - Wanted (when the kernel offers them): ASYNC_READ, PARALLEL_DIROPS, READDIRPLUS (always, not "auto": a
    ///   listing already has every attribute, and a separate lookup would cost a HEAD), ATOMIC_O_TRUNC (`open`
    ///   gets O_TRUNC instead of a setattr(size 0) first).
    /// - Off: WRITEBACK_CACHE (writes must reach the core in order, mtime is the core's), EXPORT_SUPPORT (no
    ///   NFS export), NO_OPEN_SUPPORT / NO_OPENDIR_SUPPORT (an ENOSYS from a not-yet-implemented open must not
    ///   switch opens off for the life of the mount), HANDLE_KILLPRIV (the kernel clears setuid/setgid bits on
    ///   write and chown, not the core).
    /// - `max_read` and `max_write` equal `maxTransferSize` (the `max_read` mount option says the same, pitfall 9).
    /// - `max_background` 64 and `congestion_threshold` 48 (the kernel's defaults are 12 and 9): the kernel's
    ///   read-ahead requests of several files read at once, or of one file read by several processes, are not
    ///   queued behind a dozen in flight; the core serves them from its own read-ahead in parallel.
    /// - The kernel's read-ahead (128 KiB, and INIT can only lower it) is raised to `max_read` by the first request
    ///   after this reply (`KernelReadAhead`).
    /// Background requests (the kernel's read-ahead) in flight at once, and the count above which the kernel
    /// treats the mount as congested.
    static let maxBackground: UInt32 = 64
    static let congestionThreshold: UInt32 = 48

    func negotiate(_ connection: inout fuse_conn_info) {
        let capable = connection.capable
        for flag in [FUSE_CAP_ASYNC_READ, FUSE_CAP_PARALLEL_DIROPS, FUSE_CAP_READDIRPLUS, FUSE_CAP_ATOMIC_O_TRUNC]
        where capable & UInt32(flag) != 0 {
            connection.want |= UInt32(flag)
        }
        let unwanted = FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_EXPORT_SUPPORT
            | FUSE_CAP_NO_OPEN_SUPPORT | FUSE_CAP_NO_OPENDIR_SUPPORT | FUSE_CAP_HANDLE_KILLPRIV
        connection.want &= ~UInt32(unwanted)
        connection.max_write = maxTransferSize
        connection.max_read = maxTransferSize
        connection.max_background = Self.maxBackground
        connection.congestion_threshold = Self.congestionThreshold
        logger.info("FUSE session started", metadata: [
            "protocol": "\(connection.proto_major).\(connection.proto_minor)",
            "capable": "0x\(String(capable, radix: 16))", "want": "0x\(String(connection.want, radix: 16))",
            "max_write": "\(connection.max_write)", "max_background": "\(connection.max_background)",
        ])
        readAhead?.sessionStarted()
    }
}

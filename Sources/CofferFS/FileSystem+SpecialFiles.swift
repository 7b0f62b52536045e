import CofferObjectStore
import Foundation

extension FileSystem {
    /// Makes a FIFO, a socket or a character or block device (`mknod`, `mkfifo`, `bind` of a Unix socket) as s3fs
    /// stores one: a zero-byte object whose `mode` header carries the type bits, with the device number in `rdev`
    /// for devices. Written at once (one PUT, If-None-Match so that another host's object of that name is never
    /// replaced); its chmod, chown and utimens are metadata copies like a file's. Opening one is the kernel's job:
    /// a FIFO on the mount is a rendezvous on this host only, a device opens the local driver.
    /// - Parameters:
    ///   - type: `.fifo`, `.socket`, `.characterDevice` or `.blockDevice`.
    ///   - mode: the permission bits asked for (the caller's umask is applied).
    ///   - rdev: the device number of a device; ignored for the other types.
    public func mknod(parent: UInt64, name: String, type: FileType, mode: UInt32, rdev: UInt64,
                      caller: Caller) async throws(FSError) -> Entry {
        guard type.isSpecial else {
            throw FSError(EINVAL, "mknod of \(name): \(type) is not a FIFO, socket or device")
        }
        let (_, path) = try await placeForNewEntry(parent: parent, name: name, operation: "mknod")
        let now = Timestamp.now()
        var metadata = newMetadata(mode: type.modeBits | (mode & ~caller.umask & FileMode.permissionMask),
                                   caller: caller, at: now)
        if type.isDevice { metadata.rdev = rdev }
        let objectKey = key(of: path)
        let contentType = "application/octet-stream"
        let etag: String
        let started = Date()
        do {
            etag = try await store.put(objectKey, body: .bytes([]), options: PutOptions(
                metadata: metadata.userMetadata(), contentType: contentType, condition: .doesNotExist))
        } catch {
            if case .preconditionFailed = error { throw .exists(path) }
            throw FSError.from(error, "PUT \(objectKey)")
        }
        rememberWrite(objectKey, size: 0, storedSize: 0, etag: etag, contentType: contentType, metadata: metadata.userMetadata(),
                      startedAt: started)
        invalidateListing(ofParentOf: path)
        touchDirectory(parent)
        return entry(for: register(path: path, type: type, etag: etag, size: 0, lastModified: now, metadata: metadata,
                                   countLookup: true, fetchedAt: .infinity))
    }
}

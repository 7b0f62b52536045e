#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The POSIX calls on staging files, in one place. Every failure becomes `WriteBackError.localIO` naming the file
/// and the system error. These are short local-disk operations (no network), safe to run on the cooperative pool.
enum StagingFileIO {
    /// Creates a new file at `path` with mode 0600, failing if it exists; returns its descriptor (read-write).
    static func create(_ path: String) throws(WriteBackError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot create", path) }
        return fd
    }

    /// Opens an existing file at `path` read-write.
    static func openExisting(_ path: String) throws(WriteBackError) -> Int32 {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", path) }
        return fd
    }

    /// Writes all of `bytes` at `offset`.
    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: UInt64, path: String) throws(WriteBackError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw failure("cannot write \(bytes.count) bytes at offset \(offset) of", path) }
            done += n
        }
    }

    /// Reads `count` bytes at `offset`; fewer only if the file ends first.
    static func read(_ fd: Int32, count: Int, at offset: UInt64, path: String) throws(WriteBackError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw failure("cannot read \(count) bytes at offset \(offset) of", path) }
            if n == 0 { break }
            done += n
        }
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }

    /// Sets the file's length: cuts it, or extends it with zeros (a hole, on file systems that have them).
    static func setLength(_ fd: Int32, _ length: UInt64, path: String) throws(WriteBackError) {
        while ftruncate(fd, off_t(length)) != 0 {
            guard errno == EINTR else { throw failure("cannot set the length to \(length) bytes of", path) }
        }
    }

    /// Closes a descriptor, ignoring errors (nothing is buffered in user space).
    static func close(_ fd: Int32) {
        _ = systemClose(fd)
    }

    /// Removes the file at `path`; a file already gone is not an error.
    static func remove(_ path: String) throws(WriteBackError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("cannot remove", path) }
    }

    /// True when the open descriptor `fd` is the file at `path` (same device and inode).
    static func isFile(_ fd: Int32, at path: String) -> Bool {
        var open = stat()
        var named = stat()
        guard fstat(fd, &open) == 0, stat(path, &named) == 0 else { return false }
        return open.st_dev == named.st_dev && open.st_ino == named.st_ino
    }

    /// Removes `path` if it exists, ignoring errors (for temporary files next to a staging file).
    static func removeIfPresent(_ path: String) {
        _ = unlink(path)
    }

    private static func systemClose(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.close(fd)
        #elseif canImport(Musl)
        return Musl.close(fd)
        #else
        return Darwin.close(fd)
        #endif
    }

    static func failure(_ what: String, _ path: String) -> WriteBackError {
        let code = errno
        var hint = ""
        switch code {
        case ENOSPC, EDQUOT: hint = " (the cache directory is full: free space there or point the cache elsewhere)"
        case EROFS, EACCES, EPERM: hint = " (the cache directory must be writable by this process)"
        case ENOENT: hint = " (does the cache directory exist?)"
        default: break
        }
        return .localIO("\(what) \(path): \(String(cString: strerror(code)))\(hint)")
    }
}

extension StagingFileIO {
    /// Replaces the file at `path` with `bytes` atomically: they go to `path.tmp` first, which is then renamed over
    /// `path`, so a crash at any instant leaves either the old file or the new one, never a mix.
    static func replaceAtomically(_ path: String, with bytes: [UInt8]) throws(WriteBackError) {
        let temporary = path + ".tmp"
        removeIfPresent(temporary)
        let fd = try create(temporary)
        do throws(WriteBackError) {
            try write(fd, bytes, at: 0, path: temporary)
        } catch {
            close(fd)
            removeIfPresent(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = failure("cannot rename \(temporary) to", path)
            removeIfPresent(temporary)
            throw error
        }
    }

    /// Moves `source` to `destination` (same filesystem).
    static func move(_ source: String, to destination: String) throws(WriteBackError) {
        guard rename(source, destination) == 0 else { throw failure("cannot move \(source) to", destination) }
    }
}

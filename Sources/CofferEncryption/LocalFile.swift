#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The few POSIX file calls the encryption layer makes, each failure a message naming the file and the error.
enum LocalFile {
    /// Opens `path` with `flags` (new files get mode 0600).
    static func open(_ path: String, _ flags: Int32) throws(FileEncryptionError) -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot open", path) }
        return fd
    }

    /// Reads exactly `count` bytes at `offset`.
    static func read(_ fd: Int32, count: Int, at offset: UInt64, path: String) throws(FileEncryptionError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0, errno == EINTR { continue }
            if n == 0 {
                throw .localIO("\(path) ended at \(offset + UInt64(done)) bytes, before the \(count) bytes at offset "
                               + "\(offset) (it was truncated meanwhile)")
            }
            guard n > 0 else { throw failure("cannot read \(count) bytes at offset \(offset) of", path) }
            done += n
        }
        return bytes
    }

    /// Writes all of `bytes` at `offset`.
    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: UInt64, path: String) throws(FileEncryptionError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw failure("cannot write \(bytes.count) bytes at offset \(offset) of", path) }
            done += n
        }
    }

    /// Closes a descriptor.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    private static func failure(_ what: String, _ path: String) -> FileEncryptionError {
        .localIO("\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

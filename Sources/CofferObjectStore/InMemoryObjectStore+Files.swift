#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension InMemoryObjectStore {
    /// Reading `.file` bodies and writing GETs into files, with POSIX calls. Failures are `.transport` errors:
    /// for the S3 store too, a body that cannot be read or written means the transfer failed.
    enum LocalFile {
        /// The bytes of `body`; for `.file`, exactly `count` bytes of the file from `offset`.
        static func read(_ body: ObjectBody) throws(ObjectStoreError) -> [UInt8] {
            switch body {
            case .bytes(let bytes):
                return bytes
            case .file(let path, let offset, let count):
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw failure("cannot open", path) }
                defer { close(fd) }
                guard count <= UInt64(Int.max) else { throw .transport("body of \(count) bytes is too large") }
                var bytes = [UInt8](repeating: 0, count: Int(count))
                var done = 0
                while done < bytes.count {
                    let n = bytes.withUnsafeMutableBytes { buffer in
                        pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                    }
                    if n < 0, errno == EINTR { continue }
                    guard n >= 0 else { throw failure("cannot read", path) }
                    guard n > 0 else {
                        throw .transport("\(path) ends before byte \(offset + count) of the upload body "
                                         + "(read \(done) of \(count) bytes from offset \(offset))")
                    }
                    done += n
                }
                return bytes
            }
        }

        /// Writes `bytes` into the file at `path` from `offset`, creating the file if needed, never truncating it.
        static func write(_ bytes: ArraySlice<UInt8>, toFile path: String, at offset: UInt64) throws(ObjectStoreError) {
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw failure("cannot open", path) }
            defer { close(fd) }
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { buffer in
                    pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw failure("cannot write", path) }
                done += n
            }
        }

        private static func failure(_ what: String, _ path: String) -> ObjectStoreError {
            .transport("\(what) local file \(path): \(String(cString: strerror(errno)))")
        }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on a cache directory (`flock` of `<cache>/lock`), held for the life of a mount: two mounts
/// sharing one cache directory would replay and clean up each other's pending uploads, so the second one is refused.
/// The lock goes away with the process, however it ends.
public final class CacheDirectoryLock: Sendable {
    private let fd: Int32

    /// Takes the lock of `directory`.
    /// - Throws: `.localIO` naming the holder's pid when another process holds it, or when the file cannot be made.
    public init(directory: String) throws(WriteBackError) {
        let path = (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StagingFileIO.failure("cannot open the lock file", path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? StagingFileIO.read(fd, count: 32, at: 0, path: path)).map {
                String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            } ?? "?"
            StagingFileIO.close(fd)
            throw .localIO("the cache directory \(directory) is in use by another Coffer mount (pid \(holder)); give "
                           + "each mount its own --cache-dir")
        }
        let pid = Array("\(getpid())\n".utf8)
        try? StagingFileIO.setLength(fd, 0, path: path)
        try? StagingFileIO.write(fd, pid, at: 0, path: path)
        self.fd = fd
    }

    deinit {
        _ = flock(fd, LOCK_UN)
        StagingFileIO.close(fd)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// Emptied staging files kept for the next file to be staged: taking one is a rename, where creating a file
/// allocates an inode — on ext4 a create after many recent deletions scans the inode bitmap past every recently
/// freed inode, which made staging-file churn the bottleneck of a create storm (rsync of small files).
///
/// Spares are named `coffer-spare-<UUID>` in the cache directory, hold no data (truncated before they are kept) and
/// have mode 0600. Spares left by an earlier run are taken over at start, up to the pool's capacity.
public final class StagingFilePool: Sendable {
    /// The cache directory.
    public let directory: String
    /// The most spares kept; files given back beyond it are removed.
    public let capacity: Int
    private let spares: Mutex<[String]>

    /// A pool for `directory`, adopting the spares already there (removing those beyond `capacity`).
    public init(directory: String, capacity: Int = 64) {
        self.directory = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        self.capacity = max(0, capacity)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: self.directory)) ?? [])
            .filter { $0.hasPrefix("coffer-spare-") }
        var kept: [String] = []
        for name in names {
            let path = self.directory + "/" + name
            if kept.count < self.capacity { kept.append(path) } else { StagingFileIO.removeIfPresent(path) }
        }
        spares = Mutex(kept)
    }

    /// Spares available now.
    public var count: Int { spares.withLock { $0.count } }

    /// Renames a spare to `path` and opens it; nil when there is none (or it vanished): create the file then.
    func take(as path: String) -> Int32? {
        while let spare = spares.withLock({ $0.popLast() }) {
            guard rename(spare, path) == 0 else { continue }
            if let fd = try? StagingFileIO.openExisting(path) { return fd }
            StagingFileIO.removeIfPresent(path)
        }
        return nil
    }

    /// Keeps the staging file open as `fd` at `path` as a spare: emptied, renamed, closed. Returns false (and does
    /// nothing) when the pool is full or the file cannot be emptied: the caller removes it then.
    func give(_ fd: Int32, path: String) -> Bool {
        let room = spares.withLock { $0.count < capacity }
        // The descriptor must still be the file at `path`: a staging file moved away (to lost+found) keeps its data.
        guard room, StagingFileIO.isFile(fd, at: path),
              (try? StagingFileIO.setLength(fd, 0, path: path)) != nil else { return false }
        let spare = directory + "/coffer-spare-" + UUID().uuidString
        guard rename(path, spare) == 0 else { return false }
        StagingFileIO.close(fd)
        let kept = spares.withLock { spares -> Bool in
            guard spares.count < capacity else { return false }
            spares.append(spare)
            return true
        }
        if !kept { StagingFileIO.removeIfPresent(spare) }
        return true
    }
}

import CofferWriteBack
import Foundation

/// What `coffer status` shows of a mount: its pending uploads and conflicts. Served as JSON in the mount root's
/// `user.coffer.status` extended attribute (`FileSystem.statusAttributeName`).
public struct WriteBackStatus: Sendable, Equatable, Codable {
    /// The mount process.
    public var pid: Int32
    /// The cache directory (staging files, journal, lost+found).
    public var cacheDirectory: String
    /// The upload queue.
    public var queue: WriteBackQueue.Status
    /// Pending files not in the queue yet (open, written, not closed).
    public var openWithChanges: Int
    /// Conflicts met since the mount started.
    public var conflictCount: Int
    /// The latest conflicts (at most 20), oldest first.
    public var recentConflicts: [ConflictRecord]
}

extension FileSystem {
    /// The extended attribute of the mount root that holds `WriteBackStatus` as JSON (read-only, not listed).
    public static let statusAttributeName = "user.coffer.status"

    /// The mount's write-back state now.
    public var writeBackStatus: WriteBackStatus {
        let queued = Set(queue.pendingIDs)
        let open = state.withLock { state in
            state.inodes.values.filter { $0.hasPendingUpload && !$0.isUnlinked && !queued.contains($0.number) }.count
        }
        let (total, recent) = conflicts.withLock { ($0.total, $0.recent) }
        return WriteBackStatus(pid: getpid(), cacheDirectory: options.cacheDirectory, queue: queue.status,
                               openWithChanges: open, conflictCount: total, recentConflicts: recent)
    }

    /// `writeBackStatus` as JSON.
    func statusJSON() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(writeBackStatus))) ?? Array("{}".utf8)
    }
}

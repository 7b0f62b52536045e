import ArgumentParser
import CofferFS
import CofferFUSE
import Foundation

/// `coffer status MOUNTPOINT`: pending uploads and conflicts of a mount.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a mount's pending uploads (count, bytes, oldest age) and the conflicts it met.",
        discussion: """
            Reads the mount root's `user.coffer.status` extended attribute, which the mount process answers. \
            --json prints it as it is.
            """
    )

    @Argument(help: ArgumentHelp("Where the bucket is mounted.", valueName: "mountpoint"))
    var mountpoint: String

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() async throws {
        let path = MountTable.canonical(mountpoint)
        guard MountTable.isMounted(path) else { throw ValidationFailure(message: "\(mountpoint) is not mounted") }
        let bytes = try Self.statusBytes(of: path)
        if json {
            print(String(decoding: bytes, as: UTF8.self))
            return
        }
        let status = try Self.decode(bytes)
        print(Self.describe(status, mountpoint: path))
    }

    /// The raw status of the mount at `path`.
    static func statusBytes(of path: String) throws -> [UInt8] {
        do {
            return try MountStatus.read(mountpoint: path, attribute: FileSystem.statusAttributeName)
        } catch {
            throw ValidationFailure(message: error.description)
        }
    }

    static func decode(_ bytes: [UInt8]) throws -> WriteBackStatus {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(WriteBackStatus.self, from: Data(bytes))
    }

    /// The human-readable form.
    static func describe(_ status: WriteBackStatus, mountpoint: String) -> String {
        var lines = [
            "\(mountpoint): mount process \(status.pid), cache \(status.cacheDirectory)",
            "pending uploads: \(status.queue.pendingFiles) files, \(status.queue.pendingBytes) bytes"
                + (status.queue.pendingFiles > 0 ? String(format: ", oldest %.1f s", status.queue.oldestPendingSeconds) : "")
                + (status.queue.uploading > 0 ? ", \(status.queue.uploading) uploading" : ""),
        ]
        if status.openWithChanges > 0 { lines.append("open with changes not yet closed: \(status.openWithChanges)") }
        if status.queue.failing > 0 {
            lines.append("failing: \(status.queue.failing) (last error: \(status.queue.lastError ?? "?"))")
        }
        lines.append("conflicts: \(status.conflictCount)")
        for conflict in status.recentConflicts {
            lines.append("  \(conflict.key) changed elsewhere; this mount's version "
                         + (conflict.keptAs.map { "kept as \($0)" } ?? "still staged"))
        }
        return lines.joined(separator: "\n")
    }
}

import ArgumentParser
import CofferFUSE
import Foundation

/// `coffer unmount MOUNTPOINT`: `fusermount3 -u`, falling back to a lazy `umount -l`.
struct UnmountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount",
        abstract: "Unmount a Coffer mount (pending writes are uploaded before the mount process exits).",
        discussion: """
            Runs `fusermount3 -u MOUNTPOINT`. If that fails (files still open, or a dead mount left by a killed \
            process: "Transport endpoint is not connected"), detaches the mount with `umount -l`, which completes \
            once the last open file is closed.
            """,
        aliases: ["umount"]
    )

    @Argument(help: ArgumentHelp("Where the bucket is mounted.", valueName: "mountpoint"))
    var mountpoint: String

    func run() async throws {
        let path = MountTable.canonical(mountpoint)
        guard MountTable.isMounted(path) else {
            throw ValidationFailure(message: "\(mountpoint) is not mounted")
        }
        waitForUploads(path)
        let fusermount = try Self.execute("fusermount3", ["-u", path])
        if fusermount.status == 0 { return }
        var note = "fusermount3 -u \(path) failed"
        if !fusermount.output.isEmpty { note += ": \(fusermount.output)" }
        FileHandle.standardError.write(Data("coffer: \(note); detaching it with umount -l instead\n".utf8))
        let umount = try Self.execute("umount", ["-l", path])
        guard umount.status == 0 else {
            throw ValidationFailure(message: "umount -l \(path) failed too: \(umount.output) (unmounting needs root or the user who mounted)")
        }
    }

    /// Uploads everything pending before unmounting (fsync of the mount root), printing progress on a terminal.
    /// Anything written after this is uploaded by the mount process before it exits.
    private func waitForUploads(_ path: String) {
        guard let status = try? StatusCommand.decode(StatusCommand.statusBytes(of: path)),
              status.queue.pendingFiles + status.openWithChanges > 0 else { return }
        let terminal = isatty(STDERR_FILENO) != 0
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let fd = open(path, O_RDONLY | O_DIRECTORY)
            if fd >= 0 {
                if fsync(fd) != 0 {
                    let reason = String(cString: strerror(errno))
                    FileHandle.standardError.write(Data(
                        "coffer: some uploads failed (\(reason)); they stay staged and journaled in \(status.cacheDirectory)\n".utf8))
                }
                close(fd)
            }
            done.signal()
        }
        while done.wait(timeout: .now() + 0.5) == .timedOut {
            guard terminal, let now = try? StatusCommand.decode(StatusCommand.statusBytes(of: path)) else { continue }
            FileHandle.standardError.write(Data(
                "\rcoffer: uploading \(now.queue.pendingFiles) files, \(now.queue.pendingBytes) bytes left   ".utf8))
        }
        if terminal { FileHandle.standardError.write(Data("\rcoffer: pending uploads done                          \n".utf8)) }
    }

    /// Runs a program found in PATH and returns its status and combined output.
    static func execute(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            return (127, "cannot run \(program): \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (process.terminationStatus, text)
    }
}

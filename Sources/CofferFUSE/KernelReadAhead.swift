import Foundation
import Logging
import Synchronization

/// The kernel's read-ahead for one mount: raised to one FUSE read (`max_read`) so that buffered sequential reads
/// arrive as 1 MiB requests instead of 128 KiB ones (pitfall 10 of docs/swift-c-interop.md).
///
/// The value lives in the mount's backing device info, `/sys/class/bdi/MAJ:MIN/read_ahead_kb`. The kernel sets it
/// when it processes the reply to FUSE_INIT, to at most what it offered in INIT (128 KiB), so it must be written
/// after that reply: `sessionStarted()` is called from INIT and `raiseIfDue()` by the first request after it (the
/// kernel sends no other request before it has processed the INIT reply). Best effort: without root the write is
/// refused, and reads come in 128 KiB requests.
final class KernelReadAhead: Sendable {
    private enum Phase: UInt8, AtomicRepresentable { case waitingForInit, due, done }

    private let mountpoint: String
    private let bytes: UInt32
    private let logger: Logger
    private let phase = Atomic<Phase>(.waitingForInit)

    /// Read-ahead of `bytes` for the mount on `mountpoint`.
    init(mountpoint: String, bytes: UInt32, logger: Logger) {
        self.mountpoint = mountpoint
        self.bytes = bytes
        self.logger = logger
    }

    /// FUSE_INIT arrived: the next request may raise the read-ahead.
    func sessionStarted() {
        phase.store(.due, ordering: .releasing)
    }

    /// Raises the read-ahead once, on the first call after `sessionStarted()`; a single atomic load otherwise.
    func raiseIfDue() {
        guard phase.load(ordering: .acquiring) == .due,
              phase.compareExchange(expected: .due, desired: .done, ordering: .acquiringAndReleasing).exchanged
        else { return }
        guard let device = MountTable.mount(at: mountpoint)?.device else {
            logger.debug("cannot raise read-ahead: the mount is not in /proc/self/mountinfo")
            return
        }
        let path = "/sys/class/bdi/\(device)/read_ahead_kb"
        guard let handle = FileHandle(forWritingAtPath: path) else {
            logger.info("kernel read-ahead stays at its default (reads arrive in 128 KiB requests): cannot open \(path)")
            return
        }
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: Data("\(bytes / 1024)\n".utf8))
            logger.debug("kernel read-ahead raised", metadata: ["path": "\(path)", "kib": "\(bytes / 1024)"])
        } catch {
            logger.info("kernel read-ahead stays at its default (reads arrive in 128 KiB requests): \(path): \(error)")
        }
    }
}

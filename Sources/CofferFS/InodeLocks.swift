import Synchronization

/// Orders the operations on one inode: upload, rename, unlink, setattr and journal updates of a file run one at a
/// time, in arrival order, so that none of them sees another half done (an upload never lands at a name a rename
/// just left, a rename never deletes an object an upload is about to replace).
///
/// An async lock per inode: waiting suspends the task, never a thread, and holding it across S3 requests is what it
/// is for (the filesystem's state mutex is never held across one). Operations on different inodes do not wait for
/// each other. Never take a second inode's lock while holding one (no operation needs two).
final class InodeLocks: Sendable {
    private struct Slot {
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let slots = Mutex<[UInt64: Slot]>([:])

    /// Runs `body` holding `inode`'s lock.
    func withLock<T: Sendable>(_ inode: UInt64, _ body: () async throws(FSError) -> T) async throws(FSError) -> T {
        await acquire(inode)
        defer { release(inode) }
        return try await body()
    }

    private func acquire(_ inode: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = slots.withLock { slots -> Bool in
                if slots[inode] == nil {
                    slots[inode] = Slot()
                    return true
                }
                slots[inode]!.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    private func release(_ inode: UInt64) {
        let next = slots.withLock { slots -> CheckedContinuation<Void, Never>? in
            guard var slot = slots[inode] else { return nil }
            if slot.waiters.isEmpty {
                slots[inode] = nil
                return nil
            }
            let next = slot.waiters.removeFirst()
            slots[inode] = slot
            return next
        }
        next?.resume()
    }
}

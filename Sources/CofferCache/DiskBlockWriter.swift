import Foundation
import Synchronization

/// A thread of its own that writes blocks to the disk cache, so that file I/O never runs on the threads serving
/// reads. Its queue holds at most `maxQueuedBytes`; blocks beyond that are refused (the disk cache is a cache).
final class DiskBlockWriter: Sendable {
    private struct Queue {
        var jobs: [(BlockKey, BlockBytes)] = []
        var next = 0
        var bytes = 0
        var busy = false
        var stopped = false
    }

    let maxQueuedBytes: Int
    private let queue = Mutex(Queue())
    private let condition = NSCondition()

    init(maxQueuedBytes: Int) {
        self.maxQueuedBytes = maxQueuedBytes
    }

    /// Starts the thread; `write` runs on it for each queued block, in order.
    func start(_ write: @escaping @Sendable (BlockKey, BlockBytes) -> Void) {
        let thread = Thread { [self] in
            while let (block, bytes) = nextJob() {
                write(block, bytes)
                finishJob(bytes.count)
            }
        }
        thread.name = "coffer-disk-cache"
        thread.start()
    }

    /// Queues a block; false when the queue is full or the writer stopped.
    func enqueue(_ block: BlockKey, _ bytes: BlockBytes) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let accepted = queue.withLock { queue -> Bool in
            guard !queue.stopped, queue.bytes + bytes.count <= maxQueuedBytes else { return false }
            queue.jobs.append((block, bytes))
            queue.bytes += bytes.count
            return true
        }
        if accepted { condition.broadcast() }
        return accepted
    }

    /// Blocks until the queue is empty and no write runs.
    func waitUntilIdle() {
        condition.lock()
        defer { condition.unlock() }
        while queue.withLock({ $0.next < $0.jobs.count || $0.busy }) { condition.wait() }
    }

    /// Ends the thread after the writes queued so far.
    func stop() {
        condition.lock()
        queue.withLock { $0.stopped = true }
        condition.broadcast()
        condition.unlock()
    }

    private func nextJob() -> (BlockKey, BlockBytes)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let job: (BlockKey, BlockBytes)?? = queue.withLock { queue in
                if queue.next < queue.jobs.count {
                    let job = queue.jobs[queue.next]
                    queue.jobs[queue.next].1 = []
                    queue.next += 1
                    if queue.next == queue.jobs.count {
                        queue.jobs.removeAll(keepingCapacity: true)
                        queue.next = 0
                    }
                    queue.busy = true
                    return .some(job)
                }
                return queue.stopped ? .some(nil) : nil
            }
            if let job { return job }
            condition.wait()
        }
    }

    private func finishJob(_ size: Int) {
        condition.lock()
        queue.withLock { queue in
            queue.bytes -= size
            queue.busy = false
        }
        condition.broadcast()
        condition.unlock()
    }
}

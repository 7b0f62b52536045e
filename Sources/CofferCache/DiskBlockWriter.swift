import Foundation

/// A thread of its own that writes blocks to the disk cache, so that file I/O never runs on the threads serving
/// reads. Its queue holds at most `maxQueuedBytes`; blocks beyond that are refused (the disk cache is a cache).
final class DiskBlockWriter: @unchecked Sendable {
    let maxQueuedBytes: Int
    /// Guards everything below and wakes the thread and `waitUntilIdle`.
    private let condition = NSCondition()
    private var jobs: [(BlockKey, BlockBytes)] = []
    private var next = 0
    private var queuedBytes = 0
    private var busy = false
    private var stopped = false

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
        guard !stopped, queuedBytes + bytes.count <= maxQueuedBytes else { return false }
        jobs.append((block, bytes))
        queuedBytes += bytes.count
        condition.broadcast()
        return true
    }

    /// The bytes of the blocks waiting to be written.
    var backlog: Int {
        condition.lock()
        defer { condition.unlock() }
        return queuedBytes
    }

    /// Blocks until the queue is empty and no write runs.
    func waitUntilIdle() {
        condition.lock()
        defer { condition.unlock() }
        while next < jobs.count || busy { condition.wait() }
    }

    /// Ends the thread after the writes queued so far.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func nextJob() -> (BlockKey, BlockBytes)? {
        condition.lock()
        defer { condition.unlock() }
        while next == jobs.count {
            if stopped { return nil }
            condition.wait()
        }
        let job = jobs[next]
        jobs[next].1 = []
        next += 1
        if next == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            next = 0
        }
        busy = true
        return job
    }

    private func finishJob(_ size: Int) {
        condition.lock()
        queuedBytes -= size
        busy = false
        condition.broadcast()
        condition.unlock()
    }
}

import CofferWriteBack
import Foundation
import Synchronization
import Testing

/// The upload queue alone, with an upload function that records what it was asked to do.
@Suite("WriteBackQueue")
struct WriteBackQueueTests {
    /// Records uploads; fails the first `failures` attempts of each id.
    final class Recorder: Sendable {
        let attempts = Mutex<[UInt64: Int]>([:])
        let failures: Int
        init(failures: Int = 0) { self.failures = failures }

        func perform(_ id: UInt64) async -> WriteBackQueue.Outcome {
            let attempt = attempts.withLock { attempts -> Int in
                attempts[id, default: 0] += 1
                return attempts[id]!
            }
            return attempt <= failures ? .failed("attempt \(attempt) of \(id) failed") : .uploaded
        }

        func count(_ id: UInt64) -> Int { attempts.withLock { $0[id, default: 0] } }
    }

    @Test func schedulingAgainBeforeTheDelayIsOneUpload() async throws {
        let queue = WriteBackQueue(settings: .init(delay: 3600))
        let recorder = Recorder()
        queue.start(perform: recorder.perform)
        for _ in 0..<5 { queue.schedule(1, bytes: 10) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(recorder.count(1) == 0, "still inside the quiet period")
        let failures = await queue.drain()
        #expect(failures.isEmpty)
        #expect(recorder.count(1) == 1)
        #expect(!queue.isPending(1))
        queue.stop()
    }

    @Test func drainReportsFailuresAndTheQueueRetries() async throws {
        let queue = WriteBackQueue(settings: .init(delay: 3600, maxRetryDelay: 1))
        let recorder = Recorder(failures: 1)
        queue.start(perform: recorder.perform)
        queue.schedule(7, bytes: 1)
        let failures = await queue.drain()
        #expect(failures[7] == "attempt 1 of 7 failed")
        #expect(queue.status.failing == 1)
        let deadline = Date().addingTimeInterval(30)
        while queue.isPending(7) && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!queue.isPending(7), "retried after the backoff")
        #expect(recorder.count(7) == 2)
        queue.stop()
    }

    /// A write-through close whose own upload failed: the queue does not repeat it at once (the attempt the
    /// application waited for had just failed) but after the first backoff step, even with no write-back delay.
    @Test func aFailureOfTheOwnersUploadIsRetriedAfterTheBackoff() async throws {
        let queue = WriteBackQueue(settings: .init(delay: 0))
        let recorder = Recorder()
        queue.start(perform: recorder.perform)
        queue.scheduleRetry(3, bytes: 5, failure: "close: 503 SlowDown")
        #expect(queue.status.failing == 1)
        #expect(queue.status.lastError == "close: 503 SlowDown")
        try await Task.sleep(for: .milliseconds(300))
        #expect(recorder.count(3) == 0, "the first retry waits for the backoff")
        let deadline = Date().addingTimeInterval(30)
        while queue.isPending(3) && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(recorder.count(3) == 1)
        #expect(!queue.isPending(3))
        queue.stop()
    }

    @Test func writersWaitWhileTooManyBytesArePending() async throws {
        let queue = WriteBackQueue(settings: .init(delay: 3600, maxPendingBytes: 100))
        let recorder = Recorder()
        queue.schedule(1, bytes: 60)
        queue.schedule(2, bytes: 60)
        #expect(queue.status.pendingBytes == 120)
        let waited = Mutex(false)
        async let writer: Void = {
            await queue.waitForRoom()
            waited.withLock { $0 = true }
        }()
        try await Task.sleep(for: .milliseconds(200))
        #expect(!waited.withLock { $0 }, "the writer waits: the queue is not running yet")
        queue.start(perform: recorder.perform)
        await writer
        #expect(waited.withLock { $0 })
        #expect(recorder.count(1) + recorder.count(2) >= 1, "the writer's wait made the queue upload at once")
        queue.stop()
    }
}

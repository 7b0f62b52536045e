import Foundation

/// Counts the FUSE requests that have been received but not answered yet, so the session is destroyed only
/// when no reply can follow (pitfall 13: never call `fuse_reply_*` after `fuse_session_destroy`).
///
/// Every request is `begin()`-ed on the libfuse thread that received it and `complete(_:)`-d exactly once by
/// whoever replies. After `close(waitingAtMost:)` returns, `complete(_:)` no longer sends anything.
final class RequestTracker: @unchecked Sendable {
    private let condition = NSCondition()
    // All three are guarded by `condition`.
    private var inFlight = 0
    private var replying = 0
    private var closed = false

    /// Records a request that will be answered later.
    func begin() {
        condition.lock()
        inFlight += 1
        condition.unlock()
    }

    /// Sends a reply with `send` unless the session is closed; returns what `send` returned, or nil when closed.
    @discardableResult
    func complete(_ send: () -> Int32) -> Int32? {
        condition.lock()
        if closed {
            inFlight -= 1
            condition.broadcast()
            condition.unlock()
            return nil
        }
        replying += 1
        condition.unlock()
        let result = send()
        condition.lock()
        replying -= 1
        inFlight -= 1
        condition.broadcast()
        condition.unlock()
        return result
    }

    /// Waits until every request has been answered or `timeout` seconds have passed, then refuses further
    /// replies. Returns how many requests were still unanswered (their replies will be dropped).
    func close(waitingAtMost timeout: Double) -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while inFlight > 0, condition.wait(until: deadline) {}
        closed = true
        // A reply that started before `closed` was set must finish before the session may be destroyed.
        while replying > 0 { condition.wait() }
        return inFlight
    }

    /// Requests received and not yet answered.
    var pending: Int {
        condition.lock()
        defer { condition.unlock() }
        return inFlight
    }
}

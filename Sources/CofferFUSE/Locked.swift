import Foundation

/// A value behind a lock, shareable between threads (pitfall 7 of docs/swift-c-interop.md: `Mutex` cannot hold
/// the pointer-heavy state of a FUSE session in Swift 6, a small class over `NSLock` can).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    /// A lock around `value`.
    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with the value while holding the lock.
    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

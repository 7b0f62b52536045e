import Foundation
import Synchronization

/// The start-up checks (HeadBucket, the first LIST) did not answer in time.
struct StartupTimeout: Error, CustomStringConvertible {
    let seconds: Double
    let endpoint: String

    var description: String {
        "no answer from \(endpoint) within \(seconds.formatted()) s: the connection was accepted or is still being "
            + "attempted, but no S3 response came. Check --endpoint-url (or AWS_ENDPOINT_URL), the network path and any "
            + "proxy; --startup-timeout sets this limit"
    }
}

/// Lets only the first of several racing outcomes resume a continuation.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let continuation: CheckedContinuation<T, Error>
    private let settled = Mutex(false)

    init(_ continuation: CheckedContinuation<T, Error>) {
        self.continuation = continuation
    }

    func settle(_ result: Result<T, Error>) {
        let first = settled.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { continuation.resume(with: result) }
    }
}

/// Runs `body` and returns its result, or throws `StartupTimeout` once `seconds` have passed without one. The
/// request in flight is not waited for (the transport cannot cancel it): the caller is about to exit anyway.
func withinStartupDeadline<T: Sendable>(seconds: Double, endpoint: String,
                                        _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let outcome = FirstOutcome(continuation)
        Task {
            do {
                outcome.settle(.success(try await body()))
            } catch {
                outcome.settle(.failure(error))
            }
        }
        Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            outcome.settle(.failure(StartupTimeout(seconds: seconds, endpoint: endpoint)))
        }
    }
}

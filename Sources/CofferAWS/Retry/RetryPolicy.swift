import Foundation

/// When and how long to wait before retrying a failed AWS request: capped exponential backoff with full jitter.
public struct RetryPolicy: Sendable {
    /// The total number of attempts, the first one included.
    public var maxAttempts: Int
    /// The backoff ceiling of the first retry; it doubles with each further retry.
    public var baseDelay: Duration
    /// The largest backoff ceiling.
    public var maxDelay: Duration

    /// A policy; the defaults retry 4 times over at most a few seconds.
    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(50), maxDelay: Duration = .seconds(5)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// A policy that never retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The delay before retry number `retry` (1 for the first retry): a random duration in
    /// `0...min(maxDelay, baseDelay * 2^(retry-1))` ("full jitter"), so many clients do not retry in step.
    public func delay(beforeRetry retry: Int, random: (Double) -> Double = { Double.random(in: 0...$0) }) -> Duration {
        let base = Double(baseDelay.components.seconds) + Double(baseDelay.components.attoseconds) / 1e18
        let cap = Double(maxDelay.components.seconds) + Double(maxDelay.components.attoseconds) / 1e18
        let ceiling = min(cap, base * pow(2, Double(max(0, retry - 1))))
        return .nanoseconds(Int64(random(ceiling) * 1e9))
    }
}

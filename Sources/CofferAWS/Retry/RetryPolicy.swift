import Foundation

/// When and how long to wait before retrying a failed AWS request: capped exponential backoff with jitter, in the
/// manner of the AWS SDKs' "standard" retry mode, with a longer window for the failures that pass on their own.
///
/// Throttling (SlowDown, 503), server errors (500, 502, 504) and broken or refused connections are retried up to
/// `maxAttempts` times: with the defaults (10 attempts, 0.1 s doubling to a 20 s cap) the waits add up to between
/// 23 and 45 seconds, so brief outages and throttling bursts of S3 are ridden out. Client errors that may pass
/// (400 RequestTimeout, 403 RequestTimeTooSkewed) get at most `maxClientErrorAttempts`; every other 4xx is final.
public struct RetryPolicy: Sendable, Equatable {
    /// The total number of attempts for transient failures, the first one included.
    public var maxAttempts: Int
    /// The total number of attempts for retryable client errors (never more than `maxAttempts`).
    public var maxClientErrorAttempts: Int
    /// The backoff ceiling of the first retry; it doubles with each further retry.
    public var baseDelay: Duration
    /// The largest backoff ceiling.
    public var maxDelay: Duration

    /// A policy; the defaults ride out about 23 to 45 seconds of throttling or outage (see the type's documentation).
    public init(maxAttempts: Int = 10, maxClientErrorAttempts: Int = 3, baseDelay: Duration = .milliseconds(100),
                maxDelay: Duration = .seconds(20)) {
        self.maxAttempts = max(1, maxAttempts)
        self.maxClientErrorAttempts = max(1, min(maxClientErrorAttempts, self.maxAttempts))
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// A policy that never retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The attempts a failure of `kind` gets in all.
    public func attempts(for kind: RetryableFailure) -> Int {
        switch kind {
        case .transient: maxAttempts
        case .clientError: maxClientErrorAttempts
        }
    }

    /// The delay before retry number `retry` (1 for the first retry): with `ceiling = min(maxDelay,
    /// baseDelay * 2^(retry-1))`, a random duration in `ceiling/2...ceiling` ("equal jitter"): clients that failed
    /// together do not retry in step, and the total wait of a run of retries has a floor (half the ceilings), so
    /// the retry window does not shrink by chance.
    public func delay(beforeRetry retry: Int, random: (Double) -> Double = { Double.random(in: 0...$0) }) -> Duration {
        let ceiling = ceiling(beforeRetry: retry)
        return .nanoseconds(Int64((ceiling / 2 + random(ceiling / 2)) * 1e9))
    }

    /// The shortest and longest total wait of `maxAttempts - 1` retries, in seconds.
    public var retryWindow: ClosedRange<Double> {
        let total = (1..<max(maxAttempts, 1)).reduce(0) { $0 + ceiling(beforeRetry: $1) }
        return (total / 2)...total
    }

    private func ceiling(beforeRetry retry: Int) -> Double {
        let base = Self.seconds(baseDelay)
        let cap = Self.seconds(maxDelay)
        return min(cap, base * pow(2, Double(min(max(0, retry - 1), 62))))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

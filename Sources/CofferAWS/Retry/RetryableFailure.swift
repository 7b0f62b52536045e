/// Which retry budget a failed request draws on.
public enum RetryableFailure: Sendable {
    /// Throttling, server errors, broken or refused connections: they pass on their own.
    case transient
    /// A client error that may pass on a new attempt (RequestTimeout, RequestTimeTooSkewed).
    case clientError
}

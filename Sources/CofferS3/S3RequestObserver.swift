/// Told about every HTTP attempt the S3 client makes, for metrics. Called from any thread, after the attempt;
/// implementations must be quick and must not call the client.
public protocol S3RequestObserver: Sendable {
    /// One attempt of `operation` (an S3 API name such as `PutObject`) ended after `duration`: `status` is the
    /// HTTP status, or nil when no answer came (connection refused or reset, timeout). `retrying` is true when the
    /// client will try again.
    func attemptEnded(operation: String, status: Int?, duration: Duration, bytesSent: UInt64, bytesReceived: UInt64,
                      retrying: Bool)
}

/// Told about every kernel request the adapter serves through the filesystem core, for metrics. Called from any
/// thread after the reply; implementations must be quick.
public protocol FuseOperationObserver: Sendable {
    /// `operation` (such as `lookup`, `read`, `write`) was answered after `duration`, with `errno` (0: success).
    func operationEnded(_ operation: String, errno: Int32, duration: Duration)
}

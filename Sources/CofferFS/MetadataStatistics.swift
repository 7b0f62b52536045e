/// How much metadata the core holds in memory, for metrics and tests of its bounds.
public struct MetadataStatistics: Sendable, Equatable {
    /// Inodes in the table (referenced by the kernel or a handle, pending, or cached).
    public var inodes: Int
    /// Names held by all cached directory listings together.
    public var listedNames: Int
    /// Directory listings cached.
    public var listings: Int
    /// Paths remembered as absent.
    public var negativeEntries: Int
    /// The most metadata HEADs that were in flight at once so far (at most the mount's request budget).
    public var mostMetadataRequestsInFlight: Int
}

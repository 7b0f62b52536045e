/// The parameters of one ListObjectsV2 call.
public struct ListRequest: Sendable, Equatable {
    /// Only keys starting with this.
    public var prefix: String
    /// Roll keys up to this separator into common prefixes (usually "/"); nil lists every key.
    public var delimiter: String?
    /// Where the previous page ended.
    public var continuationToken: String?
    /// Only keys after this one.
    public var startAfter: String?
    /// At most this many keys and prefixes per page (1...1000).
    public var maxKeys: Int

    /// A listing of `prefix`.
    public init(prefix: String = "", delimiter: String? = nil, continuationToken: String? = nil,
                startAfter: String? = nil, maxKeys: Int = 1000) {
        self.prefix = prefix
        self.delimiter = delimiter
        self.continuationToken = continuationToken
        self.startAfter = startAfter
        self.maxKeys = maxKeys
    }
}

/// One page of a listing.
public struct ListPage: Sendable, Equatable {
    /// The keys on this page, in UTF-8 binary order.
    public var objects: [ObjectSummary]
    /// The rolled-up prefixes (each ends with the delimiter), in order.
    public var commonPrefixes: [String]
    /// True when more pages follow.
    public var isTruncated: Bool
    /// The token for the next page, when truncated.
    public var nextContinuationToken: String?

    /// A page from its parts.
    public init(objects: [ObjectSummary], commonPrefixes: [String], isTruncated: Bool,
                nextContinuationToken: String?) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.isTruncated = isTruncated
        self.nextContinuationToken = nextContinuationToken
    }
}

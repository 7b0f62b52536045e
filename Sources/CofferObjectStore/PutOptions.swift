/// Where an upload's bytes come from.
public enum ObjectBody: Sendable, Equatable {
    /// Bytes in memory.
    case bytes([UInt8])
    /// `count` bytes of a local file from `offset`, streamed, never loaded whole.
    case file(path: String, offset: UInt64, count: UInt64)

    /// The body's length in bytes.
    public var count: UInt64 {
        switch self {
        case .bytes(let b): return UInt64(b.count)
        case .file(_, _, let count): return count
        }
    }
}

/// A precondition on a write.
public enum WriteCondition: Sendable, Equatable {
    /// Write only if no object has the key (`If-None-Match: *`): never overwrite.
    case doesNotExist
    /// Write only if the current object has this ETag (`If-Match`): no lost update.
    case etagMatches(String)
}

/// How an object is stored.
public struct PutOptions: Sendable, Equatable {
    /// User metadata, names without the `x-amz-meta-` prefix.
    public var metadata: [String: String]
    /// The Content-Type to store; nil stores `application/octet-stream`.
    public var contentType: String?
    /// A precondition; nil writes unconditionally.
    public var condition: WriteCondition?

    /// Options for an upload.
    public init(metadata: [String: String] = [:], contentType: String? = nil, condition: WriteCondition? = nil) {
        self.metadata = metadata
        self.contentType = contentType
        self.condition = condition
    }
}

/// How a server-side copy treats metadata and preconditions.
public struct CopyOptions: Sendable, Equatable {
    /// What metadata the copy gets.
    public enum Metadata: Sendable, Equatable {
        /// The source's metadata and Content-Type (`x-amz-metadata-directive: COPY`).
        case copy
        /// New metadata and Content-Type (`REPLACE`); how chmod/utimens update an object in place.
        case replace([String: String], contentType: String?)
    }

    /// What metadata the copy gets.
    public var metadata: Metadata
    /// Copy only if the source's ETag is this one (`x-amz-copy-source-if-match`).
    public var sourceETag: String?
    /// A precondition on the destination.
    public var condition: WriteCondition?

    /// Options for a copy.
    public init(metadata: Metadata = .copy, sourceETag: String? = nil, condition: WriteCondition? = nil) {
        self.metadata = metadata
        self.sourceETag = sourceETag
        self.condition = condition
    }
}

/// A part of a multipart upload.
public struct CompletedPart: Sendable, Equatable {
    /// 1...10000.
    public var partNumber: Int
    /// The part's ETag, without quotes.
    public var etag: String
    /// The part's size, when known (from ListParts).
    public var size: UInt64?

    /// A part from its number and ETag.
    public init(partNumber: Int, etag: String, size: UInt64? = nil) {
        self.partNumber = partNumber
        self.etag = etag
        self.size = size
    }
}

/// A key that DeleteObjects could not delete.
public struct DeleteFailure: Sendable, Equatable {
    /// The key.
    public var key: String
    /// The error code, such as `AccessDenied`.
    public var code: String
    /// The server's message.
    public var message: String

    /// A failure from its parts.
    public init(key: String, code: String, message: String) {
        self.key = key
        self.code = code
        self.message = message
    }
}

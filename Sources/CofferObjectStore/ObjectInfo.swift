import Foundation

/// What a HEAD (or GET) says about an object.
public struct ObjectInfo: Sendable, Equatable {
    /// The object's key.
    public var key: String
    /// The object's size in bytes.
    public var size: UInt64
    /// The ETag, without quotes.
    public var etag: String
    /// When the object was last written.
    public var lastModified: Date
    /// The Content-Type it was stored with.
    public var contentType: String?
    /// User metadata (`x-amz-meta-NAME`), names lower-cased without the prefix.
    public var metadata: [String: String]
    /// The size of the object as stored, when `size` is another one: a decrypting view shows the plaintext's size
    /// and keeps the stored message's here (the size listings show). Nil when the two are the same.
    public var storedSize: UInt64?

    /// Metadata from its parts.
    public init(key: String, size: UInt64, etag: String, lastModified: Date, contentType: String? = nil,
                metadata: [String: String] = [:], storedSize: UInt64? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.contentType = contentType
        self.metadata = metadata
        self.storedSize = storedSize
    }
}

/// Bytes read from an object, with what the response said about it.
public struct ObjectData: Sendable, Equatable {
    /// The bytes returned (the requested range, or the whole object).
    public var bytes: [UInt8]
    /// The object's metadata; `size` is the whole object's size, even for a range.
    public var info: ObjectInfo

    /// Data and its object's metadata.
    public init(bytes: [UInt8], info: ObjectInfo) {
        self.bytes = bytes
        self.info = info
    }
}

/// One key of a listing.
public struct ObjectSummary: Sendable, Equatable {
    /// The full key.
    public var key: String
    /// The size in bytes.
    public var size: UInt64
    /// The ETag, without quotes.
    public var etag: String
    /// When the object was last written.
    public var lastModified: Date

    /// A listing entry from its parts.
    public init(key: String, size: UInt64, etag: String, lastModified: Date) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// The object an upload of a staged file made.
public struct UploadedObject: Sendable, Equatable {
    /// The new object's ETag.
    public var etag: String
    /// The user metadata it was stored with (the caller's, plus an encoder's).
    public var metadata: [String: String]
    /// Its size in S3: the file's size, or the encoded (encrypted) message's.
    public var storedSize: UInt64

    /// A result from its parts.
    public init(etag: String, metadata: [String: String], storedSize: UInt64) {
        self.etag = etag
        self.metadata = metadata
        self.storedSize = storedSize
    }
}

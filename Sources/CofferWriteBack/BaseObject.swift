/// The object a staged file starts from: its contents are the file's until they are overwritten or truncated away.
///
/// A `StagedFile` with no base is a new file, or one truncated to nothing when it was opened (`O_TRUNC`).
public struct BaseObject: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The object's key.
    public var key: String
    /// The object's ETag when the file was opened (or last uploaded): ranged GETs of it are sent with
    /// `If-Match` on it, so a file is never assembled from two versions of an object.
    public var etag: String
    /// The object's size in bytes.
    public var size: UInt64

    /// A base object from its key, ETag and size, as a HEAD or a listing reported them.
    public init(key: String, etag: String, size: UInt64) {
        self.key = key
        self.etag = etag
        self.size = size
    }

    /// Such as `a/b (ETag 9e10…, 1024 bytes)`.
    public var description: String { "\(key) (ETag \(etag), \(size) bytes)" }

    /// True when `etag` names the same version as this base's ETag; quotes around either are ignored.
    func hasETag(_ etag: String) -> Bool {
        Self.bare(etag) == Self.bare(self.etag)
    }

    private static func bare(_ etag: String) -> Substring {
        var etag = Substring(etag)
        if etag.count >= 2, etag.hasPrefix("\""), etag.hasSuffix("\"") { etag = etag.dropFirst().dropLast() }
        return etag
    }
}

/// A flat key-value object store with S3 semantics, bound to one bucket.
///
/// The filesystem core talks only to this protocol. `S3ObjectStore` (module CofferS3) is the real one;
/// `InMemoryObjectStore` serves fast tests. Keys are full object keys (any prefix included), UTF-8, unencoded.
public protocol ObjectStore: Sendable {
    /// Metadata of one object (S3 HeadObject).
    /// - Throws: `ObjectStoreError.notFound` when there is no such object.
    func head(_ key: String) async throws(ObjectStoreError) -> ObjectInfo

    /// The bytes of an object, or of `range` of it (S3 GetObject). A range that ends past the object is cut at its
    /// end; a range that starts at or past the end (so any range of an empty object) fails with `.invalidRange`, as
    /// S3 answers 416. An empty range (`a..<a`), which HTTP cannot express, returns no bytes and the object's metadata.
    /// - Parameter ifMatch: fail with `.preconditionFailed` unless the object's ETag is this one.
    /// - Throws: `.notFound` when there is no such object, with or without `ifMatch`.
    func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData

    /// `range` of an object's bytes in arrays of `pieceSize` bytes each (the last may be shorter), as
    /// `get(_:range:ifMatch:)` would return them. The S3 store receives them that way, with no buffer of the whole
    /// range (a block cache keeps the pieces as its blocks); the default cuts the bytes `get` returns.
    func get(_ key: String, range: Range<UInt64>, ifMatch: String?,
             pieceSize: Int) async throws(ObjectStoreError) -> [[UInt8]]

    /// Writes an object's bytes, or `range` of them, into the file at `path` starting at `fileOffset`,
    /// without holding them in memory. Returns the object's metadata and the number of bytes written.
    func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
             at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64)

    /// One page of the keys under `prefix` (S3 ListObjectsV2). With a delimiter, keys that contain it after the
    /// prefix are rolled up into `commonPrefixes`.
    func list(_ request: ListRequest) async throws(ObjectStoreError) -> ListPage

    /// Creates or replaces an object (S3 PutObject). Returns the new ETag.
    /// - Throws: `.preconditionFailed` when `options.condition` does not hold, except that `.etagMatches` on a
    ///   missing key throws `.notFound` (S3 answers If-Match on a missing key with 404 NoSuchKey).
    func put(_ key: String, body: ObjectBody, options: PutOptions) async throws(ObjectStoreError) -> String

    /// Copies an object server-side (S3 CopyObject, up to 5 GiB). Returns the new ETag.
    func copy(from source: String, to destination: String, options: CopyOptions) async throws(ObjectStoreError) -> String

    /// Deletes an object. Deleting a missing key succeeds, as in S3.
    func delete(_ key: String) async throws(ObjectStoreError)

    /// Deletes up to 1000 keys in one request (S3 DeleteObjects). Returns the keys that could not be deleted.
    func delete(keys: [String]) async throws(ObjectStoreError) -> [DeleteFailure]

    /// Starts a multipart upload. Returns its upload id. `options.condition` is not used here: S3 checks write
    /// conditions when the upload completes, so pass them to `completeMultipartUpload(_:uploadId:parts:condition:)`.
    func createMultipartUpload(_ key: String, options: PutOptions) async throws(ObjectStoreError) -> String

    /// Uploads part `partNumber` (1...10000) of a multipart upload. Returns the part's ETag.
    func uploadPart(_ key: String, uploadId: String, partNumber: Int,
                    body: ObjectBody) async throws(ObjectStoreError) -> String

    /// Fills part `partNumber` with `range` of an existing object, server-side (S3 UploadPartCopy).
    func uploadPartCopy(_ key: String, uploadId: String, partNumber: Int, source: String,
                        range: Range<UInt64>?) async throws(ObjectStoreError) -> String

    /// Completes a multipart upload from its parts, in order. Returns the object's ETag.
    /// - Parameter condition: checked against the object the upload would replace (`If-None-Match: *` or `If-Match`
    ///   on CompleteMultipartUpload); `.preconditionFailed` leaves the upload in place to be aborted.
    func completeMultipartUpload(_ key: String, uploadId: String, parts: [CompletedPart],
                                 condition: WriteCondition?) async throws(ObjectStoreError) -> String

    /// Abandons a multipart upload and frees its parts.
    func abortMultipartUpload(_ key: String, uploadId: String) async throws(ObjectStoreError)

    /// The parts uploaded so far.
    func listParts(_ key: String, uploadId: String) async throws(ObjectStoreError) -> [CompletedPart]
}

extension ObjectStore {
    /// The bytes of `get(_:range:ifMatch:)`, cut into pieces (copied): stores and decorators that do not receive
    /// pieces themselves answer through their own `get`.
    public func get(_ key: String, range: Range<UInt64>, ifMatch: String?,
                    pieceSize: Int) async throws(ObjectStoreError) -> [[UInt8]] {
        precondition(pieceSize > 0, "the piece size must be positive")
        let bytes = try await get(key, range: range, ifMatch: ifMatch).bytes
        return stride(from: 0, to: bytes.count, by: pieceSize).map {
            Array(bytes[$0..<min(bytes.count, $0 + pieceSize)])
        }
    }

    /// The whole object.
    public func get(_ key: String) async throws(ObjectStoreError) -> ObjectData {
        try await get(key, range: nil, ifMatch: nil)
    }

    /// Creates or replaces an object with no metadata or conditions.
    @discardableResult
    public func put(_ key: String, bytes: [UInt8]) async throws(ObjectStoreError) -> String {
        try await put(key, body: .bytes(bytes), options: PutOptions())
    }

    /// Completes a multipart upload unconditionally.
    @discardableResult
    public func completeMultipartUpload(_ key: String, uploadId: String,
                                        parts: [CompletedPart]) async throws(ObjectStoreError) -> String {
        try await completeMultipartUpload(key, uploadId: uploadId, parts: parts, condition: nil)
    }

    /// Every key under `prefix`, following continuation tokens, without a delimiter.
    public func listAll(prefix: String) async throws(ObjectStoreError) -> [ObjectSummary] {
        var all: [ObjectSummary] = []
        var request = ListRequest(prefix: prefix)
        while true {
            let page = try await list(request)
            all += page.objects
            guard page.isTruncated, let token = page.nextContinuationToken else { return all }
            request.continuationToken = token
        }
    }
}

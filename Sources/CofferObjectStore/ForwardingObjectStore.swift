/// A store that sends every request on to `underlying`, except those it implements itself: a decorator writes
/// only the requests it changes (a decrypting view its reads, a test store the requests it delays or gates).
public protocol ForwardingObjectStore: ObjectStore {
    /// Where the requests this store does not implement go.
    var underlying: any ObjectStore { get }
}

extension ForwardingObjectStore {
    public func head(_ key: String) async throws(ObjectStoreError) -> ObjectInfo {
        try await underlying.head(key)
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData {
        try await underlying.get(key, range: range, ifMatch: ifMatch)
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
                    at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64) {
        try await underlying.get(key, range: range, ifMatch: ifMatch, intoFile: path, at: fileOffset)
    }

    public func list(_ request: ListRequest) async throws(ObjectStoreError) -> ListPage {
        try await underlying.list(request)
    }

    public func put(_ key: String, body: ObjectBody, options: PutOptions) async throws(ObjectStoreError) -> String {
        try await underlying.put(key, body: body, options: options)
    }

    public func copy(from source: String, to destination: String,
                     options: CopyOptions) async throws(ObjectStoreError) -> String {
        try await underlying.copy(from: source, to: destination, options: options)
    }

    public func delete(_ key: String) async throws(ObjectStoreError) {
        try await underlying.delete(key)
    }

    public func delete(keys: [String]) async throws(ObjectStoreError) -> [DeleteFailure] {
        try await underlying.delete(keys: keys)
    }

    public func createMultipartUpload(_ key: String, options: PutOptions) async throws(ObjectStoreError) -> String {
        try await underlying.createMultipartUpload(key, options: options)
    }

    public func uploadPart(_ key: String, uploadId: String, partNumber: Int,
                           body: ObjectBody) async throws(ObjectStoreError) -> String {
        try await underlying.uploadPart(key, uploadId: uploadId, partNumber: partNumber, body: body)
    }

    public func uploadPartCopy(_ key: String, uploadId: String, partNumber: Int, source: String,
                               range: Range<UInt64>?) async throws(ObjectStoreError) -> String {
        try await underlying.uploadPartCopy(key, uploadId: uploadId, partNumber: partNumber, source: source, range: range)
    }

    public func completeMultipartUpload(_ key: String, uploadId: String, parts: [CompletedPart],
                                        condition: WriteCondition?) async throws(ObjectStoreError) -> String {
        try await underlying.completeMultipartUpload(key, uploadId: uploadId, parts: parts, condition: condition)
    }

    public func abortMultipartUpload(_ key: String, uploadId: String) async throws(ObjectStoreError) {
        try await underlying.abortMultipartUpload(key, uploadId: uploadId)
    }

    public func listParts(_ key: String, uploadId: String) async throws(ObjectStoreError) -> [CompletedPart] {
        try await underlying.listParts(key, uploadId: uploadId)
    }
}

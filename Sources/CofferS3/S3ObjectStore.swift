import CofferObjectStore

/// The real `ObjectStore`: an `S3Client` whose errors are mapped to `ObjectStoreError`.
public struct S3ObjectStore: ObjectStore {
    /// The client every call goes through.
    public let client: S3Client

    /// A store over `client`'s bucket.
    public init(client: S3Client) {
        self.client = client
    }

    public func head(_ key: String) async throws(ObjectStoreError) -> ObjectInfo {
        try await mapped { () throws(S3Error) in try await client.headObject(key) }
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData {
        try await mapped { () throws(S3Error) in try await client.getObject(key, range: range, ifMatch: ifMatch) }
    }

    public func get(_ key: String, range: Range<UInt64>, ifMatch: String?,
                    pieceSize: Int) async throws(ObjectStoreError) -> [[UInt8]] {
        guard !range.isEmpty else { return [] }
        return try await mapped { () throws(S3Error) in
            try await client.getObjectPieces(key, range: range, ifMatch: ifMatch, pieceSize: pieceSize)
        }
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
                    at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64) {
        try await mapped { () throws(S3Error) in
            try await client.getObject(key, range: range, ifMatch: ifMatch, intoFile: path, at: fileOffset)
        }
    }

    public func list(_ request: ListRequest) async throws(ObjectStoreError) -> ListPage {
        try await mapped { () throws(S3Error) in try await client.listObjectsV2(request) }
    }

    public func put(_ key: String, body: ObjectBody, options: PutOptions) async throws(ObjectStoreError) -> String {
        try await mapped { () throws(S3Error) in try await client.putObject(key, body: body, options: options) }
    }

    public func copy(from source: String, to destination: String,
                     options: CopyOptions) async throws(ObjectStoreError) -> String {
        try await mapped { () throws(S3Error) in try await client.copyObject(from: source, to: destination, options: options) }
    }

    public func delete(_ key: String) async throws(ObjectStoreError) {
        try await mapped { () throws(S3Error) in try await client.deleteObject(key) }
    }

    public func delete(keys: [String]) async throws(ObjectStoreError) -> [DeleteFailure] {
        try await mapped { () throws(S3Error) in try await client.deleteObjects(keys) }
    }

    public func createMultipartUpload(_ key: String, options: PutOptions) async throws(ObjectStoreError) -> String {
        try await mapped { () throws(S3Error) in try await client.createMultipartUpload(key, options: options) }
    }

    public func uploadPart(_ key: String, uploadId: String, partNumber: Int,
                           body: ObjectBody) async throws(ObjectStoreError) -> String {
        try await mapped { () throws(S3Error) in
            try await client.uploadPart(key, uploadId: uploadId, partNumber: partNumber, body: body)
        }
    }

    public func uploadPartCopy(_ key: String, uploadId: String, partNumber: Int, source: String,
                               range: Range<UInt64>?) async throws(ObjectStoreError) -> String {
        try await mapped { () throws(S3Error) in
            try await client.uploadPartCopy(key, uploadId: uploadId, partNumber: partNumber, source: source, range: range)
        }
    }

    public func completeMultipartUpload(_ key: String, uploadId: String, parts: [CompletedPart],
                                        condition: WriteCondition?) async throws(ObjectStoreError) -> String {
        try await mapped { () throws(S3Error) in
            try await client.completeMultipartUpload(key, uploadId: uploadId, parts: parts, condition: condition)
        }
    }

    public func abortMultipartUpload(_ key: String, uploadId: String) async throws(ObjectStoreError) {
        try await mapped { () throws(S3Error) in try await client.abortMultipartUpload(key, uploadId: uploadId) }
    }

    public func listParts(_ key: String, uploadId: String) async throws(ObjectStoreError) -> [CompletedPart] {
        try await mapped { () throws(S3Error) in try await client.listParts(key, uploadId: uploadId) }
    }

    private func mapped<T>(_ body: () async throws(S3Error) -> T) async throws(ObjectStoreError) -> T {
        do {
            return try await body()
        } catch {
            throw Self.map(error)
        }
    }

    /// The `ObjectStoreError` for an `S3Error`; the message keeps S3's full description.
    public static func map(_ error: S3Error) -> ObjectStoreError {
        let message = error.description
        switch error.kind {
        case .transport: return .transport(message)
        case .invalidResponse: return .invalidResponse(message)
        case .credentials: return .invalidCredentials(message)
        case .wrongRegion: return .service(code: "WrongRegion", message: message, status: error.status)
        case .service: break
        }
        switch error.code {
        case .noSuchKey, .noSuchUpload: return .notFound(message)
        case .noSuchBucket: return .noSuchBucket(message)
        case .preconditionFailed, .conditionalRequestConflict: return .preconditionFailed(message)
        case .accessDenied: return .accessDenied(message)
        case .invalidAccessKeyId, .signatureDoesNotMatch, .expiredToken, .invalidToken: return .invalidCredentials(message)
        case .invalidRange: return .invalidRange(message)
        case .slowDown: return .throttled(message)
        default: return .service(code: error.code.rawValue, message: message, status: error.status)
        }
    }
}

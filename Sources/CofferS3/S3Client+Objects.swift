import CofferAWS
import CofferHTTP
import CofferObjectStore
import Foundation

extension S3Client {
    /// An object's metadata (S3 HeadObject).
    /// - Throws: `S3Error` with code `.noSuchKey` when absent.
    public func headObject(_ key: String) async throws(S3Error) -> ObjectInfo {
        let response = try await perform(Operation(name: "HeadObject", method: "HEAD", key: key))
        return try objectInfo(key: key, response: response, operation: "HeadObject")
    }

    /// An object's bytes, or `range` of them (S3 GetObject with `Range: bytes=a-b`).
    ///
    /// - Parameters:
    ///   - ifMatch: answer 412 (`.preconditionFailed`) unless the object's ETag is this.
    ///   - ifNoneMatch: answer 304 (`.notModified`) when the object's ETag is this.
    public func getObject(_ key: String, range: Range<UInt64>? = nil, ifMatch: String? = nil,
                          ifNoneMatch: String? = nil) async throws(S3Error) -> ObjectData {
        if let range, range.isEmpty {
            return ObjectData(bytes: [], info: try await headForEmptyRange(key, ifMatch: ifMatch))
        }
        let operation = getOperation(key, range: range, ifMatch: ifMatch, ifNoneMatch: ifNoneMatch, sink: .memory)
        let response = try await perform(operation)
        let info = try objectInfo(key: key, response: response, operation: "GetObject")
        return ObjectData(bytes: response.body, info: info)
    }

    /// `range` of an object's bytes (not empty), received in arrays of `pieceSize` bytes (the last may be shorter),
    /// with no buffer of the whole range.
    /// - Throws: `.invalidResponse` when the answer does not hold exactly the range.
    public func getObjectPieces(_ key: String, range: Range<UInt64>, ifMatch: String?,
                                pieceSize: Int) async throws(S3Error) -> [[UInt8]] {
        let operation = getOperation(key, range: range, ifMatch: ifMatch, ifNoneMatch: nil,
                                     sink: .pieces(size: pieceSize))
        let response = try await perform(operation)
        guard response.bodyCount == UInt64(range.count) else {
            throw S3Error(kind: .invalidResponse, code: .internalError,
                          message: "GET of \(range.count) bytes answered \(response.bodyCount) bytes",
                          status: response.status, operation: "GetObject",
                          resource: "s3://\(configuration.bucket)/\(key)")
        }
        return response.pieces
    }

    /// Writes an object's bytes, or `range` of them, into the file at `path` from `fileOffset`, streaming.
    public func getObject(_ key: String, range: Range<UInt64>? = nil, ifMatch: String? = nil,
                          intoFile path: String, at fileOffset: UInt64) async throws(S3Error) -> (info: ObjectInfo, count: UInt64) {
        if let range, range.isEmpty {
            return (try await headForEmptyRange(key, ifMatch: ifMatch), 0)
        }
        let operation = getOperation(key, range: range, ifMatch: ifMatch, ifNoneMatch: nil,
                                     sink: .file(path: path, offset: fileOffset))
        let response = try await perform(operation)
        return (try objectInfo(key: key, response: response, operation: "GetObject"), response.bodyCount)
    }

    /// S3 cannot return zero bytes of an object: an empty range is answered with HEAD, with `ifMatch` checked here.
    private func headForEmptyRange(_ key: String, ifMatch: String?) async throws(S3Error) -> ObjectInfo {
        let info = try await headObject(key)
        if let ifMatch, Self.unquoted(ifMatch) != info.etag {
            throw S3Error(code: .preconditionFailed, message: "the object's ETag is \(info.etag), not \(ifMatch)",
                          status: 412, operation: "GetObject", resource: "s3://\(configuration.bucket)/\(key)")
        }
        return info
    }

    private func getOperation(_ key: String, range: Range<UInt64>?, ifMatch: String?, ifNoneMatch: String?,
                              sink: HTTPResponseSink) -> Operation {
        var operation = Operation(name: "GetObject", method: "GET", key: key, sink: sink)
        if let range {
            operation.headers.set("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        }
        if let ifMatch { operation.headers.set("If-Match", Self.quoted(ifMatch)) }
        if let ifNoneMatch { operation.headers.set("If-None-Match", Self.quoted(ifNoneMatch)) }
        return operation
    }

    /// Creates or replaces an object (S3 PutObject). Returns its ETag.
    ///
    /// With `options.condition = .doesNotExist` the write fails with `.preconditionFailed` when the key exists
    /// (`If-None-Match: *`); with `.etagMatches(e)` it fails unless the current ETag is `e` (`If-Match`).
    @discardableResult
    public func putObject(_ key: String, body: ObjectBody, options: PutOptions = PutOptions()) async throws(S3Error) -> String {
        var operation = Operation(name: "PutObject", method: "PUT", key: key, body: Self.httpBody(body))
        Self.apply(options, to: &operation.headers)
        configuration.objectCreation.apply(to: &operation.headers)
        let response = try await perform(operation)
        guard let etag = response.headers["ETag"] else { throw invalidResponse("PutObject", "no ETag in the answer", key: key) }
        return Self.unquoted(etag)
    }

    /// Copies `source` to `destination` inside this bucket (S3 CopyObject, up to 5 GiB). Returns the new ETag.
    /// Copying an object onto itself with `.replace` metadata is how metadata changes in place.
    @discardableResult
    public func copyObject(from source: String, to destination: String,
                           options: CopyOptions = CopyOptions()) async throws(S3Error) -> String {
        var operation = Operation(name: "CopyObject", method: "PUT", key: destination)
        operation.mayHideErrorIn200 = true
        operation.headers.set("x-amz-copy-source", copySource(source))
        switch options.metadata {
        case .copy:
            operation.headers.set("x-amz-metadata-directive", "COPY")
        case .replace(let metadata, let contentType):
            operation.headers.set("x-amz-metadata-directive", "REPLACE")
            Self.apply(PutOptions(metadata: metadata, contentType: contentType), to: &operation.headers)
        }
        if let etag = options.sourceETag { operation.headers.set("x-amz-copy-source-if-match", Self.quoted(etag)) }
        Self.applyCondition(options.condition, to: &operation.headers)
        configuration.objectCreation.apply(to: &operation.headers)
        let response = try await perform(operation)
        let document = try document(response, "CopyObject", expecting: "CopyObjectResult")
        guard let etag = document.childText("ETag") else { throw invalidResponse("CopyObject", "no ETag in CopyObjectResult", key: destination) }
        return Self.unquoted(etag)
    }

    /// Deletes an object (S3 DeleteObject). Deleting a missing key succeeds.
    public func deleteObject(_ key: String) async throws(S3Error) {
        _ = try await perform(Operation(name: "DeleteObject", method: "DELETE", key: key))
    }

    // MARK: - Helpers shared by the operations

    /// `x-amz-copy-source`: `bucket/key`, URI-encoded.
    func copySource(_ key: String) -> String {
        AWSURIEncoding.encode(configuration.bucket) + "/" + AWSURIEncoding.encode(key, encodeSlash: false)
    }

    static func httpBody(_ body: ObjectBody) -> HTTPRequestBody {
        switch body {
        case .bytes(let bytes): return bytes.isEmpty ? .empty : .bytes(bytes)
        case .file(let path, let offset, let count): return .file(path: path, offset: offset, count: count)
        }
    }

    /// Content-Type, user metadata and the write condition as headers.
    static func apply(_ options: PutOptions, to headers: inout HTTPHeaders) {
        headers.set("Content-Type", options.contentType ?? "application/octet-stream")
        for (name, value) in options.metadata.sorted(by: { $0.key < $1.key }) {
            headers.set("x-amz-meta-" + name.lowercased(), value)
        }
        applyCondition(options.condition, to: &headers)
    }

    static func applyCondition(_ condition: WriteCondition?, to headers: inout HTTPHeaders) {
        switch condition {
        case .doesNotExist: headers.set("If-None-Match", "*")
        case .etagMatches(let etag): headers.set("If-Match", quoted(etag))
        case nil: break
        }
    }

    /// ObjectInfo from HEAD or GET answer headers. For a ranged GET the size comes from `Content-Range`.
    func objectInfo(key: String, response: HTTPResponse, operation: String) throws(S3Error) -> ObjectInfo {
        let headers = response.headers
        var size: UInt64?
        if let contentRange = headers["Content-Range"], let slash = contentRange.lastIndex(of: "/") {
            size = UInt64(contentRange[contentRange.index(after: slash)...])
        }
        if size == nil { size = headers["Content-Length"].flatMap { UInt64($0) } }
        guard let size else { throw invalidResponse(operation, "no Content-Length in the answer", key: key) }
        var metadata: [String: String] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower.hasPrefix("x-amz-meta-") { metadata[String(lower.dropFirst("x-amz-meta-".count))] = value }
        }
        return ObjectInfo(key: key, size: size, etag: Self.unquoted(headers["ETag"] ?? ""),
                          lastModified: headers["Last-Modified"].flatMap(HTTPDate.parse) ?? Date(timeIntervalSince1970: 0),
                          contentType: headers["Content-Type"], metadata: metadata)
    }

    static func quoted(_ etag: String) -> String {
        etag == "*" || etag.hasPrefix("\"") ? etag : "\"\(etag)\""
    }

    static func unquoted(_ etag: String) -> String {
        var e = Substring(etag)
        if e.hasPrefix("W/") { e = e.dropFirst(2) }
        if e.count >= 2, e.hasPrefix("\""), e.hasSuffix("\"") { e = e.dropFirst().dropLast() }
        return String(e)
    }
}

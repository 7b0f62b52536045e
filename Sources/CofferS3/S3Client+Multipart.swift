import CofferAWS
import CofferCrypto
import CofferObjectStore

extension S3Client {
    /// Starts a multipart upload (S3 CreateMultipartUpload). Returns the upload id.
    public func createMultipartUpload(_ key: String, options: PutOptions = PutOptions()) async throws(S3Error) -> String {
        var operation = Operation(name: "CreateMultipartUpload", method: "POST", key: key, query: [("uploads", "")])
        Self.apply(PutOptions(metadata: options.metadata, contentType: options.contentType), to: &operation.headers)
        configuration.objectCreation.apply(to: &operation.headers)
        let response = try await perform(operation)
        let document = try document(response, "CreateMultipartUpload", expecting: "InitiateMultipartUploadResult")
        guard let id = document.childText("UploadId"), !id.isEmpty else {
            throw invalidResponse("CreateMultipartUpload", "no UploadId in the answer", key: key)
        }
        return id
    }

    /// Uploads one part (S3 UploadPart). Returns the part's ETag.
    public func uploadPart(_ key: String, uploadId: String, partNumber: Int, body: ObjectBody) async throws(S3Error) -> String {
        let operation = Operation(name: "UploadPart", method: "PUT", key: key,
                                  query: [("partNumber", "\(partNumber)"), ("uploadId", uploadId)],
                                  body: Self.httpBody(body))
        let response = try await perform(operation)
        guard let etag = response.headers["ETag"] else { throw invalidResponse("UploadPart", "no ETag in the answer", key: key) }
        return Self.unquoted(etag)
    }

    /// Fills a part with `range` of an existing object of this bucket, server-side (S3 UploadPartCopy).
    public func uploadPartCopy(_ key: String, uploadId: String, partNumber: Int, source: String,
                               range: Range<UInt64>?, sourceETag: String? = nil) async throws(S3Error) -> String {
        if let range, range.isEmpty {
            throw S3Error(code: .invalidRequest, message: "an empty source range cannot fill a part", status: 0,
                          operation: "UploadPartCopy", resource: "s3://\(configuration.bucket)/\(key)")
        }
        var operation = Operation(name: "UploadPartCopy", method: "PUT", key: key,
                                  query: [("partNumber", "\(partNumber)"), ("uploadId", uploadId)])
        operation.mayHideErrorIn200 = true
        operation.headers.set("x-amz-copy-source", copySource(source))
        if let range {
            operation.headers.set("x-amz-copy-source-range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        }
        if let sourceETag { operation.headers.set("x-amz-copy-source-if-match", Self.quoted(sourceETag)) }
        let response = try await perform(operation)
        let document = try document(response, "UploadPartCopy", expecting: "CopyPartResult")
        guard let etag = document.childText("ETag") else { throw invalidResponse("UploadPartCopy", "no ETag in CopyPartResult", key: key) }
        return Self.unquoted(etag)
    }

    /// Completes a multipart upload (S3 CompleteMultipartUpload). Returns the object's ETag.
    ///
    /// Completing is not idempotent: when the outcome of an attempt is unknown (connection lost, 5xx), the client
    /// does not blindly repeat it. It asks ListParts whether the upload still exists: if so it tries again; if it
    /// is gone, it checks with HeadObject that the object now has the multipart ETag these parts produce.
    /// - Parameter condition: `If-None-Match: *` or `If-Match` on the object the upload would replace.
    @discardableResult
    public func completeMultipartUpload(_ key: String, uploadId: String, parts: [CompletedPart],
                                        condition: WriteCondition? = nil) async throws(S3Error) -> String {
        var body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            body += "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\(XMLTree.escape(Self.quoted(part.etag)))</ETag></Part>"
        }
        body += "</CompleteMultipartUpload>"
        var operation = Operation(name: "CompleteMultipartUpload", method: "POST", key: key,
                                  query: [("uploadId", uploadId)], body: .bytes(Array(body.utf8)))
        operation.headers.set("Content-Type", "application/xml")
        Self.applyCondition(condition, to: &operation.headers)
        operation.idempotent = false
        operation.mayHideErrorIn200 = true
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try await perform(operation)
                // S3 documents <CompleteMultipartUploadResult>; moto 5.2.1 answers <CompleteMultipartUploadResponse>
                // with the same children. Both are a success, not an answer to recover from.
                let document = try document(response, "CompleteMultipartUpload", expecting: "CompleteMultipartUploadResult",
                                            or: "CompleteMultipartUploadResponse")
                return Self.unquoted(document.childText("ETag") ?? "")
            } catch {
                guard Self.outcomeIsUnknown(error), attempt < configuration.retryPolicy.maxAttempts else { throw error }
                try? await Task.sleep(for: configuration.retryPolicy.delay(beforeRetry: attempt))
                do {
                    _ = try await listParts(key, uploadId: uploadId)
                    logger.debug("CompleteMultipartUpload outcome unknown; the upload still exists, retrying")
                    continue
                } catch let check where check.code == .noSuchUpload {
                    let expected = Self.multipartETag(parts)
                    if let info = try? await headObject(key), info.etag == expected {
                        logger.debug("CompleteMultipartUpload had succeeded before its answer was lost")
                        return info.etag
                    }
                    throw error
                } catch {
                    throw error
                }
            }
        }
    }

    /// Abandons a multipart upload (S3 AbortMultipartUpload).
    public func abortMultipartUpload(_ key: String, uploadId: String) async throws(S3Error) {
        _ = try await perform(Operation(name: "AbortMultipartUpload", method: "DELETE", key: key,
                                        query: [("uploadId", uploadId)]))
    }

    /// The parts uploaded so far (S3 ListParts, all pages).
    public func listParts(_ key: String, uploadId: String) async throws(S3Error) -> [CompletedPart] {
        var parts: [CompletedPart] = []
        var marker: String?
        while true {
            var query: [(String, String)] = [("uploadId", uploadId)]
            if let marker { query.append(("part-number-marker", marker)) }
            let response = try await perform(Operation(name: "ListParts", method: "GET", key: key, query: query))
            // S3 answers <ListPartsResult>; moto 5 answers <ListPartsResponse> with the same children.
            let document = try document(response, "ListParts", expecting: "ListPartsResult", or: "ListPartsResponse")
            for part in document.children("Part") {
                guard let number = part.childText("PartNumber").flatMap({ Int($0) }),
                      let etag = part.childText("ETag") else { throw invalidResponse("ListParts", "a <Part> without number or ETag", key: key) }
                parts.append(CompletedPart(partNumber: number, etag: Self.unquoted(etag),
                                           size: part.childText("Size").flatMap { UInt64($0) }))
            }
            guard document.childText("IsTruncated") == "true", let next = document.childText("NextPartNumberMarker") else {
                return parts
            }
            marker = next
        }
    }

    /// The ETag S3 gives an object completed from `parts`: MD5 of the parts' binary MD5s, then `-COUNT`.
    /// nil when a part ETag is not a plain MD5 (then the ETag cannot be predicted).
    static func multipartETag(_ parts: [CompletedPart]) -> String? {
        var digests: [UInt8] = []
        for part in parts {
            guard let bytes = Hex.decode(part.etag), bytes.count == 16 else { return nil }
            digests += bytes
        }
        return Hex.encode(MD5.hash(digests)) + "-\(parts.count)"
    }

    /// True when a failed request may have taken effect anyway.
    static func outcomeIsUnknown(_ error: S3Error) -> Bool {
        switch error.kind {
        case .transport(let http): return http.isRetryable
        case .service: return error.code.isRetryable || error.status >= 500
        case .invalidResponse: return true
        case .wrongRegion, .credentials: return false
        }
    }
}

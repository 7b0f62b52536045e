import Foundation

extension InMemoryObjectStore {
    struct Part: Sendable {
        var bytes: [UInt8]
        /// The binary MD5 of `bytes`; the part's ETag is its hex.
        var digest: [UInt8]
        var etag: String
    }

    struct Upload: Sendable {
        var key: String
        var byteKey: ByteKey
        var id: String
        var contentType: String
        var metadata: [String: String]
        /// The Last-Modified of the object it creates: S3 dates a multipart object from the upload's initiation.
        var initiated: Date
        var parts: [Int: Part] = [:]
    }

    public func createMultipartUpload(_ key: String, options: PutOptions) async throws(ObjectStoreError) -> String {
        let now = timestamp()
        return try perform(Request(operation: .createMultipartUpload, key: key)) { state throws(ObjectStoreError) in
            try Self.validate(key: key)
            let metadata = try Self.normalize(metadata: options.metadata)
            state.uploadCounter += 1
            let id = "mem-upload-\(state.uploadCounter)"
            state.uploads[id] = Upload(key: key, byteKey: ByteKey(key), id: id,
                                       contentType: options.contentType ?? Self.defaultContentType,
                                       metadata: metadata, initiated: now)
            return id
        }
    }

    public func uploadPart(_ key: String, uploadId: String, partNumber: Int,
                           body: ObjectBody) async throws(ObjectStoreError) -> String {
        let bytes = try LocalFile.read(body)
        let digest = MD5.digest(bytes)
        return try perform(Request(operation: .uploadPart, key: key)) { state throws(ObjectStoreError) in
            try Self.validate(partNumber: partNumber)
            return try state.store(Part(bytes: bytes, digest: digest, etag: MD5.hexString(digest)),
                            as: partNumber, of: uploadId, key: key)
        }
    }

    public func uploadPartCopy(_ key: String, uploadId: String, partNumber: Int, source: String,
                               range: Range<UInt64>?) async throws(ObjectStoreError) -> String {
        let lateFailure = try admit(Request(operation: .uploadPartCopy, key: key, range: range))
        // Validate and take the bytes under the lock, hash outside it, store under it again.
        let (bytes, slice) = try state.withLock { state throws(ObjectStoreError) in
            try Self.validate(partNumber: partNumber)
            _ = try state.upload(uploadId, key: key)
            let object = try state.object(source)
            let size = UInt64(object.bytes.count)
            guard let range else { return (object.bytes, 0..<object.bytes.count) }
            guard !range.isEmpty, range.upperBound <= size else {
                throw .service(code: "InvalidArgument",
                               message: "Range specified is not valid for source object of size: \(size)", status: 400)
            }
            return (object.bytes, Int(range.lowerBound)..<Int(range.upperBound))
        }
        let partBytes = Array(bytes[slice])
        let digest = MD5.digest(partBytes)
        let etag = try state.withLock { state throws(ObjectStoreError) in
            try state.store(Part(bytes: partBytes, digest: digest, etag: MD5.hexString(digest)),
                            as: partNumber, of: uploadId, key: key)
        }
        if let lateFailure { throw lateFailure }
        return etag
    }

    public func completeMultipartUpload(_ key: String, uploadId: String, parts: [CompletedPart],
                                        condition: WriteCondition?) async throws(ObjectStoreError) -> String {
        try perform(Request(operation: .completeMultipartUpload, key: key)) { state throws(ObjectStoreError) in
            let byteKey = ByteKey(key)
            guard let upload = state.uploads[uploadId], upload.byteKey == byteKey else {
                // A retried completion of an upload that created the object now in place succeeds again.
                if let done = state.completedUploads[uploadId], done.key == byteKey,
                   let object = state.objects[byteKey], object.uploadId == uploadId {
                    return done.etag
                }
                throw Self.noSuchUpload(uploadId)
            }
            guard !parts.isEmpty else {
                throw .service(code: "MalformedXML",
                               message: "The XML you provided was not well-formed or did not validate against our "
                                   + "published schema (a completion needs at least one part)",
                               status: 400)
            }
            for (previous, next) in zip(parts, parts.dropFirst()) where next.partNumber <= previous.partNumber {
                throw .service(code: "InvalidPartOrder",
                               message: "The list of parts was not in ascending order. Parts must be ordered by part "
                                   + "number (part \(next.partNumber) follows part \(previous.partNumber)).",
                               status: 400)
            }
            var chosen: [Part] = []
            for requested in parts {
                guard let part = upload.parts[requested.partNumber], Self.etag(requested.etag, matches: part.etag) else {
                    throw .service(code: "InvalidPart",
                                   message: "One or more of the specified parts could not be found. The part may not "
                                       + "have been uploaded, or the specified entity tag may not match the part's "
                                       + "entity tag (part \(requested.partNumber), ETag \(requested.etag)).",
                                   status: 400)
                }
                chosen.append(part)
            }
            for (part, requested) in zip(chosen, parts).dropLast() where UInt64(part.bytes.count) < minimumPartSize {
                throw .service(code: "EntityTooSmall",
                               message: "Your proposed upload is smaller than the minimum allowed object size (part "
                                   + "\(requested.partNumber) has \(part.bytes.count) bytes, the minimum is "
                                   + "\(minimumPartSize)).",
                               status: 400)
            }
            try state.check(condition, on: key)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(chosen.reduce(0) { $0 + $1.bytes.count })
            for part in chosen { bytes += part.bytes }
            let etag = MD5.hex(chosen.flatMap(\.digest)) + "-\(chosen.count)"
            state.store(StoredObject(key: key, bytes: bytes, etag: etag, lastModified: upload.initiated,
                                     contentType: upload.contentType, metadata: upload.metadata, uploadId: uploadId))
            state.uploads[uploadId] = nil
            state.completedUploads[uploadId] = (byteKey, etag)
            return etag
        }
    }

    public func abortMultipartUpload(_ key: String, uploadId: String) async throws(ObjectStoreError) {
        try perform(Request(operation: .abortMultipartUpload, key: key)) { state throws(ObjectStoreError) in
            _ = try state.upload(uploadId, key: key)
            state.uploads[uploadId] = nil
        }
    }

    public func listParts(_ key: String, uploadId: String) async throws(ObjectStoreError) -> [CompletedPart] {
        try perform(Request(operation: .listParts, key: key)) { state throws(ObjectStoreError) in
            try state.upload(uploadId, key: key).parts
                .sorted { $0.key < $1.key }
                .map { CompletedPart(partNumber: $0.key, etag: $0.value.etag, size: UInt64($0.value.bytes.count)) }
        }
    }

    static func validate(partNumber: Int) throws(ObjectStoreError) {
        guard (1...10_000).contains(partNumber) else {
            throw .service(code: "InvalidArgument",
                           message: "Part number must be an integer between 1 and 10000, inclusive (not \(partNumber))",
                           status: 400)
        }
    }

    static func noSuchUpload(_ uploadId: String) -> ObjectStoreError {
        .notFound("NoSuchUpload: The specified upload does not exist. The upload ID may be invalid, or the upload "
                  + "may have been aborted or completed (\(uploadId)).")
    }
}

extension InMemoryObjectStore.State {
    /// The pending upload `uploadId`, which must have been started for `key`.
    func upload(_ uploadId: String, key: String) throws(ObjectStoreError) -> InMemoryObjectStore.Upload {
        guard let upload = uploads[uploadId], upload.byteKey == InMemoryObjectStore.ByteKey(key) else {
            throw InMemoryObjectStore.noSuchUpload(uploadId)
        }
        return upload
    }

    /// Stores (or replaces) part `number` of a pending upload; returns its ETag.
    mutating func store(_ part: InMemoryObjectStore.Part, as number: Int, of uploadId: String,
                        key: String) throws(ObjectStoreError) -> String {
        _ = try upload(uploadId, key: key)
        uploads[uploadId]!.parts[number] = part
        return part.etag
    }
}

import CofferObjectStore
import Logging

extension Uploader {
    /// Sends `snapshot` of `file` as a multipart upload: copied and uploaded parts in parallel, then completion with
    /// `options.condition`. Aborts the upload on any failure.
    /// - Parameter encodedPath: when set, every byte comes from this complete file (an encoded copy of `file`),
    ///   and `snapshot` describes it (no base).
    func uploadMultipart(_ file: StagedFile, snapshot: StagedFile.Snapshot, from encodedPath: String? = nil,
                         as key: String, options: PutOptions) async throws(WriteBackError) -> String {
        let plan = MultipartPlan(snapshot: snapshot, preferredPartSize: partSize)
        try checkCancellation(key)
        let uploadId: String
        do throws(ObjectStoreError) {
            uploadId = try await store.createMultipartUpload(key, options: options)
        } catch {
            throw .store(error, "CreateMultipartUpload \(key) failed; the data stays staged and the next flush retries")
        }
        logger.debug("multipart upload started", metadata: [
            "key": "\(key)", "uploadId": "\(uploadId)", "size": "\(snapshot.size)", "parts": "\(plan.parts.count)",
            "partSize": "\(plan.partSize)", "copied": "\(plan.copiedPartCount)",
        ])
        do throws(WriteBackError) {
            let source = encodedPath.map(PartSource.complete) ?? .staged(file)
            let parts = try await transferParts(of: plan, from: source, base: snapshot.base, to: key, uploadId: uploadId)
            if plan.copiedPartCount > 0, let base = snapshot.base {
                try await verifyUnchanged(base, stagedAt: file.path)
            }
            try checkCancellation(key)
            do throws(ObjectStoreError) {
                return try await store.completeMultipartUpload(key, uploadId: uploadId, parts: parts,
                                                               condition: options.condition)
            } catch {
                throw .store(error, "CompleteMultipartUpload \(key) (\(parts.count) parts) failed; the upload is "
                             + "aborted, the data stays staged and the next flush retries")
            }
        } catch {
            await abort(key, uploadId: uploadId)
            throw error
        }
    }

    /// Transfers every part, at most `concurrency` at once; stops starting parts at the first failure.
    /// Returns the completed parts in order.
    private func transferParts(of plan: MultipartPlan, from file: PartSource, base: BaseObject?, to key: String,
                               uploadId: String) async throws(WriteBackError) -> [CompletedPart] {
        let outcome = await withTaskGroup(
            of: Result<CompletedPart, WriteBackError>.self, returning: Result<[CompletedPart], WriteBackError>.self
        ) { group in
            var waiting = plan.parts[...]
            var inFlight = 0
            var completed: [CompletedPart] = []
            var failure: WriteBackError?
            while inFlight < concurrency, let part = waiting.popFirst() {
                group.addTask { await self.transfer(part, from: file, base: base, to: key, uploadId: uploadId) }
                inFlight += 1
            }
            while let result = await group.next() {
                inFlight -= 1
                switch result {
                case .success(let part):
                    completed.append(part)
                case .failure(let error):
                    if failure == nil {
                        failure = error
                        group.cancelAll()
                    }
                }
                if failure == nil, Task.isCancelled {
                    failure = .cancelled("the upload of \(key) was cancelled before it completed; the data stays "
                                         + "staged")
                    group.cancelAll()
                }
                if failure == nil, let part = waiting.popFirst() {
                    group.addTask { await self.transfer(part, from: file, base: base, to: key, uploadId: uploadId) }
                    inFlight += 1
                }
            }
            if let failure { return .failure(failure) }
            return .success(completed.sorted { $0.partNumber < $1.partNumber })
        }
        return try outcome.get()
    }

    /// Where the bytes of uploaded parts come from.
    enum PartSource: Sendable {
        /// The staging file, whose missing base bytes are fetched first.
        case staged(StagedFile)
        /// A complete local file.
        case complete(String)

        var path: String {
            switch self {
            case .staged(let file): return file.path
            case .complete(let path): return path
            }
        }
    }

    /// Fills one part: UploadPartCopy from the base, or UploadPart from the staging file after fetching the part's
    /// missing base bytes.
    private func transfer(_ part: MultipartPlan.Part, from file: PartSource, base: BaseObject?, to key: String,
                          uploadId: String) async -> Result<CompletedPart, WriteBackError> {
        do throws(WriteBackError) {
            let etag: String
            if part.source == .base, let base {
                etag = try await copy(part, of: base, stagedAt: file.path, to: key, uploadId: uploadId)
            } else {
                if case .staged(let staged) = file { try await staged.ensurePresent(part.range) }
                let count = part.range.upperBound - part.range.lowerBound
                do throws(ObjectStoreError) {
                    etag = try await store.uploadPart(key, uploadId: uploadId, partNumber: part.number,
                                                      body: .file(path: file.path, offset: part.range.lowerBound,
                                                                  count: count))
                } catch {
                    throw .store(error, "UploadPart \(part.number) of \(key) (bytes \(part.range) of \(file.path)) "
                                 + "failed; the upload is aborted, the data stays staged and the next flush retries")
                }
            }
            return .success(CompletedPart(partNumber: part.number, etag: etag))
        } catch {
            return .failure(error)
        }
    }

    /// UploadPartCopy of the part's range of the base. A failure caused by the base having changed is reported as
    /// `.baseChanged`.
    private func copy(_ part: MultipartPlan.Part, of base: BaseObject, stagedAt path: String, to key: String,
                      uploadId: String) async throws(WriteBackError) -> String {
        do throws(ObjectStoreError) {
            return try await store.uploadPartCopy(key, uploadId: uploadId, partNumber: part.number, source: base.key,
                                                  range: part.range)
        } catch {
            if await isCurrent(base) == false {
                throw StagedFile.baseChanged(base, path: path,
                                             detail: "UploadPartCopy of part \(part.number) failed: \(error)")
            }
            throw .store(error, "UploadPartCopy \(part.number) of \(key) from \(base.key) bytes \(part.range) failed; "
                         + "the upload is aborted, the data stays staged and the next flush retries")
        }
    }

    /// Throws `.baseChanged` unless `base.key` still has `base.etag`: the parts copied from it are then its bytes.
    private func verifyUnchanged(_ base: BaseObject, stagedAt path: String) async throws(WriteBackError) {
        let info: ObjectInfo
        do throws(ObjectStoreError) {
            info = try await store.head(base.key)
        } catch {
            if case .notFound = error {
                throw StagedFile.baseChanged(base, path: path, detail: "it was deleted")
            }
            throw .store(error, "HeadObject \(base.key), to check that the parts copied from it are current, failed; "
                         + "the upload is aborted, the data stays staged and the next flush retries")
        }
        guard base.hasETag(info.etag) else {
            throw StagedFile.baseChanged(base, path: path, detail: "it now has ETag \(info.etag)")
        }
    }

    /// True when `base.key` still has `base.etag`, false when it changed or is gone, nil when HEAD failed otherwise.
    private func isCurrent(_ base: BaseObject) async -> Bool? {
        do throws(ObjectStoreError) {
            return base.hasETag(try await store.head(base.key).etag)
        } catch {
            if case .notFound = error { return false }
            return nil
        }
    }

    /// Aborts a multipart upload, best effort: a failure is logged (S3 lifecycle rules can clean up what is left).
    /// Runs in its own task so that a cancelled upload still aborts.
    private func abort(_ key: String, uploadId: String) async {
        let store = self.store
        let failure = await Task { () -> ObjectStoreError? in
            do throws(ObjectStoreError) {
                try await store.abortMultipartUpload(key, uploadId: uploadId)
                return nil
            } catch {
                return error
            }
        }.value
        if let failure {
            logger.warning(
                "could not abort a failed multipart upload; its parts stay billed until a lifecycle rule removes them",
                metadata: ["key": "\(key)", "uploadId": "\(uploadId)", "error": "\(failure)"])
        } else {
            logger.debug("multipart upload aborted", metadata: ["key": "\(key)", "uploadId": "\(uploadId)"])
        }
    }
}

import CofferObjectStore
import Logging

/// Uploads staged files: one PUT for small files, a multipart upload with parallel parts for large ones.
///
/// **Small files** (at most `multipartThreshold` bytes, and never over S3's 5 GiB PUT limit): the missing base
/// ranges are fetched into the staging file, then one PutObject streams it.
///
/// **Large files**: the file is cut into parts (`MultipartPlan`). Parts that are unchanged base data at the same
/// offsets are filled server-side with UploadPartCopy from the base key; the others get their missing base ranges
/// fetched, then are sent from the staging file with UploadPart. Up to `concurrency` parts are in flight. When parts
/// were copied, a HeadObject checks that the base still has the ETag the file was opened with before the upload is
/// completed (the `ObjectStore` API has no copy-source condition on UploadPartCopy), so a file is never assembled
/// from two versions of an object. CompleteMultipartUpload carries `options.condition`.
///
/// **Failures**: a multipart upload is aborted (best effort), the file stays dirty with its staging file untouched,
/// and the error is thrown, so the caller can report it (close/fsync → EIO) and a later flush can retry. Individual
/// requests are retried by the S3 client underneath; the uploader retries nothing.
public final class Uploader: Sendable {
    /// S3's largest single PUT: 5 GiB. Larger files always use multipart uploads.
    public static let maximumSinglePutSize: UInt64 = 5 << 30

    /// Files larger than this use a multipart upload.
    public let multipartThreshold: UInt64
    /// The preferred size of every part but the last (grown for files that would need more than 10,000 parts).
    public let partSize: UInt64
    /// The most parts in flight at once.
    public let concurrency: Int

    /// Encodes (encrypts) each file before it is sent, when set.
    public let encoder: (any UploadEncoder)?

    let store: any ObjectStore
    let logger: Logger

    /// An uploader to `store`.
    /// - Parameters:
    ///   - multipartThreshold: files up to this size are sent with one PUT (capped at 5 GiB).
    ///   - partSize: the preferred part size. S3 rejects parts but the last under 5 MiB, so use at least that with
    ///     S3 (tests may use less with an `InMemoryObjectStore` whose `minimumPartSize` is lower).
    ///   - concurrency: the most parts in flight at once (at least 1).
    ///   - encoder: what every file is encoded with before upload (nil: files are sent as they are).
    ///   - logger: where uploads and aborts are logged (at debug level; failed aborts at warning).
    public init(store: any ObjectStore, multipartThreshold: UInt64 = 16 << 20, partSize: UInt64 = 16 << 20,
                concurrency: Int = 8, encoder: (any UploadEncoder)? = nil,
                logger: Logger = Logger(label: "coffer.writeback")) {
        self.store = store
        self.encoder = encoder
        self.multipartThreshold = min(multipartThreshold, Self.maximumSinglePutSize)
        self.partSize = max(partSize, 1)
        self.concurrency = max(concurrency, 1)
        self.logger = logger
    }

    /// Uploads the staged file's current contents as `key` with `options` (metadata, content type, condition), and
    /// returns the new ETag.
    ///
    /// `key` may differ from the base's key (after a rename): unchanged parts are still copied from the base.
    /// On success the file becomes clean and the uploaded object becomes its base, so the next change can copy
    /// unchanged parts from it, unless the file was written or truncated during the upload: then it stays dirty.
    /// Uploads of one file are serialized. On failure a multipart upload is aborted, the file stays dirty with its
    /// data intact, and the error is thrown.
    /// - Throws: `.store` when a request failed (`.store(.preconditionFailed, _)` when `options.condition` did not
    ///   hold), `.baseChanged` when the base object changed on the server, `.localIO`, `.discarded`, `.cancelled`.
    @discardableResult
    public func upload(_ file: StagedFile, as key: String, options: PutOptions) async throws(WriteBackError) -> String {
        try await send(file, as: key, options: options).etag
    }

    /// Uploads like `upload(_:as:options:)` and returns the new ETag and the user metadata stored with the object
    /// (`options.metadata` plus what the encoder added).
    public func send(_ file: StagedFile, as key: String,
                     options: PutOptions) async throws(WriteBackError) -> UploadedObject {
        let snapshot = try await file.beginUpload()
        do throws(WriteBackError) {
            var options = options
            let etag: String
            var storedSize = snapshot.size
            if let encoder {
                (etag, storedSize) = try await uploadEncoded(file, snapshot: snapshot, with: encoder, as: key,
                                                             options: &options)
            } else if snapshot.size <= multipartThreshold {
                etag = try await putWhole(file, snapshot: snapshot, as: key, options: options)
            } else {
                etag = try await uploadMultipart(file, snapshot: snapshot, as: key, options: options)
            }
            file.finishUpload(snapshot, key: key, etag: etag)
            logger.debug("uploaded staged file", metadata: [
                "key": "\(key)", "size": "\(snapshot.size)", "etag": "\(etag)", "staging": "\(file.path)",
            ])
            return UploadedObject(etag: etag, metadata: options.metadata, storedSize: storedSize)
        } catch {
            file.abandonUpload()
            logger.debug("upload failed; the file stays dirty", metadata: [
                "key": "\(key)", "error": "\(error)", "staging": "\(file.path)",
            ])
            throw error
        }
    }

    /// Makes the file complete, encodes it next to the staging file and sends the encoded file whole; adds the
    /// encoder's metadata to `options`. Returns the ETag and the encoded size.
    private func uploadEncoded(_ file: StagedFile, snapshot: StagedFile.Snapshot, with encoder: any UploadEncoder,
                               as key: String,
                               options: inout PutOptions) async throws(WriteBackError) -> (String, UInt64) {
        try await file.ensurePresent(0..<snapshot.size)
        try checkCancellation(key)
        let encodedPath = file.path + ".encoded"
        StagingFileIO.removeIfPresent(encodedPath)
        defer { StagingFileIO.removeIfPresent(encodedPath) }
        let encoded = try await encoder.encode(file.path, size: snapshot.size, into: encodedPath)
        options.metadata.merge(encoded.metadata) { _, added in added }
        let whole = StagedFile.Snapshot(size: encoded.size, base: nil, baseLimit: 0, dirty: ByteRangeSet(),
                                        generation: snapshot.generation)
        if encoded.size <= multipartThreshold {
            try checkCancellation(key)
            do throws(ObjectStoreError) {
                return (try await store.put(key, body: .file(path: encodedPath, offset: 0, count: encoded.size),
                                            options: options), encoded.size)
            } catch {
                throw .store(error, "PutObject \(key) (\(encoded.size) encoded bytes from \(encodedPath)) failed; the "
                             + "data stays staged in \(file.path) and the next flush retries")
            }
        }
        return (try await uploadMultipart(file, snapshot: whole, from: encodedPath, as: key, options: options),
                encoded.size)
    }

    /// Fetches the missing base ranges, then sends the whole file with one PutObject.
    private func putWhole(_ file: StagedFile, snapshot: StagedFile.Snapshot, as key: String,
                          options: PutOptions) async throws(WriteBackError) -> String {
        try await file.ensurePresent(0..<snapshot.size)
        try checkCancellation(key)
        do throws(ObjectStoreError) {
            return try await store.put(key, body: .file(path: file.path, offset: 0, count: snapshot.size),
                                       options: options)
        } catch {
            throw .store(error, "PutObject \(key) (\(snapshot.size) bytes from \(file.path)) failed; the data stays "
                         + "staged and the next flush retries")
        }
    }

    /// Throws `.cancelled` when the calling task was cancelled.
    func checkCancellation(_ key: String) throws(WriteBackError) {
        if Task.isCancelled {
            throw .cancelled("the upload of \(key) was cancelled before it completed; the data stays staged")
        }
    }
}

import Foundation
import Synchronization

/// An `ObjectStore` held in memory that behaves like one S3 bucket, for tests of the layers above.
///
/// It follows S3 as closely as the protocol allows:
/// - **ETags** are S3's: the hex MD5 of the bytes for a PUT (and for a CopyObject), and for a completed multipart
///   upload the hex MD5 of the concatenated binary MD5s of its parts followed by `-<part count>`. Equal bytes give
///   equal ETags, as in S3. (The MD5 is computed in plain Swift: this module depends on no other.)
/// - **Keys** are compared as UTF-8 bytes, never as Swift `String`s: `"é"` (U+00E9) and `"e\u{301}"` are two
///   keys, and listings are in UTF-8 binary order, as in S3.
/// - **Last-Modified** comes from the injected clock, cut to whole seconds (S3 sends it with one-second precision).
///   A completed multipart upload gets its initiation time, as in S3; a copy gets the time of the copy.
/// - **Content-Type** defaults to `application/octet-stream`; metadata names are lower-cased, and user metadata
///   larger than 2 KB (names plus values, in UTF-8) fails with `MetadataTooLarge`. Keys must be 1...1024 UTF-8
///   bytes long for writes (`InvalidArgument`, `KeyTooLongError`).
/// - **Ranges**: a range that ends past the object is cut at its end; one that starts at or past the end fails
///   with `.invalidRange` (S3: 416 InvalidRange). That includes every range of an empty object: S3 answers
///   `Range: bytes=0-` on a 0-byte object with 416 too. An empty range (`a..<a`), which HTTP cannot express,
///   returns no bytes and the object's metadata, counted as a HEAD: what `S3ObjectStore` does.
/// - **Conditions**: `.doesNotExist` fails with `.preconditionFailed` when the key exists; `.etagMatches` fails
///   with `.preconditionFailed` when the ETag differs and with `.notFound` when there is no object (S3 answers
///   If-Match on a missing key with 404 NoSuchKey). The same holds for `ifMatch` on GET. ETags are compared
///   without surrounding quotes.
/// - **Multipart**: part numbers 1...10000; every part but the last of a completion must be at least
///   `minimumPartSize` bytes (`EntityTooSmall`); parts must be listed in strictly ascending order
///   (`InvalidPartOrder`) and each must have been uploaded with the given ETag (`InvalidPart`); any subset of the
///   uploaded parts may be completed. The `condition` given to `completeMultipartUpload` is checked there, as S3
///   checks If-None-Match/If-Match on CompleteMultipartUpload. Completing an already-completed upload again returns its
///   ETag while the object it created is still in place (S3's CompleteMultipartUpload is idempotent); otherwise
///   an unknown upload id, or one started for another key, fails with `.notFound` (NoSuchUpload).
///   UploadPartCopy ranges must lie inside the source (`InvalidArgument`), as in S3.
/// - **DeleteObjects** reports missing keys as deleted. An empty list makes no request; longer lists than 1000 keys
///   count one DELETE_OBJECTS request per 1000 keys, as `S3ObjectStore` sends them in batches.
/// - **Copy** onto itself with `.copy` metadata fails with `.service(code: "InvalidRequest", status: 400)`, as in S3.
/// - **Listing** follows ListObjectsV2: a common prefix counts once toward `maxKeys` (clamped into 1...1000, as
///   `S3ObjectStore` sends it); `isTruncated` is exact; a continuation token (opaque) encodes the last key or
///   common prefix returned, so paging stays consistent when keys are added or removed between pages; a token
///   takes precedence over `startAfter`. Both skip every key or common prefix that sorts at or before them, so a
///   `startAfter` inside a common prefix skips that prefix (what moto does; S3's choice here is undocumented).
///   A token this store did not make fails with `.service(code: "InvalidArgument", status: 400)`.
/// - `.file` bodies are read from disk when the request is made; `get(_:range:ifMatch:intoFile:at:)` writes with
///   `pwrite` at the offset, creating the file if it does not exist and never truncating it. Local I/O errors
///   are reported as `.transport`.
///
/// For tests of the layers above it counts requests (`requestCounts`, `requestLog`, `resetCounts()`), can make
/// requests fail (`failNext(_:with:count:timing:)`, `setFaultInjector(_:)`), and can be inspected without
/// counting requests (`peek(_:)`, `keys`, `pendingUploads`).
///
/// All state is behind one `Mutex`, held only for in-memory work; file I/O happens outside it.
public final class InMemoryObjectStore: ObjectStore {
    /// The S3 request an `ObjectStore` call makes; what `requestCounts` and the fault hooks are keyed by.
    public enum Operation: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// HeadObject.
        case head = "HEAD"
        /// GetObject, into memory or into a file.
        case get = "GET"
        /// ListObjectsV2.
        case list = "LIST"
        /// PutObject.
        case put = "PUT"
        /// CopyObject.
        case copy = "COPY"
        /// DeleteObject.
        case delete = "DELETE"
        /// DeleteObjects.
        case deleteObjects = "DELETE_OBJECTS"
        /// CreateMultipartUpload.
        case createMultipartUpload = "CREATE_MULTIPART_UPLOAD"
        /// UploadPart.
        case uploadPart = "UPLOAD_PART"
        /// UploadPartCopy.
        case uploadPartCopy = "UPLOAD_PART_COPY"
        /// CompleteMultipartUpload.
        case completeMultipartUpload = "COMPLETE_MULTIPART_UPLOAD"
        /// AbortMultipartUpload.
        case abortMultipartUpload = "ABORT_MULTIPART_UPLOAD"
        /// ListParts.
        case listParts = "LIST_PARTS"

        /// The multipart operations, for summing them with `requestCount(_:)`.
        public static let multipart: [Operation] = [
            .createMultipartUpload, .uploadPart, .uploadPartCopy, .completeMultipartUpload, .abortMultipartUpload,
            .listParts,
        ]

        /// The raw name, such as `GET`.
        public var description: String { rawValue }
    }

    /// One request made to the store, as recorded in `requestLog` and passed to a fault injector.
    public struct Request: Sendable, Equatable, CustomStringConvertible {
        /// What was asked.
        public var operation: Operation
        /// The object key (the destination of a copy); the prefix of a LIST; empty for DELETE_OBJECTS.
        public var key: String
        /// The byte range of a GET or UPLOAD_PART_COPY, when one was given.
        public var range: Range<UInt64>?

        /// A request from its parts.
        public init(operation: Operation, key: String, range: Range<UInt64>? = nil) {
            self.operation = operation
            self.key = key
            self.range = range
        }

        /// Such as `GET a/b [0..<10]`.
        public var description: String {
            var text = "\(operation) \(key)"
            if let range { text += " [\(range)]" }
            return text
        }
    }

    /// When an injected failure strikes.
    public enum FaultTiming: Sendable, Equatable {
        /// The request fails and has no effect, as when it never reached the server.
        case beforeApplying
        /// The request takes effect, then fails anyway, as when the response is lost after a write succeeded.
        case afterApplying
    }

    /// An upload started and neither completed nor aborted.
    public struct PendingUpload: Sendable, Equatable {
        /// The key it will create.
        public var key: String
        /// Its upload id.
        public var uploadId: String
        /// The numbers of the parts uploaded so far, ascending.
        public var partNumbers: [Int]

        /// An upload from its parts.
        public init(key: String, uploadId: String, partNumbers: [Int]) {
            self.key = key
            self.uploadId = uploadId
            self.partNumbers = partNumbers
        }
    }

    /// S3's smallest part size: 5 MiB.
    public static let s3MinimumPartSize: UInt64 = 5 * 1024 * 1024

    /// The smallest size of every part but the last when an upload completes.
    public let minimumPartSize: UInt64

    let clock: @Sendable () -> Date
    let state = Mutex(State())

    /// An empty bucket.
    /// - Parameters:
    ///   - minimumPartSize: the smallest part (but the last) `completeMultipartUpload` accepts; S3's is 5 MiB.
    ///     Tests can lower it to exercise multipart uploads with small parts.
    ///   - now: the clock that stamps Last-Modified (cut to whole seconds).
    public init(minimumPartSize: UInt64 = InMemoryObjectStore.s3MinimumPartSize,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.minimumPartSize = minimumPartSize
        self.clock = now
    }

    // MARK: - Request counting and fault injection

    /// How many requests of each operation were made since the store was created or `resetCounts()` was called.
    /// Operations not requested are absent. Failed requests count, including injected failures.
    public var requestCounts: [Operation: Int] {
        state.withLock { $0.counts }
    }

    /// The number of requests made of all `operations` together (of every operation when none are given).
    public func requestCount(_ operations: Operation...) -> Int {
        requestCount(operations)
    }

    /// The number of requests made of all `operations` together (of every operation when empty).
    public func requestCount(_ operations: [Operation]) -> Int {
        state.withLock { state in
            operations.isEmpty ? state.counts.values.reduce(0, +) : operations.reduce(0) { $0 + state.counts[$1, default: 0] }
        }
    }

    /// Every request since the store was created or `resetCounts()` was called, oldest first.
    public var requestLog: [Request] {
        state.withLock { $0.log }
    }

    /// Forgets the requests counted and logged so far (not the objects, nor pending faults).
    public func resetCounts() {
        state.withLock { state in
            state.counts = [:]
            state.log = []
        }
    }

    /// Makes the next `count` requests of `operation` fail with `error`.
    ///
    /// Queued failures are used before the fault injector is consulted; calling this again for the same
    /// operation queues more failures after the ones already waiting.
    /// - Parameter timing: whether the failing requests take effect first (default: they do not).
    public func failNext(_ operation: Operation, with error: ObjectStoreError, count: Int = 1,
                         timing: FaultTiming = .beforeApplying) {
        guard count > 0 else { return }
        state.withLock { state in
            state.queuedFaults[operation, default: []] += Array(repeating: Fault(error: error, timing: timing), count: count)
        }
    }

    /// Sets a closure called for every request not failed by `failNext`: returning an error fails that request
    /// before it takes effect. Pass nil to remove it. It is called outside the store's lock and may call the store.
    public func setFaultInjector(_ injector: (@Sendable (Request) -> ObjectStoreError?)?) {
        state.withLock { $0.injector = injector }
    }

    /// Removes every queued failure and the fault injector.
    public func clearFaults() {
        state.withLock { state in
            state.queuedFaults = [:]
            state.injector = nil
        }
    }

    // MARK: - Inspection (no request is counted)

    /// Every key, in UTF-8 binary order.
    public var keys: [String] {
        state.withLock { state in state.sortedKeys.map { state.objects[$0]!.key } }
    }

    /// The object under `key` with its metadata, read without counting a request or applying faults.
    public func peek(_ key: String) -> ObjectData? {
        state.withLock { state in
            state.objects[ByteKey(key)].map { ObjectData(bytes: $0.bytes, info: $0.info) }
        }
    }

    /// The multipart uploads neither completed nor aborted, by key then upload id.
    public var pendingUploads: [PendingUpload] {
        state.withLock { state in
            state.uploads.values
                .sorted { ($0.byteKey, $0.id) < ($1.byteKey, $1.id) }
                .map { PendingUpload(key: $0.key, uploadId: $0.id, partNumbers: $0.parts.keys.sorted()) }
        }
    }

    // MARK: - ObjectStore: objects

    public func head(_ key: String) async throws(ObjectStoreError) -> ObjectInfo {
        try perform(Request(operation: .head, key: key)) { state throws(ObjectStoreError) in
            try state.object(key).info
        }
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData {
        let request = Self.getRequest(key, range: range)
        return try perform(request) { state throws(ObjectStoreError) in
            let object = try state.object(key)
            try Self.check(ifMatch: ifMatch, against: object)
            let slice = try Self.resolve(range, size: UInt64(object.bytes.count))
            return ObjectData(bytes: Array(object.bytes[slice]), info: object.info)
        }
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
                    at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64) {
        // Resolve under the lock, write outside it; the array is shared copy-on-write, not copied.
        let lateFailure = try admit(Self.getRequest(key, range: range))
        let (object, slice) = try state.withLock { state throws(ObjectStoreError) in
            let object = try state.object(key)
            try Self.check(ifMatch: ifMatch, against: object)
            return (object, try Self.resolve(range, size: UInt64(object.bytes.count)))
        }
        try LocalFile.write(object.bytes[slice], toFile: path, at: fileOffset)
        if let lateFailure { throw lateFailure }
        return (object.info, UInt64(slice.count))
    }

    public func list(_ request: ListRequest) async throws(ObjectStoreError) -> ListPage {
        try perform(Request(operation: .list, key: request.prefix)) { state throws(ObjectStoreError) in
            try state.list(request)
        }
    }

    public func put(_ key: String, body: ObjectBody, options: PutOptions) async throws(ObjectStoreError) -> String {
        let bytes = try LocalFile.read(body)
        let etag = MD5.hex(bytes)
        let now = timestamp()
        return try perform(Request(operation: .put, key: key)) { state throws(ObjectStoreError) in
            try Self.validate(key: key)
            let metadata = try Self.normalize(metadata: options.metadata)
            try state.check(options.condition, on: key)
            let object = StoredObject(key: key, bytes: bytes, etag: etag, lastModified: now,
                                      contentType: options.contentType ?? Self.defaultContentType,
                                      metadata: metadata, uploadId: nil)
            state.store(object)
            return object.etag
        }
    }

    public func copy(from source: String, to destination: String,
                     options: CopyOptions) async throws(ObjectStoreError) -> String {
        let now = timestamp()
        return try perform(Request(operation: .copy, key: destination)) { state throws(ObjectStoreError) in
            try Self.validate(key: destination)
            let original = try state.object(source)
            if let expected = options.sourceETag, !Self.etag(expected, matches: original.etag) {
                throw .preconditionFailed("x-amz-copy-source-If-Match: the source \(source) has ETag \(original.etag)")
            }
            var copy = original
            copy.key = destination
            copy.lastModified = now
            copy.uploadId = nil
            switch options.metadata {
            case .copy:
                if ByteKey(source) == ByteKey(destination) {
                    throw .service(code: "InvalidRequest",
                                   message: "This copy request is illegal because it is trying to copy an object to "
                                       + "itself without changing the object's metadata, storage class, website "
                                       + "redirect location or encryption attributes.",
                                   status: 400)
                }
            case .replace(let metadata, let contentType):
                copy.metadata = try Self.normalize(metadata: metadata)
                copy.contentType = contentType ?? Self.defaultContentType
            }
            try state.check(options.condition, on: destination)
            // CopyObject writes a single-part object: its ETag is the MD5 of the bytes even for a multipart source.
            if original.uploadId != nil || original.etag.contains("-") {
                copy.etag = MD5.hex(copy.bytes)
            }
            state.store(copy)
            return copy.etag
        }
    }

    public func delete(_ key: String) async throws(ObjectStoreError) {
        try perform(Request(operation: .delete, key: key)) { state throws(ObjectStoreError) in
            state.remove(key)
        }
    }

    public func delete(keys: [String]) async throws(ObjectStoreError) -> [DeleteFailure] {
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(keys.count, start + 1000)]
            start += batch.count
            try perform(Request(operation: .deleteObjects, key: "")) { state throws(ObjectStoreError) in
                for key in batch { state.remove(key) }
            }
        }
        return []
    }

    // MARK: - Shared machinery

    static let defaultContentType = "application/octet-stream"

    /// The clock's time, cut to whole seconds as S3's Last-Modified is.
    func timestamp() -> Date {
        Date(timeIntervalSince1970: clock().timeIntervalSince1970.rounded(.down))
    }

    /// Counts and logs `request`, then throws the failure injected for it, if one strikes before it takes effect.
    /// Returns the failure to throw once it has taken effect, if one was queued for then.
    func admit(_ request: Request) throws(ObjectStoreError) -> ObjectStoreError? {
        let (queued, injector) = state.withLock { state in
            state.counts[request.operation, default: 0] += 1
            state.log.append(request)
            return (state.takeQueuedFault(for: request.operation), state.injector)
        }
        if let queued {
            guard queued.timing == .afterApplying else { throw queued.error }
            return queued.error
        }
        if let injector, let error = injector(request) { throw error }
        return nil
    }

    /// Makes `request`: counts it, applies injected failures, and runs `body` under the lock.
    func perform<T: Sendable>(_ request: Request,
                              _ body: (inout State) throws(ObjectStoreError) -> T) throws(ObjectStoreError) -> T {
        let lateFailure = try admit(request)
        let result = try state.withLock { (state: inout State) throws(ObjectStoreError) -> T in try body(&state) }
        if let lateFailure { throw lateFailure }
        return result
    }

    /// The request a GET of `range` makes: a HEAD when the range is empty, as `S3ObjectStore` sends no GET then.
    static func getRequest(_ key: String, range: Range<UInt64>?) -> Request {
        if let range, range.isEmpty { return Request(operation: .head, key: key) }
        return Request(operation: .get, key: key, range: range)
    }

    /// The part of an object of `size` bytes that `range` selects.
    static func resolve(_ range: Range<UInt64>?, size: UInt64) throws(ObjectStoreError) -> Range<Int> {
        guard let range else { return 0..<Int(size) }
        guard !range.isEmpty else { return 0..<0 }
        guard range.lowerBound < size else {
            throw .invalidRange("The requested range is not satisfiable: \(range) of an object of \(size) bytes")
        }
        return Int(range.lowerBound)..<Int(min(range.upperBound, size))
    }

    static func check(ifMatch: String?, against object: StoredObject) throws(ObjectStoreError) {
        if let ifMatch, !etag(ifMatch, matches: object.etag) {
            throw .preconditionFailed("If-Match: \(object.key) has ETag \(object.etag), not \(ifMatch)")
        }
    }

    /// True when two ETags are equal once surrounding quotes are removed.
    static func etag(_ a: String, matches b: String) -> Bool {
        func bare(_ s: String) -> Substring {
            var s = Substring(s)
            if s.count >= 2, s.hasPrefix("\""), s.hasSuffix("\"") { s = s.dropFirst().dropLast() }
            return s
        }
        return bare(a) == bare(b)
    }

    static func validate(key: String) throws(ObjectStoreError) {
        let length = key.utf8.count
        guard length > 0 else {
            throw .service(code: "InvalidArgument", message: "An object key must not be empty", status: 400)
        }
        guard length <= 1024 else {
            throw .service(code: "KeyTooLongError", message: "Your key is too long (\(length) bytes, at most 1024)",
                           status: 400)
        }
    }

    /// Metadata with lower-cased names, checked against S3's 2 KB limit.
    static func normalize(metadata: [String: String]) throws(ObjectStoreError) -> [String: String] {
        var out: [String: String] = [:]
        var size = 0
        for (name, value) in metadata {
            out[name.lowercased()] = value
            size += name.utf8.count + value.utf8.count
        }
        guard size <= 2048 else {
            throw .service(code: "MetadataTooLarge",
                           message: "Your metadata headers exceed the maximum allowed metadata size (\(size) > 2048 bytes)",
                           status: 400)
        }
        return out
    }
}

// MARK: - State

extension InMemoryObjectStore {
    /// A key as S3 sees it: its UTF-8 bytes, ordered bytewise.
    struct ByteKey: Hashable, Comparable, Sendable {
        var bytes: [UInt8]

        init(_ key: String) { bytes = Array(key.utf8) }
        init(bytes: [UInt8]) { self.bytes = bytes }

        static func < (lhs: ByteKey, rhs: ByteKey) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

        func hasPrefix(_ prefix: [UInt8]) -> Bool { bytes.starts(with: prefix) }
    }

    struct StoredObject: Sendable {
        var key: String
        var bytes: [UInt8]
        var etag: String
        var lastModified: Date
        var contentType: String
        var metadata: [String: String]
        /// The multipart upload that created it, if one did.
        var uploadId: String?

        var info: ObjectInfo {
            ObjectInfo(key: key, size: UInt64(bytes.count), etag: etag, lastModified: lastModified,
                       contentType: contentType, metadata: metadata)
        }
    }

    struct Fault: Sendable {
        var error: ObjectStoreError
        var timing: FaultTiming
    }

    struct State: ~Copyable {
        var objects: [ByteKey: StoredObject] = [:]
        /// The keys of `objects`, in UTF-8 binary order.
        var sortedKeys: [ByteKey] = []
        var uploads: [String: Upload] = [:]
        /// Completed uploads, for idempotent re-completion: upload id to the key and ETag it produced.
        var completedUploads: [String: (key: ByteKey, etag: String)] = [:]
        var uploadCounter = 0

        var counts: [Operation: Int] = [:]
        var log: [Request] = []
        var queuedFaults: [Operation: [Fault]] = [:]
        var injector: (@Sendable (Request) -> ObjectStoreError?)?

        mutating func takeQueuedFault(for operation: Operation) -> Fault? {
            guard var queue = queuedFaults[operation], !queue.isEmpty else { return nil }
            let fault = queue.removeFirst()
            queuedFaults[operation] = queue.isEmpty ? nil : queue
            return fault
        }

        func object(_ key: String) throws(ObjectStoreError) -> StoredObject {
            guard let object = objects[ByteKey(key)] else {
                throw .notFound("NoSuchKey: The specified key does not exist: \(key)")
            }
            return object
        }

        /// Throws unless `condition` holds for a write to `key`.
        func check(_ condition: WriteCondition?, on key: String) throws(ObjectStoreError) {
            switch condition {
            case nil:
                return
            case .doesNotExist:
                if objects[ByteKey(key)] != nil {
                    throw .preconditionFailed("If-None-Match: *: \(key) exists")
                }
            case .etagMatches(let expected):
                let current = try object(key)
                if !InMemoryObjectStore.etag(expected, matches: current.etag) {
                    throw .preconditionFailed("If-Match: \(key) has ETag \(current.etag), not \(expected)")
                }
            }
        }

        mutating func store(_ object: StoredObject) {
            let key = ByteKey(object.key)
            if objects.updateValue(object, forKey: key) == nil {
                sortedKeys.insert(key, at: firstIndex(notBefore: key))
            }
        }

        mutating func remove(_ key: String) {
            let key = ByteKey(key)
            guard objects.removeValue(forKey: key) != nil else { return }
            let index = firstIndex(notBefore: key)
            if index < sortedKeys.count, sortedKeys[index] == key { sortedKeys.remove(at: index) }
        }

        /// The index of the first key in `sortedKeys` that is not less than `key`.
        func firstIndex(notBefore key: ByteKey) -> Int {
            partitionPoint { $0 < key }
        }

        /// The first index of `sortedKeys` for which `isBefore` is false; `isBefore` must hold for a prefix of the keys.
        func partitionPoint(_ isBefore: (ByteKey) -> Bool) -> Int {
            var low = 0
            var high = sortedKeys.count
            while low < high {
                let middle = (low + high) / 2
                if isBefore(sortedKeys[middle]) { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }
}

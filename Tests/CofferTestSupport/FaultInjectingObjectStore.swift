import CofferObjectStore
import Synchronization

/// A store that makes requests to `underlying` fail on purpose, before they reach it: the Nth request, every k-th
/// request, or requests while an outage lasts. The failures are the ones the S3 client gives after its own retries:
/// `.throttled` (503 SlowDown) and `.transport` (connection reset).
public final class FaultInjectingObjectStore: ForwardingObjectStore {
    /// Which requests fail.
    public enum Plan: Sendable, Equatable {
        /// None.
        case none
        /// Only the Nth request from now (1-based).
        case nth(Int)
        /// Every k-th request.
        case everyKth(Int)
        /// Every request until `heal()`.
        case outage
    }

    public let underlying: any ObjectStore
    private let state = Mutex<(plan: Plan, count: Int, failed: Int)>((.none, 0, 0))

    /// A faulty view of `underlying`.
    public init(_ underlying: any ObjectStore) {
        self.underlying = underlying
    }

    /// Starts failing requests as `plan` says (the request count starts again from zero).
    public func inject(_ plan: Plan) {
        state.withLock { $0 = (plan, 0, $0.failed) }
    }

    /// Stops failing requests.
    public func heal() { inject(.none) }

    /// How many requests were failed so far.
    public var failedRequests: Int { state.withLock { $0.failed } }

    private func check(_ what: String) throws(ObjectStoreError) {
        let fail = state.withLock { state -> Bool in
            state.count += 1
            let fail: Bool
            switch state.plan {
            case .none: fail = false
            case .nth(let n): fail = state.count == n
            case .everyKth(let k): fail = k > 0 && state.count % k == 0
            case .outage: fail = true
            }
            if fail { state.failed += 1 }
            return fail
        }
        guard fail else { return }
        if state.withLock({ $0.failed }) % 2 == 0 {
            throw .transport("injected fault: connection reset before \(what) was sent")
        }
        throw .throttled("injected fault: 503 SlowDown for \(what)")
    }

    public func head(_ key: String) async throws(ObjectStoreError) -> ObjectInfo {
        try check("HEAD \(key)")
        return try await underlying.head(key)
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData {
        try check("GET \(key)")
        return try await underlying.get(key, range: range, ifMatch: ifMatch)
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
                    at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64) {
        try check("GET \(key)")
        return try await underlying.get(key, range: range, ifMatch: ifMatch, intoFile: path, at: fileOffset)
    }

    public func list(_ request: ListRequest) async throws(ObjectStoreError) -> ListPage {
        try check("LIST \(request.prefix)")
        return try await underlying.list(request)
    }

    public func put(_ key: String, body: ObjectBody, options: PutOptions) async throws(ObjectStoreError) -> String {
        try check("PUT \(key)")
        return try await underlying.put(key, body: body, options: options)
    }

    public func copy(from source: String, to destination: String,
                     options: CopyOptions) async throws(ObjectStoreError) -> String {
        try check("COPY \(destination)")
        return try await underlying.copy(from: source, to: destination, options: options)
    }

    public func delete(_ key: String) async throws(ObjectStoreError) {
        try check("DELETE \(key)")
        try await underlying.delete(key)
    }

    public func delete(keys: [String]) async throws(ObjectStoreError) -> [DeleteFailure] {
        try check("DELETE \(keys.count) keys")
        return try await underlying.delete(keys: keys)
    }

    public func createMultipartUpload(_ key: String, options: PutOptions) async throws(ObjectStoreError) -> String {
        try check("CreateMultipartUpload \(key)")
        return try await underlying.createMultipartUpload(key, options: options)
    }

    public func uploadPart(_ key: String, uploadId: String, partNumber: Int,
                           body: ObjectBody) async throws(ObjectStoreError) -> String {
        try check("UploadPart \(key) #\(partNumber)")
        return try await underlying.uploadPart(key, uploadId: uploadId, partNumber: partNumber, body: body)
    }

    public func uploadPartCopy(_ key: String, uploadId: String, partNumber: Int, source: String,
                               range: Range<UInt64>?) async throws(ObjectStoreError) -> String {
        try check("UploadPartCopy \(key) #\(partNumber)")
        return try await underlying.uploadPartCopy(key, uploadId: uploadId, partNumber: partNumber, source: source,
                                                   range: range)
    }

    public func completeMultipartUpload(_ key: String, uploadId: String, parts: [CompletedPart],
                                        condition: WriteCondition?) async throws(ObjectStoreError) -> String {
        try check("CompleteMultipartUpload \(key)")
        return try await underlying.completeMultipartUpload(key, uploadId: uploadId, parts: parts, condition: condition)
    }
}

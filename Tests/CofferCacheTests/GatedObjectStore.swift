import CofferObjectStore
import Synchronization

/// An `InMemoryObjectStore` whose GETs wait at a gate until the test opens it, so that tests can make reads
/// overlap a fetch in flight. Every other request goes straight through.
final class GatedObjectStore: ObjectStore {
    let base: InMemoryObjectStore
    private let gate = Mutex<(isOpen: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    init(base: InMemoryObjectStore = InMemoryObjectStore()) {
        self.base = base
    }

    /// The GETs waiting at the gate.
    var waitingCount: Int { gate.withLock { $0.waiting.count } }

    /// Lets every waiting and future GET through.
    func open() {
        let waiting = gate.withLock { state in
            state.isOpen = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    private func pass() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = gate.withLock { state in
                if !state.isOpen { state.waiting.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData {
        await pass()
        return try await base.get(key, range: range, ifMatch: ifMatch)
    }

    func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
             at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64) {
        await pass()
        return try await base.get(key, range: range, ifMatch: ifMatch, intoFile: path, at: fileOffset)
    }

    func head(_ key: String) async throws(ObjectStoreError) -> ObjectInfo {
        try await base.head(key)
    }

    func list(_ request: ListRequest) async throws(ObjectStoreError) -> ListPage {
        try await base.list(request)
    }

    func put(_ key: String, body: ObjectBody, options: PutOptions) async throws(ObjectStoreError) -> String {
        try await base.put(key, body: body, options: options)
    }

    func copy(from source: String, to destination: String, options: CopyOptions) async throws(ObjectStoreError) -> String {
        try await base.copy(from: source, to: destination, options: options)
    }

    func delete(_ key: String) async throws(ObjectStoreError) {
        try await base.delete(key)
    }

    func delete(keys: [String]) async throws(ObjectStoreError) -> [DeleteFailure] {
        try await base.delete(keys: keys)
    }

    func createMultipartUpload(_ key: String, options: PutOptions) async throws(ObjectStoreError) -> String {
        try await base.createMultipartUpload(key, options: options)
    }

    func uploadPart(_ key: String, uploadId: String, partNumber: Int,
                    body: ObjectBody) async throws(ObjectStoreError) -> String {
        try await base.uploadPart(key, uploadId: uploadId, partNumber: partNumber, body: body)
    }

    func uploadPartCopy(_ key: String, uploadId: String, partNumber: Int, source: String,
                        range: Range<UInt64>?) async throws(ObjectStoreError) -> String {
        try await base.uploadPartCopy(key, uploadId: uploadId, partNumber: partNumber, source: source, range: range)
    }

    func completeMultipartUpload(_ key: String, uploadId: String, parts: [CompletedPart],
                                 condition: WriteCondition?) async throws(ObjectStoreError) -> String {
        try await base.completeMultipartUpload(key, uploadId: uploadId, parts: parts, condition: condition)
    }

    func abortMultipartUpload(_ key: String, uploadId: String) async throws(ObjectStoreError) {
        try await base.abortMultipartUpload(key, uploadId: uploadId)
    }

    func listParts(_ key: String, uploadId: String) async throws(ObjectStoreError) -> [CompletedPart] {
        try await base.listParts(key, uploadId: uploadId)
    }
}

import CofferObjectStore
@testable import CofferWriteBack
import Foundation
import Synchronization
import Testing

/// `count` bytes that differ from position to position and from seed to seed (never periodic at power-of-two sizes).
func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 17 &+ ($0 >> 8)) }
}

/// A fresh cache directory, removed when `body` returns.
func withDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("coffer-writeback-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

/// The staging files left in `directory`.
func stagingFiles(in directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("coffer-staged-") }
}

/// The bytes of the file at `path`, as on disk.
func bytesOnDisk(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

/// Puts `bytes` as `key` and returns the base object a staged file opened on it starts from.
func makeBase(_ store: InMemoryObjectStore, _ key: String, _ bytes: [UInt8]) async throws -> BaseObject {
    let etag = try await store.put(key, bytes: bytes)
    return BaseObject(key: key, etag: etag, size: UInt64(bytes.count))
}

/// A staged file in `directory` opened on a new object `key` holding `bytes`.
func stage(_ bytes: [UInt8], as key: String, in store: InMemoryObjectStore,
           directory: String) async throws -> StagedFile {
    try StagedFile(directory: directory, base: try await makeBase(store, key, bytes), store: store)
}

/// The requests of `operation` in the store's log.
func requests(_ store: InMemoryObjectStore,
              _ operation: InMemoryObjectStore.Operation) -> [InMemoryObjectStore.Request] {
    store.requestLog.filter { $0.operation == operation }
}

/// The kind of `WriteBackError` a test expects; messages are not compared.
enum ExpectedWriteBackError: CustomStringConvertible {
    case store(preconditionFailed: Bool)
    case localIO
    case baseChanged
    case tooLarge
    case discarded
    case cancelled

    func matches(_ error: WriteBackError) -> Bool {
        switch (self, error) {
        case (.store(let precondition), .store(let underlying, _)):
            if case .preconditionFailed = underlying { return precondition }
            return !precondition
        case (.localIO, .localIO), (.baseChanged, .baseChanged), (.tooLarge, .tooLarge), (.discarded, .discarded),
             (.cancelled, .cancelled):
            return true
        default:
            return false
        }
    }

    var description: String {
        switch self {
        case .store(let precondition): return precondition ? ".store(.preconditionFailed)" : ".store"
        case .localIO: return ".localIO"
        case .baseChanged: return ".baseChanged"
        case .tooLarge: return ".tooLarge"
        case .discarded: return ".discarded"
        case .cancelled: return ".cancelled"
        }
    }
}

/// Records an issue unless `body` throws a `WriteBackError` of the `expected` kind; returns the error.
@discardableResult
func expectWriteBackError<T>(_ expected: ExpectedWriteBackError, sourceLocation: SourceLocation = #_sourceLocation,
                             _ body: () async throws -> T) async -> WriteBackError? {
    do {
        let result = try await body()
        Issue.record("expected \(expected), but the call succeeded with \(result)", sourceLocation: sourceLocation)
        return nil
    } catch let error as WriteBackError {
        if !expected.matches(error) {
            Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected a WriteBackError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// An `ObjectStore` over an `InMemoryObjectStore` that makes GETs and part uploads take time (so that they overlap)
/// and counts how many are in flight at once, with an optional hook run before each PUT or UploadPart.
final class SlowStore: ForwardingObjectStore {
    let inner: InMemoryObjectStore
    var underlying: any ObjectStore { inner }
    let delay: Duration
    private let counters = Mutex(Counters())
    private let hook: (@Sendable () async -> Void)?

    private struct Counters {
        var partsInFlight = 0
        var maximumPartsInFlight = 0
    }

    init(_ inner: InMemoryObjectStore, delay: Duration = .milliseconds(20),
         beforeUpload hook: (@Sendable () async -> Void)? = nil) {
        self.inner = inner
        self.delay = delay
        self.hook = hook
    }

    /// The most UploadPart and UploadPartCopy requests that were in flight at once.
    var maximumPartsInFlight: Int { counters.withLock { $0.maximumPartsInFlight } }

    private func partStarted() {
        counters.withLock { counters in
            counters.partsInFlight += 1
            counters.maximumPartsInFlight = max(counters.maximumPartsInFlight, counters.partsInFlight)
        }
    }

    private func partEnded() {
        counters.withLock { $0.partsInFlight -= 1 }
    }

    func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData {
        try? await Task.sleep(for: delay)
        return try await inner.get(key, range: range, ifMatch: ifMatch)
    }

    func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
             at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64) {
        try? await Task.sleep(for: delay)
        return try await inner.get(key, range: range, ifMatch: ifMatch, intoFile: path, at: fileOffset)
    }

    func put(_ key: String, body: ObjectBody, options: PutOptions) async throws(ObjectStoreError) -> String {
        await hook?()
        return try await inner.put(key, body: body, options: options)
    }

    func uploadPart(_ key: String, uploadId: String, partNumber: Int,
                    body: ObjectBody) async throws(ObjectStoreError) -> String {
        await hook?()
        partStarted()
        defer { partEnded() }
        try? await Task.sleep(for: delay)
        return try await inner.uploadPart(key, uploadId: uploadId, partNumber: partNumber, body: body)
    }

    func uploadPartCopy(_ key: String, uploadId: String, partNumber: Int, source: String,
                        range: Range<UInt64>?) async throws(ObjectStoreError) -> String {
        partStarted()
        defer { partEnded() }
        try? await Task.sleep(for: delay)
        return try await inner.uploadPartCopy(key, uploadId: uploadId, partNumber: partNumber, source: source,
                                              range: range)
    }
}

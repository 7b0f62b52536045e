import CofferCrypto
import CofferObjectStore
import Foundation
import Testing

/// Runs `body` with a fresh store of `backend` and a key prefix no other test uses, then deletes what the test
/// left under the prefix (so a shared bucket stays small) and cleans the backend up.
func withStore(_ backend: Backend, _ body: (_ store: any ObjectStore, _ prefix: String) async throws -> Void) async throws {
    let (store, cleanup) = try await backend.make()
    let prefix = "contract-\(UUID().uuidString.prefix(13).lowercased())/"
    do {
        try await body(store, prefix)
    } catch {
        await tidy(store, prefix)
        await cleanup()
        throw error
    }
    await tidy(store, prefix)
    await cleanup()
}

private func tidy(_ store: any ObjectStore, _ prefix: String) async {
    guard let keys = try? await store.listAll(prefix: prefix).map(\.key), !keys.isEmpty else { return }
    _ = try? await store.delete(keys: keys)
}

/// The kind of `ObjectStoreError` a test expects; messages differ between backends and are not compared.
enum ExpectedError: CustomStringConvertible {
    case notFound
    case preconditionFailed
    case invalidRange
    case transport
    case throttled
    case accessDenied
    /// `.service` with this S3 error code.
    case service(String)

    func matches(_ error: ObjectStoreError) -> Bool {
        switch (self, error) {
        case (.notFound, .notFound), (.preconditionFailed, .preconditionFailed), (.invalidRange, .invalidRange),
             (.transport, .transport), (.throttled, .throttled), (.accessDenied, .accessDenied):
            return true
        case (.service(let code), .service(let actual, _, _)):
            return code == actual
        default:
            return false
        }
    }

    var description: String {
        switch self {
        case .notFound: return ".notFound"
        case .preconditionFailed: return ".preconditionFailed"
        case .invalidRange: return ".invalidRange"
        case .transport: return ".transport"
        case .throttled: return ".throttled"
        case .accessDenied: return ".accessDenied"
        case .service(let code): return ".service(\(code))"
        }
    }
}

/// Records an issue unless `body` throws an `ObjectStoreError` of the `expected` kind.
func expectError<T>(_ expected: ExpectedError, sourceLocation: SourceLocation = #_sourceLocation,
                    _ body: () async throws(ObjectStoreError) -> T) async {
    do {
        let result = try await body()
        Issue.record("expected \(expected), but the call succeeded with \(result)", sourceLocation: sourceLocation)
    } catch {
        if !expected.matches(error) {
            Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
        }
    }
}

/// `count` bytes that differ from position to position and from seed to seed.
func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 17 &+ ($0 >> 8)) }
}

/// The hex MD5 of `bytes`: S3's ETag of a single-part object.
func md5Hex(_ bytes: [UInt8]) -> String {
    Hex.encode(MD5.hash(bytes))
}

/// S3's ETag for an object completed from parts with these bytes.
func multipartETag(_ parts: [[UInt8]]) -> String {
    md5Hex(parts.flatMap { MD5.hash($0) }) + "-\(parts.count)"
}

/// Keys in UTF-8 binary order, as S3 lists them.
func utf8Sorted(_ keys: [String]) -> [String] {
    keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
}

/// Keys as byte arrays, for comparisons that Swift's canonical-equivalence `String ==` would blur.
func utf8(_ keys: [String]) -> [[UInt8]] {
    keys.map { Array($0.utf8) }
}

/// Every page of a listing, following continuation tokens (at most 100 pages).
func allPages(_ store: any ObjectStore, _ request: ListRequest) async throws -> [ListPage] {
    var pages: [ListPage] = []
    var request = request
    while pages.count < 100 {
        let page = try await store.list(request)
        pages.append(page)
        guard page.isTruncated, let token = page.nextContinuationToken else { break }
        request.continuationToken = token
    }
    return pages
}

/// The keys and common prefixes of a page, in listing order.
func entries(_ page: ListPage) -> [String] {
    utf8Sorted(page.objects.map(\.key) + page.commonPrefixes)
}

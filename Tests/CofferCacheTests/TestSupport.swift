import CofferObjectStore
import Testing

/// `count` bytes that differ from block to block (a pattern of prime period), varied by `seed`.
func patternBytes(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    let period = 65_521
    let chunk = (0..<min(count, period)).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 7)) &+ seed }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    while bytes.count < count { bytes += chunk.prefix(count - bytes.count) }
    return bytes
}

/// The ranges of the GETs `store` received, oldest first.
func getRanges(_ store: InMemoryObjectStore) -> [Range<UInt64>?] {
    store.requestLog.filter { $0.operation == .get }.map(\.range)
}

/// The error `body` throws, or nil (recording an issue) when it succeeds.
func failure(_ body: () async throws(ObjectStoreError) -> Void,
             sourceLocation: SourceLocation = #_sourceLocation) async -> ObjectStoreError? {
    do {
        try await body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Waits (up to 10 s) until `condition` holds.
func waitUntil(_ what: String, sourceLocation: SourceLocation = #_sourceLocation,
               _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting until \(what)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

import CofferCrypto
import CofferObjectStore

/// One version of an object.
struct VersionKey: Hashable, Sendable {
    var key: String
    var etag: String
}

/// What `DecryptingObjectStore` remembers per object version, in memory only: what the object is, its unwrapped
/// message keys, and the hints its HEAD showed. Lookups in flight are shared (one header GET and one unwrap per
/// version, however many reads start at once). At most `capacity` versions are kept, oldest dropped first.
struct VersionCache: Sendable {
    typealias ContentTask = Task<Result<ObjectContent, ObjectStoreError>, Never>
    typealias DecryptorTask = Task<Result<MessageDecryptor, ObjectStoreError>, Never>

    static let capacity = 4096

    private(set) var contents: [VersionKey: ContentTask] = [:]
    private(set) var decryptors: [VersionKey: DecryptorTask] = [:]
    private(set) var hints: [VersionKey: EncryptionHints] = [:]
    private var order: [VersionKey] = []
    private var orderStart = 0

    mutating func content(for version: VersionKey, orStart make: () -> ContentTask) -> ContentTask {
        if let task = contents[version] { return task }
        let task = make()
        contents[version] = task
        remember(version)
        return task
    }

    mutating func decryptor(for version: VersionKey, orStart make: () -> DecryptorTask) -> DecryptorTask {
        if let task = decryptors[version] { return task }
        let task = make()
        decryptors[version] = task
        remember(version)
        return task
    }

    mutating func record(_ hints: EncryptionHints, for version: VersionKey) {
        self.hints[version] = hints
        remember(version)
    }

    /// Forgets a failed lookup so that the next read tries again.
    mutating func forgetContent(of version: VersionKey) { contents[version] = nil }

    /// Forgets a failed unwrap so that the next read tries again (KMS may have been unreachable).
    mutating func forgetDecryptor(of version: VersionKey) { decryptors[version] = nil }

    private mutating func remember(_ version: VersionKey) {
        order.append(version)
        guard order.count - orderStart > Self.capacity * 2 else { return }
        // Drop the oldest half of what is remembered (entries may appear more than once in `order`).
        let live = Set(order[(order.count - Self.capacity)...])
        for old in order[orderStart..<(order.count - Self.capacity)] where !live.contains(old) {
            contents[old] = nil
            decryptors[old] = nil
            hints[old] = nil
        }
        order = Array(order[(order.count - Self.capacity)...])
        orderStart = 0
    }
}

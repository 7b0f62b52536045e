import CofferCrypto
import CofferEncryption
import CofferObjectStore
import CofferTestSupport
import Foundation
import Synchronization
import Testing

/// Keys, configurations, messages and keyrings shared by the encryption tests.
enum Fixtures {
    /// The wrapping key of the SDK vectors: 00 01 … 1f.
    static let keyBytes: [UInt8] = Array(0..<32)

    /// `coffer-local/test-key-1` with key 00…1f (the SDK vectors' key).
    static func keyring(_ key: [UInt8] = keyBytes, name: String = "test-key-1") -> RawAESKeyring {
        try! RawAESKeyring(wrappingKey: SecretBytes(copying: key), namespace: "coffer-local", name: name)
    }

    /// A configuration with small frames (1 KiB) unless told otherwise.
    static func configuration(frameLength: Int = 1024, mode: EncryptionMode = .required,
                              context: [String: String] = [:],
                              keyrings: [any Keyring] = [keyring()]) -> EncryptionConfiguration {
        EncryptionConfiguration(keyrings: keyrings, context: context, mode: mode, frameLength: frameLength)
    }

    /// `count` reproducible pseudo-random bytes.
    static func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = SplitMix64(seed: seed &+ UInt64(count))
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count {
            withUnsafeBytes(of: generator.next()) { out += $0 }
        }
        return Array(out.prefix(count))
    }

    /// A whole message for `plaintext` under `configuration` (new data key, new message id).
    static func message(_ plaintext: [UInt8], _ configuration: EncryptionConfiguration) async throws -> [UInt8] {
        try await MessageEncryptor.encrypt(plaintext, keyrings: configuration.keyrings,
                                           encryptionContext: configuration.encryptionContext,
                                           frameLength: configuration.frameLength)
    }

    /// The hints of a message as Coffer stores them.
    static func hints(of message: [UInt8], plaintextSize: Int) throws -> EncryptionHints {
        EncryptionHints(plaintextSize: UInt64(plaintextSize), headerLength: try MessageHeader(parsing: message).length)
    }

    /// A stored message.
    struct Stored {
        var message: [UInt8]
        var etag: String
        var header: MessageHeader
        var layout: MessageLayout
    }

    /// Encrypts `plaintext` and stores it as `key`, with the `coffer-*` hints when `hints` is true.
    @discardableResult
    static func put(_ plaintext: [UInt8], as key: String, in store: InMemoryObjectStore,
                    _ configuration: EncryptionConfiguration, hints: Bool = true,
                    extraMetadata: [String: String] = [:]) async throws -> Stored {
        let message = try await message(plaintext, configuration)
        let header = try MessageHeader(parsing: message)
        var metadata = extraMetadata
        if hints {
            metadata.merge(try Self.hints(of: message, plaintextSize: plaintext.count).metadata) { _, new in new }
        }
        let etag = try await store.put(key, body: .bytes(message), options: PutOptions(metadata: metadata))
        return Stored(message: message, etag: etag, header: header,
                      layout: try header.layout(ciphertextSize: UInt64(message.count)))
    }

    /// A fresh decrypting view of a fresh in-memory store.
    static func view(_ configuration: EncryptionConfiguration = configuration()) -> (DecryptingObjectStore, InMemoryObjectStore) {
        let store = InMemoryObjectStore()
        return (DecryptingObjectStore(base: store, configuration: configuration), store)
    }
}

/// The error `body` throws, or nil when it succeeds.
func storeError(_ body: () async throws -> Void) async -> ObjectStoreError? {
    do {
        try await body()
        return nil
    } catch let error as ObjectStoreError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}

/// The message of an `.unreadable` error, or nil for any other outcome.
func unreadableMessage(_ error: ObjectStoreError?) -> String? {
    if case .unreadable(let message) = error { return message }
    return nil
}

func isInvalidRange(_ error: ObjectStoreError?) -> Bool {
    if case .invalidRange = error { return true }
    return false
}

func isPreconditionFailed(_ error: ObjectStoreError?) -> Bool {
    if case .preconditionFailed = error { return true }
    return false
}

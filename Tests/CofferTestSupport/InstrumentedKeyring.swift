import CofferCrypto
import Synchronization

/// A keyring around another one that counts its calls and can fail the first few, as an unreachable KMS would.
public final class InstrumentedKeyring: Keyring {
    /// The keyring that does the work.
    public let inner: any Keyring
    private let state: Mutex<(wraps: Int, unwraps: Int, failingWraps: Int, failingUnwraps: Int)>

    /// Wraps `inner`; the first `failingWraps` wraps (and data key generations) and the first `failingUnwraps`
    /// unwraps throw `.providerFailure`.
    public init(_ inner: any Keyring, failingWraps: Int = 0, failingUnwraps: Int = 0) {
        self.inner = inner
        state = Mutex((0, 0, failingWraps, failingUnwraps))
    }

    /// Wrap attempts so far, failed ones included.
    public var wraps: Int { state.withLock { $0.wraps } }
    /// Unwrap attempts so far, failed ones included.
    public var unwraps: Int { state.withLock { $0.unwraps } }

    public var keyringDescription: String { inner.keyringDescription }

    public func wrap(dataKey: SecretBytes, context: EncryptionContext) async throws(KeyringError) -> EncryptedDataKey {
        let fail = state.withLock { state in
            state.wraps += 1
            defer { state.failingWraps = max(0, state.failingWraps - 1) }
            return state.failingWraps > 0
        }
        if fail { throw .providerFailure(keyring: keyringDescription, reason: "the key service is unreachable") }
        return try await inner.wrap(dataKey: dataKey, context: context)
    }

    public func unwrap(_ encryptedDataKeys: [EncryptedDataKey],
                       context: EncryptionContext) async throws(KeyringError) -> SecretBytes {
        let fail = state.withLock { state in
            state.unwraps += 1
            defer { state.failingUnwraps = max(0, state.failingUnwraps - 1) }
            return state.failingUnwraps > 0
        }
        if fail { throw .providerFailure(keyring: keyringDescription, reason: "the key service is unreachable") }
        return try await inner.unwrap(encryptedDataKeys, context: context)
    }
}

/// Why a keyring could not wrap or unwrap a data key.
public enum KeyringError: Error, Sendable, Equatable, CustomStringConvertible {
    /// None of the header's encrypted data keys belongs to the configured keyring(s).
    ///
    /// `keyrings` describes what was configured (e.g. `coffer-local/default`); `available` describes the keys the
    /// header names (see `EncryptedDataKey.description`).
    case noMatchingEncryptedDataKey(keyrings: [String], available: [String])
    /// An encrypted data key names this keyring's key but does not decrypt under it (GCM tag failure): another key
    /// with the same name, or an altered encryption context.
    case unwrapFailed(keyring: String)
    /// A keyring (or a caller) supplied a data key that is not 32 bytes.
    case invalidDataKey(keyring: String, byteCount: Int)
    /// The keyring's settings are unusable (the reason says why).
    case invalidConfiguration(String)
    /// The key provider failed (for AWS KMS: access denied, key disabled, network error, ...).
    case providerFailure(keyring: String, reason: String)

    public var description: String {
        switch self {
        case .noMatchingEncryptedDataKey(let keyrings, let available):
            return "none of the object's encrypted data keys (\(available.joined(separator: ", "))) belongs to the "
                + "configured key (\(keyrings.joined(separator: ", "))): configure the key the object was encrypted "
                + "with (namespace and key name must match), or re-encrypt the object under the current key"
        case .unwrapFailed(let keyring):
            return "the object's data key is wrapped for \(keyring), but the configured key with that name does not "
                + "decrypt it: the key file holds a different key than the one the object was written with (or the "
                + "encryption context was altered); configure the original key file"
        case .invalidDataKey(let keyring, let byteCount):
            return "the data key from \(keyring) is \(byteCount) bytes, not 32: the object was not written for "
                + "algorithm suite 0x0478 or the keyring is faulty; re-encrypt the object with a 0x0478 writer"
        case .invalidConfiguration(let reason):
            return "invalid keyring configuration: \(reason)"
        case .providerFailure(let keyring, let reason):
            return "\(keyring) failed: \(reason)"
        }
    }
}

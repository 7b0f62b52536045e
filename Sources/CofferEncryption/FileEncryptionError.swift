import CofferCrypto

/// Why a file could not be encrypted for upload.
public enum FileEncryptionError: Error, Sendable, CustomStringConvertible {
    /// No data key could be made or wrapped (a keyring failed: KMS denied or unreachable, ...).
    case encryption(EncryptionError)
    /// The plaintext could not be read or the message could not be written locally.
    case localIO(String)

    public var description: String {
        switch self {
        case .encryption(let error): return "cannot encrypt: \(error)"
        case .localIO(let message): return "cannot encrypt: \(message)"
        }
    }
}

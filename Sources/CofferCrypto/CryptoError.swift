/// Why a low-level cryptographic operation failed.
public enum CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// AES-GCM decryption found that the ciphertext, its additional data or its tag were altered, or the key is wrong.
    case authenticationFailed

    public var description: String {
        switch self {
        case .authenticationFailed:
            return "AES-GCM authentication failed: the data was altered or was encrypted under a different key"
        }
    }
}

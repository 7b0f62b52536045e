import CofferAWS
import CofferHTTP

/// A failed AWS KMS call. The description names the action and the key, and says what to check.
///
/// Descriptions carry KMS's own message (which names principals and key ARNs, never key material) and never
/// credentials, signatures, plaintext or ciphertext.
///
/// At mount time (see `KMSKeyring.verifyAccess()`), `.accessDenied` may be only a warning — a read-only host can
/// lack `kms:GenerateDataKey` — while `.keyNotFound`, `.invalidCredentials` and `.credentials` are fatal.
public enum KMSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The caller may not perform `action` on `keyID` (`AccessDeniedException`, or IAM's `AccessDenied`).
    case accessDenied(action: String, keyID: String, message: String)
    /// The key or alias `keyID` does not exist in this account and region (`NotFoundException`).
    case keyNotFound(action: String, keyID: String, message: String)
    /// The key exists but cannot be used now (`DisabledException`, `KMSInvalidStateException` for a key pending
    /// deletion or import, `KeyUnavailableException`); `code` says which.
    case keyDisabled(action: String, keyID: String, code: String, message: String)
    /// The ciphertext blob does not decrypt under the key and encryption context given
    /// (`InvalidCiphertextException`): another key, another encryption context, or a damaged blob.
    case invalidCiphertext(action: String, keyID: String, message: String)
    /// The ciphertext blob was made under another key than `keyID` (`IncorrectKeyException`).
    case incorrectKey(action: String, keyID: String, message: String)
    /// KMS rejected the credentials (`UnrecognizedClientException`, `InvalidSignatureException`, expired tokens).
    case invalidCredentials(action: String, code: String, message: String)
    /// No credentials could be had to sign the request.
    case credentials(action: String, CredentialsError)
    /// No answer could be had from `endpoint`.
    case transport(action: String, endpoint: String, HTTPError)
    /// The answer could not be understood.
    case invalidResponse(action: String, endpoint: String, detail: String)
    /// Any other error KMS answered with (validation, throttling after retries, internal errors, ...).
    case service(action: String, keyID: String, status: Int, code: String, message: String, requestID: String?)

    /// The KMS error code (`AccessDeniedException`, `NotFoundException`, ...) when KMS answered with one.
    public var code: String? {
        switch self {
        case .accessDenied: return "AccessDeniedException"
        case .keyNotFound: return "NotFoundException"
        case .keyDisabled(_, _, let code, _): return code
        case .invalidCiphertext: return "InvalidCiphertextException"
        case .incorrectKey: return "IncorrectKeyException"
        case .invalidCredentials(_, let code, _): return code
        case .service(_, _, _, let code, _, _): return code
        case .credentials, .transport, .invalidResponse: return nil
        }
    }

    /// True when the same call may succeed if sent again (throttling, 5xx, a broken connection).
    public var isRetryable: Bool {
        switch self {
        case .service(_, _, let status, let code, _, _):
            return status >= 500 || Self.retryableCodes.contains(code)
        case .transport(_, _, let error):
            return error.isRetryable
        default:
            return false
        }
    }

    static let retryableCodes: Set<String> = [
        "ThrottlingException", "Throttling", "LimitExceededException", "RequestLimitExceeded", "TooManyRequestsException",
        "KMSInternalException", "DependencyTimeoutException", "InternalFailure", "ServiceUnavailable",
    ]

    public var description: String {
        switch self {
        case let .accessDenied(action, keyID, message):
            return Self.text(action, keyID, "access denied", message)
                + ". Grant kms:\(action) on \(keyID) to this identity (IAM policy and key policy, and any "
                + "kms:EncryptionContext conditions), or use credentials that have it"
        case let .keyNotFound(action, keyID, message):
            return Self.text(action, keyID, "key not found", message)
                + ". Check --kms-key-id (a key id, key ARN, alias/NAME or alias ARN) and that the region is the key's"
        case let .keyDisabled(action, keyID, code, message):
            return Self.text(action, keyID, "the key cannot be used (\(code))", message)
                + ". Enable the key, or cancel its scheduled deletion, in the KMS console"
        case let .invalidCiphertext(action, keyID, message):
            return Self.text(action, keyID, "invalid ciphertext (InvalidCiphertextException)", message)
                + ". The data key was encrypted under another KMS key or another encryption context, or is damaged"
        case let .incorrectKey(action, keyID, message):
            return Self.text(action, keyID, "incorrect key (IncorrectKeyException)", message)
                + ". The data key was encrypted under another KMS key: configure that key"
        case let .invalidCredentials(action, code, message):
            return "KMS \(action) failed: the credentials were rejected (\(code))" + (message.isEmpty ? "" : ": \(message)")
                + ". Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile), that a session token is "
                + "current, and the system clock"
        case let .credentials(action, error):
            return "KMS \(action) failed: \(error)"
        case let .transport(action, endpoint, error):
            return "KMS \(action) at \(endpoint) failed: \(error)"
        case let .invalidResponse(action, endpoint, detail):
            return "KMS \(action) at \(endpoint) returned an answer that cannot be read: \(detail)"
        case let .service(action, keyID, status, code, message, requestID):
            return Self.text(action, keyID, code, message)
                + " (HTTP \(status)" + (requestID.map { ", request id \($0)" } ?? "") + ")"
        }
    }

    private static func text(_ action: String, _ keyID: String, _ what: String, _ message: String) -> String {
        "KMS \(action) with key \(keyID) failed: \(what)" + (message.isEmpty ? "" : ": \(message)")
    }
}

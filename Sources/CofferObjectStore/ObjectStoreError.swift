/// Why an object store operation failed, in terms the filesystem can act on.
public enum ObjectStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No object has this key (or no upload has this id).
    case notFound(String)
    /// The bucket does not exist.
    case noSuchBucket(String)
    /// A condition (If-Match, If-None-Match, copy-source-if-match) did not hold.
    case preconditionFailed(String)
    /// The credentials are not allowed to do this.
    case accessDenied(String)
    /// The credentials are wrong, expired, or the request signature did not verify.
    case invalidCredentials(String)
    /// The requested range is outside the object.
    case invalidRange(String)
    /// The store asked us to slow down, and retries did not help.
    case throttled(String)
    /// The request could not be sent or no response came, after retries.
    case transport(String)
    /// The store answered something we cannot understand.
    case invalidResponse(String)
    /// Any other error the store reported: its code, message and HTTP status.
    case service(code: String, message: String, status: Int)
    /// The object exists but its contents cannot be given out: they failed an integrity check, cannot be decrypted
    /// with the configured keys, or a policy refuses them (an unencrypted object where encryption is required).
    case unreadable(String)

    public var description: String {
        switch self {
        case .notFound(let m): return "not found: \(m)"
        case .noSuchBucket(let m): return m
        case .preconditionFailed(let m): return "precondition failed: \(m)"
        case .accessDenied(let m): return "access denied: \(m)"
        case .invalidCredentials(let m): return "invalid credentials: \(m)"
        case .invalidRange(let m): return "invalid range: \(m)"
        case .throttled(let m): return "throttled: \(m)"
        case .transport(let m): return "network error: \(m)"
        case .invalidResponse(let m): return "invalid response: \(m)"
        case .service(let code, let message, let status): return "\(code) (HTTP \(status)): \(message)"
        case .unreadable(let m): return "unreadable: \(m)"
        }
    }

    /// True when the store could not be reached or was overloaded (throttling, network errors, 5xx answers after
    /// retries): the request may well succeed later, and says nothing about the object.
    public var isUnavailable: Bool {
        switch self {
        case .throttled, .transport: return true
        case .service(_, _, let status): return status >= 500
        default: return false
        }
    }
}

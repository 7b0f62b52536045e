import CofferAWS
import CofferHTTP

/// An S3 request that failed: an error answer from S3, or no usable answer at all.
///
/// Its `description` says what went wrong and, where possible, what the user should change.
public struct S3Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Kind: Sendable, Equatable {
        /// S3 answered with an error status; `code` holds S3's error code.
        case service
        /// The bucket lives in another region than the client was configured for.
        case wrongRegion(actual: String)
        /// No response could be had (connection, timeout, TLS).
        case transport(HTTPError)
        /// The response could not be understood (bad XML, missing fields).
        case invalidResponse
        /// The credentials could not be obtained.
        case credentials
    }

    /// What kind of failure this is.
    public var kind: Kind
    /// S3's error code (`NoSuchKey`, `AccessDenied`…), or a synthetic one for HEAD answers without a body.
    public var code: S3ErrorCode
    /// A human-readable explanation.
    public var message: String
    /// The HTTP status, 0 when no response came.
    public var status: Int
    /// The operation, such as `GetObject`.
    public var operation: String
    /// The bucket and key concerned, for messages.
    public var resource: String
    /// S3's request id, for support cases.
    public var requestId: String?

    /// An error from its parts.
    public init(kind: Kind = .service, code: S3ErrorCode, message: String, status: Int, operation: String,
                resource: String, requestId: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.status = status
        self.operation = operation
        self.resource = resource
        self.requestId = requestId
    }

    public var description: String {
        let hint = code.hint.map { " \($0)" } ?? ""
        switch kind {
        case .wrongRegion:
            return "\(operation) \(resource): \(message)"
        case .transport(let error):
            return "\(operation) \(resource): \(error)"
        case .invalidResponse, .credentials:
            return "\(operation) \(resource): \(message)"
        case .service:
            let id = requestId.map { " (request id \($0))" } ?? ""
            return "\(operation) \(resource): \(code.rawValue) (HTTP \(status)): \(message).\(hint)\(id)"
        }
    }
}

/// S3's error codes that Coffer treats specially; any other code is kept as `.other`.
public enum S3ErrorCode: Sendable, Equatable, Hashable {
    case noSuchKey, noSuchBucket, noSuchUpload, accessDenied, preconditionFailed, notModified, invalidRange
    case slowDown, requestTimeout, internalError, serviceUnavailable, requestTimeTooSkewed
    case invalidAccessKeyId, signatureDoesNotMatch, expiredToken, invalidToken
    case permanentRedirect, authorizationHeaderMalformed, invalidRequest, invalidPart, invalidPartOrder
    case entityTooSmall, conditionalRequestConflict
    /// A code Coffer has no special handling for.
    case other(String)

    private static let table: [(S3ErrorCode, String)] = [
        (.noSuchKey, "NoSuchKey"), (.noSuchBucket, "NoSuchBucket"), (.noSuchUpload, "NoSuchUpload"),
        (.accessDenied, "AccessDenied"), (.preconditionFailed, "PreconditionFailed"), (.notModified, "NotModified"),
        (.invalidRange, "InvalidRange"), (.slowDown, "SlowDown"), (.requestTimeout, "RequestTimeout"),
        (.internalError, "InternalError"), (.serviceUnavailable, "ServiceUnavailable"),
        (.requestTimeTooSkewed, "RequestTimeTooSkewed"), (.invalidAccessKeyId, "InvalidAccessKeyId"),
        (.signatureDoesNotMatch, "SignatureDoesNotMatch"), (.expiredToken, "ExpiredToken"),
        (.invalidToken, "InvalidToken"), (.permanentRedirect, "PermanentRedirect"),
        (.authorizationHeaderMalformed, "AuthorizationHeaderMalformed"), (.invalidRequest, "InvalidRequest"),
        (.invalidPart, "InvalidPart"), (.invalidPartOrder, "InvalidPartOrder"), (.entityTooSmall, "EntityTooSmall"),
        (.conditionalRequestConflict, "ConditionalRequestConflict"),
    ]

    /// The code for S3's string form.
    public init(_ string: String) {
        self = Self.table.first { $0.1 == string }?.0 ?? .other(string)
    }

    /// S3's string form.
    public var rawValue: String {
        if case .other(let s) = self { return s }
        return Self.table.first { $0.0 == self }!.1
    }

    /// The code a body-less error answer (HEAD) implies.
    static func forStatus(_ status: Int, isKeyRequest: Bool) -> S3ErrorCode {
        switch status {
        case 301: return .permanentRedirect
        case 304: return .notModified
        case 403: return .accessDenied
        case 404: return isKeyRequest ? .noSuchKey : .noSuchBucket
        case 412: return .preconditionFailed
        case 416: return .invalidRange
        case 500: return .internalError
        case 503: return .slowDown
        default: return .other("HTTP\(status)")
        }
    }

    /// True for errors a retry may cure.
    public var isRetryable: Bool { retryBudget != nil }

    /// The retry budget of an error a retry may cure (nil for the others): throttling and server errors pass on
    /// their own and are retried longest; a timed-out request or a skewed clock get a few more attempts.
    public var retryBudget: RetryableFailure? {
        switch self {
        case .slowDown, .internalError, .serviceUnavailable: return .transient
        case .requestTimeout, .requestTimeTooSkewed: return .clientError
        case .other(let s):
            let transient = ["HTTP500", "HTTP502", "HTTP503", "HTTP504", "Throttling", "ThrottlingException",
                             "RequestLimitExceeded", "TooManyRequestsException"]
            return transient.contains(s) ? .transient : nil
        default: return nil
        }
    }

    /// What the user can do about it.
    var hint: String? {
        switch self {
        case .invalidAccessKeyId: return "The access key id is not known to this S3 endpoint: check AWS_ACCESS_KEY_ID or the profile."
        case .signatureDoesNotMatch: return "The secret access key does not match the access key id: check AWS_SECRET_ACCESS_KEY or the profile."
        case .expiredToken, .invalidToken: return "The session token is expired or invalid: refresh the temporary credentials."
        case .noSuchBucket: return "Check the bucket name, and that the endpoint and region are the ones the bucket lives in."
        case .accessDenied: return "The credentials lack the IAM permission for this operation on this bucket or key."
        case .requestTimeTooSkewed: return "This host's clock is far off: synchronise it (NTP)."
        default: return nil
        }
    }
}

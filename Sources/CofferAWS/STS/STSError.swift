import CofferHTTP

/// A failed STS call. The description names the action and role, and says what to check.
public enum STSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// STS answered with an error document (`<ErrorResponse><Error><Code>…`).
    case service(action: String, roleArn: String?, status: Int, code: String, message: String, requestId: String?)
    /// No answer could be had from `endpoint`.
    case transport(action: String, endpoint: String, HTTPError)
    /// The answer could not be understood.
    case invalidResponse(action: String, endpoint: String, detail: String)

    /// The STS error code (`AccessDenied`, `ExpiredToken`, …) of a `.service` error.
    public var code: String? {
        if case .service(_, _, _, let code, _, _) = self { return code }
        return nil
    }

    /// True when the same call may succeed if sent again (throttling, 5xx, a broken connection).
    public var isRetryable: Bool {
        switch self {
        case .service(_, _, let status, let code, _, _):
            return status >= 500 || ["Throttling", "ThrottlingException", "RequestLimitExceeded",
                                     "IDPCommunicationError", "ServiceUnavailable", "InternalFailure"].contains(code)
        case .transport(_, _, let error):
            return error.isRetryable
        case .invalidResponse:
            return false
        }
    }

    public var description: String {
        switch self {
        case let .service(action, roleArn, status, code, message, requestId):
            var text = "STS \(action)" + (roleArn.map { " of role \($0)" } ?? "") + " failed: \(code)"
            if !message.isEmpty { text += ": \(message)" }
            text += " (HTTP \(status)" + (requestId.map { ", request id \($0)" } ?? "") + ")"
            if let hint = Self.hint(action: action, code: code) { text += ". " + hint }
            return text
        case let .transport(action, endpoint, error):
            return "STS \(action) at \(endpoint) failed: \(error)"
        case let .invalidResponse(action, endpoint, detail):
            return "STS \(action) at \(endpoint) returned an answer that cannot be read: \(detail)"
        }
    }

    private static func hint(action: String, code: String) -> String? {
        switch code {
        case "AccessDenied":
            return action == "AssumeRoleWithWebIdentity"
                ? "Check that the role's trust policy allows this identity provider and token audience"
                : "Check that the role's trust policy trusts the calling identity, that the caller may sts:AssumeRole "
                    + "this role, and the external id if the role requires one"
        case "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException":
            return "The credentials used to call STS are not valid: check the source credentials"
        case "ExpiredToken", "ExpiredTokenException":
            return action == "AssumeRoleWithWebIdentity"
                ? "The web identity token has expired: check that the token file is being refreshed"
                : "The session token of the source credentials has expired: refresh them"
        case "InvalidIdentityToken":
            return "The web identity token was rejected: check the token file and the identity provider set up in IAM"
        case "RegionDisabledException":
            return "STS is not activated in this region: activate it in IAM account settings or use another region"
        case "ValidationError":
            return "Check the role ARN, the session name (2-64 of [\\w+=,.@-]) and duration_seconds"
        default:
            return nil
        }
    }
}

/// The parameters of STS `AssumeRoleWithWebIdentity`. The description hides the token.
public struct STSAssumeRoleWithWebIdentityRequest: Sendable, Equatable, CustomStringConvertible {
    /// The ARN of the role to assume.
    public var roleArn: String
    /// A name for the session (2–64 characters of `[\w+=,.@-]`).
    public var roleSessionName: String
    /// The OIDC token (a JWT) proving the caller's identity. Never log it.
    public var webIdentityToken: String
    /// The session length in seconds; nil for STS's default of one hour.
    public var durationSeconds: Int?

    /// A request for `roleArn` with `webIdentityToken`.
    public init(roleArn: String, roleSessionName: String, webIdentityToken: String, durationSeconds: Int? = nil) {
        self.roleArn = roleArn
        self.roleSessionName = roleSessionName
        self.webIdentityToken = webIdentityToken
        self.durationSeconds = durationSeconds
    }

    public var description: String {
        "STSAssumeRoleWithWebIdentityRequest(roleArn: \(roleArn), roleSessionName: \(roleSessionName), webIdentityToken: <redacted>"
            + (durationSeconds.map { ", durationSeconds: \($0)" } ?? "") + ")"
    }
}

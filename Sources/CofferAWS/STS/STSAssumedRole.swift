/// What STS returns for an assumed role: temporary credentials and the session's identity.
public struct STSAssumedRole: Sendable, Equatable {
    /// The temporary credentials, with session token and expiration.
    public var credentials: AWSCredentials
    /// The ARN of the session (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`), when STS returned it.
    public var assumedRoleArn: String?

    /// A result from its parts.
    public init(credentials: AWSCredentials, assumedRoleArn: String?) {
        self.credentials = credentials
        self.assumedRoleArn = assumedRoleArn
    }
}

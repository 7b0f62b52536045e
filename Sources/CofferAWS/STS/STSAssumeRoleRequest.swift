/// The parameters of STS `AssumeRole`.
public struct STSAssumeRoleRequest: Sendable, Equatable {
    /// The ARN of the role to assume.
    public var roleArn: String
    /// A name for the session (2–64 characters of `[\w+=,.@-]`), shown in CloudTrail.
    public var roleSessionName: String
    /// The external id the role's trust policy may require.
    public var externalId: String?
    /// The session length in seconds (900 up to the role's maximum); nil for STS's default of one hour.
    public var durationSeconds: Int?

    /// A request for `roleArn`.
    public init(roleArn: String, roleSessionName: String, externalId: String? = nil, durationSeconds: Int? = nil) {
        self.roleArn = roleArn
        self.roleSessionName = roleSessionName
        self.externalId = externalId
        self.durationSeconds = durationSeconds
    }
}

/// The answer of STS `GetCallerIdentity`: who the credentials belong to.
public struct STSCallerIdentity: Sendable, Equatable {
    /// The account id.
    public var account: String
    /// The ARN of the user or assumed-role session.
    public var arn: String
    /// The unique id of the principal.
    public var userId: String

    /// An identity from its parts.
    public init(account: String, arn: String, userId: String) {
        self.account = account
        self.arn = arn
        self.userId = userId
    }
}

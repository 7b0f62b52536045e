/// Credentials given directly (by command-line options or code); they never change.
public struct StaticCredentialsProvider: CredentialsProvider {
    private let value: AWSCredentials

    /// A provider that always returns `credentials`.
    public init(_ credentials: AWSCredentials) {
        value = credentials
    }

    /// A provider of a key pair, with a session token for temporary keys.
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        value = AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        guard !value.accessKeyId.isEmpty, !value.secretAccessKey.isEmpty else {
            throw .invalidConfiguration("the access key id and the secret access key given must both be non-empty")
        }
        return value
    }
}

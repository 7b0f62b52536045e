/// A source of AWS credentials: static keys, the environment, profiles, STS, the container or instance endpoint.
public protocol CredentialsProvider: Sendable {
    /// Current credentials. Providers of temporary credentials refresh them before they expire.
    /// - Throws: `CredentialsError` saying what is missing or what failed, and how to fix it.
    func credentials() async throws(CredentialsError) -> AWSCredentials
}

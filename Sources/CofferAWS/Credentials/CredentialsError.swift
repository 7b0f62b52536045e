/// Why credentials could not be had. Every message says what the user can do about it.
public enum CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// This provider has nothing to offer (the chain then tries the next one).
    case notConfigured(String)
    /// The provider is configured but its configuration is wrong (a missing profile, a malformed file).
    case invalidConfiguration(String)
    /// Fetching credentials from a remote endpoint (STS, ECS, IMDS) failed.
    case fetchFailed(String)
    /// No provider in the chain had credentials.
    case noCredentials([String])

    public var description: String {
        switch self {
        case .notConfigured(let m): return m
        case .invalidConfiguration(let m): return "invalid AWS credentials configuration: \(m)"
        case .fetchFailed(let m): return "cannot fetch AWS credentials: \(m)"
        case .noCredentials(let tried):
            return "no AWS credentials found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, "
                + "or configure ~/.aws/credentials. Tried: " + tried.joined(separator: "; ")
        }
    }
}

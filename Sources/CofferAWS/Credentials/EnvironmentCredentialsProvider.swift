/// Credentials from environment variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
///
/// Like the Go SDK v2 and the Java SDK v1, the older names `AWS_ACCESS_KEY` and `AWS_SECRET_KEY` are read when the
/// standard ones are absent. The environment is injected, so tests never change the process's.
public struct EnvironmentCredentialsProvider: CredentialsProvider {
    private let environment: [String: String]

    /// A provider reading `environment` (usually `ProcessInfo.processInfo.environment`).
    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// True when at least one of the key variables is set, that is when this provider is meant to be used.
    public var isConfigured: Bool { accessKeyId != nil || secretAccessKey != nil }

    private var accessKeyId: String? { value("AWS_ACCESS_KEY_ID") ?? value("AWS_ACCESS_KEY") }
    private var secretAccessKey: String? { value("AWS_SECRET_ACCESS_KEY") ?? value("AWS_SECRET_KEY") }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        switch (accessKeyId, secretAccessKey) {
        case (nil, nil):
            throw .notConfigured("environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
        case (.some, nil):
            throw .invalidConfiguration("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither")
        case (nil, .some):
            throw .invalidConfiguration("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both, or neither")
        case let (id?, secret?):
            return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))
        }
    }

    private func value(_ name: String) -> String? {
        guard let v = environment[name], !v.isEmpty else { return nil }
        return v
    }
}

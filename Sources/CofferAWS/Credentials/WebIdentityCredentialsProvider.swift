import Foundation

/// Credentials of a role assumed with an OIDC token file (EKS IRSA, GitHub Actions, …) through STS
/// `AssumeRoleWithWebIdentity`, an unsigned call.
///
/// Configured by `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+ `AWS_ROLE_SESSION_NAME`), or by a profile's
/// `web_identity_token_file` + `role_arn`. The token file is read again at every fetch, since the platform rotates
/// it. Wrap it in a `CachingCredentialsProvider`.
public struct WebIdentityCredentialsProvider: CredentialsProvider {
    /// The role assumed.
    public let roleArn: String
    /// The file holding the token.
    public let tokenFile: String
    /// The session name sent.
    public let roleSessionName: String
    private let durationSeconds: Int?
    private let sts: STSClient
    private let origin: String

    /// A provider assuming `roleArn` with the token in `tokenFile`.
    /// - Parameters:
    ///   - roleSessionName: nil for `coffer-<unix time>`.
    ///   - origin: where the settings come from, for messages (`"AWS_WEB_IDENTITY_TOKEN_FILE"`, `"profile 'ci'"`).
    public init(roleArn: String, tokenFile: String, roleSessionName: String? = nil, durationSeconds: Int? = nil,
                sts: STSClient, origin: String = "AWS_WEB_IDENTITY_TOKEN_FILE") {
        self.roleArn = roleArn
        self.tokenFile = tokenFile
        self.roleSessionName = roleSessionName ?? "coffer-\(Int(Date().timeIntervalSince1970))"
        self.durationSeconds = durationSeconds
        self.sts = sts
        self.origin = origin
    }

    /// The provider the environment describes, or nil when `AWS_WEB_IDENTITY_TOKEN_FILE` is not set.
    /// - Throws: `CredentialsError.invalidConfiguration` when the token file is set without `AWS_ROLE_ARN`.
    public static func fromEnvironment(_ environment: [String: String], sts: STSClient) throws(CredentialsError) -> Self? {
        guard let file = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], !file.isEmpty else { return nil }
        guard let role = environment["AWS_ROLE_ARN"], !role.isEmpty else {
            throw .invalidConfiguration("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set the ARN of the role to assume")
        }
        let session = environment["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 }
        return Self(roleArn: role, tokenFile: CredentialFiles.expandHome(file, environment: environment),
                    roleSessionName: session, sts: sts)
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        let text = try await CredentialFiles.read(tokenFile, purpose: "web identity token file (from \(origin))")
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw .invalidConfiguration("the web identity token file \(tokenFile) (from \(origin)) is empty")
        }
        let request = STSAssumeRoleWithWebIdentityRequest(roleArn: roleArn, roleSessionName: roleSessionName,
                                                          webIdentityToken: token, durationSeconds: durationSeconds)
        do throws(STSError) {
            return try await sts.assumeRoleWithWebIdentity(request).credentials
        } catch {
            throw .fetchFailed("assuming role \(roleArn) with the web identity token in \(tokenFile) (from \(origin)): \(error)")
        }
    }
}

import Foundation

/// Credentials of a role assumed through STS `AssumeRole`, signed with the credentials of another provider (a
/// profile's `source_profile` or `credential_source`). Wrap it in a `CachingCredentialsProvider`.
public struct AssumeRoleCredentialsProvider: CredentialsProvider {
    /// The request sent (role, session name, external id, duration).
    public let request: STSAssumeRoleRequest
    private let source: any CredentialsProvider
    private let sourceDescription: String
    private let sts: STSClient

    /// A provider assuming `request.roleArn` with the credentials `source` gives.
    /// - Parameter sourceDescription: where the source credentials come from, for messages
    ///   (for instance `source profile 'base' (in ~/.aws/credentials)`).
    public init(request: STSAssumeRoleRequest, source: any CredentialsProvider, sourceDescription: String, sts: STSClient) {
        self.request = request
        self.source = source
        self.sourceDescription = sourceDescription
        self.sts = sts
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        let base: AWSCredentials
        do throws(CredentialsError) {
            base = try await source.credentials()
        } catch {
            switch error {
            case .notConfigured(let m):
                throw .invalidConfiguration("role \(request.roleArn) needs credentials from \(sourceDescription), which has none: \(m)")
            default:
                throw error
            }
        }
        do throws(STSError) {
            return try await sts.assumeRole(request, credentials: base).credentials
        } catch {
            throw .fetchFailed("assuming role \(request.roleArn) with the credentials of \(sourceDescription) "
                + "(access key \(base.accessKeyId)): \(error)")
        }
    }
}

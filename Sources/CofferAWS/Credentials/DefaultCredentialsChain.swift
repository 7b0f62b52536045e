import Foundation
import Synchronization
import CofferHTTP

/// The AWS SDKs' default credential provider chain.
///
/// Sources are tried in the order of the Java v2 and Go v2 SDKs and the SDK reference guide:
/// 1. static credentials given by options;
/// 2. the environment (`AWS_ACCESS_KEY_ID`, …) — skipped when a profile was named explicitly (`--profile`), as
///    botocore does, so that the named profile is not shadowed;
/// 3. web identity from the environment (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`);
/// 4. the shared config and credentials files (profile `--profile`, `AWS_PROFILE` or `default`);
/// 5. the ECS/EKS container endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`);
/// 6. the EC2 instance role (IMDSv2).
///
/// A source that is not configured is skipped. A source that is configured but broken (a malformed file, a named
/// profile that does not exist, STS refusing the role) stops the chain with its error, since falling through to
/// another identity would hide the mistake. The instance metadata service, which is tried without being asked for,
/// is the exception: if it cannot be reached, the chain ends with `CredentialsError.noCredentials` listing what was
/// tried. The first source that works is kept for later calls; temporary credentials are cached and refreshed
/// before they expire (see `CachingCredentialsProvider`).
public final class DefaultCredentialsChain: CredentialsProvider {
    /// One source of the chain.
    struct Entry: Sendable {
        var name: String
        var provider: any CredentialsProvider
        /// Whether a fetch failure moves on to the next source instead of stopping the chain.
        var fallThroughOnFailure: Bool
    }

    private let entries: [Entry]
    private let selected = Mutex<Int?>(nil)

    /// The chain for `context`.
    /// - Parameters:
    ///   - profile: a profile named explicitly (a `--profile` option); nil to use `AWS_PROFILE` or `default`.
    ///   - staticCredentials: keys given explicitly (options); they come first.
    public init(profile: String? = nil, staticCredentials: AWSCredentials? = nil, context: CredentialsContext) {
        var entries: [Entry] = []
        if let staticCredentials {
            entries.append(Entry(name: "static credentials", provider: StaticCredentialsProvider(staticCredentials),
                                 fallThroughOnFailure: false))
        }
        let explicitProfile = profile.flatMap { $0.isEmpty ? nil : $0 }
        if explicitProfile == nil {
            entries.append(Entry(name: "environment", provider: EnvironmentCredentialsProvider(environment: context.environment),
                                 fallThroughOnFailure: false))
        }
        entries.append(Entry(name: "web identity (environment)",
                             provider: context.caching(EnvironmentWebIdentity(context: context, profile: explicitProfile)),
                             fallThroughOnFailure: false))
        entries.append(Entry(name: "shared config",
                             provider: context.caching(ProfileCredentialsProvider(profile: explicitProfile, context: context)),
                             fallThroughOnFailure: false))
        entries.append(Entry(name: "container", provider: context.caching(context.containerProvider()),
                             fallThroughOnFailure: false))
        entries.append(Entry(name: "EC2 instance metadata", provider: context.caching(context.instanceMetadataProvider()),
                             fallThroughOnFailure: true))
        self.entries = entries
    }

    /// The chain built from the process's settings: explicit profile and keys (from options), the environment,
    /// and `transport` for STS.
    public convenience init(profile: String? = nil, staticCredentials: AWSCredentials? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            transport: any HTTPTransport) {
        self.init(profile: profile, staticCredentials: staticCredentials,
                  context: CredentialsContext(environment: environment, transport: transport))
    }

    /// The name of the source in use ("environment", "shared config", …), nil before the first success.
    public var source: String? {
        selected.withLock { $0 }.map { entries[$0].name }
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        if let index = selected.withLock({ $0 }) {
            return try await entries[index].provider.credentials()
        }
        var tried: [String] = []
        for (index, entry) in entries.enumerated() {
            do throws(CredentialsError) {
                let credentials = try await entry.provider.credentials()
                selected.withLock { $0 = $0 ?? index }
                return credentials
            } catch {
                switch error {
                case .notConfigured(let message):
                    tried.append(message)
                case .fetchFailed(let message) where entry.fallThroughOnFailure:
                    tried.append(message)
                default:
                    throw error
                }
            }
        }
        throw .noCredentials(tried)
    }
}

/// The web identity source of the chain: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, or not configured.
private struct EnvironmentWebIdentity: CredentialsProvider {
    let context: CredentialsContext
    /// The explicitly named profile, whose region and endpoint STS uses.
    let profile: String?

    func credentials() async throws(CredentialsError) -> AWSCredentials {
        // The region and endpoint may come from the selected profile, as in the SDKs.
        var selected: AWSProfileConfig?
        if context.environment["AWS_WEB_IDENTITY_TOKEN_FILE"].map({ !$0.isEmpty }) ?? false {
            let config = try await AWSSharedConfig.load(environment: context.environment)
            selected = config.profile(AWSSharedConfig.selectedProfileName(environment: context.environment, explicit: profile))
        }
        guard let provider = try WebIdentityCredentialsProvider.fromEnvironment(context.environment,
                                                                                  sts: context.stsClient(profile: selected)) else {
            throw .notConfigured("web identity: AWS_WEB_IDENTITY_TOKEN_FILE is not set")
        }
        return try await provider.credentials()
    }
}

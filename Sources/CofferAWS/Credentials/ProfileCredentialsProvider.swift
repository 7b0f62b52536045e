import Foundation

/// Credentials from a profile of the shared config and credentials files, resolved as the SDKs do.
///
/// For the selected profile, in order:
/// 1. `role_arn` → STS `AssumeRole`, with credentials from `source_profile` (itself resolved the same way, so
///    profiles chain; a source profile with static keys ends the chain even if it has a `role_arn`; a profile may
///    name itself as source when it has static keys) or from `credential_source` (`Environment`,
///    `Ec2InstanceMetadata`, `EcsContainer`); or, with `web_identity_token_file`, `AssumeRoleWithWebIdentity`.
/// 2. `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`).
///
/// `role_session_name`, `external_id` and `duration_seconds` apply to the role. Cycles of `source_profile` are
/// reported with the whole loop. `credential_process`, IAM Identity Center (SSO) and `mfa_serial` are not supported
/// and say so. The resolution is done once (files read off the cooperative pool); assumed roles are cached and
/// refreshed. A missing profile is an error when it was named (`--profile` or `AWS_PROFILE`); a missing `default`
/// profile just means "not configured".
public actor ProfileCredentialsProvider: CredentialsProvider {
    /// The profile used.
    public nonisolated let profileName: String
    private let explicit: Bool
    private let context: CredentialsContext
    private let preloaded: AWSSharedConfig?
    private var resolved: (provider: any CredentialsProvider, description: String)?

    /// A provider for `profile`, else `AWS_PROFILE`, else `default`.
    /// - Parameters:
    ///   - sharedConfig: the parsed files; nil to read the files `context.environment` names.
    public init(profile: String? = nil, context: CredentialsContext, sharedConfig: AWSSharedConfig? = nil) {
        let fromEnvironment = context.environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        self.profileName = AWSSharedConfig.selectedProfileName(environment: context.environment, explicit: profile)
        self.explicit = (profile.map { !$0.isEmpty } ?? false) || fromEnvironment != nil
        self.context = context
        self.preloaded = sharedConfig
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        try await resolve().provider.credentials()
    }

    /// How the profile's credentials are obtained, such as
    /// `assume role arn:… with source profile 'base': static keys of profile 'base' (in …/credentials)`.
    public func resolutionDescription() async throws(CredentialsError) -> String {
        try await resolve().description
    }

    private func resolve() async throws(CredentialsError) -> (provider: any CredentialsProvider, description: String) {
        if let resolved { return resolved }
        let config: AWSSharedConfig
        if let preloaded {
            config = preloaded
        } else {
            config = try await AWSSharedConfig.load(environment: context.environment)
        }
        guard let profile = config.profile(profileName) else {
            if explicit { throw .invalidConfiguration(config.missingProfileMessage(profileName)) }
            throw .notConfigured("shared config: no profile '\(profileName)' in \(config.configFilePath) or \(config.credentialsFilePath)")
        }
        let builder = Builder(config: config, context: context, sts: context.stsClient(profile: profile))
        let result = try builder.build(profile, chain: [], asSource: false)
        resolved = result
        return result
    }

    /// Turns profiles into providers. Separate from the actor: it only reads the parsed files.
    private struct Builder {
        let config: AWSSharedConfig
        let context: CredentialsContext
        let sts: STSClient

        /// The provider of `profile`'s credentials; `chain` lists the profiles that led here (for cycles).
        func build(_ profile: AWSProfileConfig, chain: [String],
                   asSource: Bool) throws(CredentialsError) -> (provider: any CredentialsProvider, description: String) {
            if asSource && profile.hasStaticKeys {
                return try staticKeys(profile)
            }
            if let roleArn = profile.roleArn {
                return try assumeRole(roleArn, profile, chain: chain)
            }
            if profile.hasStaticKeys {
                return try staticKeys(profile)
            }
            if profile.credentialProcess != nil {
                throw .invalidConfiguration("\(profile.location) uses credential_process, which Coffer does not support: "
                    + "use static keys, role_arn, or export the credentials (for instance with "
                    + "`aws configure export-credentials --format env`)")
            }
            if profile.usesSSO {
                throw .invalidConfiguration("\(profile.location) uses IAM Identity Center (SSO), which Coffer does not "
                    + "support: run `aws sso login` then export the credentials with "
                    + "`aws configure export-credentials --profile \(profile.name) --format env`")
            }
            if asSource {
                throw .invalidConfiguration("\(profile.location), used as source_profile by profile '\(chain.last ?? "")', "
                    + "has no credentials: give it aws_access_key_id and aws_secret_access_key, or a role_arn")
            }
            throw .notConfigured("shared config: \(profile.location) has no credentials")
        }

        private func staticKeys(_ profile: AWSProfileConfig) throws(CredentialsError) -> (provider: any CredentialsProvider, description: String) {
            guard let id = profile.accessKeyId else {
                throw .invalidConfiguration("\(profile.location) has aws_secret_access_key but no aws_access_key_id")
            }
            guard let secret = profile.secretAccessKey else {
                throw .invalidConfiguration("\(profile.location) has aws_access_key_id but no aws_secret_access_key")
            }
            return (StaticCredentialsProvider(accessKeyId: id, secretAccessKey: secret, sessionToken: profile.sessionToken),
                    "static keys of \(profile.location)")
        }

        private func assumeRole(_ roleArn: String, _ profile: AWSProfileConfig,
                                chain: [String]) throws(CredentialsError) -> (provider: any CredentialsProvider, description: String) {
            if profile.mfaSerial != nil {
                throw .invalidConfiguration("\(profile.location) sets mfa_serial: Coffer cannot prompt for an MFA code. "
                    + "Assume the role beforehand and pass the temporary credentials")
            }
            let duration: Int?
            if let text = profile["duration_seconds"] {
                guard let value = Int(text), value > 0 else {
                    throw .invalidConfiguration("\(profile.location): duration_seconds '\(text)' is not a positive number of seconds")
                }
                duration = value
            } else {
                duration = nil
            }
            let sessionName = profile.roleSessionName ?? "coffer-\(Int(context.now().timeIntervalSince1970))"

            let source: (provider: any CredentialsProvider, description: String)
            switch (profile.sourceProfile, profile.credentialSource) {
            case (.some, .some):
                throw .invalidConfiguration("\(profile.location) sets both source_profile and credential_source: keep one")
            case (let sourceName?, nil):
                if sourceName == profile.name {
                    // A profile may use its own static keys to assume its role.
                    guard profile.hasStaticKeys else { throw cycle(chain + [profile.name, sourceName]) }
                    source = try staticKeys(profile)
                } else {
                    if chain.contains(sourceName) { throw cycle(chain + [profile.name, sourceName]) }
                    guard let sourceProfile = config.profile(sourceName) else {
                        throw .invalidConfiguration("\(profile.location) has source_profile '\(sourceName)', but "
                            + config.missingProfileMessage(sourceName))
                    }
                    let built = try build(sourceProfile, chain: chain + [profile.name], asSource: true)
                    source = (built.provider, "source profile '\(sourceName)' (\(built.description))")
                }
            case (nil, let credentialSource?):
                source = try namedSource(credentialSource, profile)
            case (nil, nil):
                if let tokenFile = profile.webIdentityTokenFile {
                    let provider = WebIdentityCredentialsProvider(
                        roleArn: roleArn, tokenFile: CredentialFiles.expandHome(tokenFile, environment: context.environment),
                        roleSessionName: sessionName, durationSeconds: duration, sts: sts, origin: profile.location)
                    return (context.caching(provider), "assume role \(roleArn) with the web identity token of \(profile.location)")
                }
                throw .invalidConfiguration("\(profile.location) has role_arn but no source_profile, credential_source or "
                    + "web_identity_token_file: add one to say which credentials assume the role")
            }
            let request = STSAssumeRoleRequest(roleArn: roleArn, roleSessionName: sessionName,
                                               externalId: profile.externalId, durationSeconds: duration)
            let provider = AssumeRoleCredentialsProvider(request: request, source: source.provider,
                                                         sourceDescription: source.description, sts: sts)
            return (context.caching(provider), "assume role \(roleArn) of \(profile.location) with \(source.description)")
        }

        private func namedSource(_ name: String, _ profile: AWSProfileConfig) throws(CredentialsError) -> (provider: any CredentialsProvider, description: String) {
            switch name {
            case "Environment":
                return (EnvironmentCredentialsProvider(environment: context.environment), "the environment (credential_source)")
            case "Ec2InstanceMetadata":
                return (context.caching(context.instanceMetadataProvider()), "the EC2 instance role (credential_source)")
            case "EcsContainer":
                return (context.caching(context.containerProvider()), "the ECS container role (credential_source)")
            default:
                throw .invalidConfiguration("\(profile.location): credential_source '\(name)' is not one of Environment, "
                    + "Ec2InstanceMetadata, EcsContainer")
            }
        }

        private func cycle(_ path: [String]) -> CredentialsError {
            .invalidConfiguration("source_profile settings form a cycle: "
                + path.map { "'\($0)'" }.joined(separator: " -> ")
                + ". Give one of these profiles static keys (aws_access_key_id, aws_secret_access_key) to end the chain")
        }
    }
}

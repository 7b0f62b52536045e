/// One profile of the shared AWS config and credentials files, merged (the credentials file wins per key).
///
/// Keys are lower-cased. The description lists the keys only, never values, so secrets don't reach logs.
public struct AWSProfileConfig: Sendable, Equatable, CustomStringConvertible {
    /// The profile's name (`default`, or `NAME` of `[profile NAME]` / `[NAME]`).
    public var name: String
    /// Every setting of the profile, keys lower-cased.
    public var properties: [String: String]
    /// The files the profile was found in, config file first.
    public var sourceFiles: [String]

    /// A profile from its settings.
    public init(name: String, properties: [String: String], sourceFiles: [String] = []) {
        self.name = name
        self.properties = properties.reduce(into: [:]) { $0[$1.key.lowercased()] = $1.value }
        self.sourceFiles = sourceFiles
    }

    /// The value of setting `key` (case-insensitive); nil when absent or empty.
    public subscript(key: String) -> String? {
        guard let value = properties[key.lowercased()], !value.isEmpty else { return nil }
        return value
    }

    /// `region`: the default region of clients using this profile.
    public var region: String? { self["region"] }
    /// `aws_access_key_id`.
    public var accessKeyId: String? { self["aws_access_key_id"] }
    /// `aws_secret_access_key`. Never log it.
    public var secretAccessKey: String? { self["aws_secret_access_key"] }
    /// `aws_session_token`. Never log it.
    public var sessionToken: String? { self["aws_session_token"] }
    /// `role_arn`: the role to assume.
    public var roleArn: String? { self["role_arn"] }
    /// `source_profile`: the profile whose credentials assume `role_arn`.
    public var sourceProfile: String? { self["source_profile"] }
    /// `credential_source`: `Environment`, `Ec2InstanceMetadata` or `EcsContainer`, the source for `role_arn`.
    public var credentialSource: String? { self["credential_source"] }
    /// `web_identity_token_file`: an OIDC token file for AssumeRoleWithWebIdentity of `role_arn`.
    public var webIdentityTokenFile: String? { self["web_identity_token_file"] }
    /// `role_session_name`.
    public var roleSessionName: String? { self["role_session_name"] }
    /// `external_id`, passed to AssumeRole.
    public var externalId: String? { self["external_id"] }
    /// `duration_seconds` of assumed-role sessions.
    public var durationSeconds: Int? { self["duration_seconds"].flatMap { Int($0) } }
    /// `mfa_serial`: the role needs an MFA code (not supported: Coffer cannot prompt for one).
    public var mfaSerial: String? { self["mfa_serial"] }
    /// `endpoint_url`: the endpoint for all services used with this profile (the STS client uses it too).
    public var endpointURL: String? { self["endpoint_url"] }
    /// `credential_process`: an external command printing credentials (not supported).
    public var credentialProcess: String? { self["credential_process"] }
    /// True when the profile uses IAM Identity Center (`sso_session` or `sso_start_url`), which is not supported.
    public var usesSSO: Bool { self["sso_session"] != nil || self["sso_start_url"] != nil }

    /// True when the profile holds a long-term or temporary key pair (possibly incomplete).
    public var hasStaticKeys: Bool { accessKeyId != nil || secretAccessKey != nil }

    /// Where the profile comes from, for messages: `profile 'NAME' (in FILE and FILE)`.
    public var location: String {
        "profile '\(name)'" + (sourceFiles.isEmpty ? "" : " (in " + sourceFiles.joined(separator: " and ") + ")")
    }

    public var description: String {
        "AWSProfileConfig(\(name), keys: \(properties.keys.sorted().joined(separator: ", ")))"
    }
}

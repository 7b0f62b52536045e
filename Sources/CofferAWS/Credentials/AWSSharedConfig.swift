/// The shared AWS config (`~/.aws/config`) and credentials (`~/.aws/credentials`) files, read as the SDKs do.
///
/// `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE` move the files; `AWS_PROFILE` chooses the profile. A profile
/// defined in both files is merged key by key, the credentials file winning. A missing file is an empty file.
public struct AWSSharedConfig: Sendable, Equatable {
    /// The config file read (whether it exists or not).
    public var configFilePath: String
    /// The credentials file read (whether it exists or not).
    public var credentialsFilePath: String
    /// The profiles found, by name.
    public var profiles: [String: AWSProfileConfig]

    /// Profiles given directly.
    public init(configFilePath: String, credentialsFilePath: String, profiles: [String: AWSProfileConfig]) {
        self.configFilePath = configFilePath
        self.credentialsFilePath = credentialsFilePath
        self.profiles = profiles
    }

    /// The config file path: `AWS_CONFIG_FILE`, else `~/.aws/config`.
    public static func configFilePath(environment: [String: String]) -> String {
        CredentialFiles.expandHome(nonEmpty(environment["AWS_CONFIG_FILE"]) ?? "~/.aws/config", environment: environment)
    }

    /// The credentials file path: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
    public static func credentialsFilePath(environment: [String: String]) -> String {
        CredentialFiles.expandHome(nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]) ?? "~/.aws/credentials",
                                   environment: environment)
    }

    /// The profile to use: `explicit` (a `--profile` option) if given, else `AWS_PROFILE`, else `default`.
    public static func selectedProfileName(environment: [String: String], explicit: String? = nil) -> String {
        nonEmpty(explicit) ?? nonEmpty(environment["AWS_PROFILE"]) ?? "default"
    }

    /// The region clients should use: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region`.
    public static func region(environment: [String: String], profile: AWSProfileConfig?) -> String? {
        nonEmpty(environment["AWS_REGION"]) ?? nonEmpty(environment["AWS_DEFAULT_REGION"]) ?? profile?.region
    }

    /// The region for clients, reading the files when the environment does not set one: `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, else the `region` of the selected profile (`explicitProfile`, `AWS_PROFILE`, `default`).
    /// - Throws: `CredentialsError.invalidConfiguration` when a file is malformed.
    public static func resolveRegion(environment: [String: String], explicitProfile: String? = nil) async throws(CredentialsError) -> String? {
        if let region = region(environment: environment, profile: nil) { return region }
        let config = try await load(environment: environment)
        return config.profile(selectedProfileName(environment: environment, explicit: explicitProfile))?.region
    }

    /// Reads the files named by `environment` (see `configFilePath(environment:)`), off the cooperative pool.
    /// - Throws: `CredentialsError.invalidConfiguration` when a file exists but is unreadable or malformed.
    public static func load(environment: [String: String]) async throws(CredentialsError) -> AWSSharedConfig {
        try await load(configFile: configFilePath(environment: environment),
                       credentialsFile: credentialsFilePath(environment: environment))
    }

    /// Reads the two files given; either may be missing.
    /// - Throws: `CredentialsError.invalidConfiguration` when a file exists but is unreadable or malformed.
    public static func load(configFile: String, credentialsFile: String) async throws(CredentialsError) -> AWSSharedConfig {
        let configText = try await CredentialFiles.readIfPresent(configFile)
        let credentialsText = try await CredentialFiles.readIfPresent(credentialsFile)
        return try parse(configText: configText, credentialsText: credentialsText,
                         configFilePath: configFile, credentialsFilePath: credentialsFile)
    }

    /// Parses the two files' texts (nil for a missing file); the paths are used in messages.
    /// - Throws: `CredentialsError.invalidConfiguration` naming the file and line of a malformed line.
    public static func parse(configText: String?, credentialsText: String?, configFilePath: String = "config",
                             credentialsFilePath: String = "credentials") throws(CredentialsError) -> AWSSharedConfig {
        var profiles: [String: AWSProfileConfig] = [:]
        if let configText {
            for section in try SharedConfigParser.parse(configText, path: configFilePath, kind: .config) {
                profiles[section.name] = AWSProfileConfig(name: section.name, properties: section.properties,
                                                          sourceFiles: [configFilePath])
            }
        }
        if let credentialsText {
            for section in try SharedConfigParser.parse(credentialsText, path: credentialsFilePath, kind: .credentials) {
                if var merged = profiles[section.name] {
                    merged.properties.merge(section.properties) { _, fromCredentials in fromCredentials }
                    merged.sourceFiles.append(credentialsFilePath)
                    profiles[section.name] = merged
                } else {
                    profiles[section.name] = AWSProfileConfig(name: section.name, properties: section.properties,
                                                              sourceFiles: [credentialsFilePath])
                }
            }
        }
        return AWSSharedConfig(configFilePath: configFilePath, credentialsFilePath: credentialsFilePath, profiles: profiles)
    }

    /// The profile `name`, if defined in either file.
    public func profile(_ name: String) -> AWSProfileConfig? { profiles[name] }

    /// The profile `name`.
    /// - Throws: `CredentialsError.invalidConfiguration` saying which files were searched and which profiles exist.
    public func requireProfile(_ name: String) throws(CredentialsError) -> AWSProfileConfig {
        if let profile = profiles[name] { return profile }
        throw .invalidConfiguration(missingProfileMessage(name))
    }

    /// "profile 'X' not found in FILE or FILE; the profiles there are: …".
    func missingProfileMessage(_ name: String) -> String {
        let known = profiles.keys.sorted()
        return "profile '\(name)' not found in \(configFilePath) (as [profile \(name)]) or \(credentialsFilePath) "
            + "(as [\(name)]); "
            + (known.isEmpty ? "those files define no profiles" : "the profiles defined are: " + known.joined(separator: ", "))
            + ". Check the name given with --profile or AWS_PROFILE"
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

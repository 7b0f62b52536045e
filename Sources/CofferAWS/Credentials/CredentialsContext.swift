import Foundation
import Logging
import CofferHTTP

/// What credential providers need from their surroundings: the environment, transports, endpoint overrides, the
/// refresh policy and the clock. Everything is injected so tests touch neither the process environment nor the
/// network beyond loopback.
public struct CredentialsContext: Sendable {
    /// The environment variables to read (usually `ProcessInfo.processInfo.environment`).
    public var environment: [String: String]
    /// The transport for STS.
    public var transport: any HTTPTransport
    /// The transport for the container and instance-metadata endpoints; it should have short timeouts
    /// (the default is a `CurlTransport` with a 1 s connect timeout, created on first use).
    public var metadataTransport: any HTTPTransport
    /// The STS endpoint, overriding `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url` and the
    /// regional default.
    public var stsEndpoint: String?
    /// The base of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (the ECS agent, `http://169.254.170.2`).
    public var containerRelativeBase: String
    /// The instance metadata endpoint, overriding `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    public var metadataEndpoint: String?
    /// How long before expiration temporary credentials are refreshed.
    public var refreshBefore: TimeInterval
    /// The clock.
    public var now: @Sendable () -> Date
    /// Where refresh failures are logged (never credentials).
    public var logger: Logger

    /// A context; only `environment` and `transport` are required.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, transport: any HTTPTransport,
                metadataTransport: (any HTTPTransport)? = nil, stsEndpoint: String? = nil,
                containerRelativeBase: String = ContainerCredentialsProvider.defaultRelativeBase,
                metadataEndpoint: String? = nil, refreshBefore: TimeInterval = 300,
                now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "coffer.credentials")) {
        self.environment = environment
        self.transport = transport
        self.metadataTransport = metadataTransport ?? MetadataTransport()
        self.stsEndpoint = stsEndpoint
        self.containerRelativeBase = containerRelativeBase
        self.metadataEndpoint = metadataEndpoint
        self.refreshBefore = refreshBefore
        self.now = now
        self.logger = logger
    }

    /// `provider` behind a `CachingCredentialsProvider` using this context's refresh policy and clock.
    public func caching(_ provider: any CredentialsProvider) -> CachingCredentialsProvider {
        CachingCredentialsProvider(provider, refreshBefore: refreshBefore, now: now, logger: logger)
    }

    /// An STS client for `profile` (the selected profile, if any), configured as the SDKs do.
    ///
    /// Region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`. Endpoint: `stsEndpoint`,
    /// else (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`) `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, the
    /// profile's `endpoint_url`, else `https://sts.REGION.amazonaws.com`.
    public func stsClient(profile: AWSProfileConfig?) -> STSClient {
        let region = AWSSharedConfig.region(environment: environment, profile: profile) ?? "us-east-1"
        var endpoint = stsEndpoint
        if endpoint == nil, environment["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]?.lowercased() != "true" {
            endpoint = nonEmpty(environment["AWS_ENDPOINT_URL_STS"]) ?? nonEmpty(environment["AWS_ENDPOINT_URL"])
                ?? profile?.endpointURL
        }
        return STSClient(transport: transport, region: region, endpoint: endpoint, now: now)
    }

    /// The instance-metadata provider for this context.
    public func instanceMetadataProvider() -> InstanceMetadataCredentialsProvider {
        InstanceMetadataCredentialsProvider(environment: environment, transport: metadataTransport,
                                            endpoint: metadataEndpoint, now: now)
    }

    /// The container provider for this context.
    public func containerProvider() -> ContainerCredentialsProvider {
        ContainerCredentialsProvider(environment: environment, transport: metadataTransport,
                                     relativeBase: containerRelativeBase)
    }

    private func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

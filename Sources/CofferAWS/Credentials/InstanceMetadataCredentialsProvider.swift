import Foundation
import CofferHTTP

/// Credentials of the EC2 instance's IAM role, from the instance metadata service with IMDSv2 session tokens.
///
/// 1. `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` gets a session token (kept for its TTL);
/// 2. `GET /latest/meta-data/iam/security-credentials/` names the role;
/// 3. `GET /latest/meta-data/iam/security-credentials/ROLE` returns the credentials,
/// both GETs carrying `X-aws-ec2-metadata-token`. A 401 means the session token expired: one new token is fetched.
/// As in the SDKs, when the token call answers 403, 404 or 405 the provider falls back to IMDSv1 (no token) unless
/// `AWS_EC2_METADATA_V1_DISABLED=true`.
///
/// Settings: `AWS_EC2_METADATA_DISABLED=true` turns it off; `AWS_EC2_METADATA_SERVICE_ENDPOINT` replaces the
/// endpoint (default `http://169.254.169.254`); `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6` uses
/// `http://[fd00:ec2::254]`. Give it a transport with a short connect timeout (about 1 s) so that a host which is
/// not on EC2 fails fast. Wrap it in a `CachingCredentialsProvider`.
public actor InstanceMetadataCredentialsProvider: CredentialsProvider {
    /// The IPv4 metadata endpoint.
    public static let defaultEndpoint = "http://169.254.169.254"
    /// The IPv6 metadata endpoint.
    public static let ipv6Endpoint = "http://[fd00:ec2::254]"

    /// The endpoint requests go to.
    public nonisolated let endpoint: String
    /// True when `AWS_EC2_METADATA_DISABLED` is `true`.
    public nonisolated let isDisabled: Bool
    private let allowV1: Bool
    private let transport: any HTTPTransport
    private let tokenTTL: Int
    private let attempts: Int
    private let now: @Sendable () -> Date

    /// The IMDSv2 session token, nil before the first call or in IMDSv1 mode.
    private var token: (value: String, expires: Date)?

    /// A provider configured from `environment`.
    /// - Parameters:
    ///   - endpoint: overrides the environment's endpoint (tests pass a loopback server).
    ///   - tokenTTL: seconds a session token lives (the SDKs ask 21600).
    ///   - attempts: tries per request for connection failures and 5xx answers (2: one retry).
    public init(environment: [String: String], transport: any HTTPTransport, endpoint: String? = nil,
                tokenTTL: Int = 21600, attempts: Int = 2, now: @escaping @Sendable () -> Date = { Date() }) {
        let configured = endpoint ?? Self.nonEmpty(environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"])
            ?? (environment["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"]?.lowercased() == "ipv6"
                ? Self.ipv6Endpoint : Self.defaultEndpoint)
        self.endpoint = configured.hasSuffix("/") ? String(configured.dropLast()) : configured
        self.isDisabled = environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true"
        self.allowV1 = environment["AWS_EC2_METADATA_V1_DISABLED"]?.lowercased() != "true"
        self.transport = transport
        self.tokenTTL = tokenTTL
        self.attempts = max(1, attempts)
        self.now = now
    }

    private var what: String { "the EC2 instance metadata service at \(endpoint)" }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        guard !isDisabled else {
            throw .notConfigured("EC2 instance metadata: disabled by AWS_EC2_METADATA_DISABLED")
        }
        let rolePath = "/latest/meta-data/iam/security-credentials/"
        let roleResponse = try await get(rolePath)
        guard roleResponse.isSuccess else {
            if roleResponse.status == 404 {
                throw .fetchFailed("\(what) reports no IAM role: attach an instance profile to the instance")
            }
            throw .fetchFailed("\(what) answered HTTP \(roleResponse.status) for the role name")
        }
        let listing = String(decoding: roleResponse.body, as: UTF8.self)
        guard let role = listing.split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }),
              !role.isEmpty else {
            throw .fetchFailed("\(what) reports no IAM role: attach an instance profile to the instance")
        }
        let encodedRole = role.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? role
        let response = try await get(rolePath + encodedRole)
        guard response.isSuccess else {
            throw .fetchFailed("\(what) answered HTTP \(response.status) for the credentials of role \(role)")
        }
        return try CredentialsEndpoint.parseCredentials(response.body, from: "\(what) (role \(role))")
    }

    /// GET `path` with the session token; a 401 (expired token) gets one fresh token and a retry.
    private func get(_ path: String) async throws(CredentialsError) -> HTTPResponse {
        var fresh = false
        while true {
            let current = try await sessionToken(forceNew: fresh)
            var headers = HTTPHeaders()
            if let current { headers.add("X-aws-ec2-metadata-token", current) }
            let response = try await CredentialsEndpoint.send(HTTPRequest(method: "GET", url: endpoint + path, headers: headers),
                                                              transport: transport, attempts: attempts, what: what)
            if response.status == 401 && !fresh {
                token = nil
                fresh = true
                continue
            }
            if response.status == 401 {
                throw .fetchFailed("\(what) refused a fresh IMDSv2 session token (HTTP 401)")
            }
            return response
        }
    }

    /// The cached session token, or a new one; nil in IMDSv1 fallback.
    private func sessionToken(forceNew: Bool) async throws(CredentialsError) -> String? {
        if !forceNew, let token, now() < token.expires { return token.value }
        var headers = HTTPHeaders()
        headers.add("X-aws-ec2-metadata-token-ttl-seconds", String(tokenTTL))
        let started = now()
        let response = try await CredentialsEndpoint.send(
            HTTPRequest(method: "PUT", url: endpoint + "/latest/api/token", headers: headers),
            transport: transport, attempts: attempts, what: what)
        switch response.status {
        case 200..<300:
            let value = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw .fetchFailed("\(what) returned an empty IMDSv2 session token") }
            // Renew a minute early so a token never expires between the two GETs.
            token = (value, started.addingTimeInterval(TimeInterval(max(tokenTTL - 60, 1))))
            return value
        case 403 where allowV1, 404 where allowV1, 405 where allowV1:
            token = nil
            return nil
        default:
            throw .fetchFailed("\(what) refused an IMDSv2 session token (HTTP \(response.status))"
                + (allowV1 ? "" : "; IMDSv1 is disabled by AWS_EC2_METADATA_V1_DISABLED"))
        }
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}

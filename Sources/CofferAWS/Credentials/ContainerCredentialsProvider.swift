import Foundation
import CofferHTTP

/// Credentials from the ECS task role or EKS Pod Identity endpoint.
///
/// - `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`: a path on the ECS agent at `http://169.254.170.2` (takes precedence).
/// - `AWS_CONTAINER_CREDENTIALS_FULL_URI`: a whole URL, which the SDKs allow only over HTTPS or to a loopback or
///   the ECS/EKS link-local hosts (169.254.170.2, 169.254.170.23, fd00:ec2::23).
/// - `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (re-read at each fetch, preferred) or
///   `AWS_CONTAINER_AUTHORIZATION_TOKEN`: sent as the `Authorization` header.
///
/// Wrap it in a `CachingCredentialsProvider`: each call here is a request.
public struct ContainerCredentialsProvider: CredentialsProvider {
    /// The ECS agent's address, the base of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
    public static let defaultRelativeBase = "http://169.254.170.2"

    private let environment: [String: String]
    private let transport: any HTTPTransport
    private let relativeBase: String
    private let attempts: Int

    /// A provider reading its settings from `environment`.
    /// - Parameters:
    ///   - transport: should have short timeouts; the endpoint is local.
    ///   - relativeBase: the base URL of relative URIs (tests use a loopback server instead of the ECS agent).
    ///   - attempts: tries per fetch, for connection failures and 5xx answers.
    public init(environment: [String: String], transport: any HTTPTransport,
                relativeBase: String = ContainerCredentialsProvider.defaultRelativeBase, attempts: Int = 3) {
        self.environment = environment
        self.transport = transport
        self.relativeBase = relativeBase
        self.attempts = max(1, attempts)
    }

    /// True when one of the URI variables is set.
    public var isConfigured: Bool {
        value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != nil || value("AWS_CONTAINER_CREDENTIALS_FULL_URI") != nil
    }

    /// The URL credentials are fetched from.
    /// - Throws: `notConfigured` when neither variable is set; `invalidConfiguration` for a disallowed full URI.
    public func endpointURL() throws(CredentialsError) -> String {
        if let relative = value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let base = relativeBase.hasSuffix("/") ? String(relativeBase.dropLast()) : relativeBase
            return base + (relative.hasPrefix("/") ? relative : "/" + relative)
        }
        if let full = value("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            try Self.validateFullURI(full)
            return full
        }
        throw .notConfigured("container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set")
    }

    /// Checks `uri` the way the SDKs do: HTTPS to any host, or plain HTTP to a loopback or ECS/EKS agent address.
    /// - Throws: `CredentialsError.invalidConfiguration` saying why the URI is refused.
    public static func validateFullURI(_ uri: String) throws(CredentialsError) {
        guard let url = URL(string: uri), let scheme = url.scheme?.lowercased(), let rawHost = url.host, !rawHost.isEmpty else {
            throw .invalidConfiguration("AWS_CONTAINER_CREDENTIALS_FULL_URI '\(uri)' is not an absolute URL")
        }
        if scheme == "https" { return }
        guard scheme == "http" else {
            throw .invalidConfiguration("AWS_CONTAINER_CREDENTIALS_FULL_URI must use http or https, not '\(scheme)'")
        }
        var host = rawHost.lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if isAllowedHTTPHost(host) { return }
        throw .invalidConfiguration("AWS_CONTAINER_CREDENTIALS_FULL_URI '\(uri)' uses plain http to \(host): only https, "
            + "a loopback address (127.0.0.0/8, ::1, localhost) or the ECS/EKS agent (169.254.170.2, 169.254.170.23, "
            + "fd00:ec2::23) are allowed")
    }

    private static func isAllowedHTTPHost(_ host: String) -> Bool {
        if ["localhost", "::1", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"].contains(host) { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        let url = try endpointURL()
        var headers = HTTPHeaders()
        headers.add("Accept", "application/json")
        if let token = try await authorizationToken() { headers.add("Authorization", token) }
        let what = "the container credentials endpoint \(Self.withoutQuery(url))"
        let response = try await CredentialsEndpoint.send(HTTPRequest(method: "GET", url: url, headers: headers),
                                                          transport: transport, attempts: attempts, what: what)
        guard response.isSuccess else {
            var hint = ""
            if response.status == 401 || response.status == 403 {
                hint = " (check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN)"
            }
            throw .fetchFailed("\(what) answered HTTP \(response.status)\(hint)\(CredentialsEndpoint.excerpt(response.body))")
        }
        return try CredentialsEndpoint.parseCredentials(response.body, from: what)
    }

    /// The `Authorization` value: the token file's contents (re-read each time) or the token variable.
    private func authorizationToken() async throws(CredentialsError) -> String? {
        var token: String?
        if let file = value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            let text = try await CredentialFiles.read(file, purpose: "container authorization token file (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)")
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            token = value("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        }
        guard let token, !token.isEmpty else { return nil }
        guard !token.contains(where: { $0 == "\r" || $0 == "\n" }) else {
            throw .invalidConfiguration("the container authorization token contains a line break, which cannot be sent in a header")
        }
        return token
    }

    private static func withoutQuery(_ url: String) -> String {
        url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    }

    private func value(_ name: String) -> String? {
        guard let v = environment[name], !v.isEmpty else { return nil }
        return v
    }
}

import Foundation
import CofferHTTP

/// A minimal client of AWS Security Token Service: `AssumeRole`, `AssumeRoleWithWebIdentity`, `GetCallerIdentity`.
///
/// Requests are form-encoded POSTs (`Action=…&Version=2011-06-15&…`) to the endpoint; `AssumeRole` and
/// `GetCallerIdentity` are SigV4-signed for service `sts` with the body hash, `AssumeRoleWithWebIdentity` is sent
/// unsigned (the token is the proof). Throttling, 5xx answers and broken connections are retried.
public struct STSClient: Sendable {
    /// The STS API version spoken.
    public static let apiVersion = "2011-06-15"

    /// The base URL requests go to, such as `https://sts.eu-west-1.amazonaws.com`.
    public let endpoint: String
    /// The region in the signature's credential scope.
    public let region: String
    private let transport: any HTTPTransport
    private let attempts: Int
    private let now: @Sendable () -> Date

    /// A client for `region`, at `endpoint` or else the regional endpoint `https://sts.REGION.amazonaws.com`.
    /// - Parameters:
    ///   - attempts: tries per call for retryable failures (throttling, 5xx, broken connections).
    ///   - now: the signing clock.
    public init(transport: any HTTPTransport, region: String, endpoint: String? = nil, attempts: Int = 3,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.transport = transport
        self.region = region
        let base = endpoint ?? Self.defaultEndpoint(region: region)
        self.endpoint = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.attempts = max(1, attempts)
        self.now = now
    }

    /// The regional STS endpoint: `https://sts.REGION.amazonaws.com` (`.amazonaws.com.cn` in China regions).
    public static func defaultEndpoint(region: String) -> String {
        "https://sts.\(region).amazonaws.com" + (region.hasPrefix("cn-") ? ".cn" : "")
    }

    /// Assumes `request.roleArn` with `credentials` (signed request).
    /// - Throws: `STSError`; for `AccessDenied` the message says what to check in the role's trust policy.
    public func assumeRole(_ request: STSAssumeRoleRequest, credentials: AWSCredentials) async throws(STSError) -> STSAssumedRole {
        var parameters = [("RoleArn", request.roleArn), ("RoleSessionName", request.roleSessionName)]
        if let externalId = request.externalId { parameters.append(("ExternalId", externalId)) }
        if let duration = request.durationSeconds { parameters.append(("DurationSeconds", String(duration))) }
        let root = try await call("AssumeRole", parameters, roleArn: request.roleArn, credentials: credentials)
        return try assumedRole(from: root, action: "AssumeRole")
    }

    /// Assumes `request.roleArn` with an OIDC token (unsigned request).
    /// - Throws: `STSError`.
    public func assumeRoleWithWebIdentity(_ request: STSAssumeRoleWithWebIdentityRequest) async throws(STSError) -> STSAssumedRole {
        var parameters = [("RoleArn", request.roleArn), ("RoleSessionName", request.roleSessionName),
                          ("WebIdentityToken", request.webIdentityToken)]
        if let duration = request.durationSeconds { parameters.append(("DurationSeconds", String(duration))) }
        let root = try await call("AssumeRoleWithWebIdentity", parameters, roleArn: request.roleArn, credentials: nil)
        return try assumedRole(from: root, action: "AssumeRoleWithWebIdentity")
    }

    /// Who `credentials` belong to. Needs no permission, so it checks that credentials work.
    /// - Throws: `STSError`.
    public func getCallerIdentity(credentials: AWSCredentials) async throws(STSError) -> STSCallerIdentity {
        let root = try await call("GetCallerIdentity", [], roleArn: nil, credentials: credentials)
        guard let result = root.child("GetCallerIdentityResult"), let arn = result.childText("Arn") else {
            throw .invalidResponse(action: "GetCallerIdentity", endpoint: endpoint, detail: "no GetCallerIdentityResult/Arn")
        }
        return STSCallerIdentity(account: result.childText("Account") ?? "", arn: arn, userId: result.childText("UserId") ?? "")
    }

    // MARK: - Plumbing

    /// The form body `Action=…&Version=…&name=value…`, names and values percent-encoded (RFC 3986).
    static func formBody(action: String, _ parameters: [(String, String)]) -> String {
        ([("Action", action), ("Version", apiVersion)] + parameters)
            .map { AWSURIEncoding.encode($0.0) + "=" + AWSURIEncoding.encode($0.1) }
            .joined(separator: "&")
    }

    /// Sends one action, retrying what may pass, and returns the parsed success document's root.
    private func call(_ action: String, _ parameters: [(String, String)], roleArn: String?,
                      credentials: AWSCredentials?) async throws(STSError) -> XMLTree {
        let body = Array(Self.formBody(action: action, parameters).utf8)
        var attempt = 0
        while true {
            attempt += 1
            do throws(STSError) {
                return try await send(action, body: body, roleArn: roleArn, credentials: credentials)
            } catch {
                guard error.isRetryable, attempt < attempts else { throw error }
                let delay = 200 * (1 << (attempt - 1)) + Int.random(in: 0..<100)
                try? await Task.sleep(for: .milliseconds(delay))
            }
        }
    }

    private func send(_ action: String, body: [UInt8], roleArn: String?,
                      credentials: AWSCredentials?) async throws(STSError) -> XMLTree {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        headers.add("Accept", "text/xml")
        var request = HTTPRequest(method: "POST", url: endpoint + "/", headers: headers, body: .bytes(body))
        if let credentials {
            SigV4Signer(service: "sts", region: region)
                .sign(&request, credentials: credentials, date: now(), payloadHash: SigV4Signer.payloadHash(body))
        }
        let response: HTTPResponse
        do throws(HTTPError) {
            response = try await transport.send(request)
        } catch {
            throw .transport(action: action, endpoint: endpoint, error)
        }
        let document: XMLTree
        do throws(XMLError) {
            document = try XMLTree.parse(response.body)
        } catch {
            if response.isSuccess {
                throw .invalidResponse(action: action, endpoint: endpoint, detail: "\(error)")
            }
            throw .service(action: action, roleArn: roleArn, status: response.status, code: "HTTP \(response.status)",
                           message: String(decoding: response.body.prefix(200), as: UTF8.self), requestId: nil)
        }
        guard response.isSuccess else {
            // STS sends <ErrorResponse><Error>; some emulators (moto's auth layer) <ErrorResponse><Errors><Error>.
            let error = document.name == "Error" ? document : document.child("Error") ?? document.child("Errors")?.child("Error")
            throw .service(action: action, roleArn: roleArn, status: response.status,
                           code: error?.childText("Code") ?? "HTTP \(response.status)",
                           message: error?.childText("Message") ?? "",
                           requestId: document.childText("RequestId") ?? response.headers["x-amzn-RequestId"])
        }
        return document
    }

    private func assumedRole(from root: XMLTree, action: String) throws(STSError) -> STSAssumedRole {
        guard let result = root.child("\(action)Result"), let node = result.child("Credentials") else {
            throw .invalidResponse(action: action, endpoint: endpoint, detail: "no \(action)Result/Credentials element")
        }
        guard let accessKeyId = node.childText("AccessKeyId"), !accessKeyId.isEmpty,
              let secretAccessKey = node.childText("SecretAccessKey"), !secretAccessKey.isEmpty,
              let sessionToken = node.childText("SessionToken"), !sessionToken.isEmpty else {
            throw .invalidResponse(action: action, endpoint: endpoint,
                                   detail: "the credentials lack AccessKeyId, SecretAccessKey or SessionToken")
        }
        guard let expirationText = node.childText("Expiration"), let expiration = HTTPDate.parseISO8601(expirationText) else {
            throw .invalidResponse(action: action, endpoint: endpoint, detail: "missing or unreadable Expiration")
        }
        return STSAssumedRole(
            credentials: AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey,
                                        sessionToken: sessionToken, expiration: expiration),
            assumedRoleArn: result.child("AssumedRoleUser")?.childText("Arn"))
    }
}

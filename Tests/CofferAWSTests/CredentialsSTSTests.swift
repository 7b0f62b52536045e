import CofferAWS
import CofferHTTP
import CofferTestSupport
import Foundation
import Testing

/// `STSClient` and the STS-backed providers against moto on loopback.
///
/// moto serves STS on the same port as S3: a signed request is routed by the `sts` service of its credential scope,
/// an unsigned `AssumeRoleWithWebIdentity` by the `Action` of its form body (moto's `UNSIGNED_ACTIONS`).
@Suite("Credentials: STS against moto")
struct CredentialsSTSTests {
    static let role = "arn:aws:iam::123456789012:role/test"
    static let exampleKeys = AWSCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE",
                                            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")

    @Test("AssumeRole with static keys returns temporary credentials that moto attributes to the role")
    func assumeRole() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let sts = STSClient(transport: transport, region: "us-east-1", endpoint: moto.endpoint)
        let assumed = try await sts.assumeRole(
            STSAssumeRoleRequest(roleArn: Self.role, roleSessionName: "coffer-test", externalId: "ext", durationSeconds: 900),
            credentials: Self.exampleKeys)
        #expect(assumed.credentials.accessKeyId.hasPrefix("ASIA"))
        #expect(assumed.credentials.sessionToken?.isEmpty == false)
        let expiration = try #require(assumed.credentials.expiration)
        #expect(abs(expiration.timeIntervalSinceNow - 900) < 120)
        #expect(assumed.assumedRoleArn == "arn:aws:sts::123456789012:assumed-role/test/coffer-test")

        // A request signed with the temporary credentials (and their session token) is attributed to the role.
        let identity = try await sts.getCallerIdentity(credentials: assumed.credentials)
        #expect(identity.arn == "arn:aws:sts::123456789012:assumed-role/test/coffer-test")
        #expect(identity.account == "123456789012")
        #expect(await loggedRequests(moto, atLeast: 2).filter { $0.method == "POST" }.map(\.status) == [200, 200])
    }

    @Test("AssumeRoleWithWebIdentity from AWS_WEB_IDENTITY_TOKEN_FILE through the default chain (unsigned)")
    func webIdentity() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let files = try TemporaryAWSFiles()
        defer { files.remove() }
        let tokenFile = try files.write("oidc-token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwb2QifQ.c2lnbmF0dXJl\n")
        let chain = DefaultCredentialsChain(context: CredentialsContext(
            environment: files.environment([
                "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": Self.role,
                "AWS_ROLE_SESSION_NAME": "pod-session", "AWS_ENDPOINT_URL_STS": moto.endpoint, "AWS_REGION": "eu-west-1"]),
            transport: transport))
        let credentials = try await chain.credentials()
        #expect(chain.source == "web identity (environment)")
        #expect(credentials.accessKeyId.hasPrefix("ASIA"))
        #expect(credentials.expiration != nil)
        // Cached: a second call sends nothing.
        #expect(try await chain.credentials() == credentials)
        #expect(await loggedRequests(moto, atLeast: 1).count == 1)

        let sts = STSClient(transport: transport, region: "eu-west-1", endpoint: moto.endpoint)
        #expect(try await sts.getCallerIdentity(credentials: credentials).arn
                == "arn:aws:sts::123456789012:assumed-role/test/pod-session")
    }

    @Test("a profile with role_arn + source_profile, from real files, through the default chain")
    func profileAssumeRole() async throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let files = try TemporaryAWSFiles(
            config: "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n"
                + "role_session_name = app-session\nregion = eu-west-1\nendpoint_url = \(moto.endpoint)\n",
            credentials: "[base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = basesecret\n")
        defer { files.remove() }
        let chain = DefaultCredentialsChain(profile: "app", context: CredentialsContext(environment: files.environment(),
                                                                                        transport: transport))
        let credentials = try await chain.credentials()
        #expect(chain.source == "shared config")
        let sts = STSClient(transport: transport, region: "eu-west-1", endpoint: moto.endpoint)
        #expect(try await sts.getCallerIdentity(credentials: credentials).arn
                == "arn:aws:sts::123456789012:assumed-role/app/app-session")
    }

    @Test("with moto checking signatures and IAM: the session token is verified, AccessDenied names role and profile")
    func authenticated() async throws {
        let moto = try MotoServer(authActions: 5)
        defer { moto.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        // The 5 unauthenticated requests: a user allowed to assume roles, and one allowed nothing.
        let allowed = try await createUser("deployer", policy: #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
                                           moto: moto, transport: transport)
        let denied = try await createUser("intruder", policy: nil, moto: moto, transport: transport)

        let files = try TemporaryAWSFiles(
            config: """
            [profile deploy]
            role_arn = \(Self.role)
            source_profile = ci
            role_session_name = deploy-session
            [profile sneak]
            role_arn = \(Self.role)
            source_profile = outsider
            """,
            credentials: """
            [ci]
            aws_access_key_id = \(allowed.accessKeyId)
            aws_secret_access_key = \(allowed.secretAccessKey)
            [outsider]
            aws_access_key_id = \(denied.accessKeyId)
            aws_secret_access_key = \(denied.secretAccessKey)
            """)
        defer { files.remove() }
        let context = CredentialsContext(environment: files.environment(), transport: transport, stsEndpoint: moto.endpoint)

        let credentials = try await DefaultCredentialsChain(profile: "deploy", context: context).credentials()
        let sts = STSClient(transport: transport, region: "us-east-1", endpoint: moto.endpoint)
        #expect(try await sts.getCallerIdentity(credentials: credentials).arn
                == "arn:aws:sts::123456789012:assumed-role/test/deploy-session")

        // The same keys with a wrong session token are refused.
        var forged = credentials
        forged.sessionToken = "not-the-session-token"
        do {
            _ = try await sts.getCallerIdentity(credentials: forged)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.code == "InvalidClientTokenId")
            #expect(error.description.contains("check the source credentials"))
        }

        do {
            _ = try await DefaultCredentialsChain(profile: "sneak", context: context).credentials()
            Issue.record("expected AccessDenied")
        } catch {
            guard case .fetchFailed(let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("assuming role \(Self.role)"))
            #expect(message.contains("source profile 'outsider'"))
            #expect(message.contains("AccessDenied"))
            #expect(message.contains("trust policy"))
            #expect(!message.contains(denied.secretAccessKey))
        }
    }

    /// moto's request log, once it holds `count` lines (it is written when each response ends) or after 2 s.
    private func loggedRequests(_ moto: MotoServer, atLeast count: Int) async -> [LoggedRequest] {
        for _ in 0..<40 {
            let logged = moto.requests()
            if logged.count >= count { return logged }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return moto.requests()
    }

    /// Creates an IAM user with an access key (and an inline policy) through moto's unauthenticated first requests.
    private func createUser(_ name: String, policy: String?, moto: MotoServer,
                            transport: CurlTransport) async throws -> AWSCredentials {
        _ = try await iam("CreateUser", [("UserName", name)], moto: moto, transport: transport)
        let key = try await iam("CreateAccessKey", [("UserName", name)], moto: moto, transport: transport)
        let accessKey = try #require(key.child("CreateAccessKeyResult")?.child("AccessKey"))
        if let policy {
            _ = try await iam("PutUserPolicy", [("UserName", name), ("PolicyName", "p"), ("PolicyDocument", policy)],
                              moto: moto, transport: transport)
        }
        return AWSCredentials(accessKeyId: try #require(accessKey.childText("AccessKeyId")),
                              secretAccessKey: try #require(accessKey.childText("SecretAccessKey")))
    }

    /// One IAM query-API call; signed (for moto's routing by service) with placeholder keys.
    private func iam(_ action: String, _ parameters: [(String, String)], moto: MotoServer,
                     transport: CurlTransport) async throws -> XMLTree {
        let body = Array(([("Action", action), ("Version", "2010-05-08")] + parameters)
            .map { AWSURIEncoding.encode($0.0) + "=" + AWSURIEncoding.encode($0.1) }
            .joined(separator: "&").utf8)
        var request = HTTPRequest(method: "POST", url: moto.endpoint + "/",
                                  headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"],
                                  body: .bytes(body))
        SigV4Signer(service: "iam", region: "us-east-1")
            .sign(&request, credentials: Self.exampleKeys, date: Date(), payloadHash: SigV4Signer.payloadHash(body))
        let response = try await transport.send(request)
        guard response.isSuccess else {
            throw TestSupportError("IAM \(action): HTTP \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return try XMLTree.parse(response.body)
    }
}

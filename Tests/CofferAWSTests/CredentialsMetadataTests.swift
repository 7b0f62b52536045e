import CofferAWS
import CofferHTTP
import CofferTestSupport
import Foundation
import Testing

/// The instance-metadata (IMDSv2) and container providers against `fake_metadata_server.py` on loopback.
///
/// Every provider here gets an explicit loopback endpoint: nothing contacts 169.254.x.x.
@Suite("Credentials: IMDS and container endpoints")
struct CredentialsMetadataTests {
    /// An IMDS provider against `server`, through a fresh curl transport.
    func imds(_ server: FakeMetadataServer, transport: CurlTransport, clock: TestClock? = nil) -> InstanceMetadataCredentialsProvider {
        let now: @Sendable () -> Date
        if let clock { now = clock.closure } else { now = { Date() } }
        return InstanceMetadataCredentialsProvider(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint],
                                                   transport: transport, now: now)
    }

    @Test("the fake enforces IMDSv2: no token or a wrong token is 401")
    func fakeEnforcesTokens() async throws {
        let server = try await FakeMetadataServer.start()
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let url = server.endpoint + "/latest/meta-data/iam/security-credentials/"
        #expect(try await transport.send(HTTPRequest(method: "GET", url: url)).status == 401)
        #expect(try await transport.send(HTTPRequest(method: "GET", url: url, headers: ["X-aws-ec2-metadata-token": "forged"])).status == 401)
        #expect(try await transport.send(HTTPRequest(method: "PUT", url: server.endpoint + "/latest/api/token")).status == 400)
    }

    @Test("IMDSv2: token, role name, credentials; the session token is reused")
    func imdsCredentials() async throws {
        let server = try await FakeMetadataServer.start(role: "app-role")
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let provider = imds(server, transport: transport)
        let first = try await provider.credentials()
        #expect(first.accessKeyId == "ASIAFAKE00000001")
        #expect(first.secretAccessKey == "fake-secret-1")
        #expect(first.sessionToken == "fake-session-token-1")
        let expiration = try #require(first.expiration)
        #expect(abs(expiration.timeIntervalSinceNow - 3600) < 120)
        _ = try await provider.credentials()
        let stats = try await server.stats()
        #expect(stats["token"] == 1, "one session token for both fetches")
        #expect(stats["role"] == 2)
        #expect(stats["credentials"] == 2)
        #expect(stats["unauthorized"] == 0)
    }

    @Test("IMDSv2: an expired session token (401) gets a new one; a server refusing every token fails clearly")
    func imdsTokenExpiry() async throws {
        let server = try await FakeMetadataServer.start()
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let provider = imds(server, transport: transport)
        _ = try await provider.credentials()
        try await server.configure(["invalidate_tokens": true])
        #expect(try await provider.credentials().accessKeyId == "ASIAFAKE00000002")
        var stats = try await server.stats()
        #expect(stats["token"] == 2)
        #expect(stats["unauthorized"] == 1)

        try await server.configure(["reject_tokens": true])
        do {
            _ = try await provider.credentials()
            Issue.record("expected an error")
        } catch {
            guard case .fetchFailed(let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("refused a fresh IMDSv2 session token (HTTP 401)"))
            #expect(message.contains(server.endpoint))
        }
        stats = try await server.stats()
        #expect(stats["token"] == 3, "exactly one new token after the 401, no loop")
    }

    @Test("IMDS: the token TTL is renewed before it lapses, by the injected clock")
    func imdsTokenTTL() async throws {
        let server = try await FakeMetadataServer.start()
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let clock = TestClock()
        let provider = imds(server, transport: transport, clock: clock)
        _ = try await provider.credentials()
        clock.advance(21_600 - 30)  // within the last minute of the 6-hour token
        _ = try await provider.credentials()
        #expect(try await server.stats()["token"] == 2)
    }

    @Test("IMDS: no role attached, disabled by environment, nothing listening")
    func imdsFailures() async throws {
        let server = try await FakeMetadataServer.start(role: "")
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        do {
            _ = try await imds(server, transport: transport).credentials()
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("no IAM role"))
        }
        let disabled = InstanceMetadataCredentialsProvider(environment: ["AWS_EC2_METADATA_DISABLED": "TRUE"], transport: transport)
        #expect(disabled.isDisabled)
        await #expect(throws: CredentialsError.notConfigured("EC2 instance metadata: disabled by AWS_EC2_METADATA_DISABLED")) {
            _ = try await disabled.credentials()
        }
        #expect(InstanceMetadataCredentialsProvider(environment: [:], transport: transport).endpoint == "http://169.254.169.254")
        #expect(InstanceMetadataCredentialsProvider(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "IPv6"],
                                                    transport: transport).endpoint == "http://[fd00:ec2::254]")

        // Nothing listening: the chain reports it as a source tried, not a hard error.
        let closedPort = try TestPorts.free()
        let chain = DefaultCredentialsChain(context: CredentialsContext(
            environment: ["HOME": try ProjectPaths.temporaryDirectory()], transport: transport,
            metadataTransport: transport, metadataEndpoint: "http://127.0.0.1:\(closedPort)"))
        do {
            _ = try await chain.credentials()
            Issue.record("expected an error")
        } catch {
            guard case .noCredentials(let tried) = error else { Issue.record("wrong error \(error)"); return }
            #expect(tried.last?.contains("cannot reach the EC2 instance metadata service at http://127.0.0.1:\(closedPort)") == true)
        }
    }

    @Test("IMDS through the chain and the cache: refreshed when the clock reaches the refresh window")
    func imdsRefreshOnExpiry() async throws {
        let server = try await FakeMetadataServer.start(expirySeconds: 900)
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let clock = TestClock(Date())
        let home = try ProjectPaths.temporaryDirectory()
        let chain = DefaultCredentialsChain(context: CredentialsContext(
            environment: ["HOME": home, "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint],
            transport: transport, metadataTransport: transport, refreshBefore: 300, now: clock.closure))
        let first = try await chain.credentials()
        #expect(chain.source == "EC2 instance metadata")
        clock.advance(500)   // 400 s left: outside the window
        #expect(try await chain.credentials() == first)
        clock.advance(150)   // 250 s left: refresh
        let second = try await chain.credentials()
        #expect(second.accessKeyId != first.accessKeyId)
        #expect(try await server.stats()["credentials"] == 2)

        // The server's clock issued them to expire 900 s after the real start, so they arrived with ~250 s left,
        // already inside the window: the next refresh is tried only after the 10 s retry delay.
        try await server.configure(["fail_next": 10])
        clock.advance(5)
        #expect(try await chain.credentials() == second)
        #expect(try await server.stats()["failed"] == 0)
        // A failing refresh while the credentials are still valid keeps serving them.
        clock.advance(20)
        #expect(try await chain.credentials() == second)
        #expect(try await server.stats()["failed"] == 2, "one request and its retry")
    }

    @Test("container: full URI on loopback with AWS_CONTAINER_AUTHORIZATION_TOKEN")
    func containerWithToken() async throws {
        let server = try await FakeMetadataServer.start(ecsToken: "Bearer ecs-secret")
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let provider = ContainerCredentialsProvider(
            environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + server.ecsPath,
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer ecs-secret"],
            transport: transport)
        let credentials = try await provider.credentials()
        #expect(credentials.accessKeyId == "ASIAFAKE00000001")
        #expect(credentials.sessionToken == "fake-session-token-1")
        #expect(credentials.expiration != nil)

        let wrong = ContainerCredentialsProvider(
            environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + server.ecsPath,
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer wrong"],
            transport: transport)
        do {
            _ = try await wrong.credentials()
            Issue.record("expected an error")
        } catch {
            guard case .fetchFailed(let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("HTTP 401"))
            #expect(message.contains("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
            #expect(!message.contains("Bearer wrong"), "the token is not echoed")
        }
    }

    @Test("container: the token file wins and is re-read at each fetch; relative URI with an injected base")
    func containerTokenFileAndRelative() async throws {
        let server = try await FakeMetadataServer.start(ecsToken: "token-one")
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let files = try TemporaryAWSFiles()
        defer { files.remove() }
        let tokenFile = try files.write("ecs-token", "token-one\n")
        let provider = ContainerCredentialsProvider(
            environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": server.ecsPath,
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored"],
            transport: transport, relativeBase: server.endpoint)
        #expect(try provider.endpointURL() == server.endpoint + server.ecsPath)
        _ = try await provider.credentials()
        try await server.configure(["ecs_token": "token-two"])
        await #expect(throws: CredentialsError.self) { _ = try await provider.credentials() }
        try "token-two".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        #expect(try await provider.credentials().accessKeyId == "ASIAFAKE00000002")
    }

    @Test("container through the chain: a 5xx is retried, then credentials are cached until the refresh window")
    func containerInChain() async throws {
        let server = try await FakeMetadataServer.start()
        defer { server.stop() }
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let clock = TestClock(Date())
        try await server.configure(["fail_next": 1])
        let chain = DefaultCredentialsChain(context: CredentialsContext(
            environment: ["HOME": try ProjectPaths.temporaryDirectory(),
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + server.ecsPath,
                          "AWS_EC2_METADATA_DISABLED": "true"],
            transport: transport, metadataTransport: transport, now: clock.closure))
        let first = try await chain.credentials()
        #expect(chain.source == "container")
        #expect(try await chain.credentials() == first)
        var stats = try await server.stats()
        #expect(stats["failed"] == 1)
        #expect(stats["ecs"] == 2)
        clock.advance(3600 - 100)
        #expect(try await chain.credentials() != first)
        stats = try await server.stats()
        #expect(stats["ecs"] == 3)
    }
}

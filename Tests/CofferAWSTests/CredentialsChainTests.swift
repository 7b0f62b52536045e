import CofferAWS
import CofferHTTP
import Foundation
import Testing

/// The default chain: which source wins, what is reported when none does, and the environment providers.
@Suite("Credentials: default chain")
struct CredentialsChainTests {
    static let noNetwork = ScriptedTransport { request in
        Issue.record("unexpected request \(request.method) \(request.url)")
        return HTTPResponse(status: 599)
    }

    /// A chain with IMDS disabled (no 169.254.169.254 from tests) over `environment`.
    func chain(_ environment: [String: String], profile: String? = nil, staticCredentials: AWSCredentials? = nil,
               transport: any HTTPTransport = noNetwork) -> DefaultCredentialsChain {
        var environment = environment
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        return DefaultCredentialsChain(profile: profile, staticCredentials: staticCredentials,
                                       context: CredentialsContext(environment: environment, transport: transport,
                                                                   metadataTransport: Self.noNetwork))
    }

    @Test("environment keys, with session token and the legacy AWS_ACCESS_KEY / AWS_SECRET_KEY names")
    func environment() async throws {
        let full = EnvironmentCredentialsProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t",
            "AWS_ACCESS_KEY": "AKIDLEGACY", "AWS_SECRET_KEY": "legacy"])
        #expect(try await full.credentials() == AWSCredentials(accessKeyId: "AKIDENV", secretAccessKey: "s", sessionToken: "t"))
        let legacy = EnvironmentCredentialsProvider(environment: ["AWS_ACCESS_KEY": "AKIDLEGACY", "AWS_SECRET_KEY": "legacy"])
        #expect(try await legacy.credentials() == AWSCredentials(accessKeyId: "AKIDLEGACY", secretAccessKey: "legacy"))
        await #expect(throws: CredentialsError.invalidConfiguration(
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither")) {
            _ = try await EnvironmentCredentialsProvider(environment: ["AWS_ACCESS_KEY_ID": "A"]).credentials()
        }
        let empty = EnvironmentCredentialsProvider(environment: ["AWS_ACCESS_KEY_ID": ""])
        #expect(!empty.isConfigured)
    }

    @Test("precedence: static > environment > shared config; a named profile shadows the environment")
    func precedence() async throws {
        let files = try TemporaryAWSFiles(credentials: "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n"
            + "[named]\naws_access_key_id = AKIDNAMED\naws_secret_access_key = n\n")
        defer { files.remove() }
        let withEnv = files.environment(["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e"])
        let explicit = AWSCredentials(accessKeyId: "AKIDSTATIC", secretAccessKey: "x")

        let staticFirst = chain(withEnv, staticCredentials: explicit)
        #expect(try await staticFirst.credentials().accessKeyId == "AKIDSTATIC")
        #expect(staticFirst.source == "static credentials")

        let envNext = chain(withEnv)
        #expect(try await envNext.credentials().accessKeyId == "AKIDENV")
        #expect(envNext.source == "environment")

        let fileLast = chain(files.environment())
        #expect(try await fileLast.credentials().accessKeyId == "AKIDFILE")
        #expect(fileLast.source == "shared config")

        // --profile beats the environment keys (as botocore does); AWS_PROFILE does not.
        #expect(try await chain(withEnv, profile: "named").credentials().accessKeyId == "AKIDNAMED")
        var withEnvAndProfile = withEnv
        withEnvAndProfile["AWS_PROFILE"] = "named"
        #expect(try await chain(withEnvAndProfile).credentials().accessKeyId == "AKIDENV")
    }

    @Test("web identity from the environment comes before the shared config files")
    func webIdentityBeforeProfile() async throws {
        let files = try TemporaryAWSFiles(credentials: "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = f\n")
        defer { files.remove() }
        let tokenPath = try files.write("token", "eyJ.fake.jwt\n")
        let transport = ScriptedTransport { _ in
            ScriptedTransport.stsSuccess(action: "AssumeRoleWithWebIdentity", accessKeyId: "ASIAWEB")
        }
        let environment = files.environment(["AWS_WEB_IDENTITY_TOKEN_FILE": tokenPath,
                                             "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/web",
                                             "AWS_ROLE_SESSION_NAME": "pod-1", "AWS_REGION": "eu-west-1",
                                             "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9"])
        let credentials = try await chain(environment, transport: transport).credentials()
        #expect(credentials.accessKeyId == "ASIAWEB")
        let request = try #require(transport.requests.first)
        #expect(request.url == "http://127.0.0.1:9/")
        #expect(request.headers["Authorization"] == nil, "AssumeRoleWithWebIdentity is unsigned")
        #expect(ScriptedTransport.form(request) == [
            "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
            "RoleArn": "arn:aws:iam::123456789012:role/web", "RoleSessionName": "pod-1",
            "WebIdentityToken": "eyJ.fake.jwt"])
    }

    @Test("the token file is read again at each refresh")
    func webIdentityTokenReread() async throws {
        let files = try TemporaryAWSFiles()
        defer { files.remove() }
        let tokenPath = try files.write("token", "first-token")
        let transport = ScriptedTransport { request in
            let token = ScriptedTransport.form(request)["WebIdentityToken"] ?? "?"
            return ScriptedTransport.stsSuccess(action: "AssumeRoleWithWebIdentity",
                                                accessKeyId: token == "first-token" ? "ASIAONE" : "ASIATWO",
                                                expiration: "2027-01-15T08:00:00Z")
        }
        let clock = TestClock(Date(timeIntervalSince1970: 1_800_000_000))  // 2027-01-15T08:00:00Z
        let sts = STSClient(transport: transport, region: "us-east-1", endpoint: "http://127.0.0.1:9", now: clock.closure)
        let provider = CachingCredentialsProvider(
            WebIdentityCredentialsProvider(roleArn: "arn:aws:iam::123456789012:role/r", tokenFile: tokenPath, sts: sts),
            now: { clock.now.addingTimeInterval(-3600) })
        #expect(try await provider.credentials().accessKeyId == "ASIAONE")
        try "second-token".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        clock.advance(3600 - 200)  // into the refresh window
        #expect(try await provider.credentials().accessKeyId == "ASIATWO")
        #expect(transport.requests.count == 2)
    }

    @Test("web identity misconfiguration: token file without role, missing token file")
    func webIdentityErrors() async throws {
        let files = try TemporaryAWSFiles()
        defer { files.remove() }
        await #expect(throws: CredentialsError.invalidConfiguration(
            "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set the ARN of the role to assume")) {
            _ = try await chain(files.environment(["AWS_WEB_IDENTITY_TOKEN_FILE": "/nonexistent"])).credentials()
        }
        let environment = files.environment(["AWS_WEB_IDENTITY_TOKEN_FILE": files.directory + "/missing-token",
                                             "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/r"])
        do {
            _ = try await chain(environment).credentials()
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("web identity token file"))
            #expect("\(error)".contains("missing-token"))
        }
    }

    @Test("when nothing is configured the error lists every source tried")
    func nothingConfigured() async throws {
        let files = try TemporaryAWSFiles()
        defer { files.remove() }
        do {
            _ = try await chain(files.environment()).credentials()
            Issue.record("expected an error")
        } catch {
            guard case .noCredentials(let tried) = error else { Issue.record("wrong error \(error)"); return }
            #expect(tried.count == 5)
            #expect(tried[0].contains("AWS_ACCESS_KEY_ID"))
            #expect(tried[1].contains("AWS_WEB_IDENTITY_TOKEN_FILE"))
            #expect(tried[2].contains("no profile 'default'"))
            #expect(tried[3].contains("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
            #expect(tried[4].contains("AWS_EC2_METADATA_DISABLED"))
            #expect(error.description.hasPrefix("no AWS credentials found"))
        }
    }

    @Test("a broken configured source stops the chain instead of falling through")
    func brokenSourceStops() async throws {
        let files = try TemporaryAWSFiles(config: "[default]\nthis line is broken\n")
        defer { files.remove() }
        do {
            _ = try await chain(files.environment()).credentials()
            Issue.record("expected an error")
        } catch {
            #expect(error == .invalidConfiguration("\(files.configPath) line 2: expected 'key = value', a '[section]' or a comment"))
        }
        // A --profile that does not exist is an error, not a fall-through to the container or instance role.
        let empty = try TemporaryAWSFiles()
        defer { empty.remove() }
        await #expect(throws: CredentialsError.self) { _ = try await chain(empty.environment(), profile: "prod").credentials() }
    }

    @Test("the container full URI must be https or loopback, as in the SDKs")
    func containerURIValidation() throws {
        for allowed in ["https://example.com/creds", "http://127.0.0.1:8080/creds", "http://127.1.2.3/x",
                        "http://localhost/x", "http://[::1]:80/x", "http://169.254.170.23/v1/credentials",
                        "http://169.254.170.2/x"] {
            #expect(throws: Never.self, "\(allowed)") { try ContainerCredentialsProvider.validateFullURI(allowed) }
        }
        for refused in ["http://example.com/creds", "http://10.0.0.1/creds", "http://169.254.169.254/x",
                        "ftp://127.0.0.1/x", "not a url", "http://128.0.0.1/x"] {
            #expect(throws: CredentialsError.self, "\(refused)") { try ContainerCredentialsProvider.validateFullURI(refused) }
        }
        let relative = ContainerCredentialsProvider(
            environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/ignored"],
            transport: Self.noNetwork)
        #expect(try relative.endpointURL() == "http://169.254.170.2/v2/credentials/abc")
    }

    @Test("STS endpoint and region: override, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, profile endpoint_url, regional default")
    func stsEndpoints() throws {
        let profile = AWSProfileConfig(name: "p", properties: ["region": "eu-west-2", "endpoint_url": "http://profile.test"])
        func client(_ environment: [String: String], override: String? = nil, _ profile: AWSProfileConfig? = nil) -> STSClient {
            CredentialsContext(environment: environment, transport: Self.noNetwork, stsEndpoint: override).stsClient(profile: profile)
        }
        #expect(client([:]).endpoint == "https://sts.us-east-1.amazonaws.com")
        #expect(client([:]).region == "us-east-1")
        #expect(client(["AWS_REGION": "cn-north-1"]).endpoint == "https://sts.cn-north-1.amazonaws.com.cn")
        #expect(client([:], profile).endpoint == "http://profile.test")
        #expect(client([:], profile).region == "eu-west-2")
        #expect(client(["AWS_ENDPOINT_URL": "http://all.test"], profile).endpoint == "http://all.test")
        #expect(client(["AWS_ENDPOINT_URL": "http://all.test", "AWS_ENDPOINT_URL_STS": "http://sts.test/"], profile).endpoint
                == "http://sts.test")
        #expect(client(["AWS_ENDPOINT_URL_STS": "http://sts.test"], override: "http://override.test").endpoint == "http://override.test")
        #expect(client(["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true", "AWS_ENDPOINT_URL": "http://all.test"], profile).endpoint
                == "https://sts.eu-west-2.amazonaws.com")
    }

    @Test("STS error documents and retries")
    func stsErrors() async throws {
        let attempts = ScriptedTransport { request in
            ScriptedTransport.stsError(status: 400, code: "Throttling", message: "Rate exceeded")
        }
        let sts = STSClient(transport: attempts, region: "us-east-1", endpoint: "http://127.0.0.1:9", attempts: 2)
        let request = STSAssumeRoleRequest(roleArn: "arn:aws:iam::123456789012:role/r", roleSessionName: "s")
        do {
            _ = try await sts.assumeRole(request, credentials: AWSCredentials(accessKeyId: "AKID", secretAccessKey: "x"))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == "Throttling")
            #expect(error.description.contains("STS AssumeRole of role arn:aws:iam::123456789012:role/r failed: Throttling"))
            #expect(error.description.contains("request id req-err"))
        }
        #expect(attempts.requests.count == 2, "throttling is retried")

        let garbage = ScriptedTransport { _ in HTTPResponse(status: 502, body: Array("<html>bad gateway".utf8)) }
        let sts2 = STSClient(transport: garbage, region: "us-east-1", endpoint: "http://127.0.0.1:9", attempts: 1)
        await #expect(throws: STSError.self) {
            _ = try await sts2.assumeRoleWithWebIdentity(.init(roleArn: "arn:r", roleSessionName: "s", webIdentityToken: "t"))
        }
        #expect(!"\(STSAssumeRoleWithWebIdentityRequest(roleArn: "r", roleSessionName: "s", webIdentityToken: "SECRET"))".contains("SECRET"))
    }
}

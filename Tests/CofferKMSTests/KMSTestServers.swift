import CofferAWS
import CofferCrypto
import CofferHTTP
@testable import CofferKMS
import CofferTestSupport
import Foundation
import Testing

/// The moto servers the KMS tests talk to, started around the `KMSAgainstMoto` suite and stopped when it ends,
/// whether its tests pass or fail (moto also exits by itself if the test process dies).
///
/// - `plain`: no signature checks; keys and aliases are created through `KMSClient.call` (actions this module does
///   not model).
/// - `signed`: signatures checked and IAM enforced, with two users: `admin` (`kms:*`) and `reader` (`kms:Decrypt`
///   only, a read-only host).
final class KMSTestServers: Sendable {
    /// Requests the IAM setup sends before signatures are checked (three per user).
    static let setupActions = 6

    let plain: MotoServer
    let signed: MotoServer
    let transport: CurlTransport
    /// Access keys of the signed server's users.
    let users: [String: AWSCredentials]

    @TaskLocal static var current: KMSTestServers?

    /// The servers of the running suite.
    static func get() throws -> KMSTestServers {
        try #require(current, "the test must run inside the KMSAgainstMoto suite (trait .kmsServers)")
    }

    init() throws {
        plain = try MotoServer()
        do {
            signed = try MotoServer(authActions: Self.setupActions)
        } catch {
            plain.stop()
            throw error
        }
        transport = CurlTransport()
        do {
            let output = try SignedMoto.run(["python3", "-c", Self.iamSetup, signed.endpoint],
                                            environment: KMSTestServers.pythonEnvironment(endpoint: signed.endpoint))
            guard let json = try JSONSerialization.jsonObject(with: output) as? [String: [String: String]] else {
                throw TestSupportError("the KMS IAM setup printed no JSON")
            }
            users = json.mapValues {
                AWSCredentials(accessKeyId: $0["access_key_id"] ?? "", secretAccessKey: $0["secret_access_key"] ?? "")
            }
        } catch {
            transport.shutdown()
            plain.stop()
            signed.stop()
            throw error
        }
    }

    func stop() {
        transport.shutdown()
        plain.stop()
        signed.stop()
    }

    /// A client of the unsigned server (any credentials pass).
    func client(attempts: Int = 2) -> KMSClient {
        KMSClient(transport: transport, region: "us-east-1",
                  credentials: StaticCredentialsProvider(accessKeyId: "test", secretAccessKey: "test"),
                  endpoint: plain.endpoint, attempts: attempts)
    }

    /// A client of the signed server as `user`, or with explicit credentials.
    func signedClient(user: String = "admin", credentials: AWSCredentials? = nil) -> KMSClient {
        KMSClient(transport: transport, region: "us-east-1",
                  credentials: StaticCredentialsProvider(credentials ?? users[user]!), endpoint: signed.endpoint,
                  attempts: 1)
    }

    /// Creates a symmetric key with `client` and returns its id and ARN.
    static func createKey(with client: KMSClient) async throws -> (id: String, arn: String) {
        var body = try await client.call("CreateKey", keyID: "(new key)",
                                         body: KMSClient.jsonBody(["Description": "coffer test key"]))
        let object = try client.parseObject(&body, action: "CreateKey")
        let metadata = try #require(object["KeyMetadata"] as? [String: Any])
        return (try #require(metadata["KeyId"] as? String), try #require(metadata["Arn"] as? String))
    }

    /// Creates `alias/NAME-RANDOM` for `keyID` and returns the alias name.
    static func createAlias(_ name: String, for keyID: String, with client: KMSClient) async throws -> String {
        let alias = "alias/\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await client.call("CreateAlias", keyID: keyID,
                                  body: KMSClient.jsonBody(["AliasName": alias, "TargetKeyId": keyID]))
        return alias
    }

    /// A key on the unsigned server.
    func createKey() async throws -> (id: String, arn: String) {
        try await Self.createKey(with: client())
    }

    /// An alias on the unsigned server.
    func createAlias(_ name: String, for keyID: String) async throws -> String {
        try await Self.createAlias(name, for: keyID, with: client())
    }

    /// The environment for Python helpers: test keys, the endpoint, no instance metadata, no profile.
    static func pythonEnvironment(endpoint: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                     "AWS_ENDPOINT_URL"] {
            environment.removeValue(forKey: name)
        }
        environment["AWS_ACCESS_KEY_ID"] = "test"
        environment["AWS_SECRET_ACCESS_KEY"] = "test"
        environment["AWS_DEFAULT_REGION"] = "us-east-1"
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        environment["AWS_ENDPOINT_URL_KMS"] = endpoint
        return environment
    }

    /// Creates the signed server's IAM users in exactly `setupActions` unauthenticated requests.
    static let iamSetup = """
        import json, sys
        import boto3
        from botocore.config import Config
        endpoint = sys.argv[1]
        policies = {"admin": ["kms:*"], "reader": ["kms:Decrypt"]}
        iam = boto3.session.Session(aws_access_key_id="setup", aws_secret_access_key="setup",
                                    region_name="us-east-1").client(
            "iam", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        keys = {}
        for user, actions in policies.items():
            iam.create_user(UserName=user)
            policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
            iam.put_user_policy(UserName=user, PolicyName=user + "-kms", PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
        print(json.dumps(keys))
        """
}

/// Starts `KMSTestServers` around a suite and stops them when it ends, passed or failed.
struct KMSServersTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let servers = try KMSTestServers()
        defer { servers.stop() }
        try await KMSTestServers.$current.withValue(servers) {
            try await function()
        }
    }
}

extension Trait where Self == KMSServersTrait {
    /// Runs the suite with moto KMS servers (`KMSTestServers.get()`).
    static var kmsServers: KMSServersTrait { KMSServersTrait() }
}

/// Every test that needs a KMS server: nested suites share one set of servers.
@Suite("KMS against moto", .kmsServers, .timeLimit(.minutes(5)))
struct KMSAgainstMoto {}

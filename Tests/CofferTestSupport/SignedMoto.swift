import CofferAWS
import CofferHTTP
import CofferS3
import Foundation

/// A moto server with signature checking and IAM on, a bucket, and three IAM users (see
/// `Tests/CofferS3Tests/Resources/moto_iam_setup.py`): `full` (s3:*), `writer` (List + Put) and `reader` (List + Get).
///
/// One instance is shared by the tests of a process (`SignedMoto.shared()`); tests use distinct key prefixes.
public final class SignedMoto: Sendable {
    /// The server.
    public let server: MotoServer
    /// The bucket the setup created.
    public let bucket: String
    /// Access keys by user name.
    public let users: [String: AWSCredentials]
    /// One transport for every client of this server.
    public let transport: CurlTransport

    private static let instance = Task { try SignedMoto() }

    /// The process-wide instance, started on first use.
    public static func shared() async throws -> SignedMoto {
        try await instance.value
    }

    /// Starts a server and runs the IAM setup.
    public init(bucket: String = "coffer-test") throws {
        server = try MotoServer(authActions: 10)
        self.bucket = bucket
        transport = CurlTransport()
        let output = try Self.run(["python3", ProjectPaths.resource("CofferS3Tests", "moto_iam_setup.py"),
                                   server.endpoint, bucket])
        guard let json = try JSONSerialization.jsonObject(with: output) as? [String: [String: String]] else {
            throw TestSupportError("moto IAM setup printed no JSON")
        }
        var users: [String: AWSCredentials] = [:]
        for (name, keys) in json {
            users[name] = AWSCredentials(accessKeyId: keys["access_key_id"] ?? "", secretAccessKey: keys["secret_access_key"] ?? "")
        }
        self.users = users
    }

    /// A client for the bucket as `user`, or with explicit credentials.
    public func client(user: String = "full", credentials: AWSCredentials? = nil, bucket: String? = nil,
                       retryPolicy: RetryPolicy = RetryPolicy()) -> S3Client {
        let creds = credentials ?? users[user]!
        let configuration = S3Configuration(bucket: bucket ?? self.bucket, region: "us-east-1",
                                            endpointURL: server.endpoint,
                                            credentials: StaticCredentialsProvider(creds), transport: transport,
                                            retryPolicy: retryPolicy)
        return S3Client(configuration: configuration)
    }

    /// Runs a command and returns its standard output; throws when it fails.
    public static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError("\(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
        }
        return data
    }
}

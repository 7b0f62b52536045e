import ArgumentParser
import CofferAWS
import CofferHTTP
import CofferObjectStore
import CofferS3
import Foundation
import Logging

/// Options that say how to reach S3, shared by every command.
struct S3Options: ParsableArguments {
    @Option(name: .customLong("endpoint-url"), help: ArgumentHelp(
        "An S3-compatible endpoint such as http://127.0.0.1:5000 (default: AWS; also AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL).",
        valueName: "url"))
    var endpointURL: String?

    @Option(help: "The bucket's region (default: AWS_REGION, the profile's region, or discovered from the bucket).")
    var region: String?

    @Option(help: "A profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE or 'default').")
    var profile: String?

    @Flag(name: .customLong("path-style"), help: "Put the bucket in the URL path instead of the host name.")
    var pathStyle = false

    @Option(name: .customLong("ca-bundle"), help: ArgumentHelp("Verify TLS against this CA bundle file.", valueName: "path"))
    var caBundle: String?

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp(
        "Seconds to wait for a TCP/TLS connection to S3 before retrying (default 10).", valueName: "seconds"))
    var connectTimeout: Int?

    @Option(name: .customLong("io-timeout"), help: ArgumentHelp(
        "Seconds a request may go without any data moving before it is abandoned and retried (default 30).",
        valueName: "seconds"))
    var ioTimeout: Int?

    @Option(name: .customLong("startup-timeout"), help: ArgumentHelp(
        "Seconds the start-up checks (HeadBucket, the first listing) may take before the command fails (default 15).",
        valueName: "seconds"))
    var startupTimeout: Double?

    @Option(name: .customLong("retries"), help: ArgumentHelp(
        "Retries of a request that met throttling, a server error or a broken connection (default 9: with the "
            + "default --retry-max-delay about 23 to 45 s of outage are ridden out; 0 never retries).",
        valueName: "count"))
    var retries: Int?

    @Option(name: .customLong("retry-max-delay"), help: ArgumentHelp(
        "The longest wait between two retries, in seconds (default 20).", valueName: "seconds"))
    var retryMaxDelay: Double?

    @Flag(name: .customLong("requester-pays"), help: ArgumentHelp(
        "Pay for the requests and transfer of a Requester Pays bucket (sends x-amz-request-payer: requester)."))
    var requesterPays = false

    @Flag(name: .shortAndLong, help: "Log each step (to standard error).")
    var verbose = false

    /// Retry counts `--retries` (and `-o retries=`) accepts.
    static let retryCounts = 0...100

    /// True for a time limit the options accept: more than 0 seconds, at most an hour.
    static func isTimeLimit(_ seconds: Double) -> Bool { seconds > 0 && seconds <= 3600 }

    func validate() throws {
        guard [Double(effectiveConnectTimeout), Double(effectiveIOTimeout), effectiveStartupTimeout,
               effectiveRetryMaxDelay].allSatisfy(Self.isTimeLimit) else {
            throw ValidationError("--connect-timeout, --io-timeout, --startup-timeout and --retry-max-delay must be "
                                  + "more than 0 and at most 3600 seconds")
        }
        guard Self.retryCounts.contains(effectiveRetries) else { throw ValidationError("--retries must be 0 to 100") }
    }

    /// `--connect-timeout`, else 10 seconds.
    var effectiveConnectTimeout: Int { connectTimeout ?? 10 }
    /// `--io-timeout`, else 30 seconds.
    var effectiveIOTimeout: Int { ioTimeout ?? 30 }
    /// `--startup-timeout`, else 15 seconds.
    var effectiveStartupTimeout: Double { startupTimeout ?? 15 }
    /// `--retries`, else the default policy's.
    var effectiveRetries: Int { retries ?? RetryPolicy().maxAttempts - 1 }
    /// `--retry-max-delay`, else the default policy's.
    var effectiveRetryMaxDelay: Double {
        retryMaxDelay ?? Double(RetryPolicy().maxDelay.components.seconds)
    }

    /// The retry policy these options give.
    var retryPolicy: RetryPolicy {
        RetryPolicy(maxAttempts: effectiveRetries + 1, maxDelay: .milliseconds(Int64(effectiveRetryMaxDelay * 1000)))
    }

    /// A client for `bucket`, with the bucket's region verified (and discovered when not given).
    ///
    /// A 403 answer to HeadBucket has no body, so it cannot say whether the key id is unknown, the secret is
    /// wrong or a permission is missing: then one ListObjectsV2 of a single key is sent, and its error (such as
    /// SignatureDoesNotMatch or InvalidAccessKeyId) is thrown instead when it has one.
    func verifiedClient(bucket: String, logger: Logger,
                        objectCreation: ObjectCreationSettings = ObjectCreationSettings(),
                        observer: (any S3RequestObserver)? = nil) async throws -> S3Client {
        let client = try await client(bucket: bucket, logger: logger, objectCreation: objectCreation,
                                      observer: observer)
        let endpoint = client.configuration.debugURL(key: "")
        return try await withinStartupDeadline(seconds: effectiveStartupTimeout, endpoint: endpoint) {
            try await Self.verify(client, bucket: bucket, logger: logger)
        }
    }

    private static func verify(_ client: S3Client, bucket: String, logger: Logger) async throws -> S3Client {
        do throws(S3Error) {
            return try await client.verifiedForBucketRegion()
        } catch {
            // HEAD answers carry no error code. A one-key LIST tells a bad signature or key (its error says which)
            // from credentials that may list but not HeadBucket (some servers and bucket policies map HeadBucket to
            // another permission than s3:ListBucket): listing is all a mount needs, so then go on.
            guard error.kind == .service, error.status == 403 else { throw error }
            _ = try await client.listObjectsV2(ListRequest(maxKeys: 1))
            logger.info("HeadBucket was denied but listing works; continuing", metadata: ["bucket": "\(bucket)"])
            return client
        }
    }

    /// A client for `bucket`, not checked against S3 yet.
    /// - Parameters:
    ///   - objectCreation: server-side encryption, storage class and ACL of the objects it creates.
    ///   - observer: told about every request attempt (metrics).
    func client(bucket: String, logger: Logger, objectCreation: ObjectCreationSettings = ObjectCreationSettings(),
                observer: (any S3RequestObserver)? = nil) async throws -> S3Client {
        let environment = ProcessInfo.processInfo.environment
        var transportOptions = CurlTransport.Options()
        transportOptions.caBundlePath = caBundle
        transportOptions.connectTimeout = effectiveConnectTimeout
        transportOptions.lowSpeedTime = effectiveIOTimeout
        let transport = CurlTransport(options: transportOptions)
        let context = CredentialsContext(environment: environment, transport: transport, logger: logger)
        let credentials = DefaultCredentialsChain(profile: profile, context: context)
        var resolvedRegion = region
        let explicit = region != nil || S3Configuration.regionFromEnvironment(environment) != nil
        if resolvedRegion == nil { resolvedRegion = S3Configuration.regionFromEnvironment(environment) }
        if resolvedRegion == nil {
            resolvedRegion = try await AWSSharedConfig.resolveRegion(environment: environment, explicitProfile: profile)
        }
        var configuration = S3Configuration(
            bucket: bucket, region: resolvedRegion ?? "us-east-1", regionIsExplicit: explicit,
            endpointURL: endpointURL ?? S3Configuration.endpointFromEnvironment(environment),
            addressingStyle: pathStyle ? .path : .automatic, credentials: credentials, transport: transport,
            retryPolicy: retryPolicy, objectCreation: objectCreation, requesterPays: requesterPays)
        configuration.observer = observer
        return S3Client(configuration: configuration, logger: logger)
    }

    /// A logger to standard error; verbose shows each step.
    func makeLogger() -> Logger {
        var logger = Logger(label: "coffer")
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}

/// `s3://bucket[/prefix]` taken apart.
struct S3Location: ExpressibleByArgument, CustomStringConvertible {
    var bucket: String
    var prefix: String

    init?(argument: String) {
        guard argument.hasPrefix("s3://") else { return nil }
        let rest = argument.dropFirst(5)
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty else { return nil }
        bucket = String(first)
        prefix = parts.count > 1 ? String(parts[1]) : ""
    }

    var description: String { "s3://\(bucket)/\(prefix)" }

    static var defaultCompletionKind: CompletionKind { .default }
}

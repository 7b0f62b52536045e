import CofferAWS
import CofferHTTP
import Foundation

/// Everything an `S3Client` needs to reach one bucket.
public struct S3Configuration: Sendable {
    /// How the bucket appears in request URLs.
    public enum AddressingStyle: Sendable, Equatable {
        /// `https://BUCKET.s3.REGION.amazonaws.com/KEY` (AWS's default).
        case virtualHosted
        /// `https://ENDPOINT/BUCKET/KEY` (S3-compatible servers, and buckets with dots over TLS).
        case path
        /// Virtual-hosted on AWS unless the bucket name has dots; path style on custom endpoints.
        case automatic
    }

    /// The bucket name.
    public var bucket: String
    /// The bucket's region, such as `eu-west-1`. Used in signatures and in AWS endpoint names.
    public var region: String
    /// True when the region was given explicitly (then a mismatch is an error rather than corrected).
    public var regionIsExplicit: Bool
    /// A custom endpoint such as `http://127.0.0.1:5000`; nil uses AWS's regional endpoint.
    public var endpointURL: String?
    /// How the bucket appears in URLs.
    public var addressingStyle: AddressingStyle
    /// Where credentials come from.
    public var credentials: any CredentialsProvider
    /// How requests are sent.
    public var transport: any HTTPTransport
    /// When to retry.
    public var retryPolicy: RetryPolicy
    /// Send the body's SHA-256 in the signature instead of `UNSIGNED-PAYLOAD` for bodies up to this size.
    /// Over TLS, UNSIGNED-PAYLOAD is safe (TLS protects integrity) and avoids reading a large body twice;
    /// over plain HTTP (test servers) small bodies are hashed so the signature covers them.
    public var signedPayloadLimit: UInt64
    /// Server-side encryption, storage class and ACL of the objects this client creates.
    public var objectCreation: ObjectCreationSettings
    /// Send `x-amz-request-payer: requester` with every request: the requester pays for requests and transfer
    /// of a Requester Pays bucket (S3 refuses requests to such a bucket from other accounts without it).
    public var requesterPays: Bool
    /// Told about every attempt (metrics); nil by default.
    public var observer: (any S3RequestObserver)?

    /// A configuration for `bucket`.
    public init(bucket: String, region: String = "us-east-1", regionIsExplicit: Bool = false,
                endpointURL: String? = nil, addressingStyle: AddressingStyle = .automatic,
                credentials: any CredentialsProvider, transport: any HTTPTransport,
                retryPolicy: RetryPolicy = RetryPolicy(), signedPayloadLimit: UInt64 = 1 << 20,
                objectCreation: ObjectCreationSettings = ObjectCreationSettings(), requesterPays: Bool = false) {
        self.bucket = bucket
        self.region = region
        self.regionIsExplicit = regionIsExplicit
        self.endpointURL = endpointURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.addressingStyle = addressingStyle
        self.credentials = credentials
        self.transport = transport
        self.retryPolicy = retryPolicy
        self.signedPayloadLimit = signedPayloadLimit
        self.objectCreation = objectCreation
        self.requesterPays = requesterPays
    }

    /// The endpoint from the environment, as the AWS SDKs read it: `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`.
    public static func endpointFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String?
    {
        for name in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] {
            if let value = environment[name], !value.isEmpty { return value }
        }
        return nil
    }

    /// The region from the environment (`AWS_REGION`, then `AWS_DEFAULT_REGION`), if set.
    public static func regionFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String?
    {
        for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let value = environment[name], !value.isEmpty { return value }
        }
        return nil
    }

    /// Whether requests put the bucket in the path.
    var usesPathStyle: Bool {
        switch addressingStyle {
        case .path: return true
        case .virtualHosted: return false
        case .automatic:
            if endpointURL != nil { return true }
            return bucket.contains(".")
        }
    }

    /// The scheme and authority requests go to, such as `https://bucket.s3.eu-west-1.amazonaws.com`.
    var baseURL: String {
        let base = endpointURL ?? "https://s3.\(region).amazonaws.com"
        if usesPathStyle { return base }
        guard let schemeEnd = base.range(of: "://") else { return base }
        return base[..<schemeEnd.upperBound] + bucket + "." + base[schemeEnd.upperBound...]
    }

    /// The URL of `key` (or of the bucket when nil), with an already-encoded query.
    func url(key: String?, query: [(String, String)] = []) -> String {
        var path = usesPathStyle ? "/" + AWSURIEncoding.encode(bucket) : ""
        if let key {
            path += "/" + AWSURIEncoding.encode(key, encodeSlash: false)
        } else {
            path += "/"
        }
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { name, value in
                AWSURIEncoding.encode(name) + "=" + AWSURIEncoding.encode(value)
            }.joined(separator: "&")
        }
        return url
    }
}

extension S3Configuration {
    /// The URL a request for `key` goes to, for diagnostics and tests.
    public func debugURL(key: String) -> String { url(key: key) }
}

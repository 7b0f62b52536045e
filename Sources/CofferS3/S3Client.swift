import CofferAWS
import CofferHTTP
import CofferObjectStore
import Foundation
import Logging

/// A client for one S3 bucket: every call is one typed S3 operation, signed with SigV4 and retried with backoff.
///
/// Operations live in extensions by concern: `S3Client+Bucket`, `+Objects`, `+List`, `+Multipart`, `+Delete`.
public final class S3Client: Sendable {
    /// The bucket, endpoint, credentials and policies in use.
    public let configuration: S3Configuration
    let signer: SigV4Signer
    let clockSkew = ClockSkew()
    let logger: Logger

    /// A client for `configuration.bucket`. It makes no request until an operation is called.
    public init(configuration: S3Configuration, logger: Logger = Logger(label: "coffer.s3")) {
        self.configuration = configuration
        self.signer = SigV4Signer(service: "s3", region: configuration.region)
        self.logger = logger
    }

    /// One S3 request, described before it is signed.
    struct Operation: Sendable {
        /// The S3 API name, for messages.
        var name: String
        var method: String
        /// The object key, or nil for bucket-level requests.
        var key: String?
        var query: [(String, String)] = []
        var headers = HTTPHeaders()
        var body: HTTPRequestBody = .empty
        var sink: HTTPResponseSink = .memory
        /// False for requests that must not be blindly repeated (CompleteMultipartUpload).
        var idempotent = true
        /// True for operations that can answer 200 with an `<Error>` document (copy, complete).
        var mayHideErrorIn200 = false

        /// `bucket/key`, for messages.
        func resource(bucket: String) -> String {
            key.map { "s3://\(bucket)/\($0)" } ?? "s3://\(bucket)"
        }
    }

    /// Signs, sends and retries `operation`; returns the successful response or throws the typed error.
    func perform(_ operation: Operation) async throws(S3Error) -> HTTPResponse {
        let policy = configuration.retryPolicy
        var attempt = 0
        var skewCorrected = false
        while true {
            attempt += 1
            let request = try await signedRequest(for: operation)
            let response: HTTPResponse
            let started = ContinuousClock.now
            do {
                response = try await configuration.transport.send(request)
            } catch {
                let failure = S3Error(kind: .transport(error), code: .other("Transport"), message: error.description,
                                      status: 0, operation: operation.name,
                                      resource: operation.resource(bucket: configuration.bucket))
                let retrying = error.isRetryable && operation.idempotent && attempt < policy.attempts(for: .transient)
                observe(operation, status: nil, since: started, received: 0, retrying: retrying)
                if retrying {
                    logger.debug("retrying after transport error", metadata: ["operation": "\(operation.name)",
                                                                               "attempt": "\(attempt)", "error": "\(error)"])
                    try? await Task.sleep(for: policy.delay(beforeRetry: attempt))
                    continue
                }
                throw failure
            }
            var failure: S3Error?
            if response.isSuccess {
                if operation.mayHideErrorIn200, let hidden = hiddenError(in: response, operation: operation) {
                    failure = hidden
                } else {
                    observe(operation, status: response.status, since: started, received: response.bodyCount,
                            retrying: false)
                    return response
                }
            }
            let error = failure ?? self.error(from: response, operation: operation)
            let correctsSkew = error.code == .requestTimeTooSkewed && !skewCorrected
                && clockSkew.correct(fromServerDate: response.headers["Date"])
            let retriable = error.code.retryBudget.map { operation.idempotent && attempt < policy.attempts(for: $0) }
            observe(operation, status: response.status, since: started, received: response.bodyCount,
                    retrying: correctsSkew || retriable == true)
            if correctsSkew {
                skewCorrected = true
                logger.warning("clock skew corrected from the server's Date header",
                               metadata: ["seconds": "\(Int(clockSkew.seconds))"])
                continue
            }
            if retriable == true {
                logger.debug("retrying after S3 error", metadata: ["operation": "\(operation.name)",
                                                                    "attempt": "\(attempt)", "code": "\(error.code.rawValue)"])
                try? await Task.sleep(for: policy.delay(beforeRetry: attempt))
                continue
            }
            throw error
        }
    }

    /// Tells the configuration's observer about one attempt.
    private func observe(_ operation: Operation, status: Int?, since started: ContinuousClock.Instant,
                         received: UInt64, retrying: Bool) {
        guard let observer = configuration.observer else { return }
        let sent: UInt64
        switch operation.body {
        case .empty: sent = 0
        case .bytes(let bytes): sent = UInt64(bytes.count)
        case .file(_, _, let count): sent = count
        }
        observer.attemptEnded(operation: operation.name, status: status, duration: started.duration(to: .now),
                              bytesSent: sent, bytesReceived: received, retrying: retrying)
    }

    /// The wire request for `operation`, signed with current credentials at the server's time.
    private func signedRequest(for operation: Operation) async throws(S3Error) -> HTTPRequest {
        let credentials: AWSCredentials
        do {
            credentials = try await configuration.credentials.credentials()
        } catch {
            throw S3Error(kind: .credentials, code: .other("Credentials"), message: error.description, status: 0,
                          operation: operation.name, resource: operation.resource(bucket: configuration.bucket))
        }
        var headers = operation.headers
        if configuration.requesterPays { headers.set("x-amz-request-payer", "requester") }
        var request = HTTPRequest(method: operation.method, url: configuration.url(key: operation.key, query: operation.query),
                                  headers: headers, body: operation.body, responseSink: operation.sink)
        signer.sign(&request, credentials: credentials, date: clockSkew.now(), payloadHash: payloadHash(operation.body))
        return request
    }

    /// The payload hash to sign. In-memory bodies are hashed (cheap, and the signature then covers the bytes
    /// even over plain HTTP); file bodies are sent as `UNSIGNED-PAYLOAD` so a large upload is read once, not twice —
    /// TLS protects their integrity in transit.
    private func payloadHash(_ body: HTTPRequestBody) -> String {
        switch body {
        case .empty: return SigV4Signer.emptyPayloadHash
        case .bytes(let bytes):
            return UInt64(bytes.count) <= configuration.signedPayloadLimit
                ? SigV4Signer.payloadHash(bytes) : SigV4Signer.unsignedPayload
        case .file: return SigV4Signer.unsignedPayload
        }
    }

    /// The typed error for a non-2xx response.
    func error(from response: HTTPResponse, operation: Operation) -> S3Error {
        let resource = operation.resource(bucket: configuration.bucket)
        let requestId = response.headers["x-amz-request-id"]
        var code = S3ErrorCode.forStatus(response.status, isKeyRequest: operation.key != nil)
        var message = "HTTP \(response.status)"
        if !response.body.isEmpty {
            if let document = try? XMLTree.parse(response.body), document.name == "Error" {
                if let c = document.childText("Code") { code = S3ErrorCode(c) }
                message = document.childText("Message") ?? message
            } else if response.status >= 500 || response.status == 429 {
                message = "HTTP \(response.status) with a non-XML body"
            }
        } else {
            message = Self.defaultMessage(for: code, status: response.status)
        }
        if let actual = response.headers["x-amz-bucket-region"], actual != configuration.region,
           response.status == 301 || response.status == 400 || code == .permanentRedirect
            || code == .authorizationHeaderMalformed
        {
            return S3Error(kind: .wrongRegion(actual: actual), code: code,
                           message: "bucket \(configuration.bucket) is in region \(actual), not \(configuration.region): "
                               + "use --region \(actual)", status: response.status, operation: operation.name,
                           resource: resource, requestId: requestId)
        }
        return S3Error(code: code, message: message, status: response.status, operation: operation.name,
                       resource: resource, requestId: requestId)
    }

    /// An `<Error>` document inside a 200 answer (CopyObject, UploadPartCopy, CompleteMultipartUpload).
    private func hiddenError(in response: HTTPResponse, operation: Operation) -> S3Error? {
        guard case .memory = operation.sink else { return nil }
        guard let document = try? XMLTree.parse(response.body) else {
            return S3Error(kind: .invalidResponse, code: .internalError,
                           message: "the 200 answer's body is not an XML document (connection cut mid-answer?)",
                           status: response.status, operation: operation.name,
                           resource: operation.resource(bucket: configuration.bucket))
        }
        guard document.name == "Error" else { return nil }
        return S3Error(code: S3ErrorCode(document.childText("Code") ?? "InternalError"),
                       message: document.childText("Message") ?? "error inside a 200 answer", status: 200,
                       operation: operation.name, resource: operation.resource(bucket: configuration.bucket),
                       requestId: response.headers["x-amz-request-id"])
    }

    private static func defaultMessage(for code: S3ErrorCode, status: Int) -> String {
        switch code {
        case .noSuchKey: return "no such key"
        case .noSuchBucket: return "no such bucket"
        case .accessDenied: return "access denied (HEAD answers carry no detail)"
        case .preconditionFailed: return "precondition failed"
        case .notModified: return "not modified"
        case .invalidRange: return "the range is not satisfiable"
        case .permanentRedirect: return "the bucket is served by another endpoint"
        default: return "HTTP \(status) without an error document"
        }
    }

    /// Parses the XML body of a successful answer.
    func document(_ response: HTTPResponse, _ operation: String, expecting root: String,
                  or alternative: String? = nil) throws(S3Error) -> XMLTree {
        let document: XMLTree
        do {
            document = try XMLTree.parse(response.body)
        } catch {
            throw invalidResponse(operation, "malformed XML: \(error)")
        }
        guard document.name == root || document.name == alternative else {
            throw invalidResponse(operation, "expected <\(root)>, got <\(document.name)>")
        }
        return document
    }

    /// An `.invalidResponse` error.
    func invalidResponse(_ operation: String, _ message: String, key: String? = nil) -> S3Error {
        S3Error(kind: .invalidResponse, code: .other("InvalidResponse"), message: message, status: 200,
                operation: operation, resource: key.map { "s3://\(configuration.bucket)/\($0)" } ?? "s3://\(configuration.bucket)")
    }
}

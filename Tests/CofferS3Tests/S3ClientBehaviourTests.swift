import CofferAWS
import CofferCrypto
import CofferHTTP
import CofferObjectStore
import CofferS3
import CofferTestSupport
import Foundation
import Testing

/// Retries, error parsing, region discovery and the non-idempotent completion, driven by a scripted transport.
@Suite("S3 client behaviour with a scripted transport")
struct S3ClientBehaviourTests {
    static let fast = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2))

    static func client(_ transport: ScriptedTransport, region: String = "us-east-1", explicit: Bool = false,
                       retry: RetryPolicy = fast) -> S3Client {
        S3Client(configuration: S3Configuration(
            bucket: "bkt", region: region, regionIsExplicit: explicit, endpointURL: "http://127.0.0.1:9",
            credentials: StaticCredentialsProvider(accessKeyId: "AKID", secretAccessKey: "SECRET"),
            transport: transport, retryPolicy: retry))
    }

    static func ok(_ headers: HTTPHeaders = [:], body: String = "") -> HTTPResponse {
        HTTPResponse(status: 200, headers: headers, body: Array(body.utf8))
    }

    @Test func retriesSlowDownAndServerErrorsThenSucceeds() async throws {
        let transport = ScriptedTransport { index, _ in
            switch index {
            case 0: return ScriptedTransport.s3Error(503, code: "SlowDown")
            case 1: return ScriptedTransport.s3Error(500, code: "InternalError")
            case 2: return HTTPResponse(status: 502, body: Array("<html>bad gateway</html>".utf8))
            default: return Self.ok(["ETag": "\"abc\""])
            }
        }
        let etag = try await Self.client(transport).putObject("k", body: .bytes([1]))
        #expect(etag == "abc")
        #expect(transport.requests.count == 4)
    }

    @Test func retriesTransportFailuresButGivesUpAfterMaxAttempts() async throws {
        let transport = ScriptedTransport { _, _ throws(HTTPError) in throw .connectionLost("reset by peer") }
        let error = await #expect(throws: S3Error.self) { try await Self.client(transport).headObject("k") }
        #expect(transport.requests.count == 4)
        if case .transport(let http)? = error?.kind { #expect(http == .connectionLost("reset by peer")) } else {
            Issue.record("expected a transport error, got \(String(describing: error))")
        }
    }

    @Test func doesNotRetryClientErrors() async throws {
        let transport = ScriptedTransport { _, _ in ScriptedTransport.s3Error(403, code: "AccessDenied", message: "Access Denied") }
        let error = await #expect(throws: S3Error.self) { try await Self.client(transport).getObject("secret") }
        #expect(transport.requests.count == 1)
        #expect(error?.code == .accessDenied)
        #expect(error?.requestId == "REQ123")
        #expect(error?.description.contains("s3://bkt/secret") == true)
        #expect(error?.description.contains("IAM permission") == true)
    }

    @Test func headWithoutBodyMapsStatusToCodes() async throws {
        let transport = ScriptedTransport { index, _ in HTTPResponse(status: index == 0 ? 404 : 403) }
        let s3 = Self.client(transport)
        let missing = await #expect(throws: S3Error.self) { try await s3.headObject("k") }
        #expect(missing?.code == .noSuchKey)
        let denied = await #expect(throws: S3Error.self) { try await s3.headObject("k") }
        #expect(denied?.code == .accessDenied)
    }

    @Test func correctsClockSkewFromServerDate() async throws {
        let serverNow = Date().addingTimeInterval(-3 * 3600)
        let transport = ScriptedTransport { index, _ in
            index == 0
                ? ScriptedTransport.s3Error(403, code: "RequestTimeTooSkewed", headers: ["Date": HTTPDate.format(serverNow)])
                : Self.ok(["Content-Length": "0", "ETag": "\"e\""])
        }
        _ = try await Self.client(transport).headObject("k")
        #expect(transport.requests.count == 2)
        let signed = try #require(transport.requests[1].headers["X-Amz-Date"])
        let first = try #require(transport.requests[0].headers["X-Amz-Date"])
        #expect(signed != first)
        #expect(signed.hasPrefix(HTTPDate.formatAMZ(serverNow).prefix(11)))
    }

    @Test func wrongRegionIsExplainedAndCorrectedWhenNotExplicit() async throws {
        let transport = ScriptedTransport { _, request in
            if request.headers["Authorization"]?.contains("/eu-west-1/s3/") == true { return Self.ok() }
            return HTTPResponse(status: 301, headers: ["x-amz-bucket-region": "eu-west-1"])
        }
        let error = await #expect(throws: S3Error.self) { try await Self.client(transport, explicit: true).headBucket() }
        #expect(error?.description.contains("bucket bkt is in region eu-west-1, not us-east-1") == true)
        let corrected = try await Self.client(transport).verifiedForBucketRegion()
        #expect(corrected.configuration.region == "eu-west-1")
    }

    @Test func aRegionHeaderOnASuccessfulHeadBucketIsHeededToo() async throws {
        // Some endpoints answer HeadBucket 200 for a bucket of another region and only say so in the header.
        let transport = ScriptedTransport { _, _ in Self.ok(["x-amz-bucket-region": "eu-west-1"]) }
        let error = await #expect(throws: S3Error.self) {
            _ = try await Self.client(transport, explicit: true).verifiedForBucketRegion()
        }
        #expect(error?.description.contains("bucket bkt is in region eu-west-1, not us-east-1: use --region eu-west-1") == true)
        let corrected = try await Self.client(transport).verifiedForBucketRegion()
        #expect(corrected.configuration.region == "eu-west-1")
        let same = ScriptedTransport { _, _ in Self.ok(["x-amz-bucket-region": "us-east-1"]) }
        #expect(try await Self.client(same, explicit: true).verifiedForBucketRegion().configuration.region == "us-east-1")
    }

    @Test func copyAndConditionalHeadersOnTheWire() async throws {
        let transport = ScriptedTransport { _, _ in
            Self.ok(["ETag": "\"e\""], body: "<CopyObjectResult><ETag>\"new\"</ETag></CopyObjectResult>")
        }
        let s3 = Self.client(transport)
        let etag = try await s3.copyObject(from: "dir/a b", to: "dir/c", options: CopyOptions(
            metadata: .replace(["mode": "33188"], contentType: "text/plain"), sourceETag: "abc", condition: .doesNotExist))
        #expect(etag == "new")
        let copy = transport.requests[0].headers
        #expect(copy["x-amz-copy-source"] == "bkt/dir/a%20b")
        #expect(copy["x-amz-copy-source-if-match"] == "\"abc\"")
        #expect(copy["x-amz-metadata-directive"] == "REPLACE")
        #expect(copy["x-amz-meta-mode"] == "33188")
        #expect(copy["If-None-Match"] == "*")
        _ = try await s3.putObject("k", body: .bytes([1]), options: PutOptions(condition: .etagMatches("e1")))
        #expect(transport.requests[1].headers["If-Match"] == "\"e1\"")
        _ = try? await s3.getObject("k", range: 10..<20, ifMatch: "e2")
        #expect(transport.requests[2].headers["Range"] == "bytes=10-19")
        #expect(transport.requests[2].headers["If-Match"] == "\"e2\"")
    }

    @Test func errorInside200IsAnError() async throws {
        let transport = ScriptedTransport { _, _ in
            Self.ok(body: "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>nope</Message></Error>")
        }
        let error = await #expect(throws: S3Error.self) { try await Self.client(transport).copyObject(from: "a", to: "b") }
        #expect(error?.code == .accessDenied)
        #expect(transport.requests.count == 1)
    }

    @Test func malformedXMLIsAnErrorValue() async throws {
        let bodies = ["", "<ListBucketResult><Contents><Key>a", "not xml at all", "<Other/>",
                      "<ListBucketResult><Contents><Key>a</Key><Size>xyz</Size></Contents></ListBucketResult>",
                      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"]
        for body in bodies {
            let transport = ScriptedTransport { _, _ in Self.ok(body: body) }
            let error = await #expect(throws: S3Error.self) { try await Self.client(transport).listObjectsV2(ListRequest()) }
            #expect(error?.kind == .invalidResponse, "body: \(body)")
        }
    }

    @Test func completeMultipartWhoseAnswerWasLostIsConfirmedNotRepeated() async throws {
        let part1 = Hex.encode(MD5.hash([1])), part2 = Hex.encode(MD5.hash([2]))
        let expected = Hex.encode(MD5.hash(MD5.hash([1]) + MD5.hash([2]))) + "-2"
        let transport = ScriptedTransport { index, request throws(HTTPError) in
            switch index {
            case 0:
                #expect(request.method == "POST")
                throw .connectionLost("answer lost")
            case 1:
                #expect(request.method == "GET" && request.url.contains("uploadId=U1"))
                return ScriptedTransport.s3Error(404, code: "NoSuchUpload")
            default:
                #expect(request.method == "HEAD")
                return Self.ok(["ETag": "\"\(expected)\"", "Content-Length": "2"])
            }
        }
        let etag = try await Self.client(transport).completeMultipartUpload(
            "k", uploadId: "U1", parts: [CompletedPart(partNumber: 1, etag: part1), CompletedPart(partNumber: 2, etag: part2)])
        #expect(etag == expected)
        #expect(transport.requests.map(\.method) == ["POST", "GET", "HEAD"])
    }

    @Test func completeMultipartAcceptsTheDocumentedAnswerAndMotos() async throws {
        for root in ["CompleteMultipartUploadResult", "CompleteMultipartUploadResponse"] {
            let transport = ScriptedTransport { _, _ throws(HTTPError) in
                Self.ok(body: "<?xml version=\"1.0\"?><\(root) xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                        + "<Bucket>bkt</Bucket><Key>k</Key><ETag>\"done-1\"</ETag></\(root)>")
            }
            let etag = try await Self.client(transport).completeMultipartUpload(
                "k", uploadId: "U", parts: [CompletedPart(partNumber: 1, etag: "e1")])
            #expect(etag == "done-1", "\(root)")
            #expect(transport.requests.map(\.method) == ["POST"], "no recovery for <\(root)>")
        }
    }

    /// Real S3 checks a completion's `If-None-Match` atomically: of two overlapping completions of one new key,
    /// one is answered 412. That answer is final, not an unknown outcome to recover from: no ListParts, no retry.
    @Test func aCompletionRefusedByItsConditionIsAPreconditionFailure() async throws {
        let transport = ScriptedTransport { _, request throws(HTTPError) in
            #expect(request.headers["If-None-Match"] == "*")
            return ScriptedTransport.s3Error(412, code: "PreconditionFailed")
        }
        let refused = await #expect(throws: S3Error.self) {
            try await Self.client(transport).completeMultipartUpload(
                "k", uploadId: "U", parts: [CompletedPart(partNumber: 1, etag: "e1")], condition: .doesNotExist)
        }
        #expect(refused?.code == .preconditionFailed)
        #expect(transport.requests.map(\.method) == ["POST"])
    }

    @Test func completeMultipartRetriesWhenTheUploadStillExists() async throws {
        let transport = ScriptedTransport { index, _ throws(HTTPError) in
            switch index {
            case 0: return ScriptedTransport.s3Error(500, code: "InternalError")
            case 1: return Self.ok(body: "<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part></ListPartsResult>")
            default: return Self.ok(body: "<CompleteMultipartUploadResult><ETag>\"done-1\"</ETag></CompleteMultipartUploadResult>")
            }
        }
        let etag = try await Self.client(transport).completeMultipartUpload("k", uploadId: "U", parts: [CompletedPart(partNumber: 1, etag: "e1")])
        #expect(etag == "done-1")
        #expect(transport.requests.map(\.method) == ["POST", "GET", "POST"])
    }

    /// Server-side encryption, storage class and ACL go with every request that creates an object (PutObject,
    /// CopyObject, CreateMultipartUpload) and with nothing else; requester-pays goes with every request, signed.
    @Test func objectCreationSettingsAndRequesterPaysOnTheWire() async throws {
        let transport = ScriptedTransport { _, request throws(HTTPError) in
            if request.url.contains("uploads=") {
                return Self.ok(body: "<InitiateMultipartUploadResult><UploadId>U</UploadId></InitiateMultipartUploadResult>")
            }
            if request.headers["x-amz-copy-source"] != nil {
                return Self.ok(body: "<CopyObjectResult><ETag>\"c\"</ETag></CopyObjectResult>")
            }
            return Self.ok(["ETag": "\"e\"", "Content-Length": "1"])
        }
        var configuration = Self.client(transport).configuration
        configuration.objectCreation = ObjectCreationSettings(serverSideEncryption: .kms(keyID: "alias/data"),
                                                              storageClass: "STANDARD_IA", cannedACL: .bucketOwnerFullControl)
        configuration.requesterPays = true
        let s3 = S3Client(configuration: configuration)
        try await s3.putObject("a", body: .bytes([1]))
        try await s3.copyObject(from: "a", to: "b")
        let upload = try await s3.createMultipartUpload("c")
        _ = try await s3.uploadPart("c", uploadId: upload, partNumber: 1, body: .bytes([2]))
        _ = try await s3.headObject("a")
        let creating = transport.requests.prefix(3)
        for request in creating {
            #expect(request.headers["x-amz-server-side-encryption"] == "aws:kms", "\(request.url)")
            #expect(request.headers["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/data")
            #expect(request.headers["x-amz-storage-class"] == "STANDARD_IA")
            #expect(request.headers["x-amz-acl"] == "bucket-owner-full-control")
        }
        for request in transport.requests.dropFirst(3) {
            #expect(request.headers["x-amz-server-side-encryption"] == nil && request.headers["x-amz-storage-class"] == nil
                    && request.headers["x-amz-acl"] == nil, "\(request.method) \(request.url)")
        }
        for request in transport.requests {
            #expect(request.headers["x-amz-request-payer"] == "requester")
            #expect(request.headers["Authorization"]?.contains("x-amz-request-payer") == true, "signed")
        }

        let plain = ScriptedTransport { _, _ in Self.ok(["ETag": "\"e\""]) }
        try await Self.client(plain).putObject("a", body: .bytes([1]))
        let headers = plain.requests[0].headers
        #expect(headers["x-amz-acl"] == nil && headers["x-amz-request-payer"] == nil
                && headers["x-amz-server-side-encryption"] == nil, "the defaults send no such header")
    }

    @Test func requestsAreSignedWithPayloadHashes() async throws {
        let transport = ScriptedTransport { _, _ in Self.ok(["ETag": "\"e\""]) }
        let s3 = Self.client(transport)
        try await s3.putObject("dir/a b", body: .bytes(Array("hi".utf8)))
        let request = transport.requests[0]
        #expect(request.url == "http://127.0.0.1:9/bkt/dir/a%20b")
        #expect(request.headers["x-amz-content-sha256"] == Hex.encode(SHA256.hash("hi")))
        #expect(request.headers["Authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/") == true)
        #expect(request.headers["Authorization"]?.contains("SECRET") == false)
        try await s3.putObject("f", body: .file(path: "/dev/null", offset: 0, count: 0))
        #expect(transport.requests[1].headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD")
    }

    @Test func virtualHostedURLsOnAWSAndPathStyleForDottedBuckets() {
        let creds = StaticCredentialsProvider(accessKeyId: "a", secretAccessKey: "b")
        let transport = ScriptedTransport { _, _ in Self.ok() }
        let aws = S3Configuration(bucket: "my-bucket", region: "eu-west-1", credentials: creds, transport: transport)
        #expect(aws.debugURL(key: "a/b c") == "https://my-bucket.s3.eu-west-1.amazonaws.com/a/b%20c")
        let dotted = S3Configuration(bucket: "my.bucket", region: "eu-west-1", credentials: creds, transport: transport)
        #expect(dotted.debugURL(key: "k") == "https://s3.eu-west-1.amazonaws.com/my.bucket/k")
        let custom = S3Configuration(bucket: "b", endpointURL: "http://127.0.0.1:5000/", credentials: creds, transport: transport)
        #expect(custom.debugURL(key: "k") == "http://127.0.0.1:5000/b/k")
        #expect(S3Configuration.endpointFromEnvironment(["AWS_ENDPOINT_URL": "http://x", "AWS_ENDPOINT_URL_S3": "http://s3"]) == "http://s3")
    }

    @Test func retryDelaysAreJitteredAndCapped() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect(policy.delay(beforeRetry: 1, random: { $0 }) == .milliseconds(100))
        #expect(policy.delay(beforeRetry: 3, random: { $0 }) == .milliseconds(400))
        #expect(policy.delay(beforeRetry: 9, random: { $0 }) == .seconds(1))
        #expect(policy.delay(beforeRetry: 3, random: { _ in 0 }) == .milliseconds(200), "never under half the ceiling")
        #expect(policy.delay(beforeRetry: 500, random: { $0 }) == .seconds(1))
    }

    @Test func theDefaultPolicyRidesOutTwentySecondsOfThrottlingButFewClientErrors() {
        let policy = RetryPolicy()
        #expect(policy.attempts(for: .transient) == 10)
        #expect(policy.attempts(for: .clientError) == 3)
        // 0.1 + 0.2 + ... + 12.8 + 20 s of ceilings: at least half of it is always waited.
        #expect(abs(policy.retryWindow.lowerBound - 22.75) < 0.001)
        #expect(abs(policy.retryWindow.upperBound - 45.5) < 0.001)
        #expect(S3ErrorCode.slowDown.retryBudget == .transient)
        #expect(S3ErrorCode("RequestTimeout").retryBudget == .clientError)
        #expect(S3ErrorCode.accessDenied.retryBudget == nil)
        #expect(RetryPolicy(maxAttempts: 2, maxClientErrorAttempts: 5).attempts(for: .clientError) == 2)
    }
}

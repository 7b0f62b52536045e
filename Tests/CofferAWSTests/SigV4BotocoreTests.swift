import CofferAWS
import CofferHTTP
import CofferTestSupport
import Foundation
import Testing

/// Signs a few hundred deterministically generated requests with `SigV4Signer` and with botocore
/// (`Resources/botocore_sign.py`: `S3SigV4Auth` for S3, `SigV4Auth` for the other services), and compares the
/// `Authorization` header, the canonical request and the signing headers of every one.
///
/// Both sides get the same wire URL, headers, credentials, signing time and body. Query strings are generated in
/// canonical wire form (`AWSURIEncoding.encode` on names and values), as every client sends them: botocore takes
/// a URL's query as written, while `SigV4Signer` decodes and re-encodes it. Header values are ASCII (botocore
/// collapses Unicode whitespace too, we only ASCII whitespace; HTTP header values are ASCII anyway).
/// Needs `python3` with botocore (`scripts/install-deps.sh` installs boto3).
@Suite struct SigV4BotocoreTests {
    static let accessKeyId = "AKIDEXAMPLE"
    static let secretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

    struct Input: Encodable {
        var accessKeyId: String
        var secretAccessKey: String
        var requests: [Request]
    }

    struct Request: Codable {
        var id: String
        var service: String
        var region: String
        var epoch: Int64
        var method: String
        var url: String
        var headers: [[String]]
        var sessionToken: String?
        var unsignedPayload: Bool
        var bodyBase64: String
    }

    struct Output: Decodable {
        struct Result: Decodable {
            var id: String
            var authorization: String
            var canonicalRequest: String
            var headers: [[String]]
        }
        var botocoreVersion: String
        var results: [Result]
    }

    // MARK: - Generating requests

    /// Pieces of S3 keys that stress encoding and path handling.
    static let keyComponents: [String] = [
        "photos", "2024", "a b", "  lead and trail  ", "ünïcødé", "日本語", "😀", "plus+sign", "eq=sign", "100%",
        "%20literal", "%2F", "tilde~", "", ".", "..", "semi;colon", "quote'\"", "hash#", "question?", "star*",
        "paren()", "comma,", "amp&", "at@", "dollar$", "colon:", "brackets[]", "back\\slash", "caret^", "pipe|",
        "tab\there", "new\nline", "CR\r", "ctrl\u{1}", "del\u{7F}", "-_.~", "UPPER", "x".padding(toLength: 60, withPad: "yz", startingAt: 0),
    ]
    static let fixedKeys = ["a/./b", "a/../b", "//double", "trailing/", "/leading", "a//b//c", "./x", "../y", "...", " "]
    static let regions = ["us-east-1", "eu-central-1", "ap-southeast-2", "us-gov-west-1"]
    static let epochs: [Int64] = [1_440_938_160, 1_709_251_199, 1_735_689_600, 951_782_400, 4_102_444_799, 1_369_353_600]
    static let tokenAlphabet = Array("ABCxyz0189+/=-_.~".unicodeScalars)

    static func randomString(_ generator: inout SplitMix64, _ alphabet: [Unicode.Scalar], length: Int) -> String {
        var view = String.UnicodeScalarView()
        for _ in 0..<length { view.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
        return String(view)
    }

    static func pick<T>(_ generator: inout SplitMix64, _ items: [T]) -> T {
        items[Int(generator.next() % UInt64(items.count))]
    }

    static func chance(_ generator: inout SplitMix64, _ percent: UInt64) -> Bool {
        generator.next() % 100 < percent
    }

    static func makeKey(_ generator: inout SplitMix64) -> String {
        if chance(&generator, 15) { return pick(&generator, fixedKeys) }
        let count = 1 + Int(generator.next() % 4)
        return (0..<count).map { _ in pick(&generator, keyComponents) }.joined(separator: "/")
    }

    static func query(_ pairs: [(String, String?)]) -> String {
        pairs.map { name, value in
            value.map { AWSURIEncoding.encode(name) + "=" + AWSURIEncoding.encode($0) } ?? AWSURIEncoding.encode(name)
        }.joined(separator: "&")
    }

    /// An ASCII header value with the whitespace SigV4 trims and collapses.
    static func headerValue(_ generator: inout SplitMix64) -> String {
        pick(&generator, ["plain", "  leading", "trailing  ", " both\tsides ", "inner   runs \t of  space",
                          "a,b;c=d", "quoted \"x  y\"", "", "UPPER lower 123", "=?UTF-8?B?w6k=?=", "\t"])
    }

    static func makeS3Requests() -> [(Request, body: [UInt8])] {
        var generator = SplitMix64(seed: 0xC0FFE4)
        var requests: [(Request, body: [UInt8])] = []
        for index in 0..<320 {
            let region = pick(&generator, regions)
            let bucket = pick(&generator, ["my-bucket", "dots.in.bucket", "bucket123"])
            let base: String
            switch generator.next() % 5 {
            case 0: base = "https://\(bucket).s3.\(region).amazonaws.com"
            case 1: base = "https://s3.\(region).amazonaws.com/\(bucket)"
            case 2: base = "http://127.0.0.1:9000/\(bucket)"
            case 3: base = "https://s3.amazonaws.com:443/\(bucket)"
            default: base = "http://LocalHost:80/\(bucket)"
            }
            let key = makeKey(&generator)
            let objectURL = base + "/" + AWSURIEncoding.encode(key, encodeSlash: false)
            let bucketURL = base.hasPrefix("https://\(bucket)") ? base + "/" : base
            let uploadId = randomString(&generator, tokenAlphabet, length: 8 + Int(generator.next() % 40))
            var method = "GET"
            var url = objectURL
            var headers: [(String, String)] = []
            var body: [UInt8] = []
            var queryPairs: [(String, String?)] = []

            switch index % 13 {
            case 0:
                if chance(&generator, 70) {
                    let start = generator.next() % 10_000
                    headers.append(("Range", "bytes=\(start)-\(start + generator.next() % 5_000_000)"))
                }
                if chance(&generator, 30) { headers.append(("If-None-Match", "\"d41d8cd98f00b204e9800998ecf8427e\"")) }
                if chance(&generator, 30) { queryPairs.append(("versionId", randomString(&generator, tokenAlphabet, length: 20))) }
            case 1:
                method = "HEAD"
            case 2:
                method = "PUT"
                body = (0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                headers.append(("Content-Type", pick(&generator, ["application/octet-stream", "text/plain; charset=utf-8"])))
                for m in 0..<Int(generator.next() % 4) {
                    headers.append(("x-amz-meta-\(pick(&generator, ["mtime", "Mode", "UID", "coffer-key"]))\(m)",
                                    headerValue(&generator)))
                }
                if chance(&generator, 40) { headers.append(("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg==")) }
                if chance(&generator, 30) { headers.append(("Content-Length", String(body.count))) }
                if chance(&generator, 30) { headers.append(("Expect", "100-continue")) }
                if chance(&generator, 30) { headers.append(("x-amz-storage-class", "STANDARD_IA")) }
            case 3:
                method = "DELETE"
            case 4:
                url = bucketURL
                queryPairs.append(("list-type", "2"))
                if chance(&generator, 80) { queryPairs.append(("prefix", makeKey(&generator))) }
                if chance(&generator, 60) { queryPairs.append(("delimiter", "/")) }
                if chance(&generator, 50) {
                    queryPairs.append(("continuation-token", randomString(&generator, tokenAlphabet, length: 44)))
                }
                if chance(&generator, 30) { queryPairs.append(("start-after", makeKey(&generator))) }
                if chance(&generator, 50) { queryPairs.append(("max-keys", String(generator.next() % 1001))) }
                if chance(&generator, 50) { queryPairs.append(("encoding-type", "url")) }
                if chance(&generator, 20) { queryPairs.append(("fetch-owner", "true")) }
                queryPairs.shuffle(using: &generator)
            case 5:
                method = "POST"
                queryPairs.append(("uploads", chance(&generator, 50) ? nil : ""))
                if chance(&generator, 50) { headers.append(("x-amz-meta-mode", "0644")) }
            case 6:
                method = "PUT"
                body = Array(repeating: UInt8(index & 0xFF), count: Int(generator.next() % 100))
                queryPairs = [("partNumber", String(1 + generator.next() % 10_000)), ("uploadId", uploadId)]
                queryPairs.shuffle(using: &generator)
            case 7:
                method = "POST"
                queryPairs = [("uploadId", uploadId)]
                body = Array("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part></CompleteMultipartUpload>".utf8)
                headers.append(("Content-Type", "application/xml"))
            case 8:
                method = "DELETE"
                queryPairs = [("uploadId", uploadId)]
            case 9:
                queryPairs = [("uploadId", uploadId), ("max-parts", "1000"), ("part-number-marker", String(generator.next() % 50))]
                queryPairs.shuffle(using: &generator)
            case 10:
                method = "PUT"
                let source = makeKey(&generator)
                headers.append(("x-amz-copy-source", "/\(bucket)/" + AWSURIEncoding.encode(source, encodeSlash: false)))
                headers.append(("x-amz-metadata-directive", pick(&generator, ["COPY", "REPLACE"])))
                if chance(&generator, 30) { headers.append(("x-amz-copy-source-range", "bytes=0-5242879")) }
                if chance(&generator, 30) { headers.append(("x-amz-copy-source-if-match", "\"abc\"")) }
            case 11:
                method = "POST"
                url = bucketURL
                queryPairs = [("delete", chance(&generator, 50) ? nil : "")]
                body = Array("<Delete><Object><Key>\(XMLTree.escape(key))</Key></Object><Quiet>true</Quiet></Delete>".utf8)
                headers.append(("Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww=="))
            default:
                // A retry: stale signing headers, repeated names in different cases, unsigned headers.
                headers = [
                    ("Authorization", "AWS4-HMAC-SHA256 Credential=OLD"), ("X-Amz-Date", "20000101T000000Z"),
                    ("x-amz-content-sha256", "stale"), ("X-Amz-Meta-Dup", "first"), ("x-amz-meta-dup", " second "),
                    ("User-Agent", "coffer/1.0"), ("X-Amzn-Trace-Id", "Root=1-abc"),
                ]
                if chance(&generator, 50) { headers.append(("X-Amz-Security-Token", "stale-token")) }
            }
            if !queryPairs.isEmpty { url += "?" + query(queryPairs) }
            let sessionToken = chance(&generator, 35)
                ? "FwoGZXIvYXdzE" + randomString(&generator, tokenAlphabet, length: 60) : nil
            let request = Request(
                id: "s3-\(index)", service: "s3", region: region, epoch: pick(&generator, epochs), method: method,
                url: url, headers: headers.map { [$0.0, $0.1] }, sessionToken: sessionToken,
                unsignedPayload: chance(&generator, 50), bodyBase64: Data(body).base64EncodedString())
            requests.append((request, body))
        }
        return requests
    }

    /// Requests for services with the generic rules (normalized, double-encoded paths): STS, KMS and a custom one.
    static func makeGenericRequests() -> [(Request, body: [UInt8])] {
        var generator = SplitMix64(seed: 0x5157)
        let paths = ["", "/", "/a%20b/./c/../d//e", "/%E1%88%B4/x", "/a+b", "/~x/.", "//", "/example/..", "/a/b/",
                     "/%2F%25", "/..", "/./a"]
        var requests: [(Request, body: [UInt8])] = []
        for index in 0..<48 {
            let service = pick(&generator, ["sts", "kms", "service"])
            let region = pick(&generator, regions)
            let host = service == "service" ? "example.amazonaws.com" : "\(service).\(region).amazonaws.com"
            var url = "https://\(host)" + paths[index % paths.count]
            var headers: [(String, String)] = []
            var body: [UInt8] = []
            var method = "GET"
            if index % 2 == 0 {
                method = "POST"
                body = Array(("Action=AssumeRole&Version=2011-06-15&RoleArn=" + AWSURIEncoding.encode("arn:aws:iam::123:role/x")).utf8)
                headers.append(("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"))
            } else {
                url += "?" + query([("Action", "GetCallerIdentity"), ("Version", "2011-06-15"), ("Empty", ""),
                                    ("ሴ", "a b+c")].shuffled(using: &generator))
                headers.append(("X-Amz-Target", "TrentService.Decrypt"))
            }
            if chance(&generator, 30) { headers.append(("My-Header", headerValue(&generator))) }
            let sessionToken = chance(&generator, 50) ? "IQoJb3JpZ2lu" + randomString(&generator, tokenAlphabet, length: 40) : nil
            requests.append((Request(
                id: "\(service)-\(index)", service: service, region: region, epoch: pick(&generator, epochs),
                method: method, url: url, headers: headers.map { [$0.0, $0.1] }, sessionToken: sessionToken,
                unsignedPayload: false, bodyBase64: Data(body).base64EncodedString()), body))
        }
        return requests
    }

    // MARK: - Comparing

    static func runBotocore(_ input: Input) throws -> Output {
        let directory = try ProjectPaths.temporaryDirectory("coffer-sigv4-botocore")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inPath = directory + "/in.json", outPath = directory + "/out.json"
        try JSONEncoder().encode(input).write(to: URL(fileURLWithPath: inPath))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", ProjectPaths.resource("CofferAWSTests", "botocore_sign.py"), inPath, outPath]
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        let errorText = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BotocoreFailure(message: "botocore_sign.py exited with \(process.terminationStatus) "
                + "(needs python3 with botocore: scripts/install-deps.sh):\n\(errorText)")
        }
        return try JSONDecoder().decode(Output.self, from: Data(contentsOf: URL(fileURLWithPath: outPath)))
    }

    struct BotocoreFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// A line-by-line diff of two canonical requests, marking the lines that differ.
    static func diff(swift: String, botocore: String) -> String {
        let a = swift.split(separator: "\n", omittingEmptySubsequences: false)
        let b = botocore.split(separator: "\n", omittingEmptySubsequences: false)
        var lines: [String] = []
        for i in 0..<max(a.count, b.count) {
            let left = i < a.count ? String(a[i]) : "<none>"
            let right = i < b.count ? String(b[i]) : "<none>"
            if left == right {
                lines.append("    \(left)")
            } else {
                lines.append("  - swift:    \(left.debugDescription)")
                lines.append("  + botocore: \(right.debugDescription)")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func signedHeaderValue(_ headers: [[String]], _ name: String) -> String? {
        headers.first { $0.first?.lowercased() == name }.map { $0[1] }
    }

    @Test func agreesWithBotocore() throws {
        let generated = Self.makeS3Requests() + Self.makeGenericRequests()
        #expect(generated.count >= 350)
        let output = try Self.runBotocore(Input(accessKeyId: Self.accessKeyId, secretAccessKey: Self.secretAccessKey,
                                                requests: generated.map(\.0)))
        let results = Dictionary(uniqueKeysWithValues: output.results.map { ($0.id, $0) })
        #expect(results.count == generated.count)

        var signers: [String: SigV4Signer] = [:]
        var mismatches = 0
        var unsignedCount = 0, tokenCount = 0
        for (spec, body) in generated {
            let botocore = try #require(results[spec.id], "botocore returned no result for \(spec.id)")
            let signer = signers["\(spec.service)/\(spec.region)", default: SigV4Signer(service: spec.service, region: spec.region)]
            signers["\(spec.service)/\(spec.region)"] = signer
            var request = HTTPRequest(method: spec.method, url: spec.url,
                                      headers: HTTPHeaders(spec.headers.map { ($0[0], $0[1]) }), body: .bytes(body))
            let credentials = AWSCredentials(accessKeyId: Self.accessKeyId, secretAccessKey: Self.secretAccessKey,
                                             sessionToken: spec.sessionToken)
            let payloadHash = spec.unsignedPayload ? SigV4Signer.unsignedPayload : SigV4Signer.payloadHash(body)
            if spec.unsignedPayload { unsignedCount += 1 }
            if spec.sessionToken != nil { tokenCount += 1 }
            let date = Date(timeIntervalSince1970: TimeInterval(spec.epoch))
            signer.sign(&request, credentials: credentials, date: date, payloadHash: payloadHash)
            let canonical = signer.canonicalRequest(for: request, payloadHash: payloadHash)

            var problems: [String] = []
            if canonical != botocore.canonicalRequest {
                problems.append("canonical request differs:\n" + Self.diff(swift: canonical, botocore: botocore.canonicalRequest))
            }
            if request.headers["Authorization"] != botocore.authorization {
                problems.append("Authorization differs:\n  - swift:    \(request.headers["Authorization"] ?? "<none>")\n"
                    + "  + botocore: \(botocore.authorization)")
            }
            for name in ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"] {
                let ours = request.headers[name], theirs = Self.signedHeaderValue(botocore.headers, name)
                if ours != theirs { problems.append("\(name): swift \(ours ?? "<none>"), botocore \(theirs ?? "<none>")") }
            }
            if !problems.isEmpty {
                mismatches += 1
                if mismatches <= 10 {
                    Issue.record(Comment(rawValue: "\(spec.id) \(spec.method) \(spec.url)\n"
                        + "headers: \(spec.headers)\n" + problems.joined(separator: "\n")))
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(generated.count) requests differ from botocore \(output.botocoreVersion)")
        // The generator covers both payload modes and both kinds of credentials.
        #expect(unsignedCount > 50 && unsignedCount < generated.count - 50)
        #expect(tokenCount > 50 && tokenCount < generated.count - 50)
    }
}

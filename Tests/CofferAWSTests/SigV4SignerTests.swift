import CofferTestSupport
import CofferAWS
import CofferHTTP
import Foundation
import Testing

/// Known answers from the AWS S3 documentation ("Signature Calculations for the Authorization Header:
/// Transferring Payload in a Single Chunk"), plus the S3-specific path rules and the signer's edge cases.
@Suite struct SigV4SignerTests {
    static let credentials = AWSCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE",
                                            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    /// 2013-05-24T00:00:00Z.
    static let docsDate = Date(timeIntervalSince1970: 1_369_353_600)
    static let s3 = SigV4Signer(service: "s3", region: "us-east-1")

    static func authorization(signedHeaders: String, signature: String) -> String {
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    @Test func docsGetObject() {
        var request = HTTPRequest(method: "GET", url: "https://examplebucket.s3.amazonaws.com/test.txt",
                                  headers: ["Range": "bytes=0-9"])
        Self.s3.sign(&request, credentials: Self.credentials, date: Self.docsDate,
                     payloadHash: SigV4Signer.emptyPayloadHash)
        let canonical = Self.s3.canonicalRequest(for: request, payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(canonical == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(Self.s3.stringToSign(canonicalRequest: canonical, date: Self.docsDate) == """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
            """)
        #expect(request.headers["Authorization"] == Self.authorization(
            signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
            signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
        #expect(request.headers["Host"] == "examplebucket.s3.amazonaws.com")
        #expect(request.headers["X-Amz-Date"] == "20130524T000000Z")
        #expect(request.headers["X-Amz-Content-Sha256"] == SigV4Signer.emptyPayloadHash)
        #expect(!request.headers.contains("X-Amz-Security-Token"))
    }

    @Test func docsPutObject() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = SigV4Signer.payloadHash(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        var request = HTTPRequest(method: "PUT", url: "https://examplebucket.s3.amazonaws.com/test%24file.text",
                                  headers: ["Date": "Fri, 24 May 2013 00:00:00 GMT",
                                            "x-amz-storage-class": "REDUCED_REDUNDANCY"],
                                  body: .bytes(body))
        Self.s3.sign(&request, credentials: Self.credentials, date: Self.docsDate, payloadHash: hash)
        #expect(request.headers["Authorization"] == Self.authorization(
            signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
    }

    @Test func docsGetBucketLifecycle() {
        var request = HTTPRequest(method: "GET", url: "https://examplebucket.s3.amazonaws.com/?lifecycle")
        Self.s3.sign(&request, credentials: Self.credentials, date: Self.docsDate,
                     payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(Self.s3.canonicalRequest(for: request, payloadHash: SigV4Signer.emptyPayloadHash)
            .split(separator: "\n", omittingEmptySubsequences: false)[2] == "lifecycle=")
        #expect(request.headers["Authorization"] == Self.authorization(
            signedHeaders: "host;x-amz-content-sha256;x-amz-date",
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
    }

    @Test func docsListObjects() {
        var request = HTTPRequest(method: "GET", url: "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2")
        Self.s3.sign(&request, credentials: Self.credentials, date: Self.docsDate,
                     payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(request.headers["Authorization"] == Self.authorization(
            signedHeaders: "host;x-amz-content-sha256;x-amz-date",
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test func constants() {
        #expect(SigV4Signer.unsignedPayload == "UNSIGNED-PAYLOAD")
        #expect(SigV4Signer.emptyPayloadHash == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SigV4Signer.payloadHash([]) == SigV4Signer.emptyPayloadHash)
        let signer = SigV4Signer(service: "sts", region: "eu-west-1")
        #expect(signer.service == "sts" && signer.region == "eu-west-1")
    }

    // MARK: - Paths

    static func canonicalURI(_ signer: SigV4Signer, _ url: String) -> String {
        let canonical = signer.canonicalRequest(for: HTTPRequest(method: "GET", url: url), payloadHash: "x")
        return String(canonical.split(separator: "\n", omittingEmptySubsequences: false)[1])
    }

    @Test(arguments: [
        ("/example/..", "/example/.."), ("//", "//"), ("/./", "/./"), ("//example//", "//example//"),
        ("/a/./b/../c", "/a/./b/../c"), ("/a%20b/c%2Fd", "/a%20b/c%2Fd"), ("/%E1%88%B4", "/%E1%88%B4"), ("", "/"),
    ])
    func s3PathIsTheWirePath(_ path: String, _ expected: String) {
        #expect(Self.canonicalURI(Self.s3, "https://b.s3.amazonaws.com" + path) == expected)
        #expect(Self.canonicalURI(Self.s3, "https://b.s3.amazonaws.com" + path + "?x=1#frag") == expected)
    }

    @Test(arguments: [
        ("/example/..", "/"), ("//", "/"), ("/./", "/"), ("//example//", "/example/"), ("/a/./b/../c", "/a/c"),
        ("/a%20b/c%2Fd", "/a%2520b/c%252Fd"), ("/%E1%88%B4", "/%25E1%2588%25B4"), ("", "/"), ("/..", "/"),
        ("/a/b/", "/a/b/"), ("/~user/x", "/~user/x"),
    ])
    func genericPathIsNormalizedAndEncodedTwice(_ path: String, _ expected: String) {
        let sts = SigV4Signer(service: "sts", region: "us-east-1")
        #expect(Self.canonicalURI(sts, "https://sts.amazonaws.com" + path) == expected)
    }

    // MARK: - Query, headers, host

    static func canonicalLines(_ signer: SigV4Signer, _ request: HTTPRequest) -> [String] {
        signer.canonicalRequest(for: request, payloadHash: "h")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    @Test(arguments: [
        ("", ""), ("uploads", "uploads="), ("b=2&a=1&a=0", "a=0&a=1&b=2"),
        ("prefix=a%2fb&list-type=2", "list-type=2&prefix=a%2Fb"),       // lower-case hex normalized
        ("k=a+b", "k=a%2Bb"),                                            // "+" is a literal plus
        ("k=%7e%2D", "k=~-"),                                            // unreserved bytes decoded
        ("k=a b", "k=a%20b"), ("k=x=y", "k=x%3Dy"), ("a=1&&b=", "a=1&b="),
        ("k=%zz", "k=%zz"),                                              // undecodable: kept as written
        ("%E1%88%B4=bar&a=1", "%E1%88%B4=bar&a=1"),                      // sorted by encoded bytes
        ("a-b=1&a%20b=2", "a%20b=2&a-b=1"),
    ])
    func canonicalQuery(_ query: String, _ expected: String) {
        let lines = Self.canonicalLines(Self.s3, HTTPRequest(method: "get", url: "https://h/k?" + query))
        #expect(lines[0] == "GET")
        #expect(lines[2] == expected)
    }

    @Test func headerCanonicalization() {
        let request = HTTPRequest(method: "PUT", url: "https://b.s3.amazonaws.com/k", headers: HTTPHeaders([
            ("X-Amz-Meta-B", "  two   inner\tspaces  "), ("x-amz-meta-a", "1"), ("X-AMZ-META-A", "2"),
            ("User-Agent", "coffer"), ("Expect", "100-continue"), ("Authorization", "old"),
            ("Transfer-Encoding", "chunked"), ("X-Amzn-Trace-Id", "t"), ("Connection", "close"),
            ("Content-Length", "5"), ("Empty", ""),
        ]))
        let lines = Self.canonicalLines(Self.s3, request)
        #expect(lines[3...] == [
            "content-length:5", "empty:", "host:b.s3.amazonaws.com", "x-amz-meta-a:1,2",
            "x-amz-meta-b:two inner spaces", "", "content-length;empty;host;x-amz-meta-a;x-amz-meta-b", "h",
        ])
    }

    @Test(arguments: [
        ("https://b.s3.amazonaws.com/k", "b.s3.amazonaws.com"), ("https://B.S3.AmazonAWS.com:443/k", "b.s3.amazonaws.com"),
        ("http://127.0.0.1:80/k", "127.0.0.1"), ("http://127.0.0.1:9000/k", "127.0.0.1:9000"),
        ("https://host:8443", "host:8443"), ("http://user:pw@host:81/k", "host:81"), ("http://[::1]:9000/b", "[::1]:9000"),
        ("https://[::1]/b", "[::1]"), ("https://h?x=1", "h"),
    ])
    func hostFromURL(_ url: String, _ host: String) {
        var request = HTTPRequest(method: "GET", url: url)
        Self.s3.sign(&request, credentials: Self.credentials, date: Self.docsDate, payloadHash: "UNSIGNED-PAYLOAD")
        #expect(request.headers["Host"] == host)
    }

    @Test func existingHostIsKept() {
        var request = HTTPRequest(method: "GET", url: "http://127.0.0.1:9000/k", headers: ["host": "example.com"])
        Self.s3.sign(&request, credentials: Self.credentials, date: Self.docsDate, payloadHash: "UNSIGNED-PAYLOAD")
        #expect(request.headers.fields.filter { $0.name.lowercased() == "host" }.map(\.value) == ["example.com"])
        #expect(Self.canonicalLines(Self.s3, request).contains("host:example.com"))
    }

    @Test func resigningReplacesTheSigningHeaders() {
        let withToken = AWSCredentials(accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: "token-1")
        var request = HTTPRequest(method: "GET", url: "https://b.s3.amazonaws.com/k")
        Self.s3.sign(&request, credentials: withToken, date: Self.docsDate, payloadHash: SigV4Signer.unsignedPayload)
        let first = request.headers["Authorization"]
        #expect(request.headers["X-Amz-Security-Token"] == "token-1")
        #expect(first?.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") == true)

        var fresh = HTTPRequest(method: "GET", url: "https://b.s3.amazonaws.com/k")
        let later = Self.docsDate.addingTimeInterval(86_400 + 3_661)
        let refreshed = AWSCredentials(accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: "token-2")
        Self.s3.sign(&request, credentials: refreshed, date: later, payloadHash: SigV4Signer.emptyPayloadHash)
        Self.s3.sign(&fresh, credentials: refreshed, date: later, payloadHash: SigV4Signer.emptyPayloadHash)
        #expect(request.headers["Authorization"] != first)
        #expect(request.headers == fresh.headers, "signing again gives the same headers as signing once")
        #expect(request.headers["X-Amz-Date"] == "20130525T010101Z")
        for name in ["Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "Host"] {
            #expect(request.headers.fields.filter { $0.name.lowercased() == name.lowercased() }.count == 1)
        }
    }

    @Test func emptySessionTokenIsNoToken() {
        var request = HTTPRequest(method: "GET", url: "https://b.s3.amazonaws.com/k")
        let credentials = AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s", sessionToken: "")
        Self.s3.sign(&request, credentials: credentials, date: Self.docsDate, payloadHash: SigV4Signer.unsignedPayload)
        #expect(!request.headers.contains("X-Amz-Security-Token"))
    }

    @Test(arguments: [
        (0.0, "19700101T000000Z"), (951_782_400, "20000229T000000Z"), (1_709_251_199.999, "20240229T235959Z"),
        (1_735_689_599, "20241231T235959Z"), (1_735_689_600, "20250101T000000Z"), (4_102_444_800, "21000101T000000Z"),
        (-1, "19691231T235959Z"),
    ])
    func dates(_ seconds: Double, _ expected: String) {
        var request = HTTPRequest(method: "GET", url: "https://b.s3.amazonaws.com/k")
        let date = Date(timeIntervalSince1970: seconds)
        Self.s3.sign(&request, credentials: Self.credentials, date: date, payloadHash: SigV4Signer.unsignedPayload)
        #expect(request.headers["X-Amz-Date"] == expected)
        #expect(request.headers["Authorization"]?.contains("/\(expected.prefix(8))/us-east-1/s3/aws4_request") == true)
    }

    @Test func signingKeyCacheIsPerSecretAndDay() {
        // Same signer, alternating secrets and days: each signature must match a fresh signer's.
        let shared = SigV4Signer(service: "s3", region: "us-east-1")
        for round in 0..<6 {
            let secret = round % 2 == 0 ? "secret-a" : "secret-b"
            let date = Self.docsDate.addingTimeInterval(Double(round / 2) * 86_400)
            let expected = SigV4Signer(service: "s3", region: "us-east-1")
                .signature(stringToSign: "sts", secretAccessKey: secret, date: date)
            #expect(shared.signature(stringToSign: "sts", secretAccessKey: secret, date: date) == expected)
        }
    }

    @Test func concurrentSigningIsConsistent() async {
        let signer = Self.s3
        let expected = signer.signature(stringToSign: "x", secretAccessKey: "k", date: Self.docsDate)
        await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let secret = index % 3 == 0 ? "other" : "k"
                    let value = signer.signature(stringToSign: "x", secretAccessKey: secret, date: Self.docsDate)
                    return secret == "k" ? value == expected : value != expected
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}

/// `AWSURIEncoding`.
@Suite struct AWSURIEncodingTests {
    @Test func encode() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        #expect(AWSURIEncoding.encode(unreserved) == unreserved)
        #expect(AWSURIEncoding.encode("a b+c=d&e/f%g") == "a%20b%2Bc%3Dd%26e%2Ff%25g")
        #expect(AWSURIEncoding.encode("a b/c//d", encodeSlash: false) == "a%20b/c//d")
        #expect(AWSURIEncoding.encode("ሴ😀é") == "%E1%88%B4%F0%9F%98%80%C3%A9")
        #expect(AWSURIEncoding.encode("") == "")
        #expect(AWSURIEncoding.encode("!*'();:@$,?#[]") == "%21%2A%27%28%29%3B%3A%40%24%2C%3F%23%5B%5D")
        #expect(AWSURIEncoding.encode("\u{0}\u{7F}") == "%00%7F")
    }

    @Test func decode() {
        #expect(AWSURIEncoding.decode("a%20b%2Bc+d") == "a b+c+d")
        #expect(AWSURIEncoding.decode("a%20b%2Bc+d", plusAsSpace: true) == "a b+c d")
        #expect(AWSURIEncoding.decode("%e1%88%b4") == "ሴ")
        #expect(AWSURIEncoding.decode("plain") == "plain")
        #expect(AWSURIEncoding.decode("") == "")
        #expect(AWSURIEncoding.decode("%") == nil)
        #expect(AWSURIEncoding.decode("%4") == nil)
        #expect(AWSURIEncoding.decode("%zz") == nil)
        #expect(AWSURIEncoding.decode("%FF") == nil, "not UTF-8")
        #expect(AWSURIEncoding.decode("%C3") == nil, "truncated UTF-8")
    }

    @Test func roundTrip() {
        var generator = SplitMix64(seed: 7)
        let alphabet = Array("aZ9-_.~ /+=%&?#é日😀\u{1}\t".unicodeScalars)
        for _ in 0..<500 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int(generator.next() % 12) { text.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
            let string = String(text)
            #expect(AWSURIEncoding.decode(AWSURIEncoding.encode(string)) == string)
            #expect(AWSURIEncoding.decode(AWSURIEncoding.encode(string, encodeSlash: false)) == string)
        }
    }
}

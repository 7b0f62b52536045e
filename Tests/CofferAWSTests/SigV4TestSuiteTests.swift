import CofferAWS
import CofferCrypto
import CofferHTTP
import CofferTestSupport
import Foundation
import Testing

/// The AWS Signature Version 4 test suite (`Resources/sigv4/aws-sigv4-test-suite.json`, Apache-2.0, see LICENSE
/// and NOTICE there), run through `SigV4Signer` with header signing.
///
/// The file holds 28 distinct cases in the group "all"; the groups "basic", "normalizePath" and "sts" repeat
/// some of them and are checked to be identical copies. None of them is a query-signing (presigned URL) case,
/// and none uses multi-line header values, so every case runs. Three are only partly comparable:
///
/// - `post-x-www-form-urlencoded` and `post-x-www-form-urlencoded-parameters`: the vectors are inconsistent.
///   Their `creq` signs `content-length`, but their `sts` hashes a different canonical request (the older suite's,
///   without `content-length`, and for `-parameters` with `charset=utf8` where the request says `utf-8`), and
///   `authz` is computed from that `sts`. We sign `Content-Length` when present, as botocore does, so these run
///   with the canonical request checked exactly, and the inconsistency itself asserted (so a corrected file gets
///   noticed); their string to sign and `Authorization` are not compared.
/// - `post-sts-header-after`: the vector adds `X-Amz-Security-Token` *after* signing (unsigned). `sign` always
///   signs the session token, so this case runs with credentials without a token, which is exactly the request
///   the vector signs; adding the token afterwards is not a feature we have.
///
/// The suite's service is `service`, so the generic path rules apply: the `normalizePath` cases (`/./`, `..`,
/// `//`) are normalized. `SigV4SignerTests.s3PathIsTheWirePath` checks that service `s3` leaves them alone.
@Suite struct SigV4TestSuiteTests {
    struct SuiteFile: Decodable {
        struct Config: Decodable {
            var service: String
            var region: String
            var accessKeyId: String
            var secretAccessKey: String
        }
        var config: Config
        var stsToken: String
        var tests: [String: [Case]]
    }

    struct Case: Decodable, Equatable {
        struct Request: Decodable, Equatable {
            var method: String
            var uri: String
            var headers: [[String]]
            var body: String
        }
        var name: String
        var request: Request
        var creq: String
        var sts: String
        var authz: String
    }

    static let inconsistentVectors: Set<String> = ["post-x-www-form-urlencoded", "post-x-www-form-urlencoded-parameters"]
    static let tokenAddedAfterSigning = "post-sts-header-after"
    /// 2015-08-30T12:36:00Z, the suite's signing time.
    static let date = Date(timeIntervalSince1970: 1_440_938_160)

    static func load() throws -> SuiteFile {
        let path = ProjectPaths.resource("CofferAWSTests", "sigv4/aws-sigv4-test-suite.json")
        return try JSONDecoder().decode(SuiteFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func caseNames() throws -> [String] {
        try load().tests["all", default: []].map(\.name)
    }

    /// The URI as it goes on the wire: the suite writes `ሴ` raw, a client sends its UTF-8 bytes percent-encoded.
    static func wireForm(_ uri: String) -> String {
        var out = ""
        for byte in uri.utf8 {
            if byte >= 0x80 || byte == 0x20 {
                out += "%" + String(byte, radix: 16, uppercase: true)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }

    @Test func fileHasTheExpectedCases() throws {
        let file = try Self.load()
        let all = file.tests["all", default: []]
        #expect(all.count == 28)
        #expect(Set(all.map(\.name)).count == all.count, "case names are unique")
        #expect(file.config.service == "service" && file.config.region == "us-east-1")
        // The other groups only repeat cases of "all", unchanged.
        for (group, cases) in file.tests where group != "all" {
            for testCase in cases {
                #expect(all.contains(testCase), "\(group)/\(testCase.name) is a copy of a case in \"all\"")
            }
        }
    }

    @Test(arguments: try caseNames())
    func suiteCase(_ name: String) throws {
        let file = try Self.load()
        let testCase = try #require(file.tests["all", default: []].first { $0.name == name })
        let config = file.config
        let signer = SigV4Signer(service: config.service, region: config.region)

        var headers = HTTPHeaders()
        for pair in testCase.request.headers {
            try #require(pair.count == 2)
            headers.add(pair[0], pair[1])
        }
        var request = HTTPRequest(method: testCase.request.method,
                                  url: "https://example.amazonaws.com" + Self.wireForm(testCase.request.uri),
                                  headers: headers, body: .bytes(Array(testCase.request.body.utf8)))
        let credentials = AWSCredentials(
            accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey,
            sessionToken: headers.contains("X-Amz-Security-Token") ? file.stsToken : nil)
        let payloadHash = SigV4Signer.payloadHash(Array(testCase.request.body.utf8))

        signer.sign(&request, credentials: credentials, date: Self.date, payloadHash: payloadHash)

        let canonical = signer.canonicalRequest(for: request, payloadHash: payloadHash)
        #expect(canonical == testCase.creq, "canonical request of \(name)")
        let stringToSign = signer.stringToSign(canonicalRequest: canonical, date: Self.date)

        if Self.inconsistentVectors.contains(name) {
            // The vector's own string to sign does not hash its own canonical request.
            let vectorHash = testCase.sts.split(separator: "\n").last.map(String.init)
            #expect(vectorHash != Hex.encode(SHA256.hash(testCase.creq)),
                    "\(name): the vector became consistent; compare sts and authz again")
            return
        }
        #expect(stringToSign == testCase.sts, "string to sign of \(name)")
        #expect(request.headers["Authorization"] == testCase.authz, "Authorization of \(name)")
        // The pieces agree with what sign() produced.
        let signature = signer.signature(stringToSign: stringToSign, secretAccessKey: config.secretAccessKey,
                                         date: Self.date)
        #expect(request.headers["Authorization"]?.hasSuffix("Signature=" + signature) == true)
        #expect(request.headers["X-Amz-Date"] == "20150830T123600Z")
        #expect(!request.headers.contains("X-Amz-Content-Sha256"), "only S3 gets X-Amz-Content-Sha256")
    }

    @Test func stsHeaderAfterIsTheVanillaSignature() throws {
        // post-sts-header-after signs exactly post-vanilla; the token is appended afterwards, unsigned.
        let all = try Self.load().tests["all", default: []]
        let after = try #require(all.first { $0.name == Self.tokenAddedAfterSigning })
        let vanilla = try #require(all.first { $0.name == "post-vanilla" })
        #expect(after.authz == vanilla.authz)
    }
}

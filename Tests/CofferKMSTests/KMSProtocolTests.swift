import CofferAWS
import CofferCrypto
import CofferHTTP
@testable import CofferKMS
import CofferTestSupport
import Foundation
import Testing

/// The KMS JSON protocol without a server: request shape, error documents, retries, base64.
@Suite("KMS JSON protocol")
struct KMSProtocolTests {
    static let credentials = StaticCredentialsProvider(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "SECRET-never-shown")
    static let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    static func client(_ transport: ScriptedTransport, attempts: Int = 3) -> KMSClient {
        KMSClient(transport: transport, region: "eu-west-1", credentials: credentials, attempts: attempts)
    }

    static func json(_ status: Int, _ object: [String: Any], headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var all = headers
        all.set("Content-Type", "application/x-amz-json-1.1")
        return HTTPResponse(status: status, headers: all, body: [UInt8](try! JSONSerialization.data(withJSONObject: object)))
    }

    static func body(of request: HTTPRequest) -> [String: Any] {
        guard case .bytes(let bytes) = request.body,
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return [:] }
        return object
    }

    @Test func requestsAreSignedJSONPostsToTheRegionalEndpoint() async throws {
        let key = [UInt8](repeating: 0xAB, count: 32)
        let transport = ScriptedTransport { _, _ in
            Self.json(200, ["KeyId": Self.arn, "Plaintext": Data(key).base64EncodedString(),
                            "CiphertextBlob": Data([1, 2, 3, 4]).base64EncodedString()])
        }
        let kms = Self.client(transport)
        #expect(kms.endpoint == "https://kms.eu-west-1.amazonaws.com")
        #expect(KMSClient.defaultEndpoint(region: "cn-north-1") == "https://kms.cn-north-1.amazonaws.com.cn")
        let result = try await kms.generateDataKey(keyID: "alias/coffer", byteCount: 32, context: ["coffer:v": "1"])
        #expect(result.keyID == Self.arn && result.ciphertextBlob == [1, 2, 3, 4])
        #expect(result.plaintext == SecretBytes(copying: key))
        #expect(result.plaintext.description == "SecretBytes(32 bytes)")

        let request = try #require(transport.requests.first)
        #expect(request.method == "POST" && request.url == "https://kms.eu-west-1.amazonaws.com/")
        #expect(request.headers["Content-Type"] == "application/x-amz-json-1.1")
        #expect(request.headers["X-Amz-Target"] == "TrentService.GenerateDataKey")
        let authorization = try #require(request.headers["Authorization"])
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"))
        #expect(authorization.contains("/eu-west-1/kms/aws4_request"))
        #expect(authorization.contains("x-amz-target"))
        let body = Self.body(of: request)
        #expect(body["KeyId"] as? String == "alias/coffer")
        #expect(body["NumberOfBytes"] as? Int == 32)
        #expect(body["EncryptionContext"] as? [String: String] == ["coffer:v": "1"])
    }

    @Test func encryptSendsThePlaintextInBase64AndDecryptSendsTheBlob() async throws {
        let secret = SecretBytes(copying: (0..<32).map { UInt8($0) })
        let transport = ScriptedTransport { index, _ in
            index == 0 ? Self.json(200, ["KeyId": Self.arn, "CiphertextBlob": Data([9, 9]).base64EncodedString()])
                : Self.json(200, ["KeyId": Self.arn, "Plaintext": Data((0..<32).map { UInt8($0) }).base64EncodedString()])
        }
        let kms = Self.client(transport)
        let encrypted = try await kms.encrypt(keyID: Self.arn, plaintext: secret, context: ["a": "b/c\"d"])
        #expect(encrypted == (Self.arn, [9, 9]))
        let encryptBody = Self.body(of: transport.requests[0])
        #expect(encryptBody["Plaintext"] as? String == Data((0..<32).map { UInt8($0) }).base64EncodedString())
        #expect(encryptBody["EncryptionContext"] as? [String: String] == ["a": "b/c\"d"])
        #expect(encryptBody["KeyId"] as? String == Self.arn)
        #expect(transport.requests[0].headers["X-Amz-Target"] == "TrentService.Encrypt")

        let decrypted = try await kms.decrypt(keyID: Self.arn, ciphertextBlob: [9, 9])
        #expect(decrypted.plaintext == secret)
        let decryptBody = Self.body(of: transport.requests[1])
        #expect(decryptBody["CiphertextBlob"] as? String == "CQk=")
        #expect(decryptBody["EncryptionContext"] == nil)
        #expect(transport.requests[1].headers["X-Amz-Target"] == "TrentService.Decrypt")
    }

    @Test(arguments: [
        ("AccessDeniedException", "accessDenied"), ("com.amazonaws.kms#NotFoundException", "keyNotFound"),
        ("DisabledException", "keyDisabled"), ("KMSInvalidStateException", "keyDisabled"),
        ("InvalidCiphertextException", "invalidCiphertext"), ("IncorrectKeyException", "incorrectKey"),
        ("UnrecognizedClientException", "invalidCredentials"), ("InvalidSignatureException", "invalidCredentials"),
        ("ExpiredTokenException", "invalidCredentials"), ("ValidationException", "service"),
    ])
    func errorDocumentsAreTyped(code: String, kind: String) {
        let response = Self.json(400, ["__type": code, "message": "the message"], headers: ["x-amzn-RequestId": "REQ-1"])
        let error = KMSClient.error(from: response, action: "Decrypt", keyID: "alias/coffer")
        let actual: String
        switch error {
        case .accessDenied: actual = "accessDenied"
        case .keyNotFound: actual = "keyNotFound"
        case .keyDisabled: actual = "keyDisabled"
        case .invalidCiphertext: actual = "invalidCiphertext"
        case .incorrectKey: actual = "incorrectKey"
        case .invalidCredentials: actual = "invalidCredentials"
        case .service: actual = "service"
        default: actual = "\(error)"
        }
        #expect(actual == kind)
        #expect(error.code == code.split(separator: "#").last.map(String.init))
        #expect(error.description.contains("the message"))
        #expect(error.description.contains("Decrypt"))
        if kind == "service" { #expect(error.description.contains("REQ-1")) }
    }

    @Test func errorCodesAreFoundInHeadersAndXML() {
        let headerOnly = HTTPResponse(status: 400, headers: ["X-Amzn-ErrorType": "NotFoundException:http://internal.amazon.com/"],
                                      body: Array("{}".utf8))
        #expect(KMSClient.error(from: headerOnly, action: "GenerateDataKey", keyID: "k") ==
                .keyNotFound(action: "GenerateDataKey", keyID: "k", message: ""))
        let xml = "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: u is not "
            + "authorized to perform: kms:Decrypt</Message></Error></Errors></ErrorResponse>"
        let denied = KMSClient.error(from: HTTPResponse(status: 403, body: Array(xml.utf8)), action: "Decrypt", keyID: "k")
        #expect(denied == .accessDenied(action: "Decrypt", keyID: "k", message: "User: u is not authorized to perform: kms:Decrypt"))
        #expect(denied.description.contains("kms:Decrypt on k"))
        let html = KMSClient.error(from: HTTPResponse(status: 502, body: Array("<html>bad gateway".utf8)),
                                   action: "Decrypt", keyID: "k")
        #expect(html.code == "HTTP 502" && html.isRetryable)
    }

    @Test func throttlingAnd5xxAndBrokenConnectionsAreRetried() async throws {
        let transport = ScriptedTransport { index, _ throws(HTTPError) in
            switch index {
            case 0: return Self.json(400, ["__type": "ThrottlingException", "message": "Rate exceeded"])
            case 1: throw .connectionLost("reset")
            case 2: return Self.json(500, ["__type": "KMSInternalException"])
            default: return Self.json(200, ["KeyId": Self.arn, "CiphertextBlob": "AQI="])
            }
        }
        let result = try await Self.client(transport, attempts: 4).encrypt(keyID: "k", plaintext: SecretBytes(randomCount: 32))
        #expect(result.ciphertextBlob == [1, 2])
        #expect(transport.requests.count == 4)

        let failing = ScriptedTransport { _, _ in Self.json(400, ["__type": "ThrottlingException"]) }
        let error = await #expect(throws: KMSError.self) {
            try await Self.client(failing, attempts: 2).decrypt(keyID: "k", ciphertextBlob: [1])
        }
        #expect(error?.code == "ThrottlingException")
        #expect(failing.requests.count == 2)

        // Errors that cannot pass are not retried.
        let denied = ScriptedTransport { _, _ in Self.json(400, ["__type": "AccessDeniedException"]) }
        _ = await #expect(throws: KMSError.self) { try await Self.client(denied).decrypt(keyID: "k", ciphertextBlob: [1]) }
        #expect(denied.requests.count == 1)
    }

    @Test func malformedAnswersAreInvalidResponses() async throws {
        let answers: [HTTPResponse] = [
            HTTPResponse(status: 200, body: Array("not json".utf8)),
            Self.json(200, ["KeyId": Self.arn, "CiphertextBlob": "AQI="]),  // no plaintext
            Self.json(200, ["KeyId": Self.arn, "CiphertextBlob": "AQI=", "Plaintext": "!!notbase64!!"]),
            Self.json(200, ["KeyId": Self.arn, "CiphertextBlob": "AQI=", "Plaintext": "AAAA"]),  // 3 bytes, not 32
        ]
        for answer in answers {
            let transport = ScriptedTransport { _, _ in answer }
            let error = await #expect(throws: KMSError.self) { try await Self.client(transport).generateDataKey(keyID: "k") }
            guard case .invalidResponse(let action, _, _) = error else {
                Issue.record("expected invalidResponse, got \(String(describing: error))")
                continue
            }
            #expect(action == "GenerateDataKey")
        }
    }

    @Test func credentialFailuresAndTransportFailuresAreTyped() async throws {
        let transport = ScriptedTransport { _, _ throws(HTTPError) in throw .cannotResolveHost("kms.nowhere") }
        let noKeys = KMSClient(transport: transport, region: "us-east-1",
                               credentials: StaticCredentialsProvider(accessKeyId: "", secretAccessKey: ""))
        let credentialsError = await #expect(throws: KMSError.self) { try await noKeys.generateDataKey(keyID: "k") }
        if case .credentials(let action, _) = credentialsError { #expect(action == "GenerateDataKey") } else {
            Issue.record("expected credentials, got \(String(describing: credentialsError))")
        }
        #expect(transport.requests.isEmpty)

        let transportError = await #expect(throws: KMSError.self) {
            try await Self.client(transport).generateDataKey(keyID: "k")
        }
        #expect(transportError == .transport(action: "GenerateDataKey", endpoint: "https://kms.eu-west-1.amazonaws.com",
                                             .cannotResolveHost("kms.nowhere")))
        #expect(transport.requests.count == 1)  // not retryable
    }

    @Test func errorsNeverShowSecrets() async throws {
        let plaintext = Data(repeating: 0x5A, count: 32).base64EncodedString()
        let transport = ScriptedTransport { _, request in
            Self.json(400, ["__type": "SomethingNew", "message": "odd"])
        }
        let error = await #expect(throws: KMSError.self) {
            try await Self.client(transport).encrypt(keyID: "k", plaintext: SecretBytes(copying: [UInt8](repeating: 0x5A, count: 32)))
        }
        let text = try #require(error?.description)
        #expect(!text.contains("SECRET-never-shown"))
        #expect(!text.contains(plaintext))
        #expect(!text.contains("Signature="))
        #expect(text.contains("SomethingNew") && text.contains("odd"))
    }

    @Test func base64MatchesFoundation() {
        for count in 0..<70 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 17) }
            let encoded = KMSBase64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString())
            #expect(KMSBase64.decode(encoded) == bytes)
            #expect(KMSBase64.decodedCount(Array(encoded.utf8)) == count)
            // Unpadded input decodes too.
            let unpadded = String(encoded.prefix { $0 != "=" })
            #expect(KMSBase64.decode(unpadded) == bytes)
        }
        for bad in ["A", "AB=C", "A===", "AAA*", "AA=A", "AAAAA", "AAA==="] {
            #expect(KMSBase64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test func jsonBodiesSpliceTheSecretField() throws {
        let secret = SecretBytes(copying: [0xFF, 0x00, 0x7F])
        let body = KMSClient.jsonBody(["KeyId": "alias/x", "EncryptionContext": ["k": "v"]], secretField: "Plaintext", secret: secret)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["Plaintext"] as? String == "/wB/")
        #expect(object["KeyId"] as? String == "alias/x")
        let alone = KMSClient.jsonBody([:], secretField: "Plaintext", secret: secret)
        #expect(String(decoding: alone, as: UTF8.self) == "{\"Plaintext\":\"/wB/\"}")
    }
}

import CofferAWS
import CofferCrypto
import CofferHTTP
import Foundation
import Logging

// The JSON protocol: request bodies, signing, retries, error documents and response fields.
extension KMSClient {
    /// Sends `action` with a JSON `body`, retrying what may pass, and returns the body of the successful answer.
    ///
    /// Internal so that tests can send actions this client does not model (`CreateKey`, `CreateAlias`, ...).
    /// - Parameter keyID: the key the call concerns, for error messages.
    func call(_ action: String, keyID: String, body: [UInt8]) async throws(KMSError) -> [UInt8] {
        var attempt = 0
        while true {
            attempt += 1
            do throws(KMSError) {
                return try await send(action, keyID: keyID, body: body)
            } catch {
                guard error.isRetryable, attempt < attempts else { throw error }
                let delay = 200 * (1 << (attempt - 1)) + Int.random(in: 0..<100)
                logger.debug("retrying KMS call", metadata: [
                    "action": "\(action)", "key": "\(keyID)", "attempt": "\(attempt)",
                    "error": "\(error.code ?? "transport")", "delay_ms": "\(delay)",
                ])
                try? await Task.sleep(for: .milliseconds(delay))
            }
        }
    }

    private func send(_ action: String, keyID: String, body: [UInt8]) async throws(KMSError) -> [UInt8] {
        let signingCredentials: AWSCredentials
        do throws(CredentialsError) {
            signingCredentials = try await credentials.credentials()
        } catch {
            throw .credentials(action: action, error)
        }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/x-amz-json-1.1")
        headers.add("X-Amz-Target", Self.targetPrefix + action)
        var request = HTTPRequest(method: "POST", url: endpoint + "/", headers: headers, body: .bytes(body))
        signer.sign(&request, credentials: signingCredentials, date: now(), payloadHash: SigV4Signer.payloadHash(body))
        let response: HTTPResponse
        do throws(HTTPError) {
            response = try await transport.send(request)
        } catch {
            throw .transport(action: action, endpoint: endpoint, error)
        }
        guard response.isSuccess else {
            throw Self.error(from: response, action: action, keyID: keyID)
        }
        return response.body
    }

    // MARK: - Requests

    /// `fields` as a JSON object, with `secretField` set to the base64 of `secret` when given.
    ///
    /// The secret is encoded straight into the returned bytes (never into a `String`); the caller wipes them.
    static func jsonBody(_ fields: [String: Any], secretField: String? = nil, secret: SecretBytes? = nil) -> [UInt8] {
        // Only strings, numbers and string dictionaries are passed in, which JSONSerialization always accepts.
        var body = [UInt8]((try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8))
        guard let secretField, let secret else { return body }
        body.removeLast()  // "}"
        if body.count > 1 { body.append(UInt8(ascii: ",")) }
        body.append(contentsOf: "\"\(secretField)\":\"".utf8)
        body.reserveCapacity(body.count + KMSBase64.encodedCount(secret.count) + 2)
        secret.withUnsafeBytes { KMSBase64.encode($0, appendingTo: &body) }
        body.append(contentsOf: "\"}".utf8)
        return body
    }

    // MARK: - Responses

    /// The JSON object in `body`, parsed without copying the bytes.
    func parseObject(_ body: inout [UInt8], action: String) throws(KMSError) -> [String: Any] {
        let parsed: Any? = body.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return nil }
            let data = Data(bytesNoCopy: base, count: buffer.count, deallocator: .none)
            return try? JSONSerialization.jsonObject(with: data)
        }
        guard let object = parsed as? [String: Any] else {
            throw .invalidResponse(action: action, endpoint: endpoint, detail: "the body is not a JSON object")
        }
        return object
    }

    func string(_ name: String, in object: [String: Any], action: String) throws(KMSError) -> String {
        guard let value = object[name] as? String, !value.isEmpty else {
            throw .invalidResponse(action: action, endpoint: endpoint, detail: "no \(name) string in the answer")
        }
        return value
    }

    func binary(_ name: String, in object: [String: Any], action: String) throws(KMSError) -> [UInt8] {
        guard let text = object[name] as? String, let bytes = KMSBase64.decode(text), !bytes.isEmpty else {
            throw .invalidResponse(action: action, endpoint: endpoint, detail: "no base64 \(name) in the answer")
        }
        return bytes
    }

    /// The base64 field `name` decoded straight into `SecretBytes`.
    func secret(_ name: String, in object: [String: Any], action: String) throws(KMSError) -> SecretBytes {
        let invalid = KMSError.invalidResponse(action: action, endpoint: endpoint, detail: "no base64 \(name) in the answer")
        guard let text = object[name] as? String else { throw invalid }
        let utf8 = text.utf8
        guard let count = KMSBase64.decodedCount(utf8), count > 0 else { throw invalid }
        return try SecretBytes(count: count) { (buffer) throws(KMSError) in
            guard KMSBase64.decode(utf8, into: buffer) else { throw invalid }
        }
    }

    // MARK: - Errors

    /// The typed error for a non-2xx answer.
    ///
    /// KMS answers `{"__type": "NotFoundException", "message": "..."}` (the type possibly prefixed with a namespace
    /// and `#`), with the type also in `X-Amzn-ErrorType`. Signature and IAM checks of some emulators (moto) answer
    /// with an XML `<ErrorResponse><Errors><Error><Code>` document instead; both are read.
    static func error(from response: HTTPResponse, action: String, keyID: String) -> KMSError {
        var code: String?
        var message: String?
        if let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] {
            code = (object["__type"] as? String) ?? (object["code"] as? String) ?? (object["Code"] as? String)
            message = (object["message"] as? String) ?? (object["Message"] as? String)
        } else if let document = try? XMLTree.parse(response.body) {
            let node = document.name == "Error" ? document
                : document.child("Error") ?? document.child("Errors")?.child("Error")
            code = node?.childText("Code")
            message = node?.childText("Message")
        }
        if code == nil || code?.isEmpty == true {
            code = response.headers["X-Amzn-ErrorType"]
        }
        let kmsCode = code.map(shortCode) ?? "HTTP \(response.status)"
        let text = message ?? ""
        switch kmsCode {
        case "AccessDeniedException", "AccessDenied":
            return .accessDenied(action: action, keyID: keyID, message: text)
        case "NotFoundException":
            return .keyNotFound(action: action, keyID: keyID, message: text)
        case "DisabledException", "KMSInvalidStateException", "KeyUnavailableException":
            return .keyDisabled(action: action, keyID: keyID, code: kmsCode, message: text)
        case "InvalidCiphertextException":
            return .invalidCiphertext(action: action, keyID: keyID, message: text)
        case "IncorrectKeyException":
            return .incorrectKey(action: action, keyID: keyID, message: text)
        case "UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch", "InvalidClientTokenId",
             "ExpiredTokenException", "ExpiredToken", "IncompleteSignature", "MissingAuthenticationToken",
             "InvalidAccessKeyId":
            return .invalidCredentials(action: action, code: kmsCode, message: text)
        default:
            let fallback = message ?? String(decoding: response.body.prefix(200), as: UTF8.self)
            return .service(action: action, keyID: keyID, status: response.status, code: kmsCode, message: fallback,
                            requestID: response.headers["x-amzn-RequestId"])
        }
    }

    /// `com.amazonaws.kms#NotFoundException` or `NotFoundException:http://internal...` → `NotFoundException`.
    private static func shortCode(_ code: String) -> String {
        var short = Substring(code)
        if let hash = short.lastIndex(of: "#") { short = short[short.index(after: hash)...] }
        if let colon = short.firstIndex(of: ":") { short = short[..<colon] }
        return short.trimmingCharacters(in: .whitespaces)
    }
}

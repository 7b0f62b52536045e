import CofferAWS
import CofferCrypto
import CofferHTTP
import Foundation
import Logging

/// A minimal client of AWS Key Management Service: `GenerateDataKey`, `Decrypt` and `Encrypt`.
///
/// Requests are JSON POSTs to `/` (`Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: TrentService.ACTION`),
/// SigV4-signed for service `kms` with the body hash, with credentials from a `CredentialsProvider` fetched for
/// every attempt (so a `DefaultCredentialsChain` refreshes temporary credentials). Binary fields are base64.
/// Throttling, 5xx answers and broken connections are retried with exponential backoff.
///
/// Plaintext data keys go from the response straight into `SecretBytes` (decoded from base64 in place, with no
/// intermediate `Data`); the request and response byte buffers that held them in base64 are wiped. What cannot be
/// wiped from here: the base64 `String` Foundation's JSON parser makes of a response's `Plaintext`, and any copy the
/// HTTP transport makes of a body. Nothing secret is logged or put into errors: only actions, key ids, KMS error
/// codes and KMS's messages.
public struct KMSClient: Sendable {
    /// The KMS API's target prefix (`X-Amz-Target: TrentService.GenerateDataKey`).
    public static let targetPrefix = "TrentService."

    /// The base URL requests go to, such as `https://kms.eu-west-1.amazonaws.com`.
    public let endpoint: String
    /// The region in the signature's credential scope.
    public let region: String
    let transport: any HTTPTransport
    let credentials: any CredentialsProvider
    let attempts: Int
    let now: @Sendable () -> Date
    let logger: Logger
    let signer: SigV4Signer

    /// A client for `region`, at `endpoint` or else the regional endpoint `https://kms.REGION.amazonaws.com`.
    /// - Parameters:
    ///   - credentials: where signing credentials come from (asked before every attempt).
    ///   - attempts: tries per call for retryable failures (throttling, 5xx, broken connections).
    ///   - now: the signing clock.
    ///   - logger: where retries are logged (action, key id and error code only).
    public init(transport: any HTTPTransport, region: String, credentials: any CredentialsProvider,
                endpoint: String? = nil, attempts: Int = 4, now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "coffer.kms")) {
        self.transport = transport
        self.region = region
        self.credentials = credentials
        let base = endpoint ?? Self.defaultEndpoint(region: region)
        self.endpoint = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.attempts = max(1, attempts)
        self.now = now
        self.logger = logger
        signer = SigV4Signer(service: "kms", region: region)
    }

    /// The regional KMS endpoint: `https://kms.REGION.amazonaws.com` (`.amazonaws.com.cn` in China regions).
    public static func defaultEndpoint(region: String) -> String {
        "https://kms.\(region).amazonaws.com" + (region.hasPrefix("cn-") ? ".cn" : "")
    }

    /// A new data key of `byteCount` bytes under `keyID`, in plaintext and encrypted (`GenerateDataKey`).
    ///
    /// - Parameters:
    ///   - keyID: a key id, key ARN, `alias/NAME` or alias ARN.
    ///   - byteCount: the data key length (1 to 1024; 32 for AES-256).
    ///   - context: the encryption context bound to the ciphertext; `decrypt` must be given the same.
    /// - Returns: the ARN of the key KMS used (always a key ARN, even for an alias), the plaintext data key, and
    ///   the ciphertext blob.
    /// - Throws: `KMSError`; `.accessDenied` names the missing `kms:GenerateDataKey` permission.
    public func generateDataKey(
        keyID: String, byteCount: Int = 32, context: [String: String] = [:]
    ) async throws(KMSError) -> (keyID: String, plaintext: SecretBytes, ciphertextBlob: [UInt8]) {
        let action = "GenerateDataKey"
        var fields: [String: Any] = ["KeyId": keyID, "NumberOfBytes": byteCount]
        if !context.isEmpty { fields["EncryptionContext"] = context }
        var response = try await call(action, keyID: keyID, body: Self.jsonBody(fields))
        defer { wipe(&response) }
        let object = try parseObject(&response, action: action)
        let arn = try string("KeyId", in: object, action: action)
        let blob = try binary("CiphertextBlob", in: object, action: action)
        let plaintext = try secret("Plaintext", in: object, action: action)
        guard plaintext.count == byteCount else {
            throw .invalidResponse(action: action, endpoint: endpoint,
                                   detail: "the data key is \(plaintext.count) bytes, not the \(byteCount) asked for")
        }
        return (arn, plaintext, blob)
    }

    /// The plaintext of `ciphertextBlob`, which `keyID` encrypted under `context` (`Decrypt`).
    ///
    /// - Parameters:
    ///   - keyID: the key expected to have encrypted the blob (key id, key ARN, alias); KMS refuses the call when
    ///     the blob is another key's.
    ///   - context: the encryption context the blob was made with.
    /// - Returns: the ARN of the key that decrypted, and the plaintext.
    /// - Throws: `KMSError`; `.invalidCiphertext` when the key or context do not match the blob.
    public func decrypt(
        keyID: String, ciphertextBlob: [UInt8], context: [String: String] = [:]
    ) async throws(KMSError) -> (keyID: String, plaintext: SecretBytes) {
        let action = "Decrypt"
        var fields: [String: Any] = ["KeyId": keyID, "CiphertextBlob": KMSBase64.encode(ciphertextBlob)]
        if !context.isEmpty { fields["EncryptionContext"] = context }
        var response = try await call(action, keyID: keyID, body: Self.jsonBody(fields))
        defer { wipe(&response) }
        let object = try parseObject(&response, action: action)
        let arn = try string("KeyId", in: object, action: action)
        return (arn, try secret("Plaintext", in: object, action: action))
    }

    /// `plaintext` (at most 4096 bytes, such as a data key) encrypted under `keyID` and `context` (`Encrypt`).
    ///
    /// - Returns: the ARN of the key KMS used, and the ciphertext blob.
    /// - Throws: `KMSError`; `.accessDenied` names the missing `kms:Encrypt` permission.
    public func encrypt(
        keyID: String, plaintext: SecretBytes, context: [String: String] = [:]
    ) async throws(KMSError) -> (keyID: String, ciphertextBlob: [UInt8]) {
        let action = "Encrypt"
        var fields: [String: Any] = ["KeyId": keyID]
        if !context.isEmpty { fields["EncryptionContext"] = context }
        var body = Self.jsonBody(fields, secretField: "Plaintext", secret: plaintext)
        defer { wipe(&body) }
        var response = try await call(action, keyID: keyID, body: body)
        defer { wipe(&response) }
        let object = try parseObject(&response, action: action)
        let arn = try string("KeyId", in: object, action: action)
        return (arn, try binary("CiphertextBlob", in: object, action: action))
    }
}

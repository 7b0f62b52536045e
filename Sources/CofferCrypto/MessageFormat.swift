/// Constants of the AWS Encryption SDK message format v2 with algorithm suite 0x0478, the only one Coffer writes
/// and reads: AES-256-GCM, HKDF-SHA512 key derivation, key commitment, no signature, framed content.
public enum MessageFormat {
    /// The message format version byte.
    public static let version: UInt8 = 0x02
    /// `ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY` (aws-encryption-cli: `--algorithm AES_256_GCM_HKDF_SHA512_COMMIT_KEY`).
    public static let algorithmSuiteID: UInt16 = 0x0478
    /// The content type byte of framed content.
    public static let framedContentType: UInt8 = 0x02
    /// The length of a message id (also the HKDF salt).
    public static let messageIDByteCount = 32
    /// The length of the commitment key stored in the header.
    public static let commitmentKeyByteCount = 32
    /// The length of a data key.
    public static let dataKeyByteCount = 32
    /// The frame length Coffer writes (the SDK's and CLI's default is 4096; Coffer reads any within its policy).
    public static let defaultFrameLength = 65536
    /// Bytes a regular frame adds to its plaintext: sequence number 4, IV 12, tag 16.
    public static let regularFrameOverhead = 32
    /// Bytes the final frame adds to its plaintext: marker 4, sequence number 4, IV 12, length 4, tag 16.
    public static let finalFrameOverhead = 40
    /// The header length without encryption context and encrypted data keys.
    public static let fixedHeaderLength = 92
    /// The largest sequence number, hence the largest number of frames in a message.
    public static let maximumFrameCount = Int(UInt32.max)
    /// The marker that opens the final frame.
    static let finalFrameMarker = UInt32.max
    /// The remedy Coffer's refusals point to.
    static let reencryptAdvice = "decrypt it with the tool that wrote it and re-encrypt it with "
        + "`aws-encryption-cli --encrypt --algorithm AES_256_GCM_HKDF_SHA512_COMMIT_KEY --frame-length 65536` "
        + "(or copy the plaintext in through a Coffer mount with encryption on)"

    /// The SDK's name of an algorithm suite, for messages.
    static func name(ofSuite id: UInt16) -> String {
        switch id {
        case 0x0014: return "AES_128_GCM_IV12_TAG16_NO_KDF"
        case 0x0046: return "AES_192_GCM_IV12_TAG16_NO_KDF"
        case 0x0078: return "AES_256_GCM_IV12_TAG16_NO_KDF"
        case 0x0114: return "AES_128_GCM_IV12_TAG16_HKDF_SHA256"
        case 0x0146: return "AES_192_GCM_IV12_TAG16_HKDF_SHA256"
        case 0x0178: return "AES_256_GCM_IV12_TAG16_HKDF_SHA256"
        case 0x0214: return "AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256"
        case 0x0346: return "AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384"
        case 0x0378: return "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384"
        case 0x0478: return "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
        case 0x0578: return "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
        default: return "unknown"
        }
    }

    /// Whether `id` is a suite the ESDK defines (used to tell an ESDK message from arbitrary bytes).
    static func isKnownSuite(_ id: UInt16) -> Bool { name(ofSuite: id) != "unknown" }
}

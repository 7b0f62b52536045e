/// Why an encrypted message (an AWS Encryption SDK message) could not be read or written.
///
/// Every case's `description` says what happened and what to do about it. Authentication failures never come with
/// data: a frame that fails is an error for that frame, never zeros.
public enum EncryptionError: Error, Sendable, Equatable, CustomStringConvertible {
    // MARK: Not a message Coffer reads

    /// The bytes do not start like an ESDK message: a plaintext object or another format.
    case notAnEncryptedMessage(firstByte: UInt8?)
    /// An ESDK message of another format version (1: non-committing suites).
    case unsupportedFormatVersion(UInt8)
    /// An ESDK message with another algorithm suite (0x0578, the CLI's signed default, for example).
    case unsupportedAlgorithmSuite(UInt16)
    /// An ESDK message whose body is not framed (content type 1).
    case unsupportedContentType(UInt8)
    /// A frame length of 0 or above the policy's maximum.
    case unsupportedFrameLength(Int, maximum: Int)
    /// A header longer than the policy allows.
    case headerTooLarge(maximum: Int)
    /// More encrypted data keys than the policy allows.
    case tooManyEncryptedDataKeys(Int, maximum: Int)
    /// A header whose fields are inconsistent (the reason says which).
    case malformedHeader(String)
    /// The bytes end inside the header: read at least `minimumLength` bytes from the start of the object and parse again.
    case headerIncomplete(minimumLength: Int)

    // MARK: Keys and header authentication

    /// A pair the reader requires is missing from the header's encryption context or has another value.
    case encryptionContextMismatch(key: String, expected: String, found: String?)
    /// No keyring could decrypt one of the header's data keys.
    case keyring(KeyringError)
    /// The data key does not derive the header's commitment key.
    case commitmentMismatch
    /// The header's authentication tag does not match its contents.
    case headerAuthenticationFailed

    // MARK: Body

    /// The object's size is not that of any framed message with this header and frame length.
    case invalidMessageSize(ciphertextSize: UInt64, headerLength: Int, frameLength: Int)
    /// The plaintext would need more than 2^32 − 1 frames.
    case messageTooLarge(plaintextSize: UInt64, frameLength: Int)
    /// The bytes given for a range of frames are not as many as the layout says.
    case incompleteFrames(expectedByteCount: Int, actualByteCount: Int)
    /// A frame carries another sequence number than its position.
    case frameOutOfOrder(expected: Int, found: UInt32)
    /// The last frame by size is not marked final: the object was cut at or inside a frame.
    case finalFrameMissing(sequenceNumber: Int)
    /// A frame before the end is marked final: bytes were appended or frames removed.
    case unexpectedFinalFrame(sequenceNumber: Int)
    /// A frame's IV or final length field is wrong (the reason says which).
    case malformedFrame(sequenceNumber: Int, reason: String)
    /// A frame's authentication tag does not match: its bytes, position or message were altered.
    case frameAuthenticationFailed(sequenceNumber: Int)

    public var description: String {
        let restore = "restore an intact copy (for example an earlier version of the S3 object) or write the file again"
        switch self {
        case .notAnEncryptedMessage(let first):
            let start = first.map { "starts with byte 0x" + Hex.encode([$0]) } ?? "is empty"
            return "the object is not an AWS Encryption SDK message (it \(start)): it is plaintext or another format. "
                + "Coffer refuses it while encryption is required; to bring it under encryption, copy it in through a "
                + "mount with encryption=migrate, or encrypt it with `aws-encryption-cli --encrypt --algorithm "
                + "AES_256_GCM_HKDF_SHA512_COMMIT_KEY --frame-length 65536`"
        case .unsupportedFormatVersion(let version):
            return "the object is an AWS Encryption SDK message of format version \(version) (non-committing); "
                + "Coffer reads only version 2 with suite 0x0478: \(MessageFormat.reencryptAdvice)"
        case .unsupportedAlgorithmSuite(let id):
            let hex = "0x" + Hex.encode([UInt8(id >> 8), UInt8(id & 0xff)])
            let signed = id == 0x0578 || id == 0x0214 || id == 0x0346 || id == 0x0378
            let why = signed ? " (a signed suite: its signature covers the whole message, so frames cannot be verified "
                + "one by one; 0x0578 is aws-encryption-cli's default)" : ""
            return "the object was encrypted with algorithm suite \(hex) \(MessageFormat.name(ofSuite: id))\(why); "
                + "Coffer reads only 0x0478 AES_256_GCM_HKDF_SHA512_COMMIT_KEY: \(MessageFormat.reencryptAdvice)"
        case .unsupportedContentType(let type):
            return "the object's body has content type \(type)\(type == 1 ? " (non-framed)" : ""); Coffer reads only "
                + "framed messages (content type 2): \(MessageFormat.reencryptAdvice)"
        case .unsupportedFrameLength(let length, let maximum):
            return "the object's frame length \(length) is outside 1...\(maximum) bytes accepted by this reader: "
                + MessageFormat.reencryptAdvice
        case .headerTooLarge(let maximum):
            return "the object's message header is longer than \(maximum) bytes (too large an encryption context or too "
                + "many or too large encrypted data keys): \(MessageFormat.reencryptAdvice) with fewer wrapping keys"
        case .tooManyEncryptedDataKeys(let count, let maximum):
            return "the object's header holds \(count) encrypted data keys, more than the \(maximum) accepted: "
                + "\(MessageFormat.reencryptAdvice) with fewer wrapping keys"
        case .malformedHeader(let reason):
            return "the object's message header is malformed (\(reason)): it is corrupt or not written by an "
                + "AWS Encryption SDK; \(restore)"
        case .headerIncomplete(let minimumLength):
            return "the message header continues past the bytes read: read at least \(minimumLength) bytes from the "
                + "start of the object and parse again"
        case .encryptionContextMismatch(let key, let expected, let found):
            let actual = found.map { "has \"\($0)\"" } ?? "lacks it"
            return "the object's encryption context must hold \"\(key)\": \"\(expected)\" but \(actual): it was "
                + "written for another file system or with other settings; check the configured encryption context"
        case .keyring(let error):
            return error.description
        case .commitmentMismatch:
            return "the object's key commitment does not match its data key: the header was altered or the data key "
                + "belongs to another message; \(restore)"
        case .headerAuthenticationFailed:
            return "the object's message header failed authentication: it was altered or corrupted; \(restore)"
        case .invalidMessageSize(let size, let headerLength, let frameLength):
            return "the object's size \(size) is not that of a framed message with a \(headerLength)-byte header and "
                + "\(frameLength)-byte frames: it was truncated or bytes were added; \(restore)"
        case .messageTooLarge(let size, let frameLength):
            return "\(size) bytes need more than 2^32-1 frames of \(frameLength) bytes; use a larger frame length"
        case .incompleteFrames(let expected, let actual):
            return "got \(actual) ciphertext bytes where the frames need \(expected): the object changed or was cut "
                + "while it was read; reopen the file"
        case .frameOutOfOrder(let expected, let found):
            return "frame \(expected) carries sequence number \(found): frames were reordered, removed or copied; \(restore)"
        case .finalFrameMissing(let sequenceNumber):
            return "frame \(sequenceNumber) should be the final frame but is not marked final: the object was "
                + "truncated; \(restore)"
        case .unexpectedFinalFrame(let sequenceNumber):
            return "frame \(sequenceNumber) is marked final but the object continues: bytes were added or frames "
                + "removed; \(restore)"
        case .malformedFrame(let sequenceNumber, let reason):
            return "frame \(sequenceNumber) is malformed (\(reason)); \(restore)"
        case .frameAuthenticationFailed(let sequenceNumber):
            return "frame \(sequenceNumber) failed authentication: its bytes were altered or it comes from another "
                + "message; \(restore) (other frames are not affected)"
        }
    }
}

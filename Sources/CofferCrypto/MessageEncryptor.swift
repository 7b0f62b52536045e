/// Writes one AWS Encryption SDK message (format v2, suite 0x0478, framed): its header and any of its frames.
///
/// An encryptor is one message: one message id, one derived key, one plaintext snapshot. Frames are deterministic
/// given the message id, the data key and the plaintext, so a part of a multipart upload can be encrypted again from
/// the same snapshot; but a changed plaintext (an overwrite, an append, a truncation) must get a new encryptor — never
/// encrypt different bytes under the same message id, or GCM leaks its authentication key.
///
/// Only the derived key is kept (wiped on release), not the data key. Instances are immutable and `Sendable`; each
/// call sets up its own AES-GCM context and reuses it across the frames of that call.
public final class MessageEncryptor: Sendable {
    /// The message header: the first `header.length` bytes of the object.
    public let header: MessageHeader
    private let encryptionKey: SecretBytes

    /// An encryptor for a message with these keys and settings.
    ///
    /// - Parameters:
    ///   - dataKey: the 32-byte data key the encrypted data keys hold.
    ///   - encryptedDataKeys: the data key wrapped by each keyring (at least one).
    ///   - encryptionContext: the context, which each wrap must already be bound to.
    ///   - frameLength: plaintext bytes per frame (default 64 KiB).
    ///   - messageID: 32 bytes; fresh random bytes unless a test reproduces known output.
    /// - Throws: `.headerTooLarge` or `.tooManyEncryptedDataKeys` when `DecryptionPolicy.default` would not read
    ///   the message back.
    public init(dataKey: SecretBytes, encryptedDataKeys: [EncryptedDataKey], encryptionContext: EncryptionContext,
                frameLength: Int = MessageFormat.defaultFrameLength,
                messageID: [UInt8] = SecureRandom.bytes(MessageFormat.messageIDByteCount)) throws(EncryptionError) {
        precondition(dataKey.count == MessageFormat.dataKeyByteCount, "a data key is 32 bytes")
        precondition(frameLength > 0 && frameLength <= DecryptionPolicy.default.maximumFrameLength,
                     "the frame length must be in 1...\(DecryptionPolicy.default.maximumFrameLength)")
        let headerLength = MessageFormat.fixedHeaderLength + encryptionContext.serialized.count
            + encryptedDataKeys.reduce(0) { $0 + $1.serializedCount }
        let policy = DecryptionPolicy.default
        guard encryptedDataKeys.count <= policy.maximumEncryptedDataKeys else {
            throw .tooManyEncryptedDataKeys(encryptedDataKeys.count, maximum: policy.maximumEncryptedDataKeys)
        }
        guard headerLength <= policy.maximumHeaderLength else { throw .headerTooLarge(maximum: policy.maximumHeaderLength) }
        let keys = MessageKeys(dataKey: dataKey, messageID: messageID)
        header = MessageHeader(messageID: messageID, encryptionContext: encryptionContext,
                               encryptedDataKeys: encryptedDataKeys, frameLength: frameLength,
                               commitmentKey: keys.commitmentKey) { body in
            var gcm = AES256GCM(key: keys.encryptionKey)
            let zeroIV = [UInt8](repeating: 0, count: AES256GCM.nonceByteCount)
            return gcm.seal([], nonce: zeroIV, authenticating: Array(body)).tag
        }
        encryptionKey = keys.encryptionKey
    }

    /// An encryptor whose data key comes from `keyrings`: the first generates it, every other one wraps it too.
    public static func make(keyrings: [any Keyring], encryptionContext: EncryptionContext,
                            frameLength: Int = MessageFormat.defaultFrameLength) async throws(EncryptionError) -> MessageEncryptor {
        let generated: (dataKey: SecretBytes, encryptedDataKeys: [EncryptedDataKey])
        do {
            generated = try await Keyrings.generate(keyrings, context: encryptionContext)
        } catch {
            throw .keyring(error)
        }
        return try MessageEncryptor(dataKey: generated.dataKey, encryptedDataKeys: generated.encryptedDataKeys,
                                    encryptionContext: encryptionContext, frameLength: frameLength)
    }

    /// The layout of this message for `plaintextSize` bytes (throws `.messageTooLarge` beyond 2^32 − 1 frames).
    public func layout(plaintextSize: UInt64) throws(EncryptionError) -> MessageLayout {
        try MessageLayout(plaintextSize: plaintextSize, headerLength: header.length, frameLength: header.frameLength)
    }

    /// Encrypts the plaintext of `frames` into the ciphertext bytes those frames occupy.
    ///
    /// - Precondition: `layout` is `layout(plaintextSize:)` of this message, `plaintext` holds exactly
    ///   `layout.plaintextRange(of: frames)` and `ciphertext` exactly `layout.ciphertextRange(of: frames)`.
    public func encryptFrames(_ frames: ClosedRange<Int>, of plaintext: UnsafeRawBufferPointer, layout: MessageLayout,
                              into ciphertext: UnsafeMutableRawBufferPointer) {
        precondition(layout.headerLength == header.length && layout.frameLength == header.frameLength,
                     "the layout belongs to another message")
        precondition(plaintext.count == layout.plaintextRange(of: frames).count, "the plaintext does not fill the frames")
        precondition(ciphertext.count == layout.ciphertextRange(of: frames).count, "the ciphertext buffer has the wrong size")
        var cipher = FrameCipher(key: encryptionKey, messageID: header.messageID)
        var input = 0, output = 0
        for frame in frames {
            let length = layout.plaintextLength(ofFrame: frame)
            let frameSize = layout.ciphertextLength(ofFrame: frame)
            cipher.seal(UnsafeRawBufferPointer(rebasing: plaintext[input..<input + length]), sequenceNumber: frame,
                        isFinal: layout.isFinal(frame),
                        into: UnsafeMutableRawBufferPointer(rebasing: ciphertext[output..<output + frameSize]))
            input += length
            output += frameSize
        }
    }

    /// The ciphertext bytes of `frames`, given their plaintext (exactly `layout.plaintextRange(of: frames)`).
    public func encryptFrames(_ frames: ClosedRange<Int>, of plaintext: [UInt8], layout: MessageLayout) -> [UInt8] {
        let count = layout.ciphertextRange(of: frames).count
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            plaintext.withUnsafeBytes { encryptFrames(frames, of: $0, layout: layout, into: UnsafeMutableRawBufferPointer(buffer)) }
            initialized = count
        }
    }

    /// The whole message for `plaintext`: header, then every frame.
    public func encrypt(_ plaintext: [UInt8]) throws(EncryptionError) -> [UInt8] {
        let layout = try layout(plaintextSize: UInt64(plaintext.count))
        let count = Int(layout.ciphertextSize)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let out = UnsafeMutableRawBufferPointer(buffer)
            header.bytes.withUnsafeBytes { out.copyMemory(from: $0) }
            plaintext.withUnsafeBytes {
                encryptFrames(layout.allFrames, of: $0, layout: layout,
                              into: UnsafeMutableRawBufferPointer(rebasing: out[header.length...]))
            }
            initialized = count
        }
    }

    /// Encrypts `plaintext` into a whole message under a new data key from `keyrings` and a new message id.
    public static func encrypt(_ plaintext: [UInt8], keyrings: [any Keyring], encryptionContext: EncryptionContext,
                               frameLength: Int = MessageFormat.defaultFrameLength) async throws(EncryptionError) -> [UInt8] {
        try await make(keyrings: keyrings, encryptionContext: encryptionContext, frameLength: frameLength).encrypt(plaintext)
    }
}

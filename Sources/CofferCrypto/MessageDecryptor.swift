/// Reads an AWS Encryption SDK message (format v2, suite 0x0478, framed) frame by frame, in any order.
///
/// Creating one authenticates the header: the data key must derive the header's commitment key (compared in
/// constant time) and the header tag must verify. After that any range of frames can be decrypted from the bytes
/// of one ranged read; each frame is checked for its position (sequence number, final-frame marker, IV, length) and
/// its GCM tag before any of its plaintext is released.
///
/// Only the derived key is kept (wiped on release). Instances are immutable and `Sendable`, so one can be cached per
/// object version and shared by concurrent reads.
public final class MessageDecryptor: Sendable {
    /// The authenticated header.
    public let header: MessageHeader
    private let encryptionKey: SecretBytes

    /// A decryptor for `header` with its unwrapped `dataKey`.
    ///
    /// Throws `.commitmentMismatch` or `.headerAuthenticationFailed` when the header does not belong to the key.
    public init(header: MessageHeader, dataKey: SecretBytes) throws(EncryptionError) {
        guard dataKey.count == MessageFormat.dataKeyByteCount else {
            throw .keyring(.invalidDataKey(keyring: "the supplied data key", byteCount: dataKey.count))
        }
        let keys = MessageKeys(dataKey: dataKey, messageID: header.messageID)
        guard ConstantTime.isEqual(keys.commitmentKey, header.commitmentKey) else { throw .commitmentMismatch }
        var gcm = AES256GCM(key: keys.encryptionKey)
        let zeroIV = [UInt8](repeating: 0, count: AES256GCM.nonceByteCount)
        do {
            _ = try gcm.open([], nonce: zeroIV, tag: header.authenticationTag, authenticating: Array(header.body))
        } catch {
            throw .headerAuthenticationFailed
        }
        self.header = header
        self.encryptionKey = keys.encryptionKey
    }

    /// A decryptor for `header` whose data key the first able of `keyrings` unwraps.
    public static func make(header: MessageHeader, keyrings: [any Keyring]) async throws(EncryptionError) -> MessageDecryptor {
        let dataKey: SecretBytes
        do {
            dataKey = try await Keyrings.unwrap(header.encryptedDataKeys, with: keyrings, context: header.encryptionContext)
        } catch {
            throw .keyring(error)
        }
        return try MessageDecryptor(header: header, dataKey: dataKey)
    }

    /// The layout of this message for an object of `ciphertextSize` bytes.
    public func layout(ciphertextSize: UInt64) throws(EncryptionError) -> MessageLayout {
        try header.layout(ciphertextSize: ciphertextSize)
    }

    /// Decrypts `frames` from `ciphertext`, the object bytes `layout.ciphertextRange(of: frames)`, into `plaintext`
    /// (exactly `layout.plaintextRange(of: frames).count` bytes).
    ///
    /// Throws `.incompleteFrames` when `ciphertext` has another size, and a frame error (authentication, order,
    /// final marker) for the first frame that fails. Then `plaintext` holds the frames before it and zeros after:
    /// use none of it past that frame's start.
    public func decryptFrames(_ frames: ClosedRange<Int>, of ciphertext: UnsafeRawBufferPointer, layout: MessageLayout,
                              into plaintext: UnsafeMutableRawBufferPointer) throws(EncryptionError) {
        precondition(layout.headerLength == header.length && layout.frameLength == header.frameLength,
                     "the layout belongs to another message")
        precondition(plaintext.count == layout.plaintextRange(of: frames).count, "the plaintext buffer has the wrong size")
        let expected = layout.ciphertextRange(of: frames).count
        guard ciphertext.count == expected else {
            throw .incompleteFrames(expectedByteCount: expected, actualByteCount: ciphertext.count)
        }
        var cipher = FrameCipher(key: encryptionKey, messageID: header.messageID)
        var input = 0, output = 0
        for frame in frames {
            let length = layout.plaintextLength(ofFrame: frame)
            let frameSize = layout.ciphertextLength(ofFrame: frame)
            do {
                try cipher.open(UnsafeRawBufferPointer(rebasing: ciphertext[input..<input + frameSize]),
                                sequenceNumber: frame, isFinal: layout.isFinal(frame), expectedLength: length,
                                into: UnsafeMutableRawBufferPointer(rebasing: plaintext[output..<output + length]))
            } catch {
                UnsafeMutableRawBufferPointer(rebasing: plaintext[output...]).initializeMemory(as: UInt8.self, repeating: 0)
                throw error
            }
            input += frameSize
            output += length
        }
    }

    /// The plaintext of `frames`, decrypted from `ciphertext` (the object bytes `layout.ciphertextRange(of: frames)`).
    public func decryptFrames(_ frames: ClosedRange<Int>, of ciphertext: some Collection<UInt8>,
                              layout: MessageLayout) throws(EncryptionError) -> [UInt8] {
        let count = layout.plaintextRange(of: frames).count
        var failure: EncryptionError?
        // Uninitialized is fine: on success every byte is written; on failure nothing is returned.
        let plaintext = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            func run(_ input: UnsafeRawBufferPointer) {
                do throws(EncryptionError) {
                    try decryptFrames(frames, of: input, layout: layout, into: UnsafeMutableRawBufferPointer(buffer))
                } catch {
                    failure = error
                }
            }
            if ciphertext.withContiguousStorageIfAvailable({ run(UnsafeRawBufferPointer($0)) }) == nil {
                Array(ciphertext).withUnsafeBytes { run($0) }
            }
            initialized = failure == nil ? count : 0
        }
        if let failure { throw failure }
        return plaintext
    }

    /// Decrypts a whole message held in memory with the first of `keyrings` that can unwrap its data key.
    ///
    /// `requiredContext` pairs must be present in the header with equal values.
    public static func decrypt(_ message: [UInt8], keyrings: [any Keyring], requiredContext: EncryptionContext = [:],
                               policy: DecryptionPolicy = .default) async throws(EncryptionError) -> [UInt8] {
        let header: MessageHeader
        do {
            header = try MessageHeader(parsing: message, policy: policy)
        } catch .headerIncomplete {
            throw .malformedHeader("the object ends inside its message header after \(message.count) bytes: it is truncated")
        }
        try header.encryptionContext.verify(contains: requiredContext)
        let decryptor = try await make(header: header, keyrings: keyrings)
        let layout = try decryptor.layout(ciphertextSize: UInt64(message.count))
        return try decryptor.decryptFrames(layout.allFrames, of: message[header.length...], layout: layout)
    }
}

/// The header of an AWS Encryption SDK message, format v2, algorithm suite 0x0478, framed.
///
/// Layout (big-endian): version `02`, suite `04 78`, message id (32), `u16` length + serialized encryption context,
/// `u16` count + encrypted data keys (each three `u16`-length fields: provider id, provider info, ciphertext),
/// content type `02`, `u32` frame length, commitment key (32), header authentication tag (16). The tag is
/// AES-256-GCM under the derived key with a zero IV over everything before it.
///
/// A parsed header is not yet authenticated: `MessageDecryptor.init(header:dataKey:)` checks the commitment key and
/// the tag. Values are made only by parsing or by `MessageEncryptor`, so `bytes` always matches the fields.
public struct MessageHeader: Sendable, Hashable {
    /// The message id: 32 random bytes, the HKDF salt, bound into every frame.
    public let messageID: [UInt8]
    /// The encryption context.
    public let encryptionContext: EncryptionContext
    /// The encrypted data keys (at least one).
    public let encryptedDataKeys: [EncryptedDataKey]
    /// The frame length: plaintext bytes per regular frame.
    public let frameLength: Int
    /// The commitment key derived from the data key and message id.
    public let commitmentKey: [UInt8]
    /// The header authentication tag.
    public let authenticationTag: [UInt8]
    /// The header exactly as stored: what precedes the first frame.
    public let bytes: [UInt8]

    /// The header's length in bytes (H): the offset of the first frame.
    public var length: Int { bytes.count }

    /// The bytes the header tag authenticates (all but the tag).
    var body: ArraySlice<UInt8> { bytes.dropLast(AES256GCM.tagByteCount) }

    /// Parses the header at the start of `data` (which may continue with the frames).
    ///
    /// Checks the version, the suite, the content type and the policy's limits; throws `.headerIncomplete` when
    /// `data` ends inside the header, with the number of bytes to read before trying again. Does not authenticate.
    public init(parsing data: some Collection<UInt8>, policy: DecryptionPolicy = .default) throws(EncryptionError) {
        // Never look past the policy's limit: a header that does not fit in it is too large.
        let input = Array(data.prefix(policy.maximumHeaderLength))
        guard let first = input.first else { throw .notAnEncryptedMessage(firstByte: nil) }
        if first != MessageFormat.version {
            if first == 0x01, input.count >= 2, input[1] == 0x80 { throw .unsupportedFormatVersion(1) }
            throw .notAnEncryptedMessage(firstByte: first)
        }
        var reader = ByteReader(input)
        do {
            _ = try reader.readUInt8()
            let suite = try reader.readUInt16()
            guard suite == MessageFormat.algorithmSuiteID else {
                if !MessageFormat.isKnownSuite(suite) { throw EncryptionError.notAnEncryptedMessage(firstByte: first) }
                throw EncryptionError.unsupportedAlgorithmSuite(suite)
            }
            messageID = Array(try reader.read(MessageFormat.messageIDByteCount))
            let contextLength = Int(try reader.readUInt16())
            encryptionContext = try EncryptionContext(serialized: Array(try reader.read(contextLength)))
            let keyCount = Int(try reader.readUInt16())
            guard keyCount > 0 else { throw EncryptionError.malformedHeader("it holds no encrypted data key") }
            guard keyCount <= policy.maximumEncryptedDataKeys else {
                throw EncryptionError.tooManyEncryptedDataKeys(keyCount, maximum: policy.maximumEncryptedDataKeys)
            }
            var keys: [EncryptedDataKey] = []
            for _ in 0..<keyCount {
                let providerID = try reader.readLengthPrefixed()
                let providerInfo = try reader.readLengthPrefixed()
                let ciphertext = try reader.readLengthPrefixed()
                guard let id = String(validating: providerID, as: UTF8.self) else {
                    throw EncryptionError.malformedHeader("an encrypted data key's provider id is not UTF-8")
                }
                keys.append(EncryptedDataKey(providerID: id, providerInfo: providerInfo, ciphertext: ciphertext))
            }
            encryptedDataKeys = keys
            let contentType = try reader.readUInt8()
            guard contentType == MessageFormat.framedContentType else {
                if contentType == 0x01 { throw EncryptionError.unsupportedContentType(contentType) }
                throw EncryptionError.malformedHeader("content type \(contentType) is neither 1 nor 2")
            }
            frameLength = Int(try reader.readUInt32())
            guard frameLength > 0, frameLength <= policy.maximumFrameLength else {
                throw EncryptionError.unsupportedFrameLength(frameLength, maximum: policy.maximumFrameLength)
            }
            commitmentKey = Array(try reader.read(MessageFormat.commitmentKeyByteCount))
            authenticationTag = Array(try reader.read(AES256GCM.tagByteCount))
        } catch let error as EncryptionError {
            throw error
        } catch let error as ByteReader.OutOfBytes {
            if input.count >= policy.maximumHeaderLength { throw .headerTooLarge(maximum: policy.maximumHeaderLength) }
            throw .headerIncomplete(minimumLength: error.neededLength)
        } catch {
            fatalError("unexpected error while parsing a message header: \(error)")
        }
        bytes = Array(input[0..<reader.offset])
    }

    /// A header for a new message; the tag is computed by `authenticate` over the body.
    init(messageID: [UInt8], encryptionContext: EncryptionContext, encryptedDataKeys: [EncryptedDataKey],
         frameLength: Int, commitmentKey: [UInt8], authenticate: (ArraySlice<UInt8>) -> [UInt8]) {
        precondition(messageID.count == MessageFormat.messageIDByteCount, "a message id is 32 bytes")
        precondition(!encryptedDataKeys.isEmpty && encryptedDataKeys.count <= Int(UInt16.max),
                     "a message needs 1...65535 encrypted data keys")
        precondition(frameLength > 0 && frameLength <= Int(UInt32.max), "the frame length must be in 1...2^32-1")
        precondition(commitmentKey.count == MessageFormat.commitmentKeyByteCount, "a commitment key is 32 bytes")
        let context = encryptionContext.serialized
        precondition(context.count <= Int(UInt16.max), "the serialized encryption context exceeds 65535 bytes")
        var out = ByteWriter(capacity: MessageFormat.fixedHeaderLength + context.count
                             + encryptedDataKeys.reduce(0) { $0 + $1.serializedCount })
        out.append(MessageFormat.version)
        out.append(MessageFormat.algorithmSuiteID)
        out.append(contentsOf: messageID)
        out.appendLengthPrefixed(context)
        out.append(UInt16(encryptedDataKeys.count))
        for key in encryptedDataKeys {
            out.appendLengthPrefixed(Array(key.providerID.utf8))
            out.appendLengthPrefixed(key.providerInfo)
            out.appendLengthPrefixed(key.ciphertext)
        }
        out.append(MessageFormat.framedContentType)
        out.append(UInt32(frameLength))
        out.append(contentsOf: commitmentKey)
        let tag = authenticate(out.bytes[...])
        precondition(tag.count == AES256GCM.tagByteCount, "a header tag is 16 bytes")
        out.append(contentsOf: tag)

        self.messageID = messageID
        self.encryptionContext = encryptionContext
        self.encryptedDataKeys = encryptedDataKeys
        self.frameLength = frameLength
        self.commitmentKey = commitmentKey
        self.authenticationTag = tag
        self.bytes = out.bytes
    }

    /// The layout of this message when the whole object is `ciphertextSize` bytes.
    ///
    /// Throws `.invalidMessageSize` for a size no framed message with this header can have (truncation or extra bytes).
    public func layout(ciphertextSize: UInt64) throws(EncryptionError) -> MessageLayout {
        try MessageLayout(ciphertextSize: ciphertextSize, headerLength: length, frameLength: frameLength)
    }

    /// Whether `prefix` (the first bytes of an object, at least 3) starts like an AWS Encryption SDK message of
    /// any version and suite, including ones Coffer refuses.
    ///
    /// Use it to tell encrypted objects from plaintext ones (mode `migrate`); whatever it accepts must then parse
    /// and authenticate, or the object is corrupt.
    public static func looksLikeMessage(_ prefix: some Collection<UInt8>) -> Bool {
        let start = Array(prefix.prefix(4))
        guard start.count >= 3 else { return false }
        switch start[0] {
        case 0x02: return MessageFormat.isKnownSuite(UInt16(start[1]) << 8 | UInt16(start[2]))
        case 0x01: return start.count >= 4 && start[1] == 0x80 && MessageFormat.isKnownSuite(UInt16(start[2]) << 8 | UInt16(start[3]))
        default: return false
        }
    }
}

import CofferCrypto
import Testing

@Suite("Encrypt and decrypt with random keys")
struct MessageRoundTripTests {
    static let frameLength = MessageFormat.defaultFrameLength
    static let sizes = [0, 1, frameLength - 1, frameLength, frameLength + 1, 3 * frameLength, 37 * frameLength + 12_345]

    static let keyring = try! RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32))
    static let context: EncryptionContext = ["coffer:v": "1", "coffer:fs": "round-trip"]

    @Test("round trip", arguments: sizes)
    func roundTrip(size: Int) async throws {
        let plaintext = SecureRandom.bytes(size)
        let message = try await MessageEncryptor.encrypt(plaintext, keyrings: [Self.keyring], encryptionContext: Self.context)
        let header = try MessageHeader(parsing: message)
        #expect(header.frameLength == Self.frameLength)
        #expect(header.encryptionContext == Self.context)
        let layout = try header.layout(ciphertextSize: UInt64(message.count))
        #expect(layout.plaintextSize == UInt64(size))
        #expect(layout.frameCount == size / Self.frameLength + 1)
        #expect(try await MessageDecryptor.decrypt(message, keyrings: [Self.keyring], requiredContext: ["coffer:v": "1"])
                == plaintext)
    }

    @Test func randomAccessReadsDecryptOnlyTheirFrames() async throws {
        let frameLength = 4096
        let plaintext = SecureRandom.bytes(25 * frameLength + 77)
        let encryptor = try await MessageEncryptor.make(keyrings: [Self.keyring], encryptionContext: Self.context,
                                                        frameLength: frameLength)
        let message = try encryptor.encrypt(plaintext)
        let header = try MessageHeader(parsing: message.prefix(4096))
        let decryptor = try await MessageDecryptor.make(header: header, keyrings: [Self.keyring])
        let layout = try decryptor.layout(ciphertextSize: UInt64(message.count))
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let start = UInt64.random(in: 0..<UInt64(plaintext.count), using: &generator)
            let end = Swift.min(start + UInt64.random(in: 1...20_000, using: &generator), UInt64(plaintext.count) + 100)
            let frames = try #require(layout.frames(coveringPlaintext: start..<end))
            let bytes = layout.ciphertextRange(of: frames)
            let decrypted = try decryptor.decryptFrames(frames, of: message[Int(bytes.lowerBound)..<Int(bytes.upperBound)],
                                                        layout: layout)
            let covered = layout.plaintextRange(of: frames)
            #expect(covered.lowerBound <= start && covered.upperBound >= Swift.min(end, UInt64(plaintext.count)))
            #expect(decrypted[...] == plaintext[Int(covered.lowerBound)..<Int(covered.upperBound)])
        }
    }

    @Test func frameRangesEncryptLikeTheWholeMessage() throws {
        // A part of a multipart upload can be encrypted again from the same snapshot: frames are deterministic.
        let plaintext = SecureRandom.bytes(10 * 4096 + 5)
        let encryptor = try MessageEncryptor(dataKey: SecretBytes(randomCount: 32),
                                             encryptedDataKeys: [Self.keyring.wrap(dataKey: SecretBytes(randomCount: 32), context: [:])],
                                             encryptionContext: [:], frameLength: 4096)
        let whole = try encryptor.encrypt(plaintext)
        let layout = try encryptor.layout(plaintextSize: UInt64(plaintext.count))
        for frames in [1...1, 3...7, 9...11, 11...11, 1...11] {
            let plain = layout.plaintextRange(of: frames), cipher = layout.ciphertextRange(of: frames)
            let part = encryptor.encryptFrames(frames, of: Array(plaintext[Int(plain.lowerBound)..<Int(plain.upperBound)]),
                                               layout: layout)
            #expect(part[...] == whole[Int(cipher.lowerBound)..<Int(cipher.upperBound)])
        }
    }

    @Test func everyMessageGetsAFreshMessageIDAndDataKey() async throws {
        let a = try await MessageEncryptor.make(keyrings: [Self.keyring], encryptionContext: Self.context)
        let b = try await MessageEncryptor.make(keyrings: [Self.keyring], encryptionContext: Self.context)
        #expect(a.header.messageID != b.header.messageID)
        #expect(a.header.encryptedDataKeys != b.header.encryptedDataKeys)
        #expect(a.header.commitmentKey != b.header.commitmentKey)
    }

    @Test func aFullFinalFrameDecrypts() throws {
        // Other writers may end an exact multiple with a full final frame instead of an empty one.
        let dataKey = SecretBytes(randomCount: 32)
        let encryptor = try MessageEncryptor(dataKey: dataKey, encryptedDataKeys: [Self.keyring.wrap(dataKey: dataKey, context: [:])],
                                             encryptionContext: [:], frameLength: 4096)
        let plaintext = SecureRandom.bytes(2 * 4096)
        let layout = try MessageLayout(ciphertextSize: UInt64(encryptor.header.length + 4096 + 32 + 4096 + 40),
                                       headerLength: encryptor.header.length, frameLength: 4096)
        #expect(layout.frameCount == 2 && layout.finalFrameLength == 4096)
        let message = encryptor.header.bytes + encryptor.encryptFrames(layout.allFrames, of: plaintext, layout: layout)
        let decryptor = try MessageDecryptor(header: encryptor.header, dataKey: dataKey)
        #expect(try decryptor.decryptFrames(layout.allFrames, of: message[encryptor.header.length...], layout: layout) == plaintext)
    }

    @Test func anyFlippedBitIsAnErrorNeverData() async throws {
        let plaintext = SecureRandom.bytes(3 * 512 + 100)
        let message = try await MessageEncryptor.encrypt(plaintext, keyrings: [Self.keyring], encryptionContext: Self.context,
                                                         frameLength: 512)
        // Every byte of the header and a sample of the body, one bit each.
        var positions = Array(0..<(message.count / 4))
        positions += stride(from: message.count / 4, to: message.count, by: 7)
        for position in positions {
            var tampered = message
            tampered[position] ^= 1 << UInt8(position % 8)
            await #expect(throws: EncryptionError.self, "byte \(position)") {
                _ = try await MessageDecryptor.decrypt(tampered, keyrings: [Self.keyring])
            }
        }
    }

    @Test func appendedOrRemovedBytesAreErrors() async throws {
        let plaintext = SecureRandom.bytes(3 * 512 + 100)
        let message = try await MessageEncryptor.encrypt(plaintext, keyrings: [Self.keyring], encryptionContext: Self.context,
                                                         frameLength: 512)
        for cut in [1, 16, 40, 100, 140, 141, 544, 545] {
            await #expect(throws: EncryptionError.self, "cut \(cut)") {
                _ = try await MessageDecryptor.decrypt(Array(message.dropLast(cut)), keyrings: [Self.keyring])
            }
        }
        for extra in [1, 40, 544] {
            await #expect(throws: EncryptionError.self, "extra \(extra)") {
                _ = try await MessageDecryptor.decrypt(message + [UInt8](repeating: 0, count: extra), keyrings: [Self.keyring])
            }
        }
    }

    @Test func incompleteRangedReadsAreReported() throws {
        let dataKey = SecretBytes(randomCount: 32)
        let encryptor = try MessageEncryptor(dataKey: dataKey, encryptedDataKeys: [Self.keyring.wrap(dataKey: dataKey, context: [:])],
                                             encryptionContext: [:], frameLength: 1024)
        let message = try encryptor.encrypt(SecureRandom.bytes(5000))
        let decryptor = try MessageDecryptor(header: encryptor.header, dataKey: dataKey)
        let layout = try decryptor.layout(ciphertextSize: UInt64(message.count))
        let range = layout.ciphertextRange(of: 2...3)
        #expect(throws: EncryptionError.incompleteFrames(expectedByteCount: range.count, actualByteCount: range.count - 1)) {
            _ = try decryptor.decryptFrames(2...3, of: message[Int(range.lowerBound)..<Int(range.upperBound) - 1], layout: layout)
        }
    }

    @Test func aRecoveryKeyAloneDecrypts() async throws {
        let recovery = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), name: "recovery")
        let plaintext = SecureRandom.bytes(1000)
        let message = try await MessageEncryptor.encrypt(plaintext, keyrings: [Self.keyring, recovery], encryptionContext: Self.context)
        let header = try MessageHeader(parsing: message)
        #expect(header.encryptedDataKeys.map(\.description) == ["coffer-local/default", "coffer-local/recovery"])
        #expect(try await MessageDecryptor.decrypt(message, keyrings: [recovery]) == plaintext)
        #expect(try await MessageDecryptor.decrypt(message, keyrings: [Self.keyring]) == plaintext)
        let stranger = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), name: "stranger")
        await #expect(throws: EncryptionError.keyring(.noMatchingEncryptedDataKey(
            keyrings: ["coffer-local/stranger"], available: ["coffer-local/default", "coffer-local/recovery"]))) {
            _ = try await MessageDecryptor.decrypt(message, keyrings: [stranger])
        }
    }

    @Test func theWriterRefusesHeadersItsReaderWouldRefuse() throws {
        let dataKey = SecretBytes(randomCount: 32)
        let wrapped = try Self.keyring.wrap(dataKey: dataKey, context: [:])
        #expect(throws: EncryptionError.tooManyEncryptedDataKeys(9, maximum: 8)) {
            try MessageEncryptor(dataKey: dataKey, encryptedDataKeys: Array(repeating: wrapped, count: 9), encryptionContext: [:])
        }
        let huge = EncryptionContext(["big": String(repeating: "x", count: 65_400)])
        #expect(throws: EncryptionError.headerTooLarge(maximum: 65536)) {
            try MessageEncryptor(dataKey: dataKey, encryptedDataKeys: [wrapped], encryptionContext: huge)
        }
    }

    @Test func anObjectCutInsideItsHeaderIsMalformed() async throws {
        let message = try await MessageEncryptor.encrypt([1, 2, 3], keyrings: [Self.keyring], encryptionContext: Self.context)
        await #expect(throws: EncryptionError.self) {
            _ = try await MessageDecryptor.decrypt(Array(message.prefix(100)), keyrings: [Self.keyring])
        }
    }

    @Test func requiredContextMustMatch() async throws {
        let message = try await MessageEncryptor.encrypt([1, 2, 3], keyrings: [Self.keyring], encryptionContext: Self.context)
        await #expect(throws: EncryptionError.encryptionContextMismatch(key: "coffer:fs", expected: "other", found: "round-trip")) {
            _ = try await MessageDecryptor.decrypt(message, keyrings: [Self.keyring], requiredContext: ["coffer:fs": "other"])
        }
        await #expect(throws: EncryptionError.encryptionContextMismatch(key: "tenant", expected: "a", found: nil)) {
            _ = try await MessageDecryptor.decrypt(message, keyrings: [Self.keyring], requiredContext: ["tenant": "a"])
        }
    }
}

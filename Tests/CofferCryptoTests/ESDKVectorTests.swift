import CofferCrypto
import CofferTestSupport
import Testing

/// The shared AWS Encryption SDK vectors: every positive one decrypts (whole and frame by frame, last frame first)
/// and is reproduced byte for byte by Coffer's encryptor; every negative one fails with the expected error.
@Suite("AWS Encryption SDK test vectors")
struct ESDKVectorTests {
    @Test("positive vector decrypts whole", arguments: ESDKVectors.positiveFiles)
    func decryptsWhole(file: String) async throws {
        let message = ESDKVectors.bytes(file)
        let plaintext = try await MessageDecryptor.decrypt(message, keyrings: [ESDKVectors.keyring1])
        #expect(plaintext == ESDKVectors.plaintext(length: ESDKVectors.plaintextLength(file)))
        if let vector = ESDKVectors.manifest.vectors.first(where: { $0.file == file }) {
            #expect(Hex.encode(SHA256.hash(plaintext)) == vector.plaintext_sha256)
        }
    }

    @Test("positive vector decrypts frame by frame in reverse order", arguments: ESDKVectors.positiveFiles)
    func decryptsFramesInReverse(file: String) throws {
        let message = ESDKVectors.bytes(file)
        let expected = ESDKVectors.plaintext(length: ESDKVectors.plaintextLength(file))
        let header = try MessageHeader(parsing: message)
        let dataKey = try ESDKVectors.keyring1.unwrap(header.encryptedDataKeys, context: header.encryptionContext)
        let decryptor = try MessageDecryptor(header: header, dataKey: dataKey)
        let layout = try decryptor.layout(ciphertextSize: UInt64(message.count))
        #expect(layout.plaintextSize == UInt64(expected.count))
        #expect(layout.ciphertextSize == UInt64(message.count))
        if let vector = ESDKVectors.manifest.vectors.first(where: { $0.file == file }) {
            #expect(header.length == vector.header_length)
            #expect(layout.frameCount == vector.frames)
            #expect(layout.finalFrameLength == vector.final_frame_plaintext_length)
            #expect(Hex.encode(header.messageID) == vector.message_id_hex)
            #expect(header.frameLength == ESDKVectors.manifest.frame_length)
        }
        if let extra = ESDKVectors.manifest.extra_vectors.first(where: { $0.file == file }) {
            if let length = extra.header_length { #expect(header.length == length) }
            if let frameLength = extra.frame_length { #expect(header.frameLength == frameLength) }
        }
        for frame in layout.allFrames.reversed() {
            let range = layout.ciphertextRange(of: frame...frame)
            let plaintext = try decryptor.decryptFrames(frame...frame, of: message[Int(range.lowerBound)..<Int(range.upperBound)],
                                                        layout: layout)
            let plainRange = layout.plaintextRange(of: frame...frame)
            #expect(plaintext[...] == expected[Int(plainRange.lowerBound)..<Int(plainRange.upperBound)], "frame \(frame)")
        }
    }

    @Test("Coffer's encryptor reproduces the vector byte for byte", arguments: ESDKVectors.positiveFiles)
    func encryptorReproducesVector(file: String) throws {
        let message = ESDKVectors.bytes(file)
        let header = try MessageHeader(parsing: message)
        let dataKey = try ESDKVectors.keyring1.unwrap(header.encryptedDataKeys, context: header.encryptionContext)
        var context = ESDKVectors.context
        if let vector = ESDKVectors.manifest.vectors.first(where: { $0.file == file }) {
            #expect(dataKey == SecretBytes(copying: Hex.decode(vector.data_key_hex)!))
            #expect(header.messageID == Hex.decode(vector.message_id_hex)!)
        }
        if file.contains("empty-ec") { context = [:] }
        #expect(header.encryptionContext == context)
        let encryptor = try MessageEncryptor(dataKey: dataKey, encryptedDataKeys: header.encryptedDataKeys,
                                             encryptionContext: context, frameLength: header.frameLength,
                                             messageID: header.messageID)
        let produced = try encryptor.encrypt(ESDKVectors.plaintext(length: ESDKVectors.plaintextLength(file)))
        #expect(produced.count == message.count)
        #expect(produced == message)
        #expect(encryptor.header == header)
    }

    @Test func twoEncryptedDataKeysEitherKeyDecrypts() async throws {
        let message = ESDKVectors.bytes("raw-200000-two-edks.esdk")
        let expected = ESDKVectors.plaintext(length: 200_000)
        let header = try MessageHeader(parsing: message)
        #expect(header.encryptedDataKeys.count == 2)
        #expect(header.encryptedDataKeys.map(\.description) == ["coffer-local/test-key-1", "coffer-local/test-key-2"])
        for keyrings: [any Keyring] in [[ESDKVectors.keyring1], [ESDKVectors.keyring2],
                                        [ESDKVectors.keyring2, ESDKVectors.keyring1]] {
            #expect(try await MessageDecryptor.decrypt(message, keyrings: keyrings) == expected)
        }
    }

    /// The error each negative vector must produce when decrypted whole (the manifest's `expect`, as a typed error).
    static let expectedErrors: [String: EncryptionError] = [
        "neg-wrong-wrapping-key.esdk": .keyring(.unwrapFailed(keyring: "coffer-local/test-key-1")),
        "neg-bitflip-frame2.esdk": .frameAuthenticationFailed(sequenceNumber: 2),
        "neg-bitflip-final-tag.esdk": .frameAuthenticationFailed(sequenceNumber: 4),
        "neg-header-tag.esdk": .headerAuthenticationFailed,
        "neg-commitment.esdk": .commitmentMismatch,
        "neg-frame-length-changed.esdk": .headerAuthenticationFailed,
        "neg-frames-1-2-swapped.esdk": .frameAuthenticationFailed(sequenceNumber: 1),
        "neg-truncated-at-frame-boundary.esdk": .finalFrameMissing(sequenceNumber: 3),
        "neg-truncated-mid-frame.esdk": .finalFrameMissing(sequenceNumber: 2),
        "neg-frame2-from-other-message.esdk": .frameAuthenticationFailed(sequenceNumber: 2),
        "neg-header-from-other-message.esdk": .frameAuthenticationFailed(sequenceNumber: 1),
        "neg-plaintext-object.esdk": .notAnEncryptedMessage(firstByte: 0xaf),
    ]

    /// For negatives whose header authenticates: the frames that fail when each is read alone.
    static let failingFrames: [String: Set<Int>] = [
        "neg-bitflip-frame2.esdk": [2],
        "neg-bitflip-final-tag.esdk": [4],
        "neg-frames-1-2-swapped.esdk": [1, 2],
        "neg-truncated-at-frame-boundary.esdk": [3],
        "neg-truncated-mid-frame.esdk": [2],
        "neg-frame2-from-other-message.esdk": [2],
        "neg-header-from-other-message.esdk": [1, 2, 3, 4],
    ]

    @Test func everyNegativeVectorHasAnExpectation() {
        #expect(Set(ESDKVectors.negativeFiles) == Set(Self.expectedErrors.keys))
        #expect(ESDKVectors.negativeFiles.count == 12)
    }

    @Test("negative vector is rejected with the expected error", arguments: ESDKVectors.negativeFiles)
    func negativeVectorIsRejected(file: String) async throws {
        let expected = try #require(Self.expectedErrors[file])
        await #expect(throws: expected) {
            _ = try await MessageDecryptor.decrypt(ESDKVectors.bytes(file), keyrings: [ESDKVectors.keyring1])
        }
    }

    @Test("tampered frames fail alone, the others still decrypt", arguments: Array(failingFrames.keys).sorted())
    func tamperedFramesFailAlone(file: String) throws {
        let message = ESDKVectors.bytes(file)
        let expected = ESDKVectors.plaintext(length: 200_000)
        let header = try MessageHeader(parsing: message)
        let dataKey = try ESDKVectors.keyring1.unwrap(header.encryptedDataKeys, context: header.encryptionContext)
        let decryptor = try MessageDecryptor(header: header, dataKey: dataKey)
        let layout = try decryptor.layout(ciphertextSize: UInt64(message.count))
        let failing = try #require(Self.failingFrames[file])
        for frame in layout.allFrames.reversed() {
            let range = layout.ciphertextRange(of: frame...frame)
            let bytes = message[Int(range.lowerBound)..<Int(range.upperBound)]
            if failing.contains(frame) {
                #expect(throws: EncryptionError.self, "frame \(frame)") {
                    _ = try decryptor.decryptFrames(frame...frame, of: bytes, layout: layout)
                }
            } else {
                let plain = layout.plaintextRange(of: frame...frame)
                #expect(try decryptor.decryptFrames(frame...frame, of: bytes, layout: layout)[...]
                        == expected[Int(plain.lowerBound)..<Int(plain.upperBound)], "frame \(frame)")
            }
        }
    }

    @Test func truncatedObjectsHaveTheSizeOfShorterMessages() throws {
        // Both truncations leave sizes that some message could have: only the missing final-frame marker betrays them.
        let header = try MessageHeader(parsing: ESDKVectors.bytes("raw-200000.esdk"))
        let atBoundary = try header.layout(ciphertextSize: 196_938)
        #expect(atBoundary.frameCount == 3 && atBoundary.finalFrameLength == 65_528)
        let midFrame = try header.layout(ciphertextSize: 66_802)
        #expect(midFrame.frameCount == 2 && midFrame.finalFrameLength == 960)
    }
}

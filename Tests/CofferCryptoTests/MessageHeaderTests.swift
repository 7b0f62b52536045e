import CofferCrypto
import CofferTestSupport
import Testing

@Suite("Message header parsing and the reading policy")
struct MessageHeaderTests {
    static let message = ESDKVectors.bytes("raw-200000.esdk")

    @Test func parsesTheVectorHeader() throws {
        let header = try MessageHeader(parsing: Self.message)
        #expect(header.length == 234)
        #expect(header.bytes[...] == Self.message[0..<234])
        #expect(header.frameLength == 65536)
        #expect(header.encryptionContext == ESDKVectors.context)
        #expect(header.encryptionContext.serialized.count == 46)
        let key = try #require(header.encryptedDataKeys.first)
        #expect(key.providerID == "coffer-local")
        #expect(key.providerInfo.count == "test-key-1".utf8.count + 20)
        #expect(Array(key.providerInfo.prefix(18)) == Array("test-key-1".utf8) + [0, 0, 0, 0x80, 0, 0, 0, 12])
        #expect(key.ciphertext.count == 48)
        #expect(MessageHeader.looksLikeMessage(Self.message))
    }

    @Test func everyShortPrefixAsksForMoreBytes() throws {
        var length = 1
        var steps = 0
        while true {
            do {
                let header = try MessageHeader(parsing: Self.message.prefix(length))
                #expect(header.length == 234)
                break
            } catch .headerIncomplete(let minimumLength) {
                #expect(minimumLength > length && minimumLength <= 234)
                length = minimumLength
                steps += 1
            }
        }
        #expect(steps > 3)
        for cut in 1..<234 {
            #expect(throws: EncryptionError.self) { try MessageHeader(parsing: Self.message.prefix(cut)) }
        }
    }

    @Test func policyLimits() throws {
        #expect(throws: EncryptionError.headerTooLarge(maximum: 200)) {
            try MessageHeader(parsing: Self.message, policy: DecryptionPolicy(maximumHeaderLength: 200))
        }
        #expect(throws: EncryptionError.unsupportedFrameLength(65536, maximum: 4096)) {
            try MessageHeader(parsing: Self.message, policy: DecryptionPolicy(maximumFrameLength: 4096))
        }
        #expect(throws: EncryptionError.tooManyEncryptedDataKeys(2, maximum: 1)) {
            try MessageHeader(parsing: ESDKVectors.bytes("raw-200000-two-edks.esdk"),
                              policy: DecryptionPolicy(maximumEncryptedDataKeys: 1))
        }
        // The CLI's 4 KiB frames are fine under the default policy.
        #expect(try MessageHeader(parsing: ESDKVectors.bytes("raw-200000-frame4096.esdk")).frameLength == 4096)
    }

    @Test func refusesOtherFormatsWithAdvice() throws {
        var signed = Self.message
        signed[1] = 0x05
        #expect(throws: EncryptionError.unsupportedAlgorithmSuite(0x0578)) { try MessageHeader(parsing: signed) }
        let advice = EncryptionError.unsupportedAlgorithmSuite(0x0578).description
        #expect(advice.contains("--algorithm AES_256_GCM_HKDF_SHA512_COMMIT_KEY"))
        #expect(advice.contains("signed"))

        var unframed = Self.message
        unframed[234 - 16 - 32 - 4 - 1] = 0x01
        #expect(throws: EncryptionError.unsupportedContentType(1)) { try MessageHeader(parsing: unframed) }

        var zeroFrames = Self.message
        zeroFrames.replaceSubrange((234 - 16 - 32 - 4)..<(234 - 16 - 32), with: [0, 0, 0, 0])
        #expect(throws: EncryptionError.unsupportedFrameLength(0, maximum: 1 << 20)) { try MessageHeader(parsing: zeroFrames) }

        var noKeys = Self.message
        let countOffset = 1 + 2 + 32 + 2 + 46
        noKeys.replaceSubrange(countOffset..<countOffset + 2, with: [0, 0])
        #expect(throws: EncryptionError.malformedHeader("it holds no encrypted data key")) { try MessageHeader(parsing: noKeys) }

        #expect(throws: EncryptionError.unsupportedFormatVersion(1)) { try MessageHeader(parsing: [0x01, 0x80, 0x03, 0x78, 0]) }
        #expect(throws: EncryptionError.notAnEncryptedMessage(firstByte: nil)) { try MessageHeader(parsing: [UInt8]()) }
        #expect(throws: EncryptionError.notAnEncryptedMessage(firstByte: 0x02)) { try MessageHeader(parsing: [0x02, 0x12, 0x34, 0]) }
        #expect(throws: EncryptionError.notAnEncryptedMessage(firstByte: 0x7b)) { try MessageHeader(parsing: Array("{\"a\":1}".utf8)) }
        #expect(!MessageHeader.looksLikeMessage(Array("hello".utf8)))
        #expect(MessageHeader.looksLikeMessage([0x01, 0x80, 0x03, 0x78]))
        #expect(MessageHeader.looksLikeMessage([0x02, 0x05, 0x78]))
    }

    @Test func malformedEncryptionContexts() throws {
        // Duplicate keys, bad UTF-8 and a count that promises more pairs than there are bytes.
        let duplicate: [UInt8] = [0, 2, 0, 1, 0x61, 0, 1, 0x31, 0, 1, 0x61, 0, 1, 0x32]
        #expect(throws: EncryptionError.self) { try EncryptionContext(serialized: duplicate) }
        let badUTF8: [UInt8] = [0, 1, 0, 1, 0xff, 0, 0]
        #expect(throws: EncryptionError.self) { try EncryptionContext(serialized: badUTF8) }
        let short: [UInt8] = [0, 2, 0, 1, 0x61, 0, 1, 0x31]
        #expect(throws: EncryptionError.self) { try EncryptionContext(serialized: short) }
        #expect(throws: EncryptionError.self) { try EncryptionContext(serialized: [0, 0]) }
        #expect(try EncryptionContext(serialized: []).isEmpty)
    }

    @Test func encryptionContextSerializationIsSortedByUTF8Bytes() throws {
        let context: EncryptionContext = ["b": "2", "a": "1", "B": "3", "é": "4"]
        #expect(context.sortedPairs.map(\.key) == ["B", "a", "b", "é"])
        let serialized = context.serialized
        #expect(serialized.prefix(2) == [0, 4])
        #expect(try EncryptionContext(serialized: serialized) == context)
        #expect(EncryptionContext([:]).serialized.isEmpty)
        // Parsed pairs in another order are accepted (the header tag covers the exact bytes).
        let reversed: [UInt8] = [0, 2, 0, 1, 0x62, 0, 1, 0x32, 0, 1, 0x61, 0, 1, 0x31]
        #expect(try EncryptionContext(serialized: reversed) == ["a": "1", "b": "2"])
    }
}

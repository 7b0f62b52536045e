import CofferCrypto
import CofferTestSupport
import Testing

@Suite("Raw AES keyring")
struct RawAESKeyringTests {
    static let context: EncryptionContext = ["coffer:v": "1"]

    @Test func wrapsInTheSDKWireFormat() throws {
        let keyring = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32))
        #expect(keyring.namespace == "coffer-local" && keyring.name == "default")
        let dataKey = SecretBytes(randomCount: 32)
        let wrapped = try keyring.wrap(dataKey: dataKey, context: Self.context)
        #expect(wrapped.providerID == "coffer-local")
        #expect(wrapped.providerInfo.count == 7 + 4 + 4 + 12)
        #expect(Array(wrapped.providerInfo.prefix(15)) == Array("default".utf8) + [0, 0, 0, 128, 0, 0, 0, 12])
        #expect(wrapped.ciphertext.count == 48)
        #expect(wrapped.description == "coffer-local/default")
        #expect(try keyring.unwrap([wrapped], context: Self.context) == dataKey)
        // A new IV each time.
        #expect(try keyring.wrap(dataKey: dataKey, context: Self.context) != wrapped)
    }

    @Test func theVectorKeyUnwrapsToTheManifestDataKey() throws {
        let header = try MessageHeader(parsing: ESDKVectors.bytes("raw-1.esdk"))
        let dataKey = try ESDKVectors.keyring1.unwrap(header.encryptedDataKeys, context: header.encryptionContext)
        #expect(dataKey == SecretBytes(copying: Hex.decode(ESDKVectors.manifest.vectors[1].data_key_hex)!))
    }

    @Test func theVectorWrapIsAESGCMOfTheDataKeyWithTheContextAsAAD() throws {
        // Rebuild the SDK's encrypted data key from its parts: IV from the provider info, AAD = serialized context.
        let vector = ESDKVectors.manifest.vectors[5]
        let header = try MessageHeader(parsing: ESDKVectors.bytes(vector.file))
        let encrypted = try #require(header.encryptedDataKeys.first)
        let iv = Array(encrypted.providerInfo.suffix(12))
        var gcm = AES256GCM(key: SecretBytes(copying: Hex.decode(ESDKVectors.manifest.raw_wrapping_key_hex)!))
        let sealed = gcm.seal(Hex.decode(vector.data_key_hex)!, nonce: iv, authenticating: ESDKVectors.context.serialized)
        #expect(sealed.ciphertext + sealed.tag == encrypted.ciphertext)
    }

    @Test func theEncryptionContextIsBoundToTheWrap() throws {
        let keyring = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32))
        let wrapped = try keyring.wrap(dataKey: SecretBytes(randomCount: 32), context: Self.context)
        #expect(throws: KeyringError.unwrapFailed(keyring: "coffer-local/default")) {
            try keyring.unwrap([wrapped], context: ["coffer:v": "2"])
        }
        #expect(throws: KeyringError.unwrapFailed(keyring: "coffer-local/default")) {
            try keyring.unwrap([wrapped], context: [:])
        }
    }

    @Test func findsItsOwnKeyAmongOthers() throws {
        let mine = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), namespace: "ops", name: "recovery")
        let other = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), namespace: "ops", name: "primary")
        let dataKey = SecretBytes(randomCount: 32)
        let kms = EncryptedDataKey(providerID: "aws-kms", providerInfo: Array("arn:aws:kms:eu-west-1:111122223333:key/k".utf8),
                                   ciphertext: SecureRandom.bytes(96))
        let keys = [kms, try other.wrap(dataKey: dataKey, context: Self.context), try mine.wrap(dataKey: dataKey, context: Self.context)]
        #expect(try mine.unwrap(keys, context: Self.context) == dataKey)
        #expect(try other.unwrap(keys, context: Self.context) == dataKey)

        let stranger = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), namespace: "ops", name: "old")
        #expect(throws: KeyringError.noMatchingEncryptedDataKey(
            keyrings: ["ops/old"], available: ["aws-kms/arn:aws:kms:eu-west-1:111122223333:key/k", "ops/primary", "ops/recovery"])) {
            try stranger.unwrap(keys, context: Self.context)
        }
        // Same name, different key: owned but does not decrypt.
        let impostor = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), namespace: "ops", name: "recovery")
        #expect(throws: KeyringError.unwrapFailed(keyring: "ops/recovery")) { try impostor.unwrap(keys, context: Self.context) }
    }

    @Test func invalidConfigurationsAreRefused() {
        #expect(throws: KeyringError.self) { try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 16)) }
        #expect(throws: KeyringError.self) { try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), namespace: "aws-kms") }
        #expect(throws: KeyringError.self) { try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), namespace: "") }
        #expect(throws: KeyringError.self) { try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), name: "") }
    }

    @Test func errorMessagesSayWhatToDo() {
        let missing = KeyringError.noMatchingEncryptedDataKey(keyrings: ["coffer-local/default"], available: ["aws-kms/arn:x"])
        #expect(missing.description.contains("aws-kms/arn:x") && missing.description.contains("coffer-local/default"))
        #expect(KeyringError.unwrapFailed(keyring: "coffer-local/default").description.contains("original key file"))
    }
}

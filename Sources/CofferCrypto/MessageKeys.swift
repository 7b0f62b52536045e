/// The per-message keys of suite 0x0478, derived from the data key with HKDF-SHA512 and the message id as salt.
///
/// `encryptionKey = HKDF-SHA512(salt: message id, ikm: data key, info: 04 78 ‖ "DERIVEKEY", 32)` encrypts the header
/// tag and the frames; `commitmentKey = HKDF-SHA512(salt: message id, ikm: data key, info: "COMMITKEY", 32)` is
/// stored in the header so that a message decrypts under one data key only.
struct MessageKeys {
    let encryptionKey: SecretBytes
    let commitmentKey: [UInt8]

    private static let encryptionInfo: [UInt8] = [0x04, 0x78] + Array("DERIVEKEY".utf8)
    private static let commitmentInfo: [UInt8] = Array("COMMITKEY".utf8)

    init(dataKey: SecretBytes, messageID: [UInt8]) {
        precondition(dataKey.count == MessageFormat.dataKeyByteCount, "a data key is 32 bytes")
        precondition(messageID.count == MessageFormat.messageIDByteCount, "a message id is 32 bytes")
        encryptionKey = HKDF.deriveKey(from: dataKey, salt: messageID, info: Self.encryptionInfo,
                                       outputByteCount: 32, digest: .sha512)
        commitmentKey = HKDF.deriveKey(from: dataKey, salt: messageID, info: Self.commitmentInfo,
                                       outputByteCount: MessageFormat.commitmentKeyByteCount, digest: .sha512)
            .withUnsafeBytes { Array($0) }
    }
}

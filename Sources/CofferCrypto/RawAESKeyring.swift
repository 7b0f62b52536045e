/// The AWS Encryption SDK's raw AES keyring with a local 256-bit wrapping key (Python: `RawMasterKey` with
/// `WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING`), byte for byte.
///
/// An encrypted data key it writes has provider id = `namespace`, provider info = key `name` ‖ u32 tag length in
/// bits (128) ‖ u32 IV length (12) ‖ IV (12 random bytes), and ciphertext = AES-256-GCM(wrapping key, IV,
/// additional data = the serialized encryption context, data key) ‖ tag (48 bytes).
///
/// To decrypt a Coffer object outside Coffer, give the SDK the same namespace (provider id), key name (key id) and key.
public struct RawAESKeyring: Keyring {
    /// The namespace Coffer uses unless configured otherwise.
    public static let defaultNamespace = "coffer-local"
    /// The key name Coffer uses unless configured otherwise.
    public static let defaultName = "default"

    /// The key namespace (the encrypted data key's provider id).
    public let namespace: String
    /// The key name (the start of the encrypted data key's provider info).
    public let name: String
    private let wrappingKey: SecretBytes

    private static let tagBits: UInt32 = 128
    private static let infoSuffixCount = 8 + AES256GCM.nonceByteCount
    private static let wrappedKeyCount = MessageFormat.dataKeyByteCount + AES256GCM.tagByteCount

    /// A keyring for a 32-byte `wrappingKey` called `name` in `namespace`.
    ///
    /// Throws `.invalidConfiguration` for a key that is not 32 bytes, an empty or over-long namespace or name, or a
    /// namespace starting with `aws-kms` (reserved for AWS KMS keyrings).
    public init(wrappingKey: SecretBytes, namespace: String = RawAESKeyring.defaultNamespace,
                name: String = RawAESKeyring.defaultName) throws(KeyringError) {
        guard wrappingKey.count == AES256GCM.keyByteCount else {
            throw .invalidConfiguration("a raw AES wrapping key must be 32 bytes, not \(wrappingKey.count); "
                                        + "create one with `coffer keygen PATH`")
        }
        guard !namespace.isEmpty, namespace.utf8.count <= Int(UInt16.max) else {
            throw .invalidConfiguration("the key namespace must be 1 to 65535 UTF-8 bytes")
        }
        guard !namespace.hasPrefix("aws-kms") else {
            throw .invalidConfiguration("the key namespace \"\(namespace)\" starts with \"aws-kms\", which the AWS "
                                        + "Encryption SDK reserves for KMS keys; choose another (default \"coffer-local\")")
        }
        guard !name.isEmpty, name.utf8.count <= Int(UInt16.max) - Self.infoSuffixCount else {
            throw .invalidConfiguration("the key name must be 1 to \(Int(UInt16.max) - Self.infoSuffixCount) UTF-8 bytes")
        }
        self.wrappingKey = wrappingKey
        self.namespace = namespace
        self.name = name
    }

    /// A keyring for the key in the key file at `path` (see `LocalKeyFile.load(at:)`).
    public init(keyFile path: String, namespace: String = RawAESKeyring.defaultNamespace,
                name: String = RawAESKeyring.defaultName) throws(KeyFileError) {
        let key = try LocalKeyFile.load(at: path)
        do {
            try self.init(wrappingKey: key, namespace: namespace, name: name)
        } catch {
            throw .invalidKeyring(path: path, error)
        }
    }

    /// `namespace/name`.
    public var keyringDescription: String { namespace + "/" + name }

    /// Wraps `dataKey` under a fresh random IV.
    public func wrap(dataKey: SecretBytes, context: EncryptionContext) throws(KeyringError) -> EncryptedDataKey {
        wrap(dataKey: dataKey, context: context, iv: SecureRandom.bytes(AES256GCM.nonceByteCount))
    }

    /// Wraps `dataKey` under `iv`. Never reuse an IV with one wrapping key: only tests pass one.
    func wrap(dataKey: SecretBytes, context: EncryptionContext, iv: [UInt8]) -> EncryptedDataKey {
        precondition(iv.count == AES256GCM.nonceByteCount, "the wrapping IV is 12 bytes")
        var gcm = AES256GCM(key: wrappingKey)
        var ciphertext = [UInt8](repeating: 0, count: Self.wrappedKeyCount)
        context.serialized.withUnsafeBytes { aad in
            iv.withUnsafeBytes { nonce in
                dataKey.withUnsafeBytes { key in
                    ciphertext.withUnsafeMutableBytes { out in
                        let count = key.count
                        gcm.seal(key, nonce: nonce, authenticating: aad,
                                 into: UnsafeMutableRawBufferPointer(rebasing: out[0..<count]),
                                 tag: UnsafeMutableRawBufferPointer(rebasing: out[count...]))
                    }
                }
            }
        }
        var info = ByteWriter(capacity: name.utf8.count + Self.infoSuffixCount)
        info.append(contentsOf: name.utf8)
        info.append(Self.tagBits)
        info.append(UInt32(AES256GCM.nonceByteCount))
        info.append(contentsOf: iv)
        return EncryptedDataKey(providerID: namespace, providerInfo: info.bytes, ciphertext: ciphertext)
    }

    /// Unwraps the first encrypted data key with this keyring's namespace and name that authenticates under the
    /// wrapping key and `context`; keys of other keyrings (KMS, other names) are skipped.
    public func unwrap(_ encryptedDataKeys: [EncryptedDataKey], context: EncryptionContext) throws(KeyringError) -> SecretBytes {
        let aad = context.serialized
        var owned = false
        for encrypted in encryptedDataKeys {
            guard let iv = ownedIV(of: encrypted) else { continue }
            owned = true
            var gcm = AES256GCM(key: wrappingKey)
            let count = MessageFormat.dataKeyByteCount
            do {
                return try SecretBytes(count: count) { (out) throws(CryptoError) in
                    try encrypted.ciphertext.withBytes { (wrapped) throws(CryptoError) in
                        try aad.withBytes { (aad) throws(CryptoError) in
                            try iv.withBytes { (nonce) throws(CryptoError) in
                                try gcm.open(UnsafeRawBufferPointer(rebasing: wrapped[0..<count]), nonce: nonce,
                                             authenticating: aad, tag: UnsafeRawBufferPointer(rebasing: wrapped[count...]),
                                             into: out)
                            }
                        }
                    }
                }
            } catch {
                continue
            }
        }
        if owned { throw .unwrapFailed(keyring: keyringDescription) }
        throw .noMatchingEncryptedDataKey(keyrings: [keyringDescription], available: encryptedDataKeys.map(\.description))
    }

    /// The wrap IV when `encrypted` is this keyring's (namespace, name, tag and IV lengths and sizes all match).
    private func ownedIV(of encrypted: EncryptedDataKey) -> [UInt8]? {
        let nameBytes = Array(name.utf8)
        let info = encrypted.providerInfo
        guard encrypted.providerID == namespace, Array(encrypted.providerID.utf8) == Array(namespace.utf8),
              info.count == nameBytes.count + Self.infoSuffixCount, info.starts(with: nameBytes),
              encrypted.ciphertext.count == Self.wrappedKeyCount else { return nil }
        var reader = ByteReader(Array(info[nameBytes.count...]))
        guard let tagBits = try? reader.readUInt32(), tagBits == Self.tagBits,
              let ivLength = try? reader.readUInt32(), ivLength == UInt32(AES256GCM.nonceByteCount),
              let iv = try? reader.read(AES256GCM.nonceByteCount) else { return nil }
        return Array(iv)
    }
}

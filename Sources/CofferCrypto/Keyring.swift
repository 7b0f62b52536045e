/// Wraps and unwraps message data keys under a key the keyring holds or can reach (a local key, AWS KMS, ...).
///
/// Writing a message asks the first configured keyring for a data key (`generateDataKey`) and every further
/// keyring to `wrap` the same data key (for example an offline recovery key next to KMS); each result is one
/// encrypted data key in the header. Reading asks the keyrings in turn to `unwrap` one of the header's keys.
///
/// The encryption context must be bound to every wrap (as AES-GCM additional data, or as the KMS encryption
/// context), so that altering the context in a header makes unwrapping fail.
public protocol Keyring: Sendable {
    /// A human-readable name for messages, e.g. `coffer-local/default` or `aws-kms/arn:aws:kms:…`.
    var keyringDescription: String { get }

    /// Encrypts `dataKey` (32 bytes) for this keyring under `context`.
    func wrap(dataKey: SecretBytes, context: EncryptionContext) async throws(KeyringError) -> EncryptedDataKey

    /// Decrypts the first of `encryptedDataKeys` this keyring owns and can decrypt under `context`.
    ///
    /// Throws `.noMatchingEncryptedDataKey` when it owns none of them, `.unwrapFailed` when it owns one but the
    /// key does not decrypt it.
    func unwrap(_ encryptedDataKeys: [EncryptedDataKey], context: EncryptionContext) async throws(KeyringError) -> SecretBytes

    /// A new random 32-byte data key and its encryption for this keyring.
    ///
    /// The default draws the key from `RAND_bytes` and calls `wrap`; AWS KMS would use `GenerateDataKey`.
    func generateDataKey(context: EncryptionContext) async throws(KeyringError) -> (dataKey: SecretBytes, encryptedDataKey: EncryptedDataKey)
}

extension Keyring {
    public func generateDataKey(
        context: EncryptionContext
    ) async throws(KeyringError) -> (dataKey: SecretBytes, encryptedDataKey: EncryptedDataKey) {
        let dataKey = SecretBytes(randomCount: MessageFormat.dataKeyByteCount)
        return (dataKey, try await wrap(dataKey: dataKey, context: context))
    }
}

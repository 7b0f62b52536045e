/// Data key generation and unwrapping over several keyrings, as the encryptor and decryptor use them.
enum Keyrings {
    /// The first keyring generates the data key, the others wrap it.
    static func generate(
        _ keyrings: [any Keyring], context: EncryptionContext
    ) async throws(KeyringError) -> (dataKey: SecretBytes, encryptedDataKeys: [EncryptedDataKey]) {
        guard let generator = keyrings.first else {
            throw .invalidConfiguration("encrypting needs at least one keyring")
        }
        let (dataKey, first) = try await generator.generateDataKey(context: context)
        try check(dataKey, from: generator)
        var encrypted = [first]
        for keyring in keyrings.dropFirst() {
            encrypted.append(try await keyring.wrap(dataKey: dataKey, context: context))
        }
        return (dataKey, encrypted)
    }

    /// The data key from the first keyring that can unwrap one of `encryptedDataKeys`.
    ///
    /// When none can, the most telling error wins: a keyring that owns a key but failed (wrong key, KMS denied)
    /// says more than "no key of mine here".
    static func unwrap(
        _ encryptedDataKeys: [EncryptedDataKey], with keyrings: [any Keyring], context: EncryptionContext
    ) async throws(KeyringError) -> SecretBytes {
        var firstFailure: KeyringError?
        for keyring in keyrings {
            do {
                let dataKey = try await keyring.unwrap(encryptedDataKeys, context: context)
                try check(dataKey, from: keyring)
                return dataKey
            } catch {
                if case .noMatchingEncryptedDataKey = error { continue }
                if firstFailure == nil { firstFailure = error }
            }
        }
        throw firstFailure ?? .noMatchingEncryptedDataKey(keyrings: keyrings.map(\.keyringDescription),
                                                          available: encryptedDataKeys.map(\.description))
    }

    private static func check(_ dataKey: SecretBytes, from keyring: any Keyring) throws(KeyringError) {
        guard dataKey.count == MessageFormat.dataKeyByteCount else {
            throw .invalidDataKey(keyring: keyring.keyringDescription, byteCount: dataKey.count)
        }
    }
}

import CofferCrypto

/// The AWS Encryption SDK's AWS KMS keyring for one KMS key, byte for byte on the wire.
///
/// An encrypted data key it writes has provider id `aws-kms`, provider info = the ARN of the key KMS used (UTF-8, as
/// returned in the response's `KeyId`, even when the keyring is configured with an alias) and ciphertext = the KMS
/// `CiphertextBlob`. The message's encryption context is the KMS encryption context, so KMS authenticates it too.
///
/// - Writing: as the first keyring, `generateDataKey` calls `GenerateDataKey(KeyId, NumberOfBytes = 32,
///   EncryptionContext)`; as a further keyring, `wrap` calls `Encrypt` on the data key another keyring made. A
///   writer needs only `kms:GenerateDataKey` (or `kms:Encrypt` as a further keyring).
/// - Reading: `unwrap` calls `Decrypt(KeyId = configured key, CiphertextBlob, EncryptionContext)` and needs
///   `kms:Decrypt`. With a key ARN configured, only encrypted data keys whose provider info is that ARN are tried;
///   with a key id, an alias name or an alias ARN (which cannot be compared to the stored key ARN without asking
///   KMS), every `aws-kms` key is tried, and KMS refuses those of other keys. Either way the key ARN KMS answers
///   with must equal the encrypted data key's provider info.
///
/// To decrypt a Coffer object outside Coffer, give the SDK (`aws-encryption-cli --wrapping-keys key=ARN`, or a
/// `StrictAwsKmsMasterKeyProvider`) the key ARN.
public struct KMSKeyring: Keyring {
    /// The provider id of every encrypted data key of an AWS KMS keyring.
    public static let providerID = "aws-kms"

    /// The configured key: key id, key ARN, `alias/NAME` or alias ARN.
    public let keyID: String
    /// The client the keyring calls.
    public let client: KMSClient

    /// A keyring for `keyID` reached through `client`.
    ///
    /// Throws `.invalidConfiguration` for an empty key id.
    public init(keyID: String, client: KMSClient) throws(KeyringError) {
        guard !keyID.isEmpty, !keyID.contains(where: \.isWhitespace) else {
            throw .invalidConfiguration("the KMS key id must be a key id, key ARN, alias/NAME or alias ARN, "
                                        + "not \"\(keyID)\"; check --kms-key-id")
        }
        self.keyID = keyID
        self.client = client
    }

    /// `aws-kms/KEY`, with the key as configured.
    public var keyringDescription: String { Self.providerID + "/" + keyID }

    /// Whether the configured key is a full key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`), in which case
    /// `unwrap` tries only encrypted data keys that name exactly that ARN.
    public var isConfiguredWithKeyARN: Bool { Self.isKeyARN(keyID) }

    /// Whether `identifier` is a KMS key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`), as opposed to an alias
    /// ARN, an alias name or a bare key id.
    public static func isKeyARN(_ identifier: String) -> Bool {
        let parts = identifier.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", !parts[1].isEmpty, parts[2] == "kms", !parts[3].isEmpty,
              !parts[4].isEmpty else { return false }
        let resource = parts[5]
        return resource.hasPrefix("key/") && resource.count > 4
    }

    /// Checks at mount time that the key exists and can be used, with one `GenerateDataKey` under `context` (give
    /// the mount's encryption context, in case the key policy has `kms:EncryptionContext` conditions). The data key
    /// is discarded (and wiped).
    ///
    /// How to treat the outcome: `.accessDenied` means this identity may not write new files, which is expected on
    /// a read-only host that has only `kms:Decrypt`, so report it as a warning; `.keyNotFound` (wrong
    /// `--kms-key-id` or region), `.keyDisabled`, `.invalidCredentials` and `.credentials` will make every file
    /// operation fail, so refuse to mount. `.transport` means KMS could not be reached.
    ///
    /// - Returns: the key ARN KMS resolved the configured key to.
    /// - Throws: `KMSError`.
    @discardableResult
    public func verifyAccess(context: EncryptionContext = [:]) async throws(KMSError) -> String {
        let result = try await client.generateDataKey(keyID: keyID, byteCount: MessageFormat.dataKeyByteCount,
                                                      context: context.pairs)
        return result.keyID
    }

    /// A new data key from KMS `GenerateDataKey` and its encrypted data key.
    public func generateDataKey(
        context: EncryptionContext
    ) async throws(KeyringError) -> (dataKey: SecretBytes, encryptedDataKey: EncryptedDataKey) {
        let result: (keyID: String, plaintext: SecretBytes, ciphertextBlob: [UInt8])
        do throws(KMSError) {
            result = try await client.generateDataKey(keyID: keyID, byteCount: MessageFormat.dataKeyByteCount,
                                                      context: context.pairs)
        } catch {
            throw failure(error)
        }
        return (result.plaintext, try encryptedDataKey(keyARN: result.keyID, ciphertextBlob: result.ciphertextBlob,
                                                       action: "GenerateDataKey"))
    }

    /// Encrypts `dataKey` (made by another keyring) with KMS `Encrypt`.
    public func wrap(dataKey: SecretBytes, context: EncryptionContext) async throws(KeyringError) -> EncryptedDataKey {
        guard dataKey.count == MessageFormat.dataKeyByteCount else {
            throw .invalidDataKey(keyring: keyringDescription, byteCount: dataKey.count)
        }
        let result: (keyID: String, ciphertextBlob: [UInt8])
        do throws(KMSError) {
            result = try await client.encrypt(keyID: keyID, plaintext: dataKey, context: context.pairs)
        } catch {
            throw failure(error)
        }
        return try encryptedDataKey(keyARN: result.keyID, ciphertextBlob: result.ciphertextBlob, action: "Encrypt")
    }

    /// Decrypts the first `aws-kms` encrypted data key this keyring's key can decrypt under `context`.
    ///
    /// Throws `.noMatchingEncryptedDataKey` when no encrypted data key is a candidate (no `aws-kms` key, or none
    /// naming the configured key ARN), otherwise `.providerFailure` with the most telling KMS failure (access
    /// denied, key not found, invalid ciphertext, ...). Failures that do not depend on the encrypted data key
    /// (credentials, an unknown or disabled key, an unreachable endpoint) end the search at once.
    public func unwrap(_ encryptedDataKeys: [EncryptedDataKey], context: EncryptionContext) async throws(KeyringError) -> SecretBytes {
        let candidates = encryptedDataKeys.compactMap { encrypted -> (EncryptedDataKey, String)? in
            guard encrypted.providerID == Self.providerID,
                  let arn = String(validating: encrypted.providerInfo, as: UTF8.self), Self.isKeyARN(arn),
                  !isConfiguredWithKeyARN || arn == keyID else { return nil }
            return (encrypted, arn)
        }
        guard !candidates.isEmpty else {
            throw .noMatchingEncryptedDataKey(keyrings: [keyringDescription], available: encryptedDataKeys.map(\.description))
        }
        var best: (rank: Int, error: KeyringError)?
        for (encrypted, arn) in candidates {
            let rank: Int
            let failure: KeyringError
            do throws(KMSError) {
                let result = try await client.decrypt(keyID: keyID, ciphertextBlob: encrypted.ciphertext,
                                                      context: context.pairs)
                if result.keyID == arn { return result.plaintext }
                rank = 7
                failure = .providerFailure(keyring: keyringDescription, reason:
                    "KMS Decrypt answered with key \(result.keyID), but the encrypted data key names \(arn): "
                    + "the encrypted data key is not what it claims to be")
            } catch {
                rank = Self.rank(error)
                failure = self.failure(error)
                if rank == 0 { throw failure }
            }
            if best == nil || rank < best!.rank { best = (rank, failure) }
        }
        throw best!.error
    }

    // MARK: - Helpers

    private func encryptedDataKey(keyARN: String, ciphertextBlob: [UInt8], action: String) throws(KeyringError) -> EncryptedDataKey {
        guard Self.isKeyARN(keyARN) else {
            throw .providerFailure(keyring: keyringDescription,
                                   reason: "KMS \(action) answered with KeyId \"\(keyARN)\", which is not a key ARN")
        }
        let info = Array(keyARN.utf8)
        guard info.count <= Int(UInt16.max), ciphertextBlob.count <= Int(UInt16.max) else {
            throw .providerFailure(keyring: keyringDescription,
                                   reason: "KMS \(action) answered with a key ARN or ciphertext over 65535 bytes")
        }
        return EncryptedDataKey(providerID: Self.providerID, providerInfo: info, ciphertext: ciphertextBlob)
    }

    private func failure(_ error: KMSError) -> KeyringError {
        .providerFailure(keyring: keyringDescription, reason: error.description)
    }

    /// How much a failure says (lower says more); 0 for failures every other encrypted data key would meet too.
    private static func rank(_ error: KMSError) -> Int {
        switch error {
        case .credentials, .invalidCredentials, .keyNotFound, .keyDisabled, .transport: return 0
        case .accessDenied: return 1
        case .invalidCiphertext: return 2
        case .service, .invalidResponse: return 3
        case .incorrectKey: return 8
        }
    }
}

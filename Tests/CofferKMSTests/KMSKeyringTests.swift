import CofferAWS
import CofferCrypto
@testable import CofferKMS
import Foundation
import Testing

extension KMSAgainstMoto {
    /// The AWS KMS keyring with the message encryptor and decryptor, against moto.
    @Suite("KMS keyring against moto")
    struct KeyringTests {
        static let context: EncryptionContext = ["coffer:v": "1", "coffer:fs": "prod-attachments"]

        static func plaintext(_ count: Int) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        }

        /// The keyring error inside a decryption failure, or nil (recording an issue) for anything else.
        static func keyringError(_ body: () async throws -> [UInt8]) async -> KeyringError? {
            do {
                let data = try await body()
                Issue.record("decryption succeeded with \(data.count) bytes; expected a keyring error")
            } catch let error as EncryptionError {
                if case .keyring(let keyringError) = error { return keyringError }
                Issue.record("expected a keyring error, got \(error)")
            } catch {
                Issue.record("expected EncryptionError, got \(error)")
            }
            return nil
        }

        @Test func encryptedDataKeysAreInTheSDKFormat() async throws {
            let servers = try KMSTestServers.get()
            let key = try await servers.createKey()
            let keyring = try KMSKeyring(keyID: key.id, client: servers.client())
            #expect(keyring.keyringDescription == "aws-kms/\(key.id)")
            #expect(!keyring.isConfiguredWithKeyARN)
            #expect(try KMSKeyring(keyID: key.arn, client: servers.client()).isConfiguredWithKeyARN)

            let (dataKey, encrypted) = try await keyring.generateDataKey(context: Self.context)
            #expect(dataKey.count == 32)
            #expect(encrypted.providerID == "aws-kms")
            #expect(encrypted.providerInfo == Array(key.arn.utf8))
            #expect(encrypted.description == "aws-kms/\(key.arn)")
            #expect(try await keyring.unwrap([encrypted], context: Self.context) == dataKey)

            let wrapped = try await keyring.wrap(dataKey: dataKey, context: Self.context)
            #expect(wrapped.providerID == "aws-kms" && wrapped.providerInfo == Array(key.arn.utf8))
            #expect(try await keyring.unwrap([wrapped], context: Self.context) == dataKey)

            // The KMS encryption context is the message context: another context does not unwrap.
            let error = await #expect(throws: KeyringError.self) {
                try await keyring.unwrap([encrypted], context: ["coffer:v": "2"])
            }
            guard case .providerFailure(let name, let reason) = error else {
                Issue.record("expected providerFailure, got \(String(describing: error))")
                return
            }
            #expect(name == "aws-kms/\(key.id)")
            #expect(reason.contains("InvalidCiphertextException"))
        }

        @Test func keyringRoundTripsThroughMessages() async throws {
            let servers = try KMSTestServers.get()
            let key = try await servers.createKey()
            let keyring = try KMSKeyring(keyID: key.arn, client: servers.client())
            for count in [0, 1, 4096, 10_000] {
                let plaintext = Self.plaintext(count)
                let message = try await MessageEncryptor.encrypt(plaintext, keyrings: [keyring], encryptionContext: Self.context,
                                                                 frameLength: 4096)
                let header = try MessageHeader(parsing: message)
                #expect(header.encryptionContext == Self.context)
                #expect(header.encryptedDataKeys.map(\.description) == ["aws-kms/\(key.arn)"])
                #expect(try await MessageDecryptor.decrypt(message, keyrings: [keyring]) == plaintext)
                #expect(try await MessageDecryptor.decrypt(message, keyrings: [keyring],
                                                           requiredContext: ["coffer:v": "1"]) == plaintext)
            }
        }

        @Test func aliasKeyIDsWorkForGenerateAndUnwrap() async throws {
            let servers = try KMSTestServers.get()
            let key = try await servers.createKey()
            let alias = try await servers.createAlias("keyring", for: key.id)
            let aliasKeyring = try KMSKeyring(keyID: alias, client: servers.client())
            #expect(aliasKeyring.keyringDescription == "aws-kms/\(alias)")
            #expect(!aliasKeyring.isConfiguredWithKeyARN)
            let plaintext = Self.plaintext(5000)
            let message = try await MessageEncryptor.encrypt(plaintext, keyrings: [aliasKeyring], encryptionContext: Self.context)
            // The header names the key ARN, not the alias, so the message does not depend on the alias.
            #expect(try MessageHeader(parsing: message).encryptedDataKeys.map(\.description) == ["aws-kms/\(key.arn)"])
            #expect(try await MessageDecryptor.decrypt(message, keyrings: [aliasKeyring]) == plaintext)
            let arnKeyring = try KMSKeyring(keyID: key.arn, client: servers.client())
            #expect(try await MessageDecryptor.decrypt(message, keyrings: [arnKeyring]) == plaintext)
            let idKeyring = try KMSKeyring(keyID: key.id, client: servers.client())
            #expect(try await MessageDecryptor.decrypt(message, keyrings: [idKeyring]) == plaintext)
            #expect(try await aliasKeyring.verifyAccess(context: Self.context) == key.arn)
        }

        @Test func twoKeyringMessageDecryptsWithEither() async throws {
            let servers = try KMSTestServers.get()
            let key = try await servers.createKey()
            let kms = try KMSKeyring(keyID: key.arn, client: servers.client())
            let local = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32), name: "recovery")
            let plaintext = Self.plaintext(9000)
            // KMS generates the data key and the local key wraps it; then the other way round (KMS Encrypt).
            for keyrings in [[kms, local], [local, kms]] as [[any Keyring]] {
                let message = try await MessageEncryptor.encrypt(plaintext, keyrings: keyrings, encryptionContext: Self.context)
                let names = try MessageHeader(parsing: message).encryptedDataKeys.map(\.description)
                #expect(Set(names) == ["aws-kms/\(key.arn)", "coffer-local/recovery"])
                #expect(try await MessageDecryptor.decrypt(message, keyrings: [kms]) == plaintext)
                #expect(try await MessageDecryptor.decrypt(message, keyrings: [local]) == plaintext)
                #expect(try await MessageDecryptor.decrypt(message, keyrings: [local, kms]) == plaintext)
            }
            // A KMS keyring skips a local key's encrypted data key: with only that, nothing matches.
            let localOnly = try await MessageEncryptor.encrypt(plaintext, keyrings: [local], encryptionContext: Self.context)
            let error = await Self.keyringError { try await MessageDecryptor.decrypt(localOnly, keyrings: [kms]) }
            guard case .noMatchingEncryptedDataKey(let keyrings, let available) = error else {
                Issue.record("expected noMatchingEncryptedDataKey, got \(String(describing: error))")
                return
            }
            #expect(keyrings == ["aws-kms/\(key.arn)"] && available == ["coffer-local/recovery"])
        }

        @Test func aKeyringForAnotherKeyGetsAKeyringErrorNotData() async throws {
            let servers = try KMSTestServers.get()
            let key = try await servers.createKey()
            let other = try await servers.createKey()
            let otherAlias = try await servers.createAlias("other", for: other.id)
            let writer = try KMSKeyring(keyID: key.arn, client: servers.client())
            let message = try await MessageEncryptor.encrypt(Self.plaintext(100), keyrings: [writer],
                                                             encryptionContext: Self.context)

            // A key ARN is compared with the header's provider info: no KMS call, no matching key.
            let byARN = try KMSKeyring(keyID: other.arn, client: servers.client())
            let error = await Self.keyringError { try await MessageDecryptor.decrypt(message, keyrings: [byARN]) }
            guard case .noMatchingEncryptedDataKey(let keyrings, let available) = error else {
                Issue.record("expected noMatchingEncryptedDataKey, got \(String(describing: error))")
                return
            }
            #expect(keyrings == ["aws-kms/\(other.arn)"] && available == ["aws-kms/\(key.arn)"])

            // An alias cannot be compared locally, so KMS is asked and refuses (IncorrectKeyException on AWS,
            // AccessDeniedException on moto).
            let byAlias = try KMSKeyring(keyID: otherAlias, client: servers.client())
            let aliasError = await Self.keyringError { try await MessageDecryptor.decrypt(message, keyrings: [byAlias]) }
            guard case .providerFailure(let name, let reason) = aliasError else {
                Issue.record("expected providerFailure, got \(String(describing: aliasError))")
                return
            }
            #expect(name == "aws-kms/\(otherAlias)")
            #expect(reason.contains("Decrypt"))
        }

        @Test func configurationIsChecked() throws {
            let servers = try KMSTestServers.get()
            #expect(throws: KeyringError.self) { try KMSKeyring(keyID: "", client: servers.client()) }
            #expect(throws: KeyringError.self) { try KMSKeyring(keyID: "alias/a b", client: servers.client()) }
            #expect(KMSKeyring.isKeyARN("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"))
            #expect(KMSKeyring.isKeyARN("arn:aws-cn:kms:cn-north-1:111122223333:key/mrk-1234abcd"))
            #expect(!KMSKeyring.isKeyARN("arn:aws:kms:eu-west-1:111122223333:alias/coffer"))
            #expect(!KMSKeyring.isKeyARN("alias/coffer"))
            #expect(!KMSKeyring.isKeyARN("1234abcd-12ab-34cd-56ef-1234567890ab"))
            #expect(!KMSKeyring.isKeyARN("arn:aws:s3:::bucket/key/x"))
        }
    }
}

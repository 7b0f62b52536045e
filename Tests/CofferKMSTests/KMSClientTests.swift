import CofferAWS
import CofferCrypto
@testable import CofferKMS
import Foundation
import Testing

extension KMSAgainstMoto {
    /// `GenerateDataKey`, `Decrypt` and `Encrypt` against moto, with and without signature checks.
    @Suite("KMS client against moto")
    struct ClientTests {
        static let context = ["coffer:v": "1", "coffer:fs": "prod-attachments"]

        @Test func generateAndDecryptRoundTripWithContext() async throws {
            let servers = try KMSTestServers.get()
            let kms = servers.client()
            let key = try await servers.createKey()
            #expect(KMSKeyring.isKeyARN(key.arn))

            let generated = try await kms.generateDataKey(keyID: key.id, byteCount: 32, context: Self.context)
            #expect(generated.keyID == key.arn)  // a bare key id is answered with the key ARN
            #expect(generated.plaintext.count == 32)
            #expect(!generated.ciphertextBlob.isEmpty)
            let decrypted = try await kms.decrypt(keyID: key.arn, ciphertextBlob: generated.ciphertextBlob,
                                                  context: Self.context)
            #expect(decrypted.keyID == key.arn)
            #expect(decrypted.plaintext == generated.plaintext)

            // Encrypt of a given plaintext comes back through Decrypt.
            let secret = SecretBytes(randomCount: 32)
            let encrypted = try await kms.encrypt(keyID: key.id, plaintext: secret, context: Self.context)
            #expect(encrypted.keyID == key.arn)
            let back = try await kms.decrypt(keyID: key.id, ciphertextBlob: encrypted.ciphertextBlob, context: Self.context)
            #expect(back.plaintext == secret)

            // Other sizes, and no context at all.
            let small = try await kms.generateDataKey(keyID: key.arn, byteCount: 16)
            #expect(small.plaintext.count == 16)
            #expect(try await kms.decrypt(keyID: key.arn, ciphertextBlob: small.ciphertextBlob).plaintext == small.plaintext)
        }

        @Test func decryptWithAnotherContextIsInvalidCiphertext() async throws {
            let servers = try KMSTestServers.get()
            let kms = servers.client()
            let key = try await servers.createKey()
            let generated = try await kms.generateDataKey(keyID: key.arn, context: Self.context)

            var altered = Self.context
            altered["coffer:fs"] = "other"
            for context in [altered, ["coffer:v": "1"], [:]] {
                let error = await #expect(throws: KMSError.self) {
                    try await kms.decrypt(keyID: key.arn, ciphertextBlob: generated.ciphertextBlob, context: context)
                }
                guard case .invalidCiphertext(let action, let keyID, _) = error else {
                    Issue.record("expected invalidCiphertext, got \(String(describing: error))")
                    continue
                }
                #expect(action == "Decrypt" && keyID == key.arn)
                #expect(error?.description.contains("encryption context") == true)
            }
        }

        @Test func aliasesAreResolvedToTheKeyARN() async throws {
            let servers = try KMSTestServers.get()
            let kms = servers.client()
            let key = try await servers.createKey()
            let alias = try await servers.createAlias("client", for: key.id)
            let generated = try await kms.generateDataKey(keyID: alias, context: Self.context)
            #expect(generated.keyID == key.arn)
            let decrypted = try await kms.decrypt(keyID: alias, ciphertextBlob: generated.ciphertextBlob, context: Self.context)
            #expect(decrypted.keyID == key.arn && decrypted.plaintext == generated.plaintext)
            // An alias ARN works too.
            let aliasARN = key.arn.replacingOccurrences(of: "key/\(key.id)", with: alias)
            #expect(try await kms.generateDataKey(keyID: aliasARN).keyID == key.arn)
        }

        @Test func unknownKeysAreKeyNotFound() async throws {
            let servers = try KMSTestServers.get()
            let kms = servers.client()
            for keyID in ["alias/no-such-alias", "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"] {
                let error = await #expect(throws: KMSError.self) { try await kms.generateDataKey(keyID: keyID) }
                guard case .keyNotFound(_, let reported, _) = error else {
                    Issue.record("expected keyNotFound, got \(String(describing: error))")
                    continue
                }
                #expect(reported == keyID)
                #expect(error?.description.contains("--kms-key-id") == true)
            }
        }

        @Test func wrongSecretIsInvalidCredentials() async throws {
            let servers = try KMSTestServers.get()
            var wrong = try #require(servers.users["admin"])
            wrong.secretAccessKey = "not-the-secret-key"
            let error = await #expect(throws: KMSError.self) {
                try await servers.signedClient(credentials: wrong).generateDataKey(keyID: "alias/anything")
            }
            guard case .invalidCredentials(let action, let code, _) = error else {
                Issue.record("expected invalidCredentials, got \(String(describing: error))")
                return
            }
            #expect(action == "GenerateDataKey")
            #expect(code == "SignatureDoesNotMatch")
            #expect(error?.description.contains("AWS_SECRET_ACCESS_KEY") == true)
            #expect(error?.description.contains("not-the-secret-key") == false)

            let unknown = AWSCredentials(accessKeyId: "AKIANOTAREALKEY00000", secretAccessKey: "x")
            let error2 = await #expect(throws: KMSError.self) {
                try await servers.signedClient(credentials: unknown).decrypt(keyID: "alias/anything", ciphertextBlob: [1, 2, 3])
            }
            #expect(error2?.code == "InvalidClientTokenId")
            if case .invalidCredentials = error2 {} else { Issue.record("expected invalidCredentials, got \(String(describing: error2))") }
        }

        @Test func leastPrivilegeReaderDecryptsButCannotGenerate() async throws {
            let servers = try KMSTestServers.get()
            let admin = servers.signedClient(user: "admin")
            let key = try await KMSTestServers.createKey(with: admin)
            let generated = try await admin.generateDataKey(keyID: key.arn, context: Self.context)

            let reader = servers.signedClient(user: "reader")
            let decrypted = try await reader.decrypt(keyID: key.arn, ciphertextBlob: generated.ciphertextBlob, context: Self.context)
            #expect(decrypted.plaintext == generated.plaintext)

            let keyring = try KMSKeyring(keyID: key.arn, client: reader)
            let error = await #expect(throws: KMSError.self) { try await keyring.verifyAccess(context: EncryptionContext(Self.context)) }
            guard case .accessDenied(let action, let keyID, _) = error else {
                Issue.record("expected accessDenied, got \(String(describing: error))")
                return
            }
            #expect(action == "GenerateDataKey" && keyID == key.arn)
            #expect(error?.description.contains("kms:GenerateDataKey on \(key.arn)") == true)
            // The admin passes the same check and learns the key ARN.
            #expect(try await KMSKeyring(keyID: key.id, client: admin).verifyAccess() == key.arn)
        }
    }
}

import CofferCrypto
@testable import CofferKMS
import CofferTestSupport
import Foundation
import Testing

extension KMSAgainstMoto {
    /// Messages exchanged with the Python AWS Encryption SDK (`aws_encryption_sdk`), both ways, over moto KMS.
    @Suite("KMS keyring and the Python AWS Encryption SDK")
    struct InteropTests {
        static let context: EncryptionContext = ["coffer:v": "1", "coffer:fs": "interop"]

        /// `esdk.py decrypt IN OUT KEY_ARN` prints {"context": ..., "keys": ["aws-kms/ARN", "coffer-local", ...]};
        /// `esdk.py encrypt IN OUT KEY_ARN CONTEXT_JSON` writes a 0x0478 message with 4096-byte frames.
        static let script = """
            import json, sys
            import botocore.session
            import aws_encryption_sdk
            from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy

            mode, source, target, key_arn = sys.argv[1:5]
            provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
                key_ids=[key_arn], botocore_session=botocore.session.Session())
            client = aws_encryption_sdk.EncryptionSDKClient(
                commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
            with open(source, "rb") as f:
                data = f.read()
            if mode == "decrypt":
                plaintext, header = client.decrypt(source=data, key_provider=provider)
                with open(target, "wb") as f:
                    f.write(plaintext)
                # Provider info is the key ARN for aws-kms; raw keys' is binary (name, lengths, IV).
                keys = sorted(k.key_provider.provider_id + "/" + k.key_provider.key_info.decode()
                              if k.key_provider.provider_id == "aws-kms" else k.key_provider.provider_id
                              for k in header.encrypted_data_keys)
                print(json.dumps({"context": dict(header.encryption_context), "keys": keys}))
            else:
                ciphertext, _ = client.encrypt(source=data, key_provider=provider,
                                               encryption_context=json.loads(sys.argv[5]),
                                               algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY, frame_length=4096)
                with open(target, "wb") as f:
                    f.write(ciphertext)
            """

        struct Scratch {
            let directory: String
            var script: String { directory + "/esdk.py" }
            func path(_ name: String) -> String { directory + "/" + name }

            init() throws {
                directory = try ProjectPaths.temporaryDirectory("coffer-kms-interop")
                try InteropTests.script.write(toFile: script, atomically: true, encoding: .utf8)
            }

            func remove() { try? FileManager.default.removeItem(atPath: directory) }

            func run(_ arguments: [String], endpoint: String) throws -> Data {
                try SignedMoto.run(["python3", script] + arguments,
                                   environment: KMSTestServers.pythonEnvironment(endpoint: endpoint))
            }
        }

        static func plaintext(_ count: Int) -> [UInt8] {
            var state: UInt32 = 12345
            return (0..<count).map { _ in
                state = state &* 1_664_525 &+ 1_013_904_223
                return UInt8(truncatingIfNeeded: state >> 24)
            }
        }

        @Test func pythonSDKDecryptsWhatTheKeyringWrapped() async throws {
            let servers = try KMSTestServers.get()
            let key = try await servers.createKey()
            let alias = try await servers.createAlias("interop", for: key.id)
            let scratch = try Scratch()
            defer { scratch.remove() }
            let local = try RawAESKeyring(wrappingKey: SecretBytes(randomCount: 32))
            // Written through an alias, and with a second (local) key the Python side does not have.
            let kms = try KMSKeyring(keyID: alias, client: servers.client())
            let plaintext = Self.plaintext(20_000)
            let message = try await MessageEncryptor.encrypt(plaintext, keyrings: [kms, local], encryptionContext: Self.context,
                                                             frameLength: 4096)
            try Data(message).write(to: URL(fileURLWithPath: scratch.path("message.esdk")))

            let output = try scratch.run(["decrypt", scratch.path("message.esdk"), scratch.path("plain.out"), key.arn],
                                         endpoint: servers.plain.endpoint)
            let decrypted = try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch.path("plain.out"))))
            #expect(decrypted == plaintext)
            let report = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
            #expect(report["context"] as? [String: String] == Self.context.pairs)
            #expect(report["keys"] as? [String] == ["aws-kms/\(key.arn)", "coffer-local"])
        }

        @Test func keyringDecryptsWhatThePythonSDKWrote() async throws {
            let servers = try KMSTestServers.get()
            let key = try await servers.createKey()
            let alias = try await servers.createAlias("interop-read", for: key.id)
            let scratch = try Scratch()
            defer { scratch.remove() }
            let plaintext = Self.plaintext(10_000)
            try Data(plaintext).write(to: URL(fileURLWithPath: scratch.path("plain.in")))
            let contextJSON = String(decoding: try JSONSerialization.data(withJSONObject: Self.context.pairs), as: UTF8.self)
            _ = try scratch.run(["encrypt", scratch.path("plain.in"), scratch.path("message.esdk"), key.arn, contextJSON],
                                endpoint: servers.plain.endpoint)
            let message = try [UInt8](Data(contentsOf: URL(fileURLWithPath: scratch.path("message.esdk"))))
            #expect(try MessageHeader(parsing: message).encryptedDataKeys.map(\.description) == ["aws-kms/\(key.arn)"])
            for keyID in [key.arn, alias] {
                let keyring = try KMSKeyring(keyID: keyID, client: servers.client())
                #expect(try await MessageDecryptor.decrypt(message, keyrings: [keyring], requiredContext: Self.context)
                        == plaintext)
            }
        }
    }
}

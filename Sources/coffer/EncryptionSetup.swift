import CofferCrypto
import CofferEncryption
import CofferKMS
import CofferS3
import Foundation
import Logging

/// Builds a mount's encryption configuration from its settings, failing fast on keys that cannot work.
enum EncryptionSetup {
    /// The configuration for `settings`, or nil when it encrypts nothing.
    ///
    /// A key file must load (mode 0600/0400, 32 bytes). A KMS key must answer GenerateDataKey: a missing key,
    /// a disabled key or rejected credentials stop the mount; access denied only warns (a host that only reads
    /// needs only kms:Decrypt). With several keys, the first KMS key generates each data key and every other key
    /// (more KMS keys, the local key) wraps it too, so any of them decrypts every file.
    static func configuration(for settings: MountSettings, client: S3Client,
                              logger: Logger) async throws -> EncryptionConfiguration? {
        guard settings.encrypts else { return nil }
        var keyrings: [any Keyring] = []
        for keyID in settings.kmsKeyIDs {
            keyrings.append(try await kmsKeyring(keyID, settings: settings, client: client, logger: logger))
        }
        if let path = settings.encryptionKeyFile {
            do {
                keyrings.append(try RawAESKeyring(keyFile: path,
                                                  namespace: settings.keyNamespace ?? RawAESKeyring.defaultNamespace,
                                                  name: settings.keyName ?? RawAESKeyring.defaultName))
            } catch {
                throw ValidationFailure(message: "--encryption-key-file: \(error)")
            }
        }
        return EncryptionConfiguration(keyrings: keyrings, context: settings.encryptionContext,
                                       mode: settings.encryptionMode ?? .required)
    }

    /// A KMS keyring in the key's region (from its ARN, else the bucket's), checked with one GenerateDataKey.
    private static func kmsKeyring(_ keyID: String, settings: MountSettings, client: S3Client,
                                   logger: Logger) async throws -> KMSKeyring {
        let environment = ProcessInfo.processInfo.environment
        let region = regionOfARN(keyID) ?? client.configuration.region
        let endpoint = settings.kmsEndpointURL ?? environment["AWS_ENDPOINT_URL_KMS"].flatMap { $0.isEmpty ? nil : $0 }
        let kms = KMSClient(transport: client.configuration.transport, region: region,
                            credentials: client.configuration.credentials, endpoint: endpoint,
                            logger: Logger(label: "coffer.kms"))
        let keyring: KMSKeyring
        do {
            keyring = try KMSKeyring(keyID: keyID, client: kms)
        } catch {
            throw ValidationFailure(message: "--kms-key-id \(keyID): \(error)")
        }
        do {
            let arn = try await keyring.verifyAccess(
                context: EncryptionConfiguration.messageContext(adding: settings.encryptionContext))
            logger.info("KMS key verified", metadata: ["key": "\(keyID)", "arn": "\(arn)"])
        } catch {
            if case .accessDenied = error {
                logger.warning("""
                    this identity may not create data keys with the KMS key: writing files will fail \
                    (reading needs only kms:Decrypt)
                    """, metadata: ["key": "\(keyID)", "error": "\(error)"])
            } else {
                throw ValidationFailure(message: "--kms-key-id \(keyID) (KMS at \(kms.endpoint)): \(error)")
            }
        }
        return keyring
    }

    /// The region of a KMS key or alias ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`), if it is one.
    static func regionOfARN(_ identifier: String) -> String? {
        let parts = identifier.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 6, parts[0] == "arn", parts[2] == "kms", !parts[3].isEmpty else { return nil }
        return String(parts[3])
    }
}

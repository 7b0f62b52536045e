import CofferEncryption
import CofferWriteBack

/// The write-back side of encryption: each staged file becomes a new AWS Encryption SDK message before upload.
struct EncryptingUploadEncoder: UploadEncoder {
    let encryptor: FileEncryptor

    func encode(_ source: String, size: UInt64,
                into destination: String) async throws(WriteBackError) -> (size: UInt64, metadata: [String: String]) {
        do throws(FileEncryptionError) {
            let (hints, encodedSize) = try await encryptor.encrypt(source, size: size, into: destination)
            return (encodedSize, hints.metadata)
        } catch {
            throw .encodingFailed("\(error) (keys: \(encryptor.configuration.keyringSummary))")
        }
    }
}

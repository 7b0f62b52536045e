#if canImport(Glibc)
import Glibc
#endif
import CofferCrypto

/// Encrypts a staged file into a complete AWS Encryption SDK message on local disk, ready to upload.
///
/// Every call makes a new message: a fresh data key from the first keyring (wrapped by every keyring) and a fresh
/// random message id, so no message id ever covers two different plaintexts. The plaintext is read and the message
/// written in chunks of whole frames (4 MiB at the default frame size), so memory use does not grow with the file.
/// The message file holds only ciphertext; the data key lives in memory only and is wiped when the call ends.
public struct FileEncryptor: Sendable {
    /// The settings messages are written with.
    public let configuration: EncryptionConfiguration

    /// Frames encrypted per read and write.
    static let framesPerChunk = 64

    /// An encryptor for `configuration`.
    public init(configuration: EncryptionConfiguration) {
        self.configuration = configuration
    }

    /// Encrypts the first `size` bytes of the file at `source` into a new file at `destination` (created with mode
    /// 0600; it must not exist), and returns the message's hints (plaintext size, header length) and size.
    public func encrypt(_ source: String, size: UInt64,
                        into destination: String) async throws(FileEncryptionError) -> (hints: EncryptionHints, size: UInt64) {
        let encryptor: MessageEncryptor
        let layout: MessageLayout
        do throws(EncryptionError) {
            encryptor = try await MessageEncryptor.make(keyrings: configuration.keyrings,
                                                        encryptionContext: configuration.encryptionContext,
                                                        frameLength: configuration.frameLength)
            layout = try encryptor.layout(plaintextSize: size)
        } catch {
            throw .encryption(error)
        }
        let input = try LocalFile.open(source, O_RDONLY)
        defer { LocalFile.close(input) }
        let output = try LocalFile.open(destination, O_WRONLY | O_CREAT | O_EXCL)
        var finished = false
        defer {
            LocalFile.close(output)
            if !finished { _ = unlink(destination) }
        }
        try LocalFile.write(output, encryptor.header.bytes, at: 0, path: destination)
        var first = 1
        while first <= layout.frameCount {
            let frames = first...min(layout.frameCount, first + Self.framesPerChunk - 1)
            let plaintextRange = layout.plaintextRange(of: frames)
            let ciphertextRange = layout.ciphertextRange(of: frames)
            let plaintext = try LocalFile.read(input, count: plaintextRange.count, at: plaintextRange.lowerBound,
                                               path: source)
            let ciphertext = encryptor.encryptFrames(frames, of: plaintext, layout: layout)
            try LocalFile.write(output, ciphertext, at: ciphertextRange.lowerBound, path: destination)
            first = frames.upperBound + 1
            if first % (Self.framesPerChunk * 16) == 1 { await Task.yield() }
        }
        finished = true
        return (EncryptionHints(plaintextSize: size, headerLength: encryptor.header.length), layout.ciphertextSize)
    }
}

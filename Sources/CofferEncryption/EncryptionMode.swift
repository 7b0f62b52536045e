/// What a mount with a key does with objects that are not encrypted.
public enum EncryptionMode: String, Sendable, CaseIterable {
    /// Every file must be an AWS Encryption SDK message: an unencrypted object reads as an I/O error and is logged,
    /// so that nobody with write access to the bucket can slip plaintext in place of an encrypted file (a downgrade).
    case required
    /// Unencrypted objects are read as they are (files from before encryption was turned on); every file written or
    /// changed from now on is encrypted.
    case migrate
}

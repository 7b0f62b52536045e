/// A data key encrypted by one keyring, as stored in a message header.
///
/// `providerID` names the keyring kind or namespace (`aws-kms`, or a raw keyring's namespace such as `coffer-local`);
/// `providerInfo` is what that keyring needs to find its key (a KMS key ARN, or a raw key's name, tag and IV lengths
/// and IV); `ciphertext` is the wrapped data key.
public struct EncryptedDataKey: Sendable, Hashable, CustomStringConvertible {
    /// The key provider id (UTF-8 in the header).
    public let providerID: String
    /// The key provider information.
    public let providerInfo: [UInt8]
    /// The encrypted data key.
    public let ciphertext: [UInt8]

    /// An encrypted data key. Each field is at most 65 535 bytes (the format's limit).
    public init(providerID: String, providerInfo: [UInt8], ciphertext: [UInt8]) {
        precondition(providerID.utf8.count <= Int(UInt16.max) && providerInfo.count <= Int(UInt16.max)
                     && ciphertext.count <= Int(UInt16.max), "encrypted data key fields are at most 65535 bytes")
        self.providerID = providerID
        self.providerInfo = providerInfo
        self.ciphertext = ciphertext
    }

    /// The provider id and the readable start of the provider info, e.g. `coffer-local/default` or
    /// `aws-kms/arn:aws:kms:…`, for messages that tell the user which keys a header names.
    public var description: String {
        let readable = providerInfo.prefix { $0 >= 0x20 && $0 < 0x7f }
        return readable.isEmpty ? providerID : providerID + "/" + String(decoding: readable, as: UTF8.self)
    }

    /// The serialized size: three `u16` lengths and the fields.
    var serializedCount: Int { 6 + providerID.utf8.count + providerInfo.count + ciphertext.count }
}

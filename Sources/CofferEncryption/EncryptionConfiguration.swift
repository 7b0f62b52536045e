import CofferCrypto

/// How a mount encrypts and decrypts file contents.
public struct EncryptionConfiguration: Sendable {
    /// The encryption context key Coffer always sets, with value `"1"` (the version of Coffer's use of the format).
    public static let versionKey = "coffer:v"

    /// The keyrings: the first generates each file's data key, the others wrap it too (for example an offline
    /// recovery key next to KMS); reading tries them in turn.
    public let keyrings: [any Keyring]
    /// The context written into every new message: `coffer:v=1` plus the configured pairs.
    public let encryptionContext: EncryptionContext
    /// Pairs every message read must hold with equal values (the configured pairs, without `coffer:v`, so that
    /// messages written by other tools with other context still read).
    public let requiredContext: EncryptionContext
    /// What to do with unencrypted objects.
    public let mode: EncryptionMode
    /// Plaintext bytes per frame of new messages.
    public let frameLength: Int
    /// Limits on the headers and frames accepted when reading.
    public let policy: DecryptionPolicy

    /// A configuration.
    /// - Parameters:
    ///   - keyrings: at least one.
    ///   - context: extra encryption context pairs, written into every message and required when reading (for KMS
    ///     key policy conditions and CloudTrail). Never put secrets in them: they are stored in plaintext.
    ///   - mode: `.required` refuses unencrypted objects, `.migrate` reads them as they are.
    ///   - frameLength: 64 KiB unless a test needs another size.
    public init(keyrings: [any Keyring], context: [String: String] = [:], mode: EncryptionMode = .required,
                frameLength: Int = MessageFormat.defaultFrameLength, policy: DecryptionPolicy = .default) {
        precondition(!keyrings.isEmpty, "encryption needs at least one keyring")
        self.keyrings = keyrings
        encryptionContext = Self.messageContext(adding: context)
        requiredContext = EncryptionContext(context)
        self.mode = mode
        self.frameLength = frameLength
        self.policy = policy
    }

    /// The context of every message written with the extra `pairs`: they and `coffer:v=1`.
    public static func messageContext(adding pairs: [String: String]) -> EncryptionContext {
        var all = pairs
        all[versionKey] = "1"
        return EncryptionContext(all)
    }

    /// Who can unwrap what this mount writes, for log lines: `coffer-local/default, aws-kms/alias/x`.
    public var keyringSummary: String {
        keyrings.map(\.keyringDescription).joined(separator: ", ")
    }
}

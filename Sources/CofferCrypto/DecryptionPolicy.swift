/// Limits a reader applies to a message header before trusting anything in it.
///
/// Headers come from storage that others may write, so every size is bounded before memory is spent on it. Messages
/// outside the policy are refused with `EncryptionError` cases that say how to re-encrypt them.
public struct DecryptionPolicy: Sendable, Hashable {
    /// The longest header accepted, in bytes (default 64 KiB; Coffer's own headers are a few hundred bytes).
    public var maximumHeaderLength: Int
    /// The longest frame accepted, in plaintext bytes (default 1 MiB; Coffer writes 64 KiB, the CLI 4 KiB).
    public var maximumFrameLength: Int
    /// The most encrypted data keys accepted in one header (default 8).
    public var maximumEncryptedDataKeys: Int

    /// A policy with the given limits.
    public init(maximumHeaderLength: Int = 65536, maximumFrameLength: Int = 1 << 20, maximumEncryptedDataKeys: Int = 8) {
        precondition(maximumHeaderLength >= MessageFormat.fixedHeaderLength + 6, "the header limit is below any valid header")
        precondition(maximumFrameLength > 0 && maximumFrameLength <= Int(UInt32.max), "the frame length limit must be in 1...2^32-1")
        precondition(maximumEncryptedDataKeys > 0, "at least one encrypted data key must be allowed")
        self.maximumHeaderLength = maximumHeaderLength
        self.maximumFrameLength = maximumFrameLength
        self.maximumEncryptedDataKeys = maximumEncryptedDataKeys
    }

    /// 64 KiB headers, 1 MiB frames, 8 encrypted data keys.
    public static let `default` = DecryptionPolicy()
}

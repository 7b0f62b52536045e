/// The advisory user metadata Coffer stores next to an encrypted object, so that `stat` can show the plaintext size
/// from a HEAD request without reading the object.
///
/// The hints are never trusted for security: the authenticated message header is the only authority. A hinted size
/// that disagrees with the size the header and the object's length give is reported as corruption.
public struct EncryptionHints: Sendable, Equatable {
    /// `x-amz-meta-coffer-enc`: the format, always `esdk2-0478` (ESDK message format 2, suite 0x0478).
    public static let formatKey = "coffer-enc"
    /// `x-amz-meta-coffer-size`: the plaintext size in bytes.
    public static let sizeKey = "coffer-size"
    /// `x-amz-meta-coffer-hlen`: the message header's length in bytes.
    public static let headerLengthKey = "coffer-hlen"
    /// The value of `formatKey`.
    public static let format = "esdk2-0478"

    /// The plaintext size.
    public var plaintextSize: UInt64
    /// The header length.
    public var headerLength: Int

    /// Hints from their values.
    public init(plaintextSize: UInt64, headerLength: Int) {
        self.plaintextSize = plaintextSize
        self.headerLength = headerLength
    }

    /// The hints in `metadata` (user metadata, names lower-cased without `x-amz-meta-`), or nil when there are none
    /// or they are malformed.
    public init?(metadata: [String: String]) {
        guard metadata[Self.formatKey] == Self.format, let size = metadata[Self.sizeKey].flatMap({ UInt64($0) }),
              let headerLength = metadata[Self.headerLengthKey].flatMap({ Int($0) }), headerLength > 0
        else { return nil }
        self.init(plaintextSize: size, headerLength: headerLength)
    }

    /// The user metadata that records these hints.
    public var metadata: [String: String] {
        [Self.formatKey: Self.format, Self.sizeKey: String(plaintextSize), Self.headerLengthKey: String(headerLength)]
    }
}

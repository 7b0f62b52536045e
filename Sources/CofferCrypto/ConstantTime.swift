internal import COpenSSL

/// Comparisons whose running time does not reveal where two byte strings differ.
public enum ConstantTime {
    /// Whether `lhs` and `rhs` hold the same bytes, compared with `CRYPTO_memcmp`.
    ///
    /// The time depends only on the lengths (which are not secret): buffers of different lengths are unequal at once.
    public static func isEqual(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard lhs.count > 0 else { return true }
        return CRYPTO_memcmp(lhs.baseAddress, rhs.baseAddress, lhs.count) == 0
    }

    /// Whether `lhs` and `rhs` hold the same bytes, compared with `CRYPTO_memcmp`.
    public static func isEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in isEqual(l, r) } }
    }
}

internal import COpenSSL

/// MD5, only for what S3 requires it: `Content-MD5` on DeleteObjects and comparing single-part ETags.
public enum MD5 {
    /// The 16-byte MD5 digest of `bytes`.
    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        input.withUnsafeBytes { i in
            out.withUnsafeMutableBufferPointer { o in
                _ = EVP_Digest(i.baseAddress, i.count, o.baseAddress, &length, EVP_md5(), nil)
            }
        }
        return out
    }
}

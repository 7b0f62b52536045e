internal import COpenSSL

/// HMAC-SHA256 as used by AWS Signature Version 4.
public enum HMACSHA256 {
    /// The 32-byte HMAC-SHA256 of `message` under `key`.
    public static func authenticationCode(for message: some Sequence<UInt8>, key: some Sequence<UInt8>) -> [UInt8] {
        let keyBytes = Array(key)
        let messageBytes = Array(message)
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        keyBytes.withUnsafeBytes { k in
            messageBytes.withUnsafeBytes { m in
                out.withUnsafeMutableBufferPointer { o in
                    _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count),
                             m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count, o.baseAddress, &length)
                }
            }
        }
        return out
    }

    /// The HMAC-SHA256 of the UTF-8 bytes of `message` under `key`.
    public static func authenticationCode(for message: String, key: some Sequence<UInt8>) -> [UInt8] {
        authenticationCode(for: Array(message.utf8), key: key)
    }
}

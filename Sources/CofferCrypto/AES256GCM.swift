internal import COpenSSL

/// AES-256-GCM with a 12-byte nonce and a 16-byte tag, over one reusable OpenSSL `EVP_CIPHER_CTX`.
///
/// The key schedule is computed once in `init(key:)`; each `seal`/`open` only sets a new nonce, so encrypting many
/// frames with one value is cheap. A value is not thread-safe: use one per thread (it is `~Copyable`, so it cannot be
/// shared by accident). OpenSSL wipes its copy of the key when the value is destroyed.
///
/// Never seal two different messages under the same key and nonce: GCM then leaks its authentication key.
public struct AES256GCM: ~Copyable {
    /// The key length in bytes.
    public static let keyByteCount = 32
    /// The nonce (IV) length in bytes.
    public static let nonceByteCount = 12
    /// The authentication tag length in bytes.
    public static let tagByteCount = 16

    private let context: OpaquePointer

    /// A cipher for `key`, which must be 32 bytes.
    public init(key: SecretBytes) {
        precondition(key.count == AES256GCM.keyByteCount, "AES-256-GCM needs a 32-byte key, not \(key.count) bytes")
        guard let ctx = EVP_CIPHER_CTX_new() else { fatalError("OpenSSL could not allocate a cipher context (out of memory)") }
        let ok = key.withUnsafeBytes { k in
            EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nil, k.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, 1)
        }
        guard ok == 1 else { fatalError("OpenSSL could not initialise AES-256-GCM") }
        context = ctx
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts `plaintext` into `ciphertext` (same length) and writes the 16-byte tag into `tag`.
    ///
    /// `additionalData` is authenticated but not encrypted. `ciphertext` may be the same memory as `plaintext`.
    public mutating func seal(
        _ plaintext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
        authenticating additionalData: UnsafeRawBufferPointer,
        into ciphertext: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer
    ) {
        precondition(ciphertext.count == plaintext.count, "the ciphertext buffer must be as long as the plaintext")
        precondition(tag.count == AES256GCM.tagByteCount, "the tag buffer must be 16 bytes")
        start(nonce: nonce, encrypting: true)
        authenticate(additionalData)
        transform(plaintext, into: ciphertext)
        guard finish(),
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(AES256GCM.tagByteCount), tag.baseAddress) == 1
        else { fatalError("OpenSSL AES-256-GCM encryption failed") }
    }

    /// Decrypts `ciphertext` into `plaintext` (same length) if `tag` authenticates it and `additionalData`.
    ///
    /// On failure `plaintext` is wiped (it never holds unauthenticated bytes when this returns) and
    /// `CryptoError.authenticationFailed` is thrown. `plaintext` may be the same memory as `ciphertext`.
    public mutating func open(
        _ ciphertext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
        authenticating additionalData: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer,
        into plaintext: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        precondition(plaintext.count == ciphertext.count, "the plaintext buffer must be as long as the ciphertext")
        guard tag.count == AES256GCM.tagByteCount else { throw .authenticationFailed }
        start(nonce: nonce, encrypting: false)
        authenticate(additionalData)
        transform(ciphertext, into: plaintext)
        // EVP_CIPHER_CTX_ctrl takes a non-const pointer: hand it a copy of the tag.
        let tagSet = withUnsafeTemporaryAllocation(byteCount: AES256GCM.tagByteCount, alignment: 16) { copy in
            copy.copyMemory(from: tag)
            return EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(AES256GCM.tagByteCount), copy.baseAddress) == 1
        }
        guard tagSet, finish() else {
            OPENSSL_cleanse(plaintext.baseAddress, plaintext.count)
            throw .authenticationFailed
        }
    }

    /// Encrypts `plaintext` and returns the ciphertext and the 16-byte tag.
    public mutating func seal(
        _ plaintext: [UInt8], nonce: [UInt8], authenticating additionalData: [UInt8] = []
    ) -> (ciphertext: [UInt8], tag: [UInt8]) {
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        var tag = [UInt8](repeating: 0, count: AES256GCM.tagByteCount)
        plaintext.withUnsafeBytes { p in
            nonce.withUnsafeBytes { n in
                additionalData.withUnsafeBytes { a in
                    ciphertext.withUnsafeMutableBytes { c in
                        tag.withUnsafeMutableBytes { t in seal(p, nonce: n, authenticating: a, into: c, tag: t) }
                    }
                }
            }
        }
        return (ciphertext, tag)
    }

    /// Decrypts `ciphertext` if `tag` authenticates it and `additionalData`; throws `.authenticationFailed` otherwise.
    public mutating func open(
        _ ciphertext: [UInt8], nonce: [UInt8], tag: [UInt8], authenticating additionalData: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        try ciphertext.withBytes { (c) throws(CryptoError) in
            try nonce.withBytes { (n) throws(CryptoError) in
                try additionalData.withBytes { (a) throws(CryptoError) in
                    try tag.withBytes { (t) throws(CryptoError) in
                        try plaintext.withMutableBytes { (p) throws(CryptoError) in
                            try open(c, nonce: n, authenticating: a, tag: t, into: p)
                        }
                    }
                }
            }
        }
        return plaintext
    }

    // MARK: - Steps

    private func start(nonce: UnsafeRawBufferPointer, encrypting: Bool) {
        precondition(nonce.count == AES256GCM.nonceByteCount, "AES-256-GCM needs a 12-byte nonce, not \(nonce.count) bytes")
        // Cipher and key nil: keep the key schedule, set only the nonce and the direction.
        guard EVP_CipherInit_ex(context, nil, nil, nil, nonce.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                encrypting ? 1 : 0) == 1
        else { fatalError("OpenSSL could not set the AES-256-GCM nonce") }
    }

    /// `EVP_CipherFinal_ex`, which for GCM writes no bytes and, when decrypting, checks the tag.
    private func finish() -> Bool {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 16) { scratch in
            var length: Int32 = 0
            return EVP_CipherFinal_ex(context, scratch.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) > 0
                && length == 0
        }
    }

    private func authenticate(_ additionalData: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < additionalData.count {
            let chunk = Swift.min(additionalData.count - offset, AES256GCM.maximumChunk)
            var length: Int32 = 0
            guard EVP_CipherUpdate(context, nil, &length,
                                   additionalData.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self),
                                   Int32(chunk)) == 1
            else { fatalError("OpenSSL AES-256-GCM rejected the additional data") }
            offset += chunk
        }
    }

    private func transform(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < input.count {
            let chunk = Swift.min(input.count - offset, AES256GCM.maximumChunk)
            var length: Int32 = 0
            guard EVP_CipherUpdate(context, output.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self),
                                   &length, input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self),
                                   Int32(chunk)) == 1, Int(length) == chunk
            else { fatalError("OpenSSL AES-256-GCM update failed") }
            offset += chunk
        }
    }

    /// `EVP_CipherUpdate` takes an `int` length: feed it at most 1 GiB at a time.
    private static let maximumChunk = 1 << 30
}

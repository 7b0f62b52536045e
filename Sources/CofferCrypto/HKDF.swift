internal import COpenSSL

/// HKDF (RFC 5869, extract then expand) over OpenSSL's `EVP_PKEY_HKDF`.
public enum HKDF {
    /// The hash function HKDF is built on.
    public enum Digest: Sendable {
        /// SHA-256 (32-byte blocks of output).
        case sha256
        /// SHA-512, as the ESDK's committing suites use it.
        case sha512

        fileprivate var openSSLName: StaticString {
            switch self {
            case .sha256: return "SHA256"
            case .sha512: return "SHA512"
            }
        }

        fileprivate var outputByteCount: Int {
            switch self {
            case .sha256: return 32
            case .sha512: return 64
            }
        }
    }

    /// `HKDF-Expand(HKDF-Extract(salt, inputKeyMaterial), info, outputByteCount)` with `digest`.
    ///
    /// - Precondition: `0 < outputByteCount ≤ 255 × the digest's size` (RFC 5869's limit).
    public static func deriveKey(
        from inputKeyMaterial: SecretBytes, salt: some Collection<UInt8>, info: some Collection<UInt8>,
        outputByteCount: Int, digest: Digest
    ) -> SecretBytes {
        precondition(outputByteCount > 0 && outputByteCount <= 255 * digest.outputByteCount,
                     "HKDF output length \(outputByteCount) is outside 1...\(255 * digest.outputByteCount)")
        let saltBytes = Array(salt), infoBytes = Array(info)
        return SecretBytes(count: outputByteCount) { out in
            inputKeyMaterial.withUnsafeBytes { ikm in
                saltBytes.withUnsafeBytes { salt in
                    infoBytes.withUnsafeBytes { info in
                        derive(ikm: ikm, salt: salt, info: info, digest: digest, into: out)
                    }
                }
            }
        }
    }

    private static func derive(ikm: UnsafeRawBufferPointer, salt: UnsafeRawBufferPointer, info: UnsafeRawBufferPointer,
                               digest: Digest, into out: UnsafeMutableRawBufferPointer) {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "HKDF", nil) else {
            fatalError("OpenSSL has no HKDF implementation (EVP_PKEY_CTX_new_from_name failed)")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_derive_init(ctx) == 1 else { fatalError("OpenSSL EVP_PKEY_derive_init(HKDF) failed") }

        // OSSL_PARAM keeps the pointers it is given, so every name is a static string and every buffer outlives the call.
        // OpenSSL copies key, salt and info into its context and wipes them when the context is freed.
        let empty: [UInt8] = [0]
        let ok = empty.withUnsafeBytes { placeholder -> Int32 in
            func octets(_ name: StaticString, _ bytes: UnsafeRawBufferPointer) -> OSSL_PARAM {
                // An empty salt or info still needs a non-null pointer.
                let base = bytes.count > 0 ? bytes.baseAddress! : placeholder.baseAddress!
                return OSSL_PARAM_construct_octet_string(cString(name), UnsafeMutableRawPointer(mutating: base), bytes.count)
            }
            let name = digest.openSSLName
            var params = [
                OSSL_PARAM_construct_utf8_string(cString("digest"), UnsafeMutablePointer(mutating: cString(name)),
                                                 name.utf8CodeUnitCount),
                octets("key", ikm),
                octets("salt", salt),
                octets("info", info),
                OSSL_PARAM_construct_end(),
            ]
            return params.withUnsafeMutableBufferPointer { EVP_PKEY_CTX_set_params(ctx, $0.baseAddress) }
        }
        guard ok == 1 else { fatalError("OpenSSL rejected the HKDF parameters (EVP_PKEY_CTX_set_params)") }
        var length = out.count
        guard EVP_PKEY_derive(ctx, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) == 1,
              length == out.count else {
            fatalError("OpenSSL HKDF derivation failed (EVP_PKEY_derive)")
        }
    }

    private static func cString(_ string: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(string.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

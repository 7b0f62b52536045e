import CofferCrypto
import Testing

@Suite("AES-256-GCM, HKDF, constant-time comparison and secret bytes")
struct SymmetricPrimitiveTests {
    @Test func aesGCMKnownAnswer() throws {
        // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 96-bit IV, AAD).
        let key = SecretBytes(copying: Hex.decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")!)
        let plaintext = Hex.decode("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                                   + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")!
        let aad = Hex.decode("feedfacedeadbeeffeedfacedeadbeefabaddad2")!
        let nonce = Hex.decode("cafebabefacedbaddecaf888")!
        var gcm = AES256GCM(key: key)
        let (ciphertext, tag) = gcm.seal(plaintext, nonce: nonce, authenticating: aad)
        #expect(Hex.encode(ciphertext) == "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")
        #expect(Hex.encode(tag) == "76fc6ece0f4e1768cddf8853bb2d551b")
        // The same context opens what it sealed, then seals again with the same result.
        #expect(try gcm.open(ciphertext, nonce: nonce, tag: tag, authenticating: aad) == plaintext)
        #expect(gcm.seal(plaintext, nonce: nonce, authenticating: aad).tag == tag)
    }

    @Test func aesGCMRejectsAnyChange() throws {
        var gcm = AES256GCM(key: SecretBytes(randomCount: 32))
        let nonce = SecureRandom.bytes(12), aad = Array("context".utf8), plaintext = SecureRandom.bytes(100)
        let (ciphertext, tag) = gcm.seal(plaintext, nonce: nonce, authenticating: aad)
        var flipped = ciphertext
        flipped[50] ^= 1
        #expect(throws: CryptoError.authenticationFailed) { try gcm.open(flipped, nonce: nonce, tag: tag, authenticating: aad) }
        var badTag = tag
        badTag[15] ^= 0x80
        #expect(throws: CryptoError.authenticationFailed) { try gcm.open(ciphertext, nonce: nonce, tag: badTag, authenticating: aad) }
        #expect(throws: CryptoError.authenticationFailed) { try gcm.open(ciphertext, nonce: nonce, tag: tag, authenticating: []) }
        #expect(throws: CryptoError.authenticationFailed) {
            try gcm.open(ciphertext, nonce: SecureRandom.bytes(12), tag: tag, authenticating: aad)
        }
        var other = AES256GCM(key: SecretBytes(randomCount: 32))
        #expect(throws: CryptoError.authenticationFailed) {
            try other.open(ciphertext, nonce: nonce, tag: tag, authenticating: aad)
        }
        #expect(try gcm.open(ciphertext, nonce: nonce, tag: tag, authenticating: aad) == plaintext)
    }

    @Test func aesGCMFailureLeavesNoPlaintext() throws {
        var gcm = AES256GCM(key: SecretBytes(randomCount: 32))
        let nonce = SecureRandom.bytes(12), plaintext = [UInt8](repeating: 0x41, count: 64)
        let (ciphertext, tag) = gcm.seal(plaintext, nonce: nonce, authenticating: [])
        var output = [UInt8](repeating: 0xee, count: 64)
        var badTag = tag
        badTag[0] ^= 1
        _ = ciphertext.withUnsafeBytes { c in
            nonce.withUnsafeBytes { n in
                badTag.withUnsafeBytes { t in
                    output.withUnsafeMutableBytes { o in
                        #expect(throws: CryptoError.authenticationFailed) {
                            try gcm.open(c, nonce: n, authenticating: UnsafeRawBufferPointer(start: nil, count: 0), tag: t, into: o)
                        }
                    }
                }
            }
        }
        #expect(output == [UInt8](repeating: 0, count: 64))
    }

    @Test func hkdfKnownAnswers() {
        // RFC 5869 test case 1 (SHA-256), and the same inputs with SHA-512 (checked against Python's hmac module).
        let ikm = SecretBytes(copying: [UInt8](repeating: 0x0b, count: 22))
        let salt = Array(0x00...0x0c as ClosedRange<UInt8>), info = Array(0xf0...0xf9 as ClosedRange<UInt8>)
        let sha256 = HKDF.deriveKey(from: ikm, salt: salt, info: info, outputByteCount: 42, digest: .sha256)
        #expect(sha256.withUnsafeBytes { Hex.encode($0) }
                == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        let sha512 = HKDF.deriveKey(from: ikm, salt: salt, info: info, outputByteCount: 42, digest: .sha512)
        #expect(sha512.withUnsafeBytes { Hex.encode($0) }
                == "832390086cda71fb47625bb5ceb168e4c8e26a1a16ed34d9fc7fe92c1481579338da362cb8d9f925d7cb")
        // Empty salt and info are allowed (RFC 5869 test case 3).
        let empty = HKDF.deriveKey(from: ikm, salt: [UInt8](), info: [UInt8](), outputByteCount: 42, digest: .sha256)
        #expect(empty.withUnsafeBytes { Hex.encode($0) }
                == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test func constantTimeComparison() {
        #expect(ConstantTime.isEqual([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.isEqual([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.isEqual([1, 2, 3], [1, 2]))
        #expect(ConstantTime.isEqual([], []))
    }

    @Test func secretBytesNeverShowTheirContents() throws {
        let secret = SecretBytes(copying: Array("hunter2hunter2hunter2hunter2abcd".utf8))
        #expect(secret.count == 32)
        #expect(secret.description == "SecretBytes(32 bytes)")
        #expect(!"\(secret)".contains("hunter"))
        #expect(secret == SecretBytes(copying: Array("hunter2hunter2hunter2hunter2abcd".utf8)))
        #expect(secret != SecretBytes(randomCount: 32))
        #expect(SecretBytes(randomCount: 0).count == 0)
        struct Refused: Error {}
        #expect(throws: Refused.self) { try SecretBytes(count: 8) { _ throws(Refused) in throw Refused() } }
    }
}

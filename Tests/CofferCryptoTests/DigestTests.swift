import CofferCrypto
import Testing

@Suite("Digests, HMAC, hex and random bytes over OpenSSL")
struct DigestTests {
    @Test func sha256KnownAnswers() {
        #expect(Hex.encode(SHA256.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(SHA256.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Hex.encode(SHA256.hash(million)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha256Incremental() {
        var digest = SHA256()
        digest.update(Array("ab".utf8))
        digest.update(Array("c".utf8))
        #expect(digest.finalize() == SHA256.hash("abc"))
    }

    @Test func hmacRFC4231() {
        // RFC 4231 test cases 1 and 2.
        let key1 = [UInt8](repeating: 0x0b, count: 20)
        #expect(Hex.encode(HMACSHA256.authenticationCode(for: "Hi There", key: key1))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(Hex.encode(HMACSHA256.authenticationCode(for: "what do ya want for nothing?", key: Array("Jefe".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // A key longer than the block size is hashed first (test case 6).
        let key6 = [UInt8](repeating: 0xaa, count: 131)
        #expect(Hex.encode(HMACSHA256.authenticationCode(for: "Test Using Larger Than Block-Size Key - Hash Key First", key: key6))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func md5KnownAnswers() {
        #expect(Hex.encode(MD5.hash([UInt8]())) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(Hex.encode(MD5.hash(Array("The quick brown fox jumps over the lazy dog".utf8))) == "9e107d9d372bb6826bd81d3542a419d6")
    }

    @Test func hexRoundTripAndRejection() {
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xfe, 0xff]
        #expect(Hex.encode(bytes) == "00017f80feff")
        #expect(Hex.decode("00017F80FEFF") == bytes)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func randomBytesDiffer() {
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        #expect(a.count == 32)
        #expect(a != b)
        #expect(SecureRandom.bytes(0).isEmpty)
    }
}

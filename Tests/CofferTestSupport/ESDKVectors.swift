import CofferCrypto
import Foundation

/// The AWS Encryption SDK test vectors in `Tests/CofferCryptoTests/Resources/esdk/` (copied from the shared test
/// data) and their manifest, for every test target that reads them.
public enum ESDKVectors {
    /// The vectors' directory, found from the project root so the tests need no bundle and no `../shared`.
    public static let directory = ProjectPaths.resource("CofferCryptoTests", "esdk")

    public struct Manifest: Decodable, Sendable {
        public var frame_length: Int
        public var suite: String
        public var encryption_context: [String: String]
        public var raw_wrapping_key_hex: String
        public var raw_key_namespace: String
        public var raw_key_name: String
        public var vectors: [Vector]
        public var extra_vectors: [Extra]
    }

    public struct Vector: Decodable, Sendable {
        public var file: String
        public var plaintext_length: Int
        public var ciphertext_length: Int
        public var header_length: Int
        public var frames: Int
        public var final_frame_plaintext_length: Int
        public var message_id_hex: String
        public var data_key_hex: String
        public var plaintext_sha256: String
    }

    public struct Extra: Decodable, Sendable {
        public var file: String
        public var expect: String
        public var plaintext_length: Int?
        public var header_length: Int?
        public var frame_length: Int?
        public var second_key_hex: String?
    }

    /// `manifest.json`.
    public static let manifest: Manifest = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    /// The bytes of `file` in the vectors' directory.
    public static func bytes(_ file: String) -> [UInt8] {
        [UInt8](try! Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
    }

    /// The manifest's plaintext: SHA-256("coffer-test-vector" ‖ u32be(i)) for i = 0, 1, … concatenated, cut to `length`.
    public static func plaintext(length: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(length + 32)
        var i: UInt32 = 0
        while out.count < length {
            out += SHA256.hash(Array("coffer-test-vector".utf8) + withUnsafeBytes(of: i.bigEndian) { Array($0) })
            i += 1
        }
        return Array(out.prefix(length))
    }

    /// The encryption context of the vectors.
    public static var context: EncryptionContext { EncryptionContext(manifest.encryption_context) }

    /// `coffer-local/test-key-1` with key 000102…1f.
    public static var keyring1: RawAESKeyring {
        try! RawAESKeyring(wrappingKey: SecretBytes(copying: Hex.decode(manifest.raw_wrapping_key_hex)!),
                           namespace: manifest.raw_key_namespace, name: manifest.raw_key_name)
    }

    /// `coffer-local/test-key-2` with key 202122…3f (the second key of `raw-200000-two-edks.esdk`).
    public static var keyring2: RawAESKeyring {
        let hex = manifest.extra_vectors.first { $0.second_key_hex != nil }!.second_key_hex!
        return try! RawAESKeyring(wrappingKey: SecretBytes(copying: Hex.decode(hex)!),
                                  namespace: manifest.raw_key_namespace, name: "test-key-2")
    }

    /// Every positive vector: the manifest's main list and the extra ones expected to decrypt.
    public static var positiveFiles: [String] {
        manifest.vectors.map(\.file) + manifest.extra_vectors.filter { $0.file.hasPrefix("raw-") }.map(\.file)
    }

    /// The vectors every reader must refuse (`neg-*`).
    public static var negativeFiles: [String] {
        manifest.extra_vectors.filter { $0.file.hasPrefix("neg-") }.map(\.file)
    }

    /// The plaintext length of a positive vector.
    public static func plaintextLength(_ file: String) -> Int {
        manifest.vectors.first { $0.file == file }?.plaintext_length
            ?? manifest.extra_vectors.first { $0.file == file }!.plaintext_length!
    }
}

import CofferCrypto
import Foundation

/// The AWS Encryption SDK test vectors in `Resources/esdk/` (copied from the shared test data) and their manifest.
enum ESDKVectors {
    /// `Resources/esdk/`, found from this file's location so the tests need no bundle and no `../shared`.
    static let directory: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Resources/esdk").path

    struct Manifest: Decodable, Sendable {
        var frame_length: Int
        var suite: String
        var encryption_context: [String: String]
        var raw_wrapping_key_hex: String
        var raw_key_namespace: String
        var raw_key_name: String
        var vectors: [Vector]
        var extra_vectors: [Extra]
    }

    struct Vector: Decodable, Sendable {
        var file: String
        var plaintext_length: Int
        var ciphertext_length: Int
        var header_length: Int
        var frames: Int
        var final_frame_plaintext_length: Int
        var message_id_hex: String
        var data_key_hex: String
        var plaintext_sha256: String
    }

    struct Extra: Decodable, Sendable {
        var file: String
        var expect: String
        var plaintext_length: Int?
        var header_length: Int?
        var frame_length: Int?
        var second_key_hex: String?
    }

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    static func bytes(_ file: String) -> [UInt8] {
        [UInt8](try! Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
    }

    /// The manifest's plaintext: SHA-256("coffer-test-vector" ‖ u32be(i)) for i = 0, 1, … concatenated, cut to `length`.
    static func plaintext(length: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(length + 32)
        var i: UInt32 = 0
        while out.count < length {
            out += SHA256.hash(Array("coffer-test-vector".utf8) + withUnsafeBytes(of: i.bigEndian) { Array($0) })
            i += 1
        }
        return Array(out.prefix(length))
    }

    static var context: EncryptionContext { EncryptionContext(manifest.encryption_context) }

    /// `coffer-local/test-key-1` with key 000102…1f.
    static var keyring1: RawAESKeyring {
        try! RawAESKeyring(wrappingKey: SecretBytes(copying: Hex.decode(manifest.raw_wrapping_key_hex)!),
                           namespace: manifest.raw_key_namespace, name: manifest.raw_key_name)
    }

    /// `coffer-local/test-key-2` with key 202122…3f (the second key of `raw-200000-two-edks.esdk`).
    static var keyring2: RawAESKeyring {
        let hex = manifest.extra_vectors.first { $0.second_key_hex != nil }!.second_key_hex!
        return try! RawAESKeyring(wrappingKey: SecretBytes(copying: Hex.decode(hex)!),
                                  namespace: manifest.raw_key_namespace, name: "test-key-2")
    }

    /// Every positive vector: the manifest's main list and the extra ones expected to decrypt.
    static var positiveFiles: [String] {
        manifest.vectors.map(\.file) + manifest.extra_vectors.filter { $0.file.hasPrefix("raw-") }.map(\.file)
    }

    static var negativeFiles: [String] {
        manifest.extra_vectors.filter { $0.file.hasPrefix("neg-") }.map(\.file)
    }

    /// The plaintext length of a positive vector.
    static func plaintextLength(_ file: String) -> Int {
        manifest.vectors.first { $0.file == file }?.plaintext_length
            ?? manifest.extra_vectors.first { $0.file == file }!.plaintext_length!
    }
}

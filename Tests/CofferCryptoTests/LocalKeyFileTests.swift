import CofferCrypto
import Foundation
import Testing

@Suite("Local key files")
struct LocalKeyFileTests {
    /// A new empty directory, removed by `body`'s end.
    func withDirectory(_ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-keyfile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    @Test func generateWritesAnOwnerOnlyRandomKey() throws {
        try withDirectory { dir in
            let path = dir + "/coffer.key"
            try LocalKeyFile.generate(at: path)
            #expect(try mode(path) == 0o600)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(bytes.count == 32)
            let key = try LocalKeyFile.load(at: path)
            #expect(key == SecretBytes(copying: [UInt8](bytes)))
            // A second key differs, and the first is never overwritten.
            try LocalKeyFile.generate(at: dir + "/second.key")
            #expect(try LocalKeyFile.load(at: dir + "/second.key") != key)
            #expect(throws: KeyFileError.alreadyExists(path: path)) { try LocalKeyFile.generate(at: path) }
            #expect(try LocalKeyFile.load(at: path) == key)
            // Nor is a symlink followed.
            try FileManager.default.createSymbolicLink(atPath: dir + "/link.key", withDestinationPath: dir + "/absent.key")
            #expect(throws: KeyFileError.alreadyExists(path: dir + "/link.key")) { try LocalKeyFile.generate(at: dir + "/link.key") }
            #expect(!FileManager.default.fileExists(atPath: dir + "/absent.key"))
            #expect(throws: KeyFileError.self) { try LocalKeyFile.generate(at: dir + "/no/such/dir.key") }
        }
    }

    @Test("group or other permissions are refused", arguments: [0o644, 0o640, 0o604, 0o660, 0o606, 0o620, 0o602, 0o700 | 0o001])
    func insecurePermissionsAreRefused(permissions: Int) throws {
        try withDirectory { dir in
            let path = dir + "/coffer.key"
            try LocalKeyFile.generate(at: path)
            try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
            #expect(throws: KeyFileError.insecurePermissions(path: path, mode: UInt32(permissions))) {
                try LocalKeyFile.load(at: path)
            }
            #expect(KeyFileError.insecurePermissions(path: path, mode: UInt32(permissions)).description.contains("chmod 600 \(path)"))
        }
    }

    @Test func ownerOnlyModesAreAccepted() throws {
        try withDirectory { dir in
            let path = dir + "/coffer.key"
            try LocalKeyFile.generate(at: path)
            for permissions in [0o400, 0o600, 0o700] {
                try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
                #expect(try LocalKeyFile.load(at: path).count == 32)
            }
        }
    }

    @Test func hexAndBase64KeysAreAccepted() throws {
        try withDirectory { dir in
            let raw = Array(0..<32 as Range<UInt8>)
            let expected = SecretBytes(copying: raw)
            let forms = [
                Hex.encode(raw), Hex.encode(raw) + "\n", Hex.encode(raw).uppercased() + "\r\n",
                Data(raw).base64EncodedString(), Data(raw).base64EncodedString() + "\n",
            ]
            for (index, form) in forms.enumerated() {
                let path = dir + "/key\(index)"
                _ = FileManager.default.createFile(atPath: path, contents: Data(form.utf8), attributes: [.posixPermissions: 0o600])
                #expect(try LocalKeyFile.load(at: path) == expected, "form \(index)")
            }
            let keyring = try RawAESKeyring(keyFile: dir + "/key0", name: "from-file")
            #expect(keyring.keyringDescription == "coffer-local/from-file")
        }
    }

    @Test func otherContentsAreRefused() throws {
        try withDirectory { dir in
            for (index, contents) in [Data(), Data(count: 31), Data(count: 33), Data(String(repeating: "g", count: 64).utf8),
                                      Data(count: 4096), Data(String(repeating: "=", count: 44).utf8)].enumerated() {
                let path = dir + "/bad\(index)"
                _ = FileManager.default.createFile(atPath: path, contents: contents, attributes: [.posixPermissions: 0o600])
                #expect(throws: KeyFileError.self, "contents \(index)") { try LocalKeyFile.load(at: path) }
            }
            #expect(throws: KeyFileError.notARegularFile(path: dir)) { try LocalKeyFile.load(at: dir) }
            #expect(throws: KeyFileError.self) { try LocalKeyFile.load(at: dir + "/missing") }
            let missing = KeyFileError.cannotOpen(path: dir + "/missing", errno: ENOENT).description
            #expect(missing.contains("coffer keygen"))
        }
    }
}

import CofferCrypto
import CofferEncryption
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// `FileEncryptor`: staged files become complete messages on disk.
@Suite("FileEncryptor")
struct FileEncryptorTests {
    /// A temporary directory holding `plain` with `bytes`.
    static func source(_ bytes: [UInt8]) throws -> String {
        let directory = try ProjectPaths.temporaryDirectory("coffer-file-encryptor")
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/plain"))
        return directory
    }

    static func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test(arguments: [0, 1, 1023, 1024, 1025, 64 * 1024 + 1, 200 * 1024 + 77])
    func outputDecryptsWithTheSDKFormatReader(size: Int) async throws {
        let configuration = Fixtures.configuration(frameLength: 1024, context: ["coffer:fs": "bucket/prefix"])
        let plaintext = Fixtures.bytes(size, seed: 5)
        let directory = try Self.source(plaintext)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (hints, messageSize) = try await FileEncryptor(configuration: configuration)
            .encrypt(directory + "/plain", size: UInt64(size), into: directory + "/message")
        let message = try Self.read(directory + "/message")
        #expect(UInt64(message.count) == messageSize)

        let decrypted = try await MessageDecryptor.decrypt(message, keyrings: [Fixtures.keyring()],
                                                           requiredContext: ["coffer:fs": "bucket/prefix", "coffer:v": "1"])
        #expect(decrypted == plaintext)

        let header = try MessageHeader(parsing: message)
        #expect(header.frameLength == 1024)
        #expect(header.encryptionContext == ["coffer:fs": "bucket/prefix", "coffer:v": "1"])
        #expect(header.encryptedDataKeys.map(\.description) == ["coffer-local/test-key-1"])
        #expect(hints == EncryptionHints(plaintextSize: UInt64(size), headerLength: header.length))
        #expect(hints.metadata == ["coffer-enc": "esdk2-0478", "coffer-size": String(size),
                                   "coffer-hlen": String(header.length)])
        let layout = try header.layout(ciphertextSize: messageSize)
        #expect(layout.plaintextSize == UInt64(size))
        #expect(layout.frameCount == size / 1024 + 1, "an exact multiple ends with an empty final frame")

        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/message")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func onlyTheFirstSizeBytesAreEncrypted() async throws {
        let plaintext = Fixtures.bytes(5000)
        let directory = try Self.source(plaintext)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = Fixtures.configuration()
        let (hints, _) = try await FileEncryptor(configuration: configuration)
            .encrypt(directory + "/plain", size: 3000, into: directory + "/message")
        #expect(hints.plaintextSize == 3000)
        let message = try Self.read(directory + "/message")
        #expect(try await MessageDecryptor.decrypt(message, keyrings: configuration.keyrings) == Array(plaintext[0..<3000]))
    }

    @Test func theDefaultFrameLengthIs64KiB() async throws {
        let plaintext = Fixtures.bytes(300_000)
        let directory = try Self.source(plaintext)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = EncryptionConfiguration(keyrings: [Fixtures.keyring()])
        _ = try await FileEncryptor(configuration: configuration)
            .encrypt(directory + "/plain", size: 300_000, into: directory + "/message")
        let message = try Self.read(directory + "/message")
        #expect(try MessageHeader(parsing: message).frameLength == 65536)
        #expect(try await MessageDecryptor.decrypt(message, keyrings: configuration.keyrings) == plaintext)
    }

    @Test func everyEncryptionHasItsOwnMessageIDAndDataKey() async throws {
        let plaintext = Fixtures.bytes(10_000)
        let directory = try Self.source(plaintext)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let encryptor = FileEncryptor(configuration: Fixtures.configuration())
        _ = try await encryptor.encrypt(directory + "/plain", size: 10_000, into: directory + "/one")
        _ = try await encryptor.encrypt(directory + "/plain", size: 10_000, into: directory + "/two")
        let one = try Self.read(directory + "/one"), two = try Self.read(directory + "/two")
        let first = try MessageHeader(parsing: one), second = try MessageHeader(parsing: two)
        #expect(first.messageID != second.messageID)
        #expect(first.messageID.count == 32)
        let keyring = Fixtures.keyring()
        let firstKey = try keyring.unwrap(first.encryptedDataKeys, context: first.encryptionContext)
        let secondKey = try keyring.unwrap(second.encryptedDataKeys, context: second.encryptionContext)
        #expect(firstKey != secondKey)
        #expect(first.encryptedDataKeys != second.encryptedDataKeys)
        #expect(one.count == two.count)
        #expect(one != two)
        // Both decrypt to the same bytes.
        #expect(try await MessageDecryptor.decrypt(one, keyrings: [keyring]) == plaintext)
        #expect(try await MessageDecryptor.decrypt(two, keyrings: [keyring]) == plaintext)
    }

    @Test func everyKeyringWrapsTheDataKey() async throws {
        let plaintext = Fixtures.bytes(2000)
        let directory = try Self.source(plaintext)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recovery = Fixtures.keyring(Array(100..<132), name: "recovery")
        let configuration = Fixtures.configuration(keyrings: [Fixtures.keyring(), recovery])
        _ = try await FileEncryptor(configuration: configuration).encrypt(directory + "/plain", size: 2000,
                                                                          into: directory + "/message")
        let message = try Self.read(directory + "/message")
        #expect(try MessageHeader(parsing: message).encryptedDataKeys.map(\.description)
                == ["coffer-local/test-key-1", "coffer-local/recovery"])
        #expect(try await MessageDecryptor.decrypt(message, keyrings: [recovery]) == plaintext)
    }

    @Test func aMissingSourceIsALocalIOErrorAndLeavesNoDestination() async throws {
        let directory = try ProjectPaths.temporaryDirectory("coffer-file-encryptor")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do throws(FileEncryptionError) {
            _ = try await FileEncryptor(configuration: Fixtures.configuration())
                .encrypt(directory + "/missing", size: 10, into: directory + "/message")
            Issue.record("encrypting a missing file succeeded")
        } catch {
            guard case .localIO(let message) = error else {
                Issue.record("expected .localIO, got \(error)")
                return
            }
            #expect(message.contains(directory + "/missing"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/message"))
    }

    @Test func aSourceShorterThanTheSizeFailsAndTheDestinationIsRemoved() async throws {
        let directory = try Self.source(Fixtures.bytes(5000))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do throws(FileEncryptionError) {
            _ = try await FileEncryptor(configuration: Fixtures.configuration())
                .encrypt(directory + "/plain", size: 100_000, into: directory + "/message")
            Issue.record("encrypting past the end of the file succeeded")
        } catch {
            guard case .localIO = error else {
                Issue.record("expected .localIO, got \(error)")
                return
            }
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/message"))
    }

    @Test func anExistingDestinationIsNeitherOverwrittenNorRemoved() async throws {
        let directory = try Self.source(Fixtures.bytes(100))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory + "/message"))
        do throws(FileEncryptionError) {
            _ = try await FileEncryptor(configuration: Fixtures.configuration())
                .encrypt(directory + "/plain", size: 100, into: directory + "/message")
            Issue.record("encrypting onto an existing file succeeded")
        } catch {
            guard case .localIO = error else {
                Issue.record("expected .localIO, got \(error)")
                return
            }
        }
        #expect(try Self.read(directory + "/message") == [1, 2, 3])
    }

    @Test func aFailingKeyringIsAnEncryptionErrorAndLeavesNoDestination() async throws {
        let directory = try Self.source(Fixtures.bytes(5000))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let failing = InstrumentedKeyring(Fixtures.keyring(), failingWraps: 1)
        let encryptor = FileEncryptor(configuration: Fixtures.configuration(keyrings: [failing]))
        do throws(FileEncryptionError) {
            _ = try await encryptor.encrypt(directory + "/plain", size: 5000, into: directory + "/message")
            Issue.record("encrypting with a failing keyring succeeded")
        } catch {
            guard case .encryption(.keyring(.providerFailure(let keyring, let reason))) = error else {
                Issue.record("expected .encryption(.keyring(.providerFailure)), got \(error)")
                return
            }
            #expect(keyring == "coffer-local/test-key-1")
            #expect(reason.contains("unreachable"))
            #expect(error.description.contains("cannot encrypt"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/message"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["plain"])
        // Once the keyring works again, the same call succeeds.
        _ = try await encryptor.encrypt(directory + "/plain", size: 5000, into: directory + "/message")
        #expect(try await MessageDecryptor.decrypt(Self.read(directory + "/message"), keyrings: [Fixtures.keyring()])
                == Fixtures.bytes(5000))
    }

    @Test func aFailingSecondKeyringFailsTheEncryptionToo() async throws {
        let directory = try Self.source(Fixtures.bytes(100))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let failing = InstrumentedKeyring(Fixtures.keyring(Array(1...32), name: "second"), failingWraps: 1)
        let encryptor = FileEncryptor(configuration: Fixtures.configuration(keyrings: [Fixtures.keyring(), failing]))
        do throws(FileEncryptionError) {
            _ = try await encryptor.encrypt(directory + "/plain", size: 100, into: directory + "/message")
            Issue.record("encrypting with a failing second keyring succeeded")
        } catch {
            guard case .encryption = error else {
                Issue.record("expected .encryption, got \(error)")
                return
            }
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/message"))
    }
}

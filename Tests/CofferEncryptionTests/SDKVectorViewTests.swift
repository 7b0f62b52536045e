import CofferCrypto
import CofferEncryption
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// The AWS Encryption SDK's own messages (the crypto tests' vectors) read through the decrypting view.
@Suite("DecryptingObjectStore on the SDK vectors")
struct SDKVectorViewTests {
    static var positiveFiles: [String] { ESDKVectors.positiveFiles }

    static func view(mode: EncryptionMode = .required) -> (DecryptingObjectStore, InMemoryObjectStore) {
        let store = InMemoryObjectStore()
        return (DecryptingObjectStore(base: store, configuration: EncryptionConfiguration(
            keyrings: [ESDKVectors.keyring1], context: [:], mode: mode)), store)
    }

    @Test func theManifestListsTheVectorsThisSuiteNeeds() {
        #expect(Set(Self.positiveFiles).isSuperset(of: [
            "raw-0.esdk", "raw-1.esdk", "raw-65535.esdk", "raw-65536.esdk", "raw-65537.esdk", "raw-200000.esdk",
            "raw-262144.esdk", "raw-200000-frame4096.esdk", "raw-200000-empty-ec.esdk", "raw-200000-two-edks.esdk",
        ]))
        #expect(ESDKVectors.negativeFiles.count == 12)
    }

    @Test("positive vector reads byte-identical through the view", arguments: positiveFiles)
    func positiveVectorReadsThroughTheView(file: String) async throws {
        let length = ESDKVectors.plaintextLength(file)
        let plaintext = ESDKVectors.plaintext(length: length)
        let message = ESDKVectors.bytes(file)
        let (view, store) = Self.view()
        let etag = try await store.put("vectors/" + file, bytes: message)
        store.resetCounts()

        let info = try await view.head("vectors/" + file)
        #expect(info.size == UInt64(length))
        #expect(store.requestCounts == [.head: 1, .get: 1], "no hints: the header tells the size")

        let whole = try await view.get("vectors/" + file, range: nil, ifMatch: etag)
        #expect(whole.bytes.count == plaintext.count)
        #expect(whole.bytes == plaintext)
        #expect(SHA256.hash(whole.bytes) == SHA256.hash(plaintext))

        var generator = SplitMix64(seed: UInt64(message.count))
        for _ in 0..<(length == 0 ? 0 : 60) {
            let start = Int.random(in: 0..<length, using: &generator)
            let end = min(length, start + Int.random(in: 1...20_000, using: &generator))
            let data = try await view.get("vectors/" + file, range: UInt64(start)..<UInt64(end), ifMatch: etag)
            #expect(data.bytes[...] == plaintext[start..<end], "\(file) bytes \(start)..<\(end)")
        }

        let directory = try ProjectPaths.temporaryDirectory("coffer-enc-vector")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let written = try await view.get("vectors/" + file, range: nil, ifMatch: etag, intoFile: directory + "/out", at: 0)
        #expect(written.count == UInt64(length))
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/out"))) == plaintext)
    }

    @Test func theFrame4096VectorReadsFrameByFrameWithOneGetEach() async throws {
        let file = "raw-200000-frame4096.esdk"
        let message = ESDKVectors.bytes(file)
        let plaintext = ESDKVectors.plaintext(length: 200_000)
        let header = try MessageHeader(parsing: message)
        #expect(header.frameLength == 4096)
        let layout = try header.layout(ciphertextSize: UInt64(message.count))
        let (view, store) = Self.view()
        let etag = try await store.put("f4096", body: .bytes(message), options: PutOptions(
            metadata: EncryptionHints(plaintextSize: 200_000, headerLength: header.length).metadata))
        #expect(try await view.head("f4096").size == 200_000)
        _ = try await view.get("f4096", range: 0..<1, ifMatch: etag)
        store.resetCounts()
        for frame in layout.allFrames.reversed() where layout.ciphertextRange(of: frame...frame).lowerBound >= 4096 {
            let range = layout.plaintextRange(of: frame...frame)
            guard !range.isEmpty else { continue }
            let data = try await view.get("f4096", range: range, ifMatch: etag)
            #expect(data.bytes[...] == plaintext[Int(range.lowerBound)..<Int(range.upperBound)], "frame \(frame)")
            #expect(store.requestLog.last?.range == layout.ciphertextRange(of: frame...frame), "frame \(frame)")
        }
        #expect(store.requestCount(.get) == store.requestLog.count)
    }

    @Test func theTwoKeyVectorReadsWithTheSecondKeyAlone() async throws {
        let message = ESDKVectors.bytes("raw-200000-two-edks.esdk")
        let second = Fixtures.keyring(Array(32..<64), name: "test-key-2")
        let store = InMemoryObjectStore()
        let view = DecryptingObjectStore(base: store, configuration: EncryptionConfiguration(keyrings: [second]))
        try await store.put("two", bytes: message)
        #expect(try await view.get("two").bytes == ESDKVectors.plaintext(length: 200_000))
    }

    @Test("negative vector never reads as data", arguments: ESDKVectors.negativeFiles)
    func negativeVectorIsUnreadable(file: String) async throws {
        let (view, store) = Self.view()
        let etag = try await store.put("neg", bytes: ESDKVectors.bytes(file))
        let failure = await storeError { _ = try await view.get("neg", range: nil, ifMatch: etag) }
        #expect(unreadableMessage(failure) != nil, "\(file): \(String(describing: failure))")
        let directory = try ProjectPaths.temporaryDirectory("coffer-enc-neg")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let intoFile = await storeError {
            _ = try await view.get("neg", range: nil, ifMatch: etag, intoFile: directory + "/out", at: 0)
        }
        #expect(unreadableMessage(intoFile) != nil, "\(file): \(String(describing: intoFile))")
    }

    @Test func theNegativePlaintextVectorReadsInMigrateMode() async throws {
        let bytes = ESDKVectors.bytes("neg-plaintext-object.esdk")
        let (view, store) = Self.view(mode: .migrate)
        try await store.put("plain", bytes: bytes)
        #expect(try await view.get("plain").bytes == bytes)
        #expect(try await view.head("plain").size == UInt64(bytes.count))
    }
}

import CofferCrypto
import CofferEncryption
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// Objects that must not read as plaintext: altered, cut, mislabelled, unencrypted, under other keys or formats.
@Suite("DecryptingObjectStore refusals")
struct DecryptingTamperingTests {
    static let frameLength = 1024
    static let regularFrameSize = frameLength + MessageFormat.regularFrameOverhead

    /// A message of `size` bytes under small frames, not yet stored.
    static func message(_ size: Int, configuration: EncryptionConfiguration = Fixtures.configuration(frameLength: 1024))
        async throws -> (plaintext: [UInt8], message: [UInt8], header: MessageHeader)
    {
        let plaintext = Fixtures.bytes(size, seed: 42)
        let message = try await Fixtures.message(plaintext, configuration)
        return (plaintext, message, try MessageHeader(parsing: message))
    }

    /// The plaintext range of frame `k` (1-based) of a message with 1 KiB frames.
    static func frameRange(_ k: Int) -> Range<UInt64> {
        UInt64((k - 1) * frameLength)..<UInt64(k * frameLength)
    }

    @Test(arguments: [2, 9])
    func aFlippedByteInOneFrameFailsReadsOfThatFrameOnly(frame k: Int) async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(frameLength: Self.frameLength))
        let (plaintext, message, header) = try await Self.message(12 * 1024 + 100)
        var tampered = message
        tampered[header.length + (k - 1) * Self.regularFrameSize + 40] ^= 0x01
        let etag = try await store.put("t", body: .bytes(tampered), options: PutOptions(
            metadata: try Fixtures.hints(of: message, plaintextSize: plaintext.count).metadata))
        #expect(try await view.head("t").size == UInt64(plaintext.count))

        let inside = Self.frameRange(k)
        let failure = await storeError { _ = try await view.get("t", range: inside, ifMatch: etag) }
        #expect(unreadableMessage(failure)?.contains("frame \(k) failed authentication") == true, "\(String(describing: failure))")
        let across = (inside.lowerBound - 100)..<(inside.upperBound + 100)
        #expect(unreadableMessage(await storeError { _ = try await view.get("t", range: across, ifMatch: etag) }) != nil)
        #expect(unreadableMessage(await storeError { _ = try await view.get("t", range: nil, ifMatch: etag) }) != nil)
        #expect(unreadableMessage(await storeError { _ = try await view.get("t") }) != nil)
        // Every other frame still reads.
        for other in 1...13 where other != k {
            let range = Self.frameRange(other).clamped(to: 0..<UInt64(plaintext.count))
            let data = try await view.get("t", range: range, ifMatch: etag)
            #expect(data.bytes[...] == plaintext[Int(range.lowerBound)..<Int(range.upperBound)], "frame \(other)")
        }
        // And the failing frame keeps failing: nothing was cached from it.
        #expect(unreadableMessage(await storeError { _ = try await view.get("t", range: inside, ifMatch: etag) }) != nil)
    }

    @Test func swappedFramesFail() async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(frameLength: Self.frameLength))
        let (plaintext, message, header) = try await Self.message(8 * 1024 + 5)
        var swapped = message
        let third = header.length + 2 * Self.regularFrameSize
        let fourth = third + Self.regularFrameSize
        swapped.replaceSubrange(third..<fourth, with: message[fourth..<(fourth + Self.regularFrameSize)])
        swapped.replaceSubrange(fourth..<(fourth + Self.regularFrameSize), with: message[third..<fourth])
        let etag = try await store.put("s", bytes: swapped)
        #expect(unreadableMessage(await storeError { _ = try await view.get("s", range: Self.frameRange(3), ifMatch: etag) }) != nil)
        #expect(unreadableMessage(await storeError { _ = try await view.get("s", range: Self.frameRange(4), ifMatch: etag) }) != nil)
        #expect(try await view.get("s", range: Self.frameRange(5), ifMatch: etag).bytes[...] == plaintext[4096..<5120])
    }

    @Test func truncationAtAFrameBoundaryFailsReadsOfTheEnd() async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(frameLength: Self.frameLength))
        let (plaintext, message, header) = try await Self.message(10 * 1024 + 500)
        let cut = Array(message.prefix(header.length + 6 * Self.regularFrameSize))
        // The cut size is that of a shorter message whose final frame would be frame 6.
        let shorter = try header.layout(ciphertextSize: UInt64(cut.count))
        #expect(shorter.frameCount == 6)
        let etag = try await store.put("cut", bytes: cut)
        let size = try await view.head("cut").size
        #expect(size == shorter.plaintextSize)

        let end = await storeError { _ = try await view.get("cut", range: (size - 1)..<size, ifMatch: etag) }
        #expect(unreadableMessage(end)?.contains("not marked final") == true, "\(String(describing: end))")
        #expect(unreadableMessage(await storeError { _ = try await view.get("cut") }) != nil)
        // The frames before the cut still read.
        let early = try await view.get("cut", range: 0..<5120, ifMatch: etag)
        #expect(early.bytes[...] == plaintext[0..<5120])

        // With the hints of the original object, the mismatch is caught at the first read, whatever it reads.
        let hinted = try await store.put("cut-hinted", body: .bytes(cut), options: PutOptions(
            metadata: try Fixtures.hints(of: message, plaintextSize: plaintext.count).metadata))
        #expect(try await view.head("cut-hinted").size == UInt64(plaintext.count), "HEAD trusts the hints for the size")
        let mismatch = await storeError { _ = try await view.get("cut-hinted", range: 0..<10, ifMatch: hinted) }
        #expect(unreadableMessage(mismatch)?.contains("truncated") == true, "\(String(describing: mismatch))")
    }

    @Test func bytesAppendedAfterTheFinalFrameFail() async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(frameLength: Self.frameLength))
        let (_, message, header) = try await Self.message(3 * 1024 + 10)
        let start = header.length + Self.regularFrameSize
        let extended = message + message[start..<(start + Self.regularFrameSize)]
        try await store.put("longer", bytes: extended)
        #expect(unreadableMessage(await storeError { _ = try await view.get("longer") }) != nil)
        try await store.put("one-more-byte", bytes: message + [0])
        #expect(unreadableMessage(await storeError { _ = try await view.get("one-more-byte") }) != nil)
    }

    @Test func hintsThatDisagreeWithTheHeaderAreCorruption() async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(frameLength: Self.frameLength))
        let (plaintext, message, header) = try await Self.message(5000)
        let wrong: [(String, EncryptionHints)] = [
            ("size+1", EncryptionHints(plaintextSize: UInt64(plaintext.count + 1), headerLength: header.length)),
            ("size-1", EncryptionHints(plaintextSize: UInt64(plaintext.count - 1), headerLength: header.length)),
            ("hlen+1", EncryptionHints(plaintextSize: UInt64(plaintext.count), headerLength: header.length + 1)),
        ]
        for (name, hints) in wrong {
            let etag = try await store.put(name, body: .bytes(message), options: PutOptions(metadata: hints.metadata))
            #expect(try await view.head(name).size == hints.plaintextSize)
            let failure = await storeError { _ = try await view.get(name, range: 0..<10, ifMatch: etag) }
            #expect(unreadableMessage(failure)?.contains("metadata") == true, "\(name): \(String(describing: failure))")
            #expect(unreadableMessage(await storeError { _ = try await view.get(name, range: nil, ifMatch: etag) }) != nil)
        }
        // Correct hints read.
        let etag = try await store.put("right", body: .bytes(message), options: PutOptions(
            metadata: EncryptionHints(plaintextSize: 5000, headerLength: header.length).metadata))
        _ = try await view.head("right")
        #expect(try await view.get("right", range: nil, ifMatch: etag).bytes == plaintext)
    }

    @Test func anAbsurdHintedHeaderLengthDoesNotMakeTheFirstReadFetchTheObject() async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(frameLength: Self.frameLength))
        let (plaintext, message, _) = try await Self.message(200_000)
        let etag = try await store.put("absurd", body: .bytes(message), options: PutOptions(metadata: [
            EncryptionHints.formatKey: EncryptionHints.format, EncryptionHints.sizeKey: String(plaintext.count),
            EncryptionHints.headerLengthKey: "999999999999",
        ]))
        #expect(try await view.head("absurd").size == 200_000)
        store.resetCounts()
        let failure = await storeError { _ = try await view.get("absurd", range: 0..<10, ifMatch: etag) }
        #expect(unreadableMessage(failure) != nil)
        let probe = try #require(store.requestLog.first?.range)
        #expect(probe.upperBound <= UInt64(DecryptionPolicy.default.maximumHeaderLength + Self.frameLength + 32),
                "the first read (header and first frame) is bounded by the policy, whatever the metadata says")
    }

    @Test func plaintextObjectsAreRefusedInRequiredModeAndReadInMigrateMode() async throws {
        let store = InMemoryObjectStore()
        let required = DecryptingObjectStore(base: store, configuration: Fixtures.configuration(mode: .required))
        let migrate = DecryptingObjectStore(base: store, configuration: Fixtures.configuration(mode: .migrate))
        let small = Array("a plaintext file from before encryption was turned on\n".utf8)
        let large = Fixtures.bytes(20_000, seed: 3)
        let smallETag = try await store.put("old/small.txt", bytes: small)
        let largeETag = try await store.put("old/large.bin", bytes: large)
        try await store.put("old/empty", bytes: [])
        let directory = try ProjectPaths.temporaryDirectory("coffer-enc-plain")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        for key in ["old/small.txt", "old/large.bin", "old/empty"] {
            let failure = await storeError { _ = try await required.get(key) }
            #expect(unreadableMessage(failure)?.contains("is not encrypted") == true, "\(key): \(String(describing: failure))")
            #expect(unreadableMessage(await storeError {
                _ = try await required.get(key, range: nil, ifMatch: nil, intoFile: directory + "/x", at: 0)
            }) != nil)
        }
        #expect(unreadableMessage(await storeError { _ = try await required.get("old/large.bin", range: 10_000..<10_010, ifMatch: largeETag) }) != nil)
        #expect(try await required.head("old/large.bin").size == 20_000, "HEAD still answers with the stored size")

        #expect(try await migrate.get("old/small.txt").bytes == small)
        #expect(try await migrate.get("old/small.txt", range: 2..<7, ifMatch: smallETag).bytes[...] == small[2..<7])
        #expect(try await migrate.get("old/large.bin").bytes == large)
        #expect(try await migrate.get("old/large.bin", range: 10_000..<10_010, ifMatch: largeETag).bytes[...] == large[10_000..<10_010])
        #expect(try await migrate.get("old/empty").bytes == [])
        #expect(isInvalidRange(await storeError { _ = try await migrate.get("old/empty", range: 0..<1, ifMatch: nil) }))
        #expect(isInvalidRange(await storeError { _ = try await migrate.get("old/small.txt", range: 1000..<1001, ifMatch: nil) }))
        let count = try await migrate.get("old/large.bin", range: 100..<200, ifMatch: nil, intoFile: directory + "/y", at: 0).count
        #expect(count == 100)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/y"))) == Array(large[100..<200]))
    }

    @Test(arguments: EncryptionMode.allCases)
    func directoryMarkersPassThrough(mode: EncryptionMode) async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(mode: mode))
        _ = try await store.put("photos/", body: .bytes([]), options: PutOptions(metadata: ["mode": "16877"]))
        let body = [UInt8](repeating: 0x2a, count: 500)
        try await store.put("odd/", bytes: body)
        store.resetCounts()
        let marker = try await view.head("photos/")
        #expect(marker.size == 0 && marker.metadata["mode"] == "16877")
        #expect(try await view.head("odd/").size == 500)
        #expect(store.requestCounts == [.head: 2])
        #expect(try await view.get("photos/").bytes == [])
        #expect(try await view.get("odd/").bytes == body)
        #expect(try await view.get("odd/", range: 10..<20, ifMatch: nil).bytes[...] == body[10..<20])
    }

    @Test func aKeyringWithoutTheKeyCannotRead() async throws {
        let store = InMemoryObjectStore()
        let writer = Fixtures.configuration()
        let stored = try await Fixtures.put(Fixtures.bytes(3000), as: "k", in: store, writer)
        let otherKey = [UInt8](repeating: 7, count: 32)
        let sameNameOtherKey = DecryptingObjectStore(base: store, configuration: Fixtures.configuration(
            keyrings: [Fixtures.keyring(otherKey)]))
        let failure = await storeError { _ = try await sameNameOtherKey.get("k", range: nil, ifMatch: stored.etag) }
        #expect(unreadableMessage(failure)?.contains("does not decrypt it") == true, "\(String(describing: failure))")

        let otherName = DecryptingObjectStore(base: store, configuration: Fixtures.configuration(
            keyrings: [Fixtures.keyring(otherKey, name: "another-key")]))
        let missing = await storeError { _ = try await otherName.get("k") }
        #expect(unreadableMessage(missing)?.contains("coffer-local/test-key-1") == true, "\(String(describing: missing))")
        // Every read keeps failing (a failed unwrap is not cached as a success).
        #expect(unreadableMessage(await storeError { _ = try await otherName.get("k", range: 0..<1, ifMatch: stored.etag) }) != nil)
        // A second keyring that holds the key reads it.
        let both = DecryptingObjectStore(base: store, configuration: Fixtures.configuration(
            keyrings: [Fixtures.keyring(otherKey, name: "another-key"), Fixtures.keyring()]))
        #expect(try await both.get("k").bytes == Fixtures.bytes(3000))
    }

    @Test func aRequiredEncryptionContextPairMustBePresent() async throws {
        let store = InMemoryObjectStore()
        let plaintext = Fixtures.bytes(3000)
        try await Fixtures.put(plaintext, as: "none", in: store, Fixtures.configuration())
        try await Fixtures.put(plaintext, as: "other", in: store, Fixtures.configuration(context: ["coffer:fs": "bucket/other"]))
        try await Fixtures.put(plaintext, as: "mine", in: store,
                               Fixtures.configuration(context: ["coffer:fs": "bucket/mine", "team": "a"]))
        let view = DecryptingObjectStore(base: store, configuration: Fixtures.configuration(context: ["coffer:fs": "bucket/mine"]))
        let missing = await storeError { _ = try await view.get("none") }
        #expect(unreadableMessage(missing)?.contains("coffer:fs") == true, "\(String(describing: missing))")
        let different = await storeError { _ = try await view.get("other") }
        #expect(unreadableMessage(different)?.contains("bucket/other") == true, "\(String(describing: different))")
        #expect(try await view.get("mine").bytes == plaintext, "extra pairs are fine")
        // A reader that requires nothing reads all three.
        let lenient = DecryptingObjectStore(base: store, configuration: Fixtures.configuration())
        for key in ["none", "other", "mine"] { #expect(try await lenient.get(key).bytes == plaintext) }
    }

    /// A valid message with bytes changed so that it is a message of another kind Coffer refuses.
    static func refusedVariants() async throws -> [(name: String, bytes: [UInt8], says: String)] {
        let (_, message, header) = try await Self.message(3000)
        var signed = message
        signed[1] = 0x05
        signed[2] = 0x78
        var nonFramed = message
        let contentTypeOffset = header.length - AES256GCM.tagByteCount - MessageFormat.commitmentKeyByteCount - 4 - 1
        #expect(nonFramed[contentTypeOffset] == MessageFormat.framedContentType)
        nonFramed[contentTypeOffset] = 0x01
        let versionOne: [UInt8] = [0x01, 0x80, 0x03, 0x78] + message.dropFirst(4)
        var hugeFrames = message
        let frameLengthOffset = contentTypeOffset + 1
        hugeFrames.replaceSubrange(frameLengthOffset..<(frameLengthOffset + 4), with: [0x10, 0, 0, 0])
        return [
            ("signed", signed, "signed suite"),
            ("non-framed", nonFramed, "non-framed"),
            ("version-1", versionOne, "format version 1"),
            ("huge-frames", hugeFrames, "frame length"),
        ]
    }

    @Test(arguments: EncryptionMode.allCases)
    func messagesOfOtherSuitesAndFormatsAreRefusedWithTheWayToReencrypt(mode: EncryptionMode) async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(mode: mode))
        for variant in try await Self.refusedVariants() {
            let etag = try await store.put(variant.name, bytes: variant.bytes)
            let failure = await storeError { _ = try await view.get(variant.name, range: 0..<10, ifMatch: etag) }
            let message = try #require(unreadableMessage(failure), "\(variant.name): \(String(describing: failure))")
            #expect(message.contains(variant.says), "\(variant.name): \(message)")
            if variant.name != "huge-frames" {
                #expect(message.contains("aws-encryption-cli --encrypt --algorithm AES_256_GCM_HKDF_SHA512_COMMIT_KEY"),
                        "\(variant.name): \(message)")
            }
            #expect(try await view.head(variant.name).size == UInt64(variant.bytes.count))
        }
    }

    @Test func aReplacedObjectFailsReadsOfTheOldVersion() async throws {
        let configuration = Fixtures.configuration(frameLength: Self.frameLength)
        let (view, store) = Fixtures.view(configuration)
        let first = Fixtures.bytes(50_000, seed: 1)
        let second = Fixtures.bytes(50_000, seed: 2)
        let old = try await Fixtures.put(first, as: "doc", in: store, configuration)
        #expect(try await view.get("doc", range: 20_000..<20_100, ifMatch: old.etag).bytes[...] == first[20_000..<20_100])

        let new = try await Fixtures.put(second, as: "doc", in: store, configuration)
        #expect(new.etag != old.etag)
        // The old version is known here, but its frames are fetched with If-Match: S3 refuses.
        let stale = await storeError { _ = try await view.get("doc", range: 30_000..<30_100, ifMatch: old.etag) }
        #expect(isPreconditionFailed(stale), "\(String(describing: stale))")
        // A view that never saw the old version refuses it at the header read.
        let fresh = DecryptingObjectStore(base: store, configuration: configuration)
        #expect(isPreconditionFailed(await storeError { _ = try await fresh.get("doc", range: 0..<10, ifMatch: old.etag) }))
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-enc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: target) }
        #expect(isPreconditionFailed(await storeError {
            _ = try await fresh.get("doc", range: nil, ifMatch: old.etag, intoFile: target, at: 0)
        }))
        #expect(!FileManager.default.fileExists(atPath: target))
        // The new version reads.
        #expect(try await view.get("doc", range: 30_000..<30_100, ifMatch: new.etag).bytes[...] == second[30_000..<30_100])
        #expect(try await view.get("doc").bytes == second)
        #expect(try await fresh.get("doc", range: nil, ifMatch: new.etag).bytes == second)
    }

    @Test func aMissingObjectIsNotFound() async throws {
        let (view, _) = Fixtures.view()
        let failure = await storeError { _ = try await view.get("nothing") }
        guard case .notFound = failure else {
            Issue.record("expected .notFound, got \(String(describing: failure))")
            return
        }
        let head = await storeError { _ = try await view.head("nothing") }
        guard case .notFound = head else {
            Issue.record("expected .notFound, got \(String(describing: head))")
            return
        }
    }

    @Test func aHeaderLongerThanTheFirstReadIsReadWithoutHints() async throws {
        // A large encryption context (other tools may write one) pushes the header past the first 4 KiB read.
        let configuration = Fixtures.configuration(frameLength: Self.frameLength,
                                                   context: ["note": String(repeating: "x", count: 6000)])
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(30_000)
        let stored = try await Fixtures.put(plaintext, as: "big-header", in: store, configuration, hints: false)
        #expect(stored.header.length > DecryptingObjectStore.probeLength)
        store.resetCounts()
        #expect(try await view.head("big-header").size == 30_000)
        #expect(store.requestCount(.get) <= 2)
        #expect(try await view.get("big-header").bytes == plaintext)
        #expect(try await view.get("big-header", range: 25_000..<25_010, ifMatch: stored.etag).bytes[...] == plaintext[25_000..<25_010])
        // With hints, the first read takes the whole header at once.
        let hinted = try await Fixtures.put(plaintext, as: "big-header-hinted", in: store, configuration)
        let hintedView = DecryptingObjectStore(base: store, configuration: configuration)
        _ = try await hintedView.head("big-header-hinted")
        store.resetCounts()
        #expect(try await hintedView.get("big-header-hinted", range: 0..<10, ifMatch: hinted.etag).bytes[...] == plaintext[0..<10])
        #expect(store.requestLog.map(\.range) == [0..<hinted.layout.ciphertextRange(of: 1...1).upperBound],
                "one GET of the whole hinted header and the frame")
    }
}

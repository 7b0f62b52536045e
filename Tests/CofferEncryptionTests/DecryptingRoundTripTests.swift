import CofferCrypto
import CofferEncryption
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// Messages stored in the in-memory store read back through `DecryptingObjectStore` as their plaintext: whole,
/// by random ranges, into files, with S3's range semantics.
@Suite("DecryptingObjectStore round trips")
struct DecryptingRoundTripTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var size: Int
        var frameLength: Int
        var testDescription: String { "\(size) bytes in frames of \(frameLength)" }
    }

    static let cases: [Case] = [0, 1, 1023, 1024, 1025, 2048, 37 * 1024 + 333].map { Case(size: $0, frameLength: 1024) }
        + [Case(size: 3 * 65536 + 1000, frameLength: MessageFormat.defaultFrameLength)]

    @Test(arguments: cases)
    func wholeAndRandomRangesReadAsThePlaintext(_ test: Case) async throws {
        let configuration = Fixtures.configuration(frameLength: test.frameLength)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(test.size)
        let stored = try await Fixtures.put(plaintext, as: "dir/file.bin", in: store, configuration)
        #expect(stored.header.frameLength == test.frameLength)
        #expect(stored.layout.plaintextSize == UInt64(test.size))
        #expect(stored.layout.frameCount == test.size / test.frameLength + 1)
        #expect(MessageHeader.looksLikeMessage(store.peek("dir/file.bin")!.bytes))

        let info = try await view.head("dir/file.bin")
        #expect(info.size == UInt64(test.size))
        #expect(info.etag == stored.etag)

        let whole = try await view.get("dir/file.bin")
        #expect(whole.bytes == plaintext)
        #expect(whole.info.size == UInt64(test.size))
        let withETag = try await view.get("dir/file.bin", range: nil, ifMatch: stored.etag)
        #expect(withETag.bytes == plaintext)

        var generator = SplitMix64(seed: UInt64(test.size) &* 31 &+ 7)
        let size = UInt64(test.size)
        for _ in 0..<(test.size == 0 ? 0 : 150) {
            let start = UInt64.random(in: 0..<size, using: &generator)
            // Lengths up to three frames, sometimes running past the end (S3 cuts them there).
            let length = UInt64.random(in: 1...UInt64(3 * test.frameLength + 10), using: &generator)
            let range = start..<(start + length)
            let data = try await view.get("dir/file.bin", range: range, ifMatch: stored.etag)
            let end = Int(min(range.upperBound, size))
            #expect(data.bytes[...] == plaintext[Int(start)..<end], "bytes \(range)")
            #expect(data.info.size == size)
        }
        // Every frame boundary, from both sides.
        if test.size > 0 {
            for frame in stored.layout.allFrames where stored.layout.plaintextLength(ofFrame: frame) > 0 {
                let range = stored.layout.plaintextRange(of: frame...frame)
                let around = range.lowerBound.saturatingSubtract(1)..<min(size, range.upperBound + 1)
                let data = try await view.get("dir/file.bin", range: around, ifMatch: stored.etag)
                #expect(data.bytes[...] == plaintext[Int(around.lowerBound)..<Int(around.upperBound)], "frame \(frame)")
            }
        }
    }

    @Test(arguments: cases)
    func rangesFollowS3Semantics(_ test: Case) async throws {
        let configuration = Fixtures.configuration(frameLength: test.frameLength)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(test.size)
        let stored = try await Fixtures.put(plaintext, as: "f", in: store, configuration)
        let size = UInt64(test.size)
        for etag in [nil, stored.etag] {
            // A range that starts at or after the end is refused, as S3 answers 416; so is every range of an empty file.
            #expect(isInvalidRange(await storeError { _ = try await view.get("f", range: size..<(size + 1), ifMatch: etag) }))
            #expect(isInvalidRange(await storeError { _ = try await view.get("f", range: (size + 5)..<(size + 100), ifMatch: etag) }))
            // An empty range is no bytes, wherever it is.
            for point in [0, size / 2, size, size + 10] {
                let empty = try await view.get("f", range: point..<point, ifMatch: etag)
                #expect(empty.bytes.isEmpty)
                #expect(empty.info.size == size)
            }
            // A range running past the end is cut there.
            if size > 0 {
                let tail = try await view.get("f", range: (size - 1)..<(size + 1000), ifMatch: etag)
                #expect(tail.bytes == [plaintext[test.size - 1]])
            }
        }
    }

    @Test(arguments: cases)
    func readsIntoFilesWriteThePlaintextAtTheOffset(_ test: Case) async throws {
        let configuration = Fixtures.configuration(frameLength: test.frameLength)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(test.size)
        let stored = try await Fixtures.put(plaintext, as: "f", in: store, configuration)
        let directory = try ProjectPaths.temporaryDirectory("coffer-enc-into")
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let whole = directory + "/whole"
        let (info, count) = try await view.get("f", range: nil, ifMatch: stored.etag, intoFile: whole, at: 7)
        #expect(count == UInt64(test.size))
        #expect(info.size == UInt64(test.size))
        #expect(info.etag == stored.etag)
        // Nothing is written for an empty file (as the store underneath does): the file is created, not extended.
        let expectedWhole = test.size == 0 ? [] : [UInt8](repeating: 0, count: 7) + plaintext
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: whole))) == expectedWhole)

        guard test.size > 2 else { return }
        // A range into an existing file: the bytes around it stay.
        let part = directory + "/part"
        let filler = [UInt8](repeating: 0xEE, count: test.size + 20)
        try Data(filler).write(to: URL(fileURLWithPath: part))
        let range = UInt64(1)..<UInt64(test.size - 1)
        let written = try await view.get("f", range: range, ifMatch: nil, intoFile: part, at: 10).count
        #expect(written == UInt64(test.size - 2))
        var expected = filler
        expected.replaceSubrange(10..<(10 + test.size - 2), with: plaintext[1..<(test.size - 1)])
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: part))) == expected)

        #expect(isInvalidRange(await storeError {
            _ = try await view.get("f", range: UInt64(test.size)..<UInt64(test.size + 1), ifMatch: nil,
                                   intoFile: directory + "/none", at: 0)
        }))
    }

    @Test func readsIntoFilesOfMoreThanOneChunkAreComplete() async throws {
        // Past 8 MiB of plaintext, a read into a file is made of several ranged reads.
        let configuration = Fixtures.configuration(frameLength: MessageFormat.defaultFrameLength)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes((8 << 20) + 100_000, seed: 8)
        let stored = try await Fixtures.put(plaintext, as: "large", in: store, configuration)
        let directory = try ProjectPaths.temporaryDirectory("coffer-enc-chunks")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try await view.head("large")
        store.resetCounts()
        let range = UInt64(1000)..<UInt64(plaintext.count - 1000)
        let (info, count) = try await view.get("large", range: range, ifMatch: stored.etag, intoFile: directory + "/out", at: 3)
        #expect(count == UInt64(range.count))
        #expect(info.size == UInt64(plaintext.count))
        let written = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/out")))
        #expect(written.count == 3 + range.count)
        #expect(written[3...] == plaintext[1000..<(plaintext.count - 1000)])
        #expect(store.requestCounts == [.get: 3], "the header, then one GET per 8 MiB chunk")
    }

    @Test func messagesWrittenByFileEncryptorReadBack() async throws {
        let configuration = Fixtures.configuration(frameLength: 1024, context: ["coffer:fs": "bucket/prefix"])
        let (view, store) = Fixtures.view(configuration)
        let directory = try ProjectPaths.temporaryDirectory("coffer-enc-fe")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plaintext = Fixtures.bytes(150 * 1024 + 17, seed: 9)
        try Data(plaintext).write(to: URL(fileURLWithPath: directory + "/plain"))
        let (hints, size) = try await FileEncryptor(configuration: configuration)
            .encrypt(directory + "/plain", size: UInt64(plaintext.count), into: directory + "/message")
        let etag = try await store.put("obj", body: .file(path: directory + "/message", offset: 0, count: size),
                                       options: PutOptions(metadata: hints.metadata))
        #expect(try await view.head("obj").size == UInt64(plaintext.count))
        #expect(try await view.get("obj", range: nil, ifMatch: etag).bytes == plaintext)
        #expect(try await view.get("obj", range: 100_000..<100_100, ifMatch: etag).bytes[...] == plaintext[100_000..<100_100])
    }

    @Test func listingsAndWritesPassThrough() async throws {
        let configuration = Fixtures.configuration()
        let (view, store) = Fixtures.view(configuration)
        let stored = try await Fixtures.put(Fixtures.bytes(5000), as: "a/one", in: store, configuration)
        _ = try await view.put("a/two", body: .bytes([1, 2, 3]), options: PutOptions())
        #expect(store.peek("a/two")?.bytes == [1, 2, 3], "writes are not encrypted by the view")
        let page = try await view.list(ListRequest(prefix: "a/"))
        #expect(page.objects.map(\.key) == ["a/one", "a/two"])
        #expect(page.objects.first?.size == UInt64(stored.message.count), "listings show stored sizes")
        _ = try await view.copy(from: "a/one", to: "a/three", options: CopyOptions(metadata: .copy))
        #expect(store.peek("a/three")?.bytes == stored.message)
        try await view.delete("a/two")
        #expect(store.peek("a/two") == nil)
    }
}

extension UInt64 {
    func saturatingSubtract(_ other: UInt64) -> UInt64 { self >= other ? self - other : 0 }
}

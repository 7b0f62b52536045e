import CofferCrypto
import CofferEncryption
import CofferObjectStore
import CofferTestSupport
import Foundation
import Synchronization
import Testing

/// What reads through `DecryptingObjectStore` cost in S3 requests.
@Suite("DecryptingObjectStore request counts")
struct DecryptingRequestCountTests {
    @Test func headOfAnObjectWithHintsIsOneHeadAndNoGet() async throws {
        let configuration = Fixtures.configuration(frameLength: MessageFormat.defaultFrameLength)
        let (view, store) = Fixtures.view(configuration)
        let stored = try await Fixtures.put(Fixtures.bytes(300_000), as: "big", in: store, configuration)
        store.resetCounts()
        let info = try await view.head("big")
        #expect(info.size == 300_000)
        #expect(info.etag == stored.etag)
        #expect(info.metadata[EncryptionHints.sizeKey] == "300000")
        #expect(store.requestCounts == [.head: 1])
    }

    @Test func aReadInTheMiddleCostsTheHeaderGetAndOneRangedGetThenOneGetPerRead() async throws {
        let configuration = Fixtures.configuration(frameLength: MessageFormat.defaultFrameLength)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(1 << 20 | 5)
        let stored = try await Fixtures.put(plaintext, as: "big", in: store, configuration)
        let layout = stored.layout
        store.resetCounts()

        let first = try await view.get("big", range: 500_000..<504_096, ifMatch: stored.etag)
        #expect(first.bytes[...] == plaintext[500_000..<504_096])
        #expect(store.requestCounts == [.get: 2])
        let log = store.requestLog
        #expect(log.first?.range == 0..<UInt64(DecryptingObjectStore.probeLength), "the header GET")
        let frames = try #require(layout.frames(coveringPlaintext: 500_000..<504_096))
        #expect(frames == 8...8)
        #expect(log.last?.range == layout.ciphertextRange(of: frames), "exactly the frame that holds the bytes")

        store.resetCounts()
        let second = try await view.get("big", range: 900_000..<904_096, ifMatch: stored.etag)
        #expect(second.bytes[...] == plaintext[900_000..<904_096])
        #expect(store.requestCounts == [.get: 1], "the header of this version is cached")
        #expect(store.requestLog.first?.range == layout.ciphertextRange(of: 14...14))

        // A read spanning frames is still one GET, of just those frames.
        store.resetCounts()
        let spanning = try await view.get("big", range: 65_000..<200_000, ifMatch: stored.etag)
        #expect(spanning.bytes[...] == plaintext[65_000..<200_000])
        #expect(store.requestLog.map(\.range) == [layout.ciphertextRange(of: 1...4)])
        // The end includes the final frame.
        store.resetCounts()
        let tail = try await view.get("big", range: UInt64(plaintext.count - 10)..<UInt64(plaintext.count), ifMatch: stored.etag)
        #expect(tail.bytes[...] == plaintext[(plaintext.count - 10)...])
        #expect(store.requestLog.map(\.range) == [layout.ciphertextRange(of: 16...17)])
    }

    @Test func aHeadWithHintsThenAReadCostsTheSameGets() async throws {
        let configuration = Fixtures.configuration(frameLength: 1024)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(100_000)
        let stored = try await Fixtures.put(plaintext, as: "k", in: store, configuration)
        store.resetCounts()
        _ = try await view.head("k")
        let data = try await view.get("k", range: 50_000..<54_096, ifMatch: stored.etag)
        #expect(data.bytes[...] == plaintext[50_000..<54_096])
        #expect(store.requestCounts == [.head: 1, .get: 2])
    }

    @Test(arguments: [10_000, 200_000, (1 << 20) + 5])
    func aFirstReadFromTheStartAfterAHintedHeadIsOneGet(size: Int) async throws {
        let configuration = Fixtures.configuration(frameLength: MessageFormat.defaultFrameLength)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(size)
        let stored = try await Fixtures.put(plaintext, as: "k", in: store, configuration)
        #expect(try await view.head("k").size == UInt64(size))
        store.resetCounts()
        // A block cache's first block, or a whole-file read: header and frames in one GET.
        let wanted = 0..<UInt64(min(size, 1 << 20))
        #expect(try await view.get("k", range: wanted, ifMatch: stored.etag).bytes[...] == plaintext[0..<Int(wanted.upperBound)])
        let frames = try #require(stored.layout.frames(coveringPlaintext: wanted))
        #expect(store.requestLog.map(\.range) == [0..<stored.layout.ciphertextRange(of: frames).upperBound])
        // Later reads of the version fetch only their frames; the header is remembered, not the whole first read.
        store.resetCounts()
        let tail = UInt64(size - 100)..<UInt64(size)
        #expect(try await view.get("k", range: tail, ifMatch: stored.etag).bytes[...] == plaintext[(size - 100)...])
        let tailFrames = try #require(stored.layout.frames(coveringPlaintext: tail))
        #expect(store.requestLog.map(\.range) == [stored.layout.ciphertextRange(of: tailFrames)])
    }

    @Test(arguments: [0, 1, 100, 2000, 3900 - 234])
    func aSmallMessageIsReadWithOneGet(size: Int) async throws {
        let configuration = Fixtures.configuration(frameLength: 1024)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(size)
        let stored = try await Fixtures.put(plaintext, as: "small", in: store, configuration)
        #expect(stored.message.count < DecryptingObjectStore.probeLength)
        store.resetCounts()
        #expect(try await view.get("small", range: nil, ifMatch: stored.etag).bytes == plaintext)
        #expect(store.requestCounts == [.get: 1])
        // Later reads of the version are served from the bytes already read.
        if size > 10 {
            #expect(try await view.get("small", range: 5..<10, ifMatch: stored.etag).bytes[...] == plaintext[5..<10])
        }
        #expect(store.requestCounts == [.get: 1])
    }

    @Test func headOfAMessageWithoutHintsReadsItsHeaderOnce() async throws {
        let configuration = Fixtures.configuration(frameLength: 1024)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(50_000)
        let stored = try await Fixtures.put(plaintext, as: "foreign", in: store, configuration, hints: false)
        store.resetCounts()
        let info = try await view.head("foreign")
        #expect(info.size == 50_000)
        #expect(store.requestCounts == [.head: 1, .get: 1])
        #expect(store.requestLog.last?.range == 0..<4096)
        // The header read for the HEAD serves the reads of the same version.
        store.resetCounts()
        let data = try await view.get("foreign", range: 20_000..<20_010, ifMatch: info.etag)
        #expect(data.bytes[...] == plaintext[20_000..<20_010])
        #expect(store.requestCounts == [.get: 1])
        #expect(store.requestLog.first?.range == stored.layout.ciphertextRange(of: 20...20))
    }

    @Test func headOfATinyObjectReadsNothing() async throws {
        for mode in EncryptionMode.allCases {
            let (view, store) = Fixtures.view(Fixtures.configuration(mode: mode))
            let tiny = Array("short plaintext".utf8)
            try await store.put("tiny", bytes: tiny)
            try await store.put("empty", bytes: [])
            let limit = Int(DecryptingObjectStore.minimumMessageSize)
            try await store.put("just-below", bytes: [UInt8](repeating: 0x41, count: limit - 1))
            store.resetCounts()
            #expect(try await view.head("tiny").size == UInt64(tiny.count))
            #expect(try await view.head("empty").size == 0)
            #expect(try await view.head("just-below").size == UInt64(limit - 1))
            #expect(store.requestCounts == [.head: 3], "no object this small can be a message")
        }
    }

    @Test func headOfALargerPlaintextObjectReadsItsFirstBytesAndReportsItsSize() async throws {
        let (view, store) = Fixtures.view(Fixtures.configuration(mode: .migrate))
        let plain = Fixtures.bytes(10_000)
        try await store.put("legacy", bytes: plain)
        store.resetCounts()
        #expect(try await view.head("legacy").size == 10_000)
        #expect(store.requestCounts == [.head: 1, .get: 1])
    }

    @Test func concurrentReadsOfOneVersionShareOneHeaderGetAndOneUnwrap() async throws {
        let counting = InstrumentedKeyring(Fixtures.keyring())
        let configuration = Fixtures.configuration(frameLength: 1024, keyrings: [counting])
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(200 * 1024)
        let stored = try await Fixtures.put(plaintext, as: "shared", in: store, configuration)
        store.resetCounts()
        let readers = 24
        // Every range lies past the header read, so each read makes exactly one ranged GET of its own.
        let ranges: [Range<UInt64>] = (0..<readers).map { (index: Int) -> Range<UInt64> in
            let start = UInt64(10_000 + index * 7_000)
            return start..<(start + 3_000)
        }
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for (index, range) in ranges.enumerated() {
                group.addTask { (index, try await view.get("shared", range: range, ifMatch: stored.etag).bytes) }
            }
            var results = [[UInt8]](repeating: [], count: readers)
            for try await (index, bytes) in group { results[index] = bytes }
            return results
        }
        for (index, range) in ranges.enumerated() {
            #expect(results[index][...] == plaintext[Int(range.lowerBound)..<Int(range.upperBound)], "reader \(index)")
        }
        #expect(counting.unwraps == 1)
        #expect(store.requestLog.filter { $0.range == 0..<4096 }.count == 1, "one header GET")
        #expect(store.requestCounts == [.get: 1 + readers])
    }

    @Test func aFailedUnwrapIsTriedAgainByTheNextReadWithoutRereadingTheHeader() async throws {
        let flaky = InstrumentedKeyring(Fixtures.keyring(), failingUnwraps: 1)
        let configuration = Fixtures.configuration(frameLength: 1024, keyrings: [flaky])
        let writer = Fixtures.configuration(frameLength: 1024)
        let (view, store) = Fixtures.view(configuration)
        let plaintext = Fixtures.bytes(20_000)
        let stored = try await Fixtures.put(plaintext, as: "k", in: store, writer)
        store.resetCounts()
        let failure = await storeError { _ = try await view.get("k", range: 0..<10, ifMatch: stored.etag) }
        #expect(unreadableMessage(failure)?.contains("unreachable") == true)
        #expect(try await view.get("k", range: 0..<10, ifMatch: stored.etag).bytes[...] == plaintext[0..<10])
        #expect(store.requestCounts == [.get: 1], "the header was read once; frame 1 lies in it")
        #expect(flaky.unwraps == 2)
    }
}

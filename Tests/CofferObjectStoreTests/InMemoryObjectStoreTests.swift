import CofferObjectStore
import CofferTestSupport
import Foundation
import Synchronization
import Testing

/// What only the in-memory store has (its test hooks, clock and part-size knob), and S3 behaviours the contract
/// suite leaves out because moto does not reproduce them.
@Suite("InMemoryObjectStore")
struct InMemoryObjectStoreTests {
    /// A clock tests move by hand.
    final class ManualClock: Sendable {
        private let time: Mutex<Date>
        init(_ seconds: TimeInterval) { time = Mutex(Date(timeIntervalSince1970: seconds)) }
        func set(_ seconds: TimeInterval) { time.withLock { $0 = Date(timeIntervalSince1970: seconds) } }
        var now: @Sendable () -> Date { { [self] in time.withLock { $0 } } }
    }

    // MARK: - ETags

    @Test func etagIsTheMD5OfTheBytesAtEveryBlockBoundary() async throws {
        let store = InMemoryObjectStore()
        for length in [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 65_539, 1_000_001] {
            let bytes = pattern(length, seed: UInt8(truncatingIfNeeded: length))
            #expect(try await store.put("k\(length)", bytes: bytes) == md5Hex(bytes), "length \(length)")
        }
    }

    @Test func multipartETagIsTheMD5OfThePartMD5s() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 100)
        let parts = [pattern(100, seed: 1), pattern(150, seed: 2), pattern(7, seed: 3)]
        let id = try await store.createMultipartUpload("mp", options: PutOptions())
        var completed: [CompletedPart] = []
        for (index, part) in parts.enumerated() {
            let etag = try await store.uploadPart("mp", uploadId: id, partNumber: index + 1, body: .bytes(part))
            completed.append(CompletedPart(partNumber: index + 1, etag: etag))
        }
        #expect(try await store.completeMultipartUpload("mp", uploadId: id, parts: completed) == multipartETag(parts))
    }

    @Test func copyOfAMultipartObjectHasASinglePartETag() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1)
        let id = try await store.createMultipartUpload("mp", options: PutOptions())
        let e1 = try await store.uploadPart("mp", uploadId: id, partNumber: 1, body: .bytes([1, 2]))
        let e2 = try await store.uploadPart("mp", uploadId: id, partNumber: 2, body: .bytes([3]))
        let etag = try await store.completeMultipartUpload("mp", uploadId: id, parts: [
            CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 2, etag: e2),
        ])
        #expect(etag.hasSuffix("-2"))
        #expect(try await store.copy(from: "mp", to: "copy", options: CopyOptions()) == md5Hex([1, 2, 3]))
    }

    // MARK: - Request counts

    @Test func countsEveryRequestByOperation() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1)
        _ = try await store.put("a", bytes: [1, 2, 3])
        _ = try await store.head("a")
        _ = try await store.get("a")
        _ = try await store.get("a", range: 0..<1, ifMatch: nil)
        await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head("missing") }
        _ = try await store.list(ListRequest())
        _ = try await store.copy(from: "a", to: "b", options: CopyOptions())
        try await store.delete("b")
        _ = try await store.delete(keys: ["a"])
        let id = try await store.createMultipartUpload("m", options: PutOptions())
        _ = try await store.uploadPart("m", uploadId: id, partNumber: 1, body: .bytes([1]))
        _ = try await store.listParts("m", uploadId: id)
        try await store.abortMultipartUpload("m", uploadId: id)

        #expect(store.requestCounts == [
            .put: 1, .head: 2, .get: 2, .list: 1, .copy: 1, .delete: 1, .deleteObjects: 1,
            .createMultipartUpload: 1, .uploadPart: 1, .listParts: 1, .abortMultipartUpload: 1,
        ])
        #expect(store.requestCount(.get, .head) == 4)
        #expect(store.requestCount(InMemoryObjectStore.Operation.multipart) == 4)
        #expect(store.requestCount() == 13)
        #expect(store.requestLog.count == 13)
        #expect(store.requestLog[3] == InMemoryObjectStore.Request(operation: .get, key: "a", range: 0..<1))
        #expect(store.requestLog[4].description == "HEAD missing")
        #expect(InMemoryObjectStore.Operation.get.description == "GET")

        store.resetCounts()
        #expect(store.requestCounts.isEmpty)
        #expect(store.requestLog.isEmpty)
        #expect(store.requestCount() == 0)
    }

    @Test func anEmptyRangeIsAHead() async throws {
        let store = InMemoryObjectStore()
        _ = try await store.put("a", bytes: [1, 2, 3])
        store.resetCounts()
        let data = try await store.get("a", range: 9..<9, ifMatch: nil)
        #expect(data.bytes.isEmpty)
        #expect(data.info.size == 3)
        #expect(store.requestCounts == [.head: 1])
    }

    @Test func deleteObjectsSendsBatchesOf1000() async throws {
        let store = InMemoryObjectStore()
        for i in 0..<5 { _ = try await store.put("k\(i)", bytes: [1]) }
        store.resetCounts()
        #expect(try await store.delete(keys: []).isEmpty)
        #expect(store.requestCount() == 0)
        let keys = (0..<2500).map { "k\($0)" }
        #expect(try await store.delete(keys: keys).isEmpty)
        #expect(store.requestCounts == [.deleteObjects: 3])
        #expect(store.keys.isEmpty)
    }

    @Test func inspectionCountsNoRequests() async throws {
        let store = InMemoryObjectStore()
        _ = try await store.put("b", bytes: [2])
        _ = try await store.put("a/x", bytes: [1])
        let id = try await store.createMultipartUpload("up", options: PutOptions())
        _ = try await store.uploadPart("up", uploadId: id, partNumber: 3, body: .bytes([3]))
        store.resetCounts()
        #expect(store.keys == ["a/x", "b"])
        #expect(store.peek("b")?.bytes == [2])
        #expect(store.peek("b")?.info.etag == md5Hex([2]))
        #expect(store.peek("nothing") == nil)
        #expect(store.pendingUploads == [InMemoryObjectStore.PendingUpload(key: "up", uploadId: id, partNumbers: [3])])
        #expect(store.requestCount() == 0)
        try await store.abortMultipartUpload("up", uploadId: id)
        #expect(store.pendingUploads.isEmpty)
    }

    // MARK: - Injected failures

    @Test func failNextFailsThatManyRequestsThenRecovers() async throws {
        let store = InMemoryObjectStore()
        _ = try await store.put("a", bytes: [1])
        store.failNext(.get, with: .transport("connection reset"), count: 2)
        await expectError(.transport) { () async throws(ObjectStoreError) in try await store.get("a") }
        // Other operations are not affected.
        #expect(try await store.head("a").size == 1)
        await expectError(.transport) { () async throws(ObjectStoreError) in
            try await store.get("a", range: nil, ifMatch: nil, intoFile: "/nonexistent/never-written", at: 0)
        }
        #expect(try await store.get("a").bytes == [1])
        #expect(store.requestCounts[.get] == 3)
    }

    @Test func failNextBeforeApplyingHasNoEffect() async throws {
        let store = InMemoryObjectStore()
        store.failNext(.put, with: .throttled("SlowDown"))
        await expectError(.throttled) { () async throws(ObjectStoreError) in try await store.put("a", bytes: [1]) }
        #expect(store.peek("a") == nil)
        #expect(try await store.put("a", bytes: [1]) == md5Hex([1]))
    }

    @Test func failNextAfterApplyingLosesOnlyTheAnswer() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1)
        store.failNext(.put, with: .transport("timeout"), timing: .afterApplying)
        await expectError(.transport) { () async throws(ObjectStoreError) in try await store.put("a", bytes: [7]) }
        #expect(store.peek("a")?.bytes == [7])

        // A lost CompleteMultipartUpload answer: the object exists, and completing again returns its ETag.
        let id = try await store.createMultipartUpload("m", options: PutOptions())
        let e1 = try await store.uploadPart("m", uploadId: id, partNumber: 1, body: .bytes([1]))
        store.failNext(.completeMultipartUpload, with: .transport("timeout"), timing: .afterApplying)
        let parts = [CompletedPart(partNumber: 1, etag: e1)]
        await expectError(.transport) { () async throws(ObjectStoreError) in
            try await store.completeMultipartUpload("m", uploadId: id, parts: parts)
        }
        #expect(store.peek("m")?.bytes == [1])
        #expect(try await store.completeMultipartUpload("m", uploadId: id, parts: parts) == multipartETag([[1]]))

        // An injected failure after applying is spent even when the request fails by itself.
        store.failNext(.head, with: .transport("timeout"), timing: .afterApplying)
        await expectError(.notFound) { () async throws(ObjectStoreError) in try await store.head("missing") }
        #expect(try await store.head("a").size == 1)
    }

    @Test func faultInjectorChoosesRequests() async throws {
        let store = InMemoryObjectStore()
        _ = try await store.put("good", bytes: [1])
        _ = try await store.put("bad", bytes: [2])
        store.setFaultInjector { request in
            request.operation == .get && request.key == "bad" ? .accessDenied("AccessDenied") : nil
        }
        #expect(try await store.get("good").bytes == [1])
        await expectError(.accessDenied) { () async throws(ObjectStoreError) in try await store.get("bad") }
        #expect(try await store.head("bad").size == 1)
        // Queued failures come first.
        store.failNext(.get, with: .transport("reset"))
        await expectError(.transport) { () async throws(ObjectStoreError) in try await store.get("bad") }
        store.clearFaults()
        #expect(try await store.get("bad").bytes == [2])
    }

    @Test func clearFaultsDropsQueuedFailures() async throws {
        let store = InMemoryObjectStore()
        _ = try await store.put("a", bytes: [1])
        store.failNext(.head, with: .transport("x"), count: 5)
        store.clearFaults()
        #expect(try await store.head("a").size == 1)
    }

    // MARK: - Clock

    @Test func lastModifiedComesFromTheClockInWholeSeconds() async throws {
        let clock = ManualClock(1_000.75)
        let store = InMemoryObjectStore(minimumPartSize: 1, now: clock.now)
        _ = try await store.put("a", bytes: [1])
        #expect(try await store.head("a").lastModified == Date(timeIntervalSince1970: 1_000))
        #expect(try await store.list(ListRequest()).objects.first?.lastModified == Date(timeIntervalSince1970: 1_000))

        clock.set(2_000)
        _ = try await store.copy(from: "a", to: "b", options: CopyOptions())
        #expect(try await store.head("b").lastModified == Date(timeIntervalSince1970: 2_000))
        #expect(try await store.head("a").lastModified == Date(timeIntervalSince1970: 1_000))

        // S3 dates a multipart object from the upload's initiation, not its completion.
        clock.set(3_000)
        let id = try await store.createMultipartUpload("m", options: PutOptions())
        let e1 = try await store.uploadPart("m", uploadId: id, partNumber: 1, body: .bytes([1]))
        clock.set(4_000)
        _ = try await store.completeMultipartUpload("m", uploadId: id, parts: [CompletedPart(partNumber: 1, etag: e1)])
        #expect(try await store.head("m").lastModified == Date(timeIntervalSince1970: 3_000))
    }

    // MARK: - Multipart details

    @Test func minimumPartSizeIsConfigurable() async throws {
        #expect(InMemoryObjectStore.s3MinimumPartSize == 5 * 1024 * 1024)
        #expect(InMemoryObjectStore().minimumPartSize == 5 * 1024 * 1024)

        for (minimum, size, fails) in [(10, 9, true), (10, 10, false), (5 * 1024 * 1024, 1024, true)] {
            let store = InMemoryObjectStore(minimumPartSize: UInt64(minimum))
            let id = try await store.createMultipartUpload("m", options: PutOptions())
            let e1 = try await store.uploadPart("m", uploadId: id, partNumber: 1, body: .bytes(pattern(size, seed: 1)))
            let e2 = try await store.uploadPart("m", uploadId: id, partNumber: 2, body: .bytes([2]))
            let parts = [CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 2, etag: e2)]
            if fails {
                await expectError(.service("EntityTooSmall")) { () async throws(ObjectStoreError) in
                    try await store.completeMultipartUpload("m", uploadId: id, parts: parts)
                }
            } else {
                _ = try await store.completeMultipartUpload("m", uploadId: id, parts: parts)
            }
        }
    }

    @Test func completeNeedsAtLeastOnePartInStrictOrder() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1)
        let id = try await store.createMultipartUpload("m", options: PutOptions())
        let e1 = try await store.uploadPart("m", uploadId: id, partNumber: 1, body: .bytes([1]))
        await expectError(.service("MalformedXML")) { () async throws(ObjectStoreError) in
            try await store.completeMultipartUpload("m", uploadId: id, parts: [])
        }
        await expectError(.service("InvalidPartOrder")) { () async throws(ObjectStoreError) in
            try await store.completeMultipartUpload("m", uploadId: id, parts: [
                CompletedPart(partNumber: 1, etag: e1), CompletedPart(partNumber: 1, etag: e1),
            ])
        }
        // Quoted ETags are accepted, as S3 accepts them.
        _ = try await store.completeMultipartUpload("m", uploadId: id, parts: [CompletedPart(partNumber: 1, etag: "\"\(e1)\"")])
    }

    @Test func theUploadConditionIsCheckedAtCompletion() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1)
        let id = try await store.createMultipartUpload("m", options: PutOptions())
        let e1 = try await store.uploadPart("m", uploadId: id, partNumber: 1, body: .bytes([1]))
        _ = try await store.put("m", bytes: [9])
        await expectError(.preconditionFailed) { () async throws(ObjectStoreError) in
            try await store.completeMultipartUpload("m", uploadId: id, parts: [CompletedPart(partNumber: 1, etag: e1)],
                                                    condition: .doesNotExist)
        }
        #expect(store.peek("m")?.bytes == [9])

        let current = md5Hex([9])
        let second = try await store.createMultipartUpload("m", options: PutOptions())
        let f1 = try await store.uploadPart("m", uploadId: second, partNumber: 1, body: .bytes([2]))
        _ = try await store.completeMultipartUpload("m", uploadId: second, parts: [CompletedPart(partNumber: 1, etag: f1)],
                                                    condition: .etagMatches(current))
        #expect(store.peek("m")?.bytes == [2])
    }

    @Test func recompletingAfterTheObjectChangedFails() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1)
        let id = try await store.createMultipartUpload("m", options: PutOptions())
        let e1 = try await store.uploadPart("m", uploadId: id, partNumber: 1, body: .bytes([1]))
        let parts = [CompletedPart(partNumber: 1, etag: e1)]
        _ = try await store.completeMultipartUpload("m", uploadId: id, parts: parts)
        _ = try await store.put("m", bytes: [2])
        await expectError(.notFound) { () async throws(ObjectStoreError) in
            try await store.completeMultipartUpload("m", uploadId: id, parts: parts)
        }
        #expect(store.peek("m")?.bytes == [2])
    }

    @Test func partNumberZeroIsInvalid() async throws {
        let store = InMemoryObjectStore()
        let id = try await store.createMultipartUpload("m", options: PutOptions())
        await expectError(.service("InvalidArgument")) { () async throws(ObjectStoreError) in
            try await store.uploadPart("m", uploadId: id, partNumber: 0, body: .bytes([1]))
        }
        await expectError(.service("InvalidArgument")) { () async throws(ObjectStoreError) in
            try await store.uploadPartCopy("m", uploadId: id, partNumber: -1, source: "x", range: nil)
        }
    }

    @Test func uploadPartCopyRangeMustLieInsideTheSource() async throws {
        let store = InMemoryObjectStore()
        _ = try await store.put("src", bytes: pattern(10, seed: 1))
        let id = try await store.createMultipartUpload("m", options: PutOptions())
        for range: Range<UInt64> in [0..<11, 10..<11, 20..<30, 5..<5] {
            await expectError(.service("InvalidArgument")) { () async throws(ObjectStoreError) in
                try await store.uploadPartCopy("m", uploadId: id, partNumber: 1, source: "src", range: range)
            }
        }
        let etag = try await store.uploadPartCopy("m", uploadId: id, partNumber: 1, source: "src", range: 9..<10)
        #expect(etag == md5Hex([pattern(10, seed: 1)[9]]))
        #expect(store.requestLog.last?.range == 9..<10)
    }

    // MARK: - Listing details

    @Test func aContinuationTokenMustBeOneTheStoreMade() async throws {
        let store = InMemoryObjectStore()
        await expectError(.service("InvalidArgument")) { () async throws(ObjectStoreError) in
            try await store.list(ListRequest(continuationToken: "not a token"))
        }
    }

    @Test func aTokenTakesPrecedenceOverStartAfter() async throws {
        let store = InMemoryObjectStore()
        for key in ["k1", "k2", "k3", "k4"] { _ = try await store.put(key, bytes: [1]) }
        let first = try await store.list(ListRequest(maxKeys: 1))
        let second = try await store.list(ListRequest(continuationToken: first.nextContinuationToken, startAfter: "k3"))
        #expect(second.objects.map(\.key) == ["k2", "k3", "k4"])
    }

    @Test func maxKeysIsTakenInto1To1000() async throws {
        let store = InMemoryObjectStore()
        for i in 0..<1001 { _ = try await store.put(String(format: "k%04d", i), bytes: []) }
        let big = try await store.list(ListRequest(maxKeys: 5000))
        #expect(big.objects.count == 1000)
        #expect(big.isTruncated)
        let zero = try await store.list(ListRequest(maxKeys: 0))
        #expect(zero.objects.map(\.key) == ["k0000"])
        #expect(zero.isTruncated)
        #expect(try await store.listAll(prefix: "").count == 1001)
    }

    @Test func startAfterInsideACommonPrefixSkipsThatPrefix() async throws {
        let store = InMemoryObjectStore()
        for key in ["a/b", "a/c", "b"] { _ = try await store.put(key, bytes: [1]) }
        let page = try await store.list(ListRequest(delimiter: "/", startAfter: "a/b"))
        #expect(page.commonPrefixes.isEmpty)
        #expect(page.objects.map(\.key) == ["b"])
    }

    @Test func delimitersMayBeLongerThanOneCharacter() async throws {
        let store = InMemoryObjectStore()
        for key in ["x--y--z", "x--w", "x-v", "q"] { _ = try await store.put(key, bytes: [1]) }
        let page = try await store.list(ListRequest(delimiter: "--"))
        #expect(page.objects.map(\.key) == ["q", "x-v"])
        #expect(page.commonPrefixes == ["x--"])
        let empty = try await store.list(ListRequest(delimiter: ""))
        #expect(empty.objects.count == 4)
    }

    // MARK: - Validation

    @Test func keysMustBe1To1024Bytes() async throws {
        let store = InMemoryObjectStore()
        await expectError(.service("InvalidArgument")) { () async throws(ObjectStoreError) in try await store.put("", bytes: [1]) }
        await expectError(.service("KeyTooLongError")) { () async throws(ObjectStoreError) in
            try await store.put(String(repeating: "é", count: 513), bytes: [1])
        }
        _ = try await store.put(String(repeating: "é", count: 512), bytes: [1])
        await expectError(.service("KeyTooLongError")) { () async throws(ObjectStoreError) in
            try await store.createMultipartUpload(String(repeating: "k", count: 1025), options: PutOptions())
        }
    }

    @Test func userMetadataIsLimitedTo2KB() async throws {
        let store = InMemoryObjectStore()
        let fits = ["name": String(repeating: "v", count: 2044)]
        _ = try await store.put("a", body: .bytes([1]), options: PutOptions(metadata: fits))
        #expect(store.peek("a")?.info.metadata == fits)
        await expectError(.service("MetadataTooLarge")) { () async throws(ObjectStoreError) in
            try await store.put("b", body: .bytes([1]), options: PutOptions(metadata: ["name": String(repeating: "v", count: 2045)]))
        }
        await expectError(.service("MetadataTooLarge")) { () async throws(ObjectStoreError) in
            try await store.copy(from: "a", to: "a", options: CopyOptions(metadata: .replace(["x": String(repeating: "v", count: 2048)],
                                                                                          contentType: nil)))
        }
    }

    // MARK: - Files

    @Test func aFileBodyShorterThanItsCountFails() async throws {
        let store = InMemoryObjectStore()
        let directory = try ProjectPaths.temporaryDirectory("coffer-objectstore")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/short"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        await expectError(.transport) { () async throws(ObjectStoreError) in
            try await store.put("a", body: .file(path: path, offset: 1, count: 5), options: PutOptions())
        }
        await expectError(.transport) { () async throws(ObjectStoreError) in
            try await store.put("a", body: .file(path: directory + "/missing", offset: 0, count: 1), options: PutOptions())
        }
        #expect(store.peek("a") == nil)
    }

    @Test func getIntoFileCreatesAMissingFile() async throws {
        let store = InMemoryObjectStore()
        _ = try await store.put("a", bytes: Array("abc".utf8))
        let directory = try ProjectPaths.temporaryDirectory("coffer-objectstore")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/new"
        #expect(try await store.get("a", range: nil, ifMatch: nil, intoFile: path, at: 2).count == 3)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == [0, 0] + Array("abc".utf8))
    }

    // MARK: - Concurrency

    @Test func concurrentCreatesHaveOneWinner() async throws {
        let store = InMemoryObjectStore()
        let winners = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<64 {
                group.addTask {
                    (try? await store.put("lock", body: .bytes([UInt8(i)]), options: PutOptions(condition: .doesNotExist))) != nil
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        #expect(store.requestCounts[.put] == 64)
    }

    @Test func concurrentWritersAndListersSeeConsistentPages() async throws {
        let store = InMemoryObjectStore()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for i in 0..<200 { _ = try await store.put("w\(writer)/\(i)", bytes: [UInt8(truncatingIfNeeded: i)]) }
                }
            }
            group.addTask {
                for _ in 0..<20 {
                    let keys = try await store.listAll(prefix: "").map(\.key)
                    #expect(keys == utf8Sorted(keys))
                    #expect(Set(keys).count == keys.count)
                }
            }
            try await group.waitForAll()
        }
        #expect(store.keys.count == 800)
    }
}

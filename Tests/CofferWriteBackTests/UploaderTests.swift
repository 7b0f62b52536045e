import CofferObjectStore
@testable import CofferWriteBack
import Foundation
import Testing

/// Uploads that succeed: the plan (PUT or multipart, copied or sent parts) and the bytes that arrive.
///
/// Most tests use 1 KiB as the store's smallest part, a 4 KiB multipart threshold and 2 KiB parts, so a 20 KiB
/// file is a 10-part upload.
@Suite("Uploader")
struct UploaderTests {
    static let kib = 1024

    static func smallStore() -> InMemoryObjectStore { InMemoryObjectStore(minimumPartSize: 1024) }
    static func smallUploader(_ store: any ObjectStore, concurrency: Int = 8) -> Uploader {
        Uploader(store: store, multipartThreshold: 4096, partSize: 2048, concurrency: concurrency)
    }

    @Test func aSmallNewFileIsOnePut() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            let content = pattern(3000, seed: 1)
            try await file.write(content, at: 0)
            let etag = try await Self.smallUploader(store).upload(file, as: "small", options: PutOptions())
            #expect(store.requestCounts == [.put: 1])
            #expect(try await store.get("small").bytes == content)
            #expect(store.peek("small")?.info.etag == etag)
            #expect(!file.isDirty)
            #expect(file.base == BaseObject(key: "small", etag: etag, size: 3000))
        }
    }

    @Test func anEmptyNewFileCreatesAnEmptyObject() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            try await Self.smallUploader(store).upload(file, as: "empty", options: PutOptions())
            #expect(store.peek("empty")?.bytes == [])
            #expect(!file.isDirty)
        }
    }

    @Test func metadataAndContentTypeAreStored() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let options = PutOptions(metadata: ["mode": "100644"], contentType: "text/plain")
            for size in [100, 9000] {
                let file = try StagedFile(directory: directory, base: nil, store: store)
                try await file.write(pattern(size, seed: 2), at: 0)
                try await Self.smallUploader(store).upload(file, as: "m\(size)", options: options)
                let info = try #require(store.peek("m\(size)")?.info)
                #expect(info.metadata == ["mode": "100644"])
                #expect(info.contentType == "text/plain")
            }
        }
    }

    @Test func aLargeNewFileIsAMultipartUpload() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            let content = pattern(9 * Self.kib + 100, seed: 3)
            try await file.write(content, at: 0)
            try await Self.smallUploader(store).upload(file, as: "large", options: PutOptions())
            #expect(store.requestCounts == [.createMultipartUpload: 1, .uploadPart: 5, .completeMultipartUpload: 1])
            #expect(try await store.get("large").bytes == content)
            #expect(store.peek("large")?.info.etag.hasSuffix("-5") == true)
            #expect(store.pendingUploads.isEmpty)
            #expect(!file.isDirty)
        }
    }

    @Test func partsAreUploadedInParallelUpToTheConcurrency() async throws {
        try await withDirectory { directory in
            let inner = Self.smallStore()
            let store = SlowStore(inner)
            let file = try StagedFile(directory: directory, base: nil, store: store)
            let content = pattern(16 * Self.kib, seed: 4)
            try await file.write(content, at: 0)
            try await Self.smallUploader(store, concurrency: 3).upload(file, as: "parallel", options: PutOptions())
            #expect(inner.requestCount(.uploadPart) == 8)
            #expect(store.maximumPartsInFlight > 1)
            #expect(store.maximumPartsInFlight <= 3)
            #expect(inner.peek("parallel")?.bytes == content)
        }
    }

    @Test func realSizesUseSixteenMebibyteParts() async throws {
        try await withDirectory { directory in
            let store = InMemoryObjectStore()  // S3's 5 MiB minimum part
            let file = try StagedFile(directory: directory, base: nil, store: store)
            let size = 20 << 20 + 1
            let content = pattern(size, seed: 5)
            try await file.write(content, at: 0)
            let uploader = Uploader(store: store)
            try await uploader.upload(file, as: "real", options: PutOptions())
            #expect(store.requestCounts == [.createMultipartUpload: 1, .uploadPart: 2, .completeMultipartUpload: 1])
            let stored = try #require(store.peek("real"))
            #expect(stored.bytes.count == size)
            #expect(stored.bytes == content)

            // At the threshold exactly it is one PUT.
            store.resetCounts()
            try await file.truncate(to: 16 << 20)
            try await uploader.upload(file, as: "real", options: PutOptions())
            #expect(store.requestCounts == [.put: 1])
            #expect(store.peek("real")?.bytes.count == 16 << 20)
        }
    }

    @Test func oneChangedByteSendsOnlyItsPartAndCopiesTheRest() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let content = pattern(20 * Self.kib, seed: 6)
            let base = try await makeBase(store, "doc", content)
            store.resetCounts()
            let file = try StagedFile(directory: directory, base: base, store: store)
            let offset = 9 * Self.kib + 5  // in part 5, bytes 8 KiB..<10 KiB
            try await file.write([0xFF], at: UInt64(offset))
            try await Self.smallUploader(store).upload(file, as: "doc", options: PutOptions())

            #expect(store.requestCount(.uploadPart) == 1)
            #expect(store.requestCount(.uploadPartCopy) == 9)
            #expect(requests(store, .get).map(\.range) == [
                UInt64(8 * Self.kib)..<UInt64(offset), UInt64(offset + 1)..<UInt64(10 * Self.kib),
            ])
            #expect(store.requestCount(.put) == 0)
            #expect(store.requestCount(.createMultipartUpload, .completeMultipartUpload) == 2)
            #expect(store.requestCount(.head) == 1)  // the base is checked before completing
            var expected = content
            expected[offset] = 0xFF
            #expect(store.peek("doc")?.bytes == expected)
            #expect(!file.isDirty)
        }
    }

    @Test func theNextUploadCopiesFromTheUploadedObject() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            var content = pattern(20 * Self.kib, seed: 7)
            let file = try await stage(content, as: "doc", in: store, directory: directory)
            let uploader = Self.smallUploader(store)
            try await file.write([1], at: 100)
            content[100] = 1
            let first = try await uploader.upload(file, as: "doc", options: PutOptions())
            #expect(file.base?.etag == first)

            store.resetCounts()
            try await file.write([2], at: 15_000)
            content[15_000] = 2
            #expect(file.isDirty)
            try await uploader.upload(file, as: "doc", options: PutOptions())
            // Part 1 (changed before, but uploaded since) is copied now; only part 8 is sent.
            #expect(store.requestCount(.uploadPart) == 1)
            #expect(store.requestCount(.uploadPartCopy) == 9)
            #expect(requests(store, .get).map(\.range) == [14_336..<15_000, 15_001..<16_384])
            #expect(store.peek("doc")?.bytes == content)
        }
    }

    @Test func aCleanFileUploadedUnderANewKeyIsCopiedWhole() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let content = pattern(10 * Self.kib + 10, seed: 8)
            let file = try await stage(content, as: "old", in: store, directory: directory)
            store.resetCounts()
            let etag = try await Self.smallUploader(store).upload(file, as: "new", options: PutOptions())
            #expect(store.requestCount(.uploadPartCopy) == 6)
            #expect(store.requestCount(.uploadPart, .get) == 0)
            #expect(store.peek("new")?.bytes == content)
            #expect(store.peek("old")?.bytes == content)
            #expect(file.base == BaseObject(key: "new", etag: etag, size: UInt64(content.count)))
        }
    }

    @Test func appendingToALargeObjectCopiesTheUntouchedParts() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let content = pattern(10 * Self.kib + 500, seed: 9)
            let file = try await stage(content, as: "log", in: store, directory: directory)
            store.resetCounts()
            let tail = pattern(3000, seed: 10)
            try await file.write(tail, at: file.size)
            try await Self.smallUploader(store).upload(file, as: "log", options: PutOptions())
            #expect(store.requestCount(.uploadPartCopy) == 5)
            #expect(store.requestCount(.uploadPart) == 2)
            // Only the base's short last part had to be fetched, to be sent with the new bytes.
            #expect(requests(store, .get).map(\.range) == [10_240..<10_740])
            #expect(store.peek("log")?.bytes == content + tail)
        }
    }

    @Test func shrinkingALargeObjectCopiesEverythingBeforeTheCut() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let content = pattern(20 * Self.kib, seed: 11)
            let file = try await stage(content, as: "k", in: store, directory: directory)
            store.resetCounts()
            try await file.truncate(to: 15 * UInt64(Self.kib) - 100)
            try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            // The new last part is the start of the base's part 8: copied too, with a shorter range.
            #expect(store.requestCount(.uploadPartCopy) == 8)
            #expect(requests(store, .uploadPartCopy).last?.range == 14_336..<15_260)
            #expect(store.requestCount(.uploadPart, .get) == 0)
            #expect(store.peek("k")?.bytes == Array(content[0..<15 * Self.kib - 100]))
        }
    }

    @Test func truncatingThenExtendingUploadsZeros() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let content = pattern(20 * Self.kib, seed: 12)
            let file = try await stage(content, as: "k", in: store, directory: directory)
            store.resetCounts()
            try await file.truncate(to: 5000)
            try await file.truncate(to: 12_000)
            try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            #expect(store.requestCount(.uploadPartCopy) == 2)
            #expect(store.requestCount(.uploadPart) == 4)
            #expect(requests(store, .get).map(\.range) == [4096..<5000])
            #expect(store.peek("k")?.bytes == Array(content[0..<5000]) + [UInt8](repeating: 0, count: 7000))

            // Shrunk below the threshold: one PUT of what is left, fetched if needed.
            store.resetCounts()
            try await file.truncate(to: 3000)
            try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            #expect(store.requestCounts == [.put: 1, .get: 1])
            #expect(store.peek("k")?.bytes == Array(content[0..<3000]))
        }
    }

    @Test func aSmallModifiedFileFetchesTheRestOfItsBaseBeforeThePut() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let content = pattern(3000, seed: 13)
            let file = try await stage(content, as: "k", in: store, directory: directory)
            store.resetCounts()
            try await file.write([0, 0], at: 1000)
            try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            #expect(requests(store, .get).map(\.range) == [0..<1000, 1002..<3000])
            #expect(store.requestCount(.put) == 1)
            var expected = content
            expected[1000..<1002] = [0, 0]
            #expect(store.peek("k")?.bytes == expected)
        }
    }

    @Test func uploadsOfOneFileAreSerialized() async throws {
        try await withDirectory { directory in
            let inner = Self.smallStore()
            let store = SlowStore(inner)
            let file = try StagedFile(directory: directory, base: nil, store: store)
            let content = pattern(10 * Self.kib, seed: 14)
            try await file.write(content, at: 0)
            let uploader = Self.smallUploader(store)
            async let first = uploader.upload(file, as: "k", options: PutOptions())
            async let second = uploader.upload(file, as: "k", options: PutOptions())
            _ = try await (first, second)
            // The second upload started after the first had made the file's base current: it copied everything.
            #expect(inner.requestCount(.uploadPart) == 5)
            #expect(inner.requestCount(.uploadPartCopy) == 5)
            #expect(store.maximumPartsInFlight <= 8)
            #expect(inner.peek("k")?.bytes == content)
            #expect(!file.isDirty)
        }
    }
}

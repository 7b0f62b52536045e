import CofferObjectStore
@testable import CofferWriteBack
import Foundation
import Synchronization
import Testing

/// Uploads that fail, or race with writes: errors reach the caller, nothing is left half-done on the server, and the
/// staged data is kept for the next attempt.
@Suite("Uploader failures")
struct UploaderFailureTests {
    static let kib = 1024

    static func smallStore() -> InMemoryObjectStore { InMemoryObjectStore(minimumPartSize: 1024) }
    static func smallUploader(_ store: any ObjectStore) -> Uploader {
        Uploader(store: store, multipartThreshold: 4096, partSize: 2048, concurrency: 4)
    }

    @Test func aFailedPartAbortsTheUploadAndKeepsTheFileDirty() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            let content = pattern(10 * Self.kib, seed: 1)
            try await file.write(content, at: 0)
            store.failNext(.uploadPart, with: .transport("connection reset"))
            let uploader = Self.smallUploader(store)
            let error = await expectWriteBackError(.store(preconditionFailed: false)) {
                try await uploader.upload(file, as: "k", options: PutOptions())
            }
            #expect(error?.description.contains("UploadPart") == true)
            #expect(store.pendingUploads.isEmpty)
            #expect(store.requestCount(.abortMultipartUpload) == 1)
            #expect(store.peek("k") == nil)
            #expect(file.isDirty)
            #expect(bytesOnDisk(file.path) == content)

            store.resetCounts()
            try await uploader.upload(file, as: "k", options: PutOptions())
            #expect(store.peek("k")?.bytes == content)
            #expect(store.requestCount(.uploadPart) == 5)
            #expect(!file.isDirty)
        }
    }

    @Test func aFailedCopyOfAnUnchangedBaseKeepsTheChanges() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            var content = pattern(10 * Self.kib, seed: 2)
            let file = try await stage(content, as: "k", in: store, directory: directory)
            try await file.write([9], at: 5000)
            content[5000] = 9
            store.failNext(.uploadPartCopy, with: .throttled("SlowDown"))
            await expectWriteBackError(.store(preconditionFailed: false)) {
                try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            }
            #expect(store.pendingUploads.isEmpty)
            #expect(file.isDirty)
            try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            #expect(store.peek("k")?.bytes == content)
        }
    }

    @Test func aFailedPutKeepsTheFileDirty() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            try await file.write([1, 2, 3], at: 0)
            store.failNext(.put, with: .accessDenied("AccessDenied"))
            await expectWriteBackError(.store(preconditionFailed: false)) {
                try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            }
            #expect(file.isDirty)
            #expect(file.base == nil)
            #expect(bytesOnDisk(file.path) == [1, 2, 3])
            try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            #expect(store.peek("k")?.bytes == [1, 2, 3])
        }
    }

    @Test func aFailedCompletionIsAborted() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            try await file.write(pattern(8 * Self.kib, seed: 3), at: 0)
            store.failNext(.completeMultipartUpload, with: .service(code: "InternalError", message: "x", status: 500))
            await expectWriteBackError(.store(preconditionFailed: false)) {
                try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            }
            #expect(store.pendingUploads.isEmpty)
            #expect(file.isDirty)
        }
    }

    @Test func aFailedAbortStillReportsTheOriginalError() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            try await file.write(pattern(8 * Self.kib, seed: 4), at: 0)
            store.failNext(.uploadPart, with: .transport("reset"))
            store.failNext(.abortMultipartUpload, with: .transport("reset again"))
            let error = await expectWriteBackError(.store(preconditionFailed: false)) {
                try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            }
            #expect(error?.description.contains("UploadPart") == true)
            #expect(store.pendingUploads.count == 1)  // left for a lifecycle rule
            #expect(file.isDirty)
        }
    }

    @Test func aBaseChangedBeforeAFetchIsReported() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try await stage(pattern(10 * Self.kib, seed: 5), as: "k", in: store, directory: directory)
            try await file.write([1], at: 3000)
            try await store.put("k", bytes: pattern(10 * Self.kib, seed: 6))  // someone else wrote the object
            let error = await expectWriteBackError(.baseChanged) {
                try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            }
            #expect(error?.description.contains("k is no longer the version") == true)
            #expect(store.pendingUploads.isEmpty)
            #expect(file.isDirty)
            #expect(store.peek("k")?.bytes == pattern(10 * Self.kib, seed: 6))
        }
    }

    @Test func aBaseChangedUnderCopiedPartsIsReported() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try await stage(pattern(10 * Self.kib, seed: 7), as: "k", in: store, directory: directory)
            // A whole part rewritten: nothing to fetch, the other four parts are copied.
            try await file.write(pattern(2048, seed: 8), at: 2048)
            try await store.put("k", bytes: pattern(10 * Self.kib, seed: 9))
            store.resetCounts()
            await expectWriteBackError(.baseChanged) {
                try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            }
            #expect(store.requestCount(.get) == 0)
            #expect(store.requestCount(.completeMultipartUpload) == 0)
            #expect(store.pendingUploads.isEmpty)
            #expect(store.peek("k")?.bytes == pattern(10 * Self.kib, seed: 9))
            #expect(file.isDirty)
        }
    }

    @Test func aDeletedBaseFailsItsCopies() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try await stage(pattern(10 * Self.kib, seed: 10), as: "k", in: store, directory: directory)
            try await store.delete("k")
            await expectWriteBackError(.baseChanged) {
                try await Self.smallUploader(store).upload(file, as: "renamed", options: PutOptions())
            }
            #expect(store.pendingUploads.isEmpty)
            #expect(store.peek("renamed") == nil)
        }
    }

    @Test func doesNotExistIsHonouredByPut() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            try await store.put("taken", bytes: [1])
            let file = try StagedFile(directory: directory, base: nil, store: store)
            try await file.write([2, 2], at: 0)
            let options = PutOptions(condition: .doesNotExist)
            await expectWriteBackError(.store(preconditionFailed: true)) {
                try await Self.smallUploader(store).upload(file, as: "taken", options: options)
            }
            #expect(store.peek("taken")?.bytes == [1])
            #expect(file.isDirty)
            try await Self.smallUploader(store).upload(file, as: "free", options: options)
            #expect(store.peek("free")?.bytes == [2, 2])
        }
    }

    @Test func doesNotExistIsHonouredByMultipartUploads() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            try await store.put("taken", bytes: [1])
            let file = try StagedFile(directory: directory, base: nil, store: store)
            let content = pattern(9 * Self.kib, seed: 11)
            try await file.write(content, at: 0)
            let options = PutOptions(condition: .doesNotExist)
            await expectWriteBackError(.store(preconditionFailed: true)) {
                try await Self.smallUploader(store).upload(file, as: "taken", options: options)
            }
            #expect(store.peek("taken")?.bytes == [1])
            #expect(store.pendingUploads.isEmpty)
            #expect(file.isDirty)
            try await Self.smallUploader(store).upload(file, as: "free", options: options)
            #expect(store.peek("free")?.bytes == content)
        }
    }

    @Test func etagMatchesProtectsAgainstALostUpdate() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let base = try await makeBase(store, "k", pattern(9 * Self.kib, seed: 12))
            let file = try StagedFile(directory: directory, base: base, store: store)
            try await file.write(pattern(9 * Self.kib, seed: 13), at: 0)  // everything rewritten: no fetch, no copy
            try await store.put("k", bytes: [0])
            await expectWriteBackError(.store(preconditionFailed: true)) {
                let options = PutOptions(condition: .etagMatches(base.etag))
                return try await Self.smallUploader(store).upload(file, as: "k", options: options)
            }
            #expect(store.peek("k")?.bytes == [0])
            #expect(store.pendingUploads.isEmpty)
        }
    }

    @Test func aWriteDuringAPutLeavesTheFileDirty() async throws {
        try await withDirectory { directory in
            let inner = Self.smallStore()
            let holder = FileHolder()
            let store = SlowStore(inner, delay: .zero) {
                guard let file = holder.takeFile() else { return }
                try? await file.write([7, 7], at: 1)
            }
            let file = try StagedFile(directory: directory, base: nil, store: store)
            holder.set(file)
            try await file.write([1, 2, 3, 4], at: 0)
            try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            #expect(file.isDirty)
            try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            #expect(!file.isDirty)
            #expect(inner.peek("k")?.bytes == [1, 7, 7, 4])
        }
    }

    @Test func aWriteDuringAMultipartUploadLeavesTheFileDirty() async throws {
        try await withDirectory { directory in
            let inner = Self.smallStore()
            let holder = FileHolder()
            let store = SlowStore(inner) {
                guard let file = holder.takeFile() else { return }
                try? await file.write([0xEE], at: 7000)
                try? await file.truncate(to: 9000)
            }
            let content = pattern(10 * Self.kib, seed: 14)
            let file = try StagedFile(directory: directory, base: try await makeBase(inner, "k", content), store: store)
            try await file.write([1], at: 100)
            holder.set(file)
            let uploader = Self.smallUploader(store)
            // The file shrinks under the upload: it may fail or succeed, but the file must stay dirty either way.
            _ = try? await uploader.upload(file, as: "k", options: PutOptions())
            #expect(file.isDirty)
            try await uploader.upload(file, as: "k", options: PutOptions())
            #expect(!file.isDirty)
            var expected = Array(content[0..<9000])
            expected[100] = 1
            expected[7000] = 0xEE
            #expect(inner.peek("k")?.bytes == expected)
            #expect(try await file.read(at: 0, count: 10_000) == expected)
        }
    }

    @Test func aCancelledUploadIsAbortedAndKeepsTheFileDirty() async throws {
        try await withDirectory { directory in
            let inner = Self.smallStore()
            let store = SlowStore(inner, delay: .milliseconds(50))
            let file = try StagedFile(directory: directory, base: nil, store: store)
            try await file.write(pattern(32 * Self.kib, seed: 15), at: 0)
            let uploader = Uploader(store: store, multipartThreshold: 4096, partSize: 2048, concurrency: 2)
            let upload = Task { try await uploader.upload(file, as: "k", options: PutOptions()) }
            try await Task.sleep(for: .milliseconds(60))
            upload.cancel()
            await expectWriteBackError(.cancelled) { try await upload.value }
            #expect(inner.pendingUploads.isEmpty)
            #expect(inner.peek("k") == nil)
            #expect(file.isDirty)
        }
    }

    @Test func aDiscardedFileCannotBeUploaded() async throws {
        try await withDirectory { directory in
            let store = Self.smallStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            file.discard()
            await expectWriteBackError(.discarded) {
                try await Self.smallUploader(store).upload(file, as: "k", options: PutOptions())
            }
            #expect(store.requestCount() == 0)
        }
    }
}

/// Hands a staged file to a store hook once.
final class FileHolder: Sendable {
    private let file = Mutex<StagedFile?>(nil)

    func set(_ file: StagedFile) { self.file.withLock { $0 = file } }

    func takeFile() -> StagedFile? { file.withLock { file in defer { file = nil }; return file } }
}

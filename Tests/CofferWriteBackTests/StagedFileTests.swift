import CofferObjectStore
@testable import CofferWriteBack
import Foundation
import Testing

@Suite("StagedFile")
struct StagedFileTests {
    static let mib = 1 << 20

    @Test func aNewFileIsEmptyDirtyAndPrivate() async throws {
        try await withDirectory { directory in
            let store = InMemoryObjectStore()
            let file = try StagedFile(directory: directory, base: nil, store: store)
            #expect(file.size == 0)
            #expect(file.isDirty)
            #expect(file.base == nil)
            #expect(file.path.hasPrefix(directory + "/coffer-staged-"))
            let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            #expect(try await file.read(at: 0, count: 10) == [])
            #expect(store.requestCount() == 0)
        }
    }

    @Test func writesReadBackAndGapsAreZeros() async throws {
        try await withDirectory { directory in
            let file = try StagedFile(directory: directory, base: nil, store: InMemoryObjectStore())
            try await file.write([1, 2, 3], at: 0)
            try await file.write([9, 9], at: 10)
            #expect(file.size == 12)
            #expect(try await file.read(at: 0, count: 100) == [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 9, 9])
            #expect(try await file.read(at: 2, count: 3) == [3, 0, 0])
            #expect(try await file.read(at: 11, count: 5) == [9])
            #expect(try await file.read(at: 12, count: 5) == [])
            #expect(try await file.read(at: 50, count: 5) == [])
            try await file.write([], at: 100)  // an empty write does not extend
            #expect(file.size == 12)
            #expect(bytesOnDisk(file.path) == [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 9, 9])
        }
    }

    @Test func aBaseIsFetchedLazilyInAlignedBlocks() async throws {
        try await withDirectory { directory in
            let store = InMemoryObjectStore()
            let content = pattern(3 * Self.mib + 100, seed: 1)
            let base = try await makeBase(store, "big", content)
            store.resetCounts()
            let file = try StagedFile(directory: directory, base: base, store: store)
            #expect(store.requestCount() == 0)
            #expect(file.size == UInt64(content.count))
            #expect(!file.isDirty)

            let middle = try await file.read(at: UInt64(Self.mib + 10), count: 20)
            #expect(middle == Array(content[Self.mib + 10..<Self.mib + 30]))
            #expect(store.requestLog.map(\.description) == ["GET big [\(Self.mib)..<\(2 * Self.mib)]"])

            // Another read in the same block is served locally.
            let again = try await file.read(at: UInt64(Self.mib + 500), count: 4)
            #expect(again == Array(content[Self.mib + 500..<Self.mib + 504]))
            #expect(store.requestCount() == 1)

            // A read across everything fetches only what is still missing (the last block is cut at the end).
            store.resetCounts()
            #expect(try await file.read(at: 0, count: content.count + 10) == content)
            let mib = UInt64(Self.mib)
            #expect(requests(store, .get).map(\.range) == [0..<mib, 2 * mib..<UInt64(content.count)])
            #expect(!file.isDirty)
        }
    }

    @Test func aPartialOverwriteReadsBackMergedWithTheBase() async throws {
        try await withDirectory { directory in
            let store = InMemoryObjectStore()
            let content = pattern(4000, seed: 2)
            let base = try await makeBase(store, "k", content)
            store.resetCounts()
            let file = try StagedFile(directory: directory, base: base, store: store)
            try await file.write([0xAA, 0xBB], at: 1000)
            #expect(store.requestCount() == 0)  // writing fetches nothing
            #expect(file.isDirty)
            var expected = content
            expected[1000] = 0xAA
            expected[1001] = 0xBB
            #expect(try await file.read(at: 0, count: 4000) == expected)
            // Only the bytes around the write were fetched.
            #expect(requests(store, .get).map(\.range) == [0..<1000, 1002..<4000])
        }
    }

    @Test func truncateThenExtendReadsZerosNotOldBytes() async throws {
        try await withDirectory { directory in
            let store = InMemoryObjectStore()
            let content = pattern(10_000, seed: 3)
            let base = try await makeBase(store, "k", content)
            store.resetCounts()
            let file = try StagedFile(directory: directory, base: base, store: store)
            try await file.truncate(to: 3000)
            #expect(file.size == 3000)
            #expect(file.isDirty)
            try await file.truncate(to: 8000)
            #expect(file.size == 8000)
            let bytes = try await file.read(at: 0, count: 10_000)
            #expect(bytes == Array(content[0..<3000]) + [UInt8](repeating: 0, count: 5000))
            // Only the surviving base bytes were fetched.
            #expect(requests(store, .get).map(\.range) == [0..<3000])
        }
    }

    @Test func truncateAfterAFetchStillCutsTheBase() async throws {
        try await withDirectory { directory in
            let store = InMemoryObjectStore()
            let content = pattern(5000, seed: 4)
            let file = try await stage(content, as: "k", in: store, directory: directory)
            #expect(try await file.read(at: 0, count: 5000) == content)
            try await file.truncate(to: 10)
            try await file.write([7], at: 20)
            let expected = Array(content[0..<10]) + [UInt8](repeating: 0, count: 10) + [7]
            #expect(try await file.read(at: 0, count: 100) == expected)
        }
    }

    @Test func truncatingToTheSameSizeChangesNothing() async throws {
        try await withDirectory { directory in
            let store = InMemoryObjectStore()
            let file = try await stage([1, 2, 3], as: "k", in: store, directory: directory)
            try await file.truncate(to: 3)
            #expect(!file.isDirty)
        }
    }

    @Test func aBaseChangedOnTheServerIsReported() async throws {
        try await withDirectory { directory in
            let store = InMemoryObjectStore()
            let base = try await makeBase(store, "k", pattern(100, seed: 5))
            let file = try StagedFile(directory: directory, base: base, store: store)
            try await store.put("k", bytes: pattern(100, seed: 6))
            let error = await expectWriteBackError(.baseChanged) {
                try await file.read(at: 0, count: 10)
            }
            #expect(error?.description.contains("Reopen the file") == true)
            // A deleted base is reported the same way.
            try await store.delete("k")
            await expectWriteBackError(.baseChanged) {
                try await file.read(at: 0, count: 10)
            }
        }
    }

    @Test func concurrentReadsOfAMissingBlockFetchItOnce() async throws {
        try await withDirectory { directory in
            let inner = InMemoryObjectStore()
            let content = pattern(4000, seed: 7)
            let base = try await makeBase(inner, "k", content)
            inner.resetCounts()
            let file = try StagedFile(directory: directory, base: base, store: SlowStore(inner))
            async let first = file.read(at: 0, count: 2000)
            async let second = file.read(at: 1000, count: 3000)
            #expect(try await first == Array(content[0..<2000]))
            #expect(try await second == Array(content[1000..<4000]))
            #expect(inner.requestCount(.get) == 1)
        }
    }

    @Test func aWriteDuringAFetchIsNotOverwrittenByIt() async throws {
        try await withDirectory { directory in
            let inner = InMemoryObjectStore()
            let content = pattern(4000, seed: 8)
            let base = try await makeBase(inner, "k", content)
            let slow = SlowStore(inner, delay: .milliseconds(100))
            let file = try StagedFile(directory: directory, base: base, store: slow)
            async let read = file.read(at: 0, count: 4000)
            try await Task.sleep(for: .milliseconds(30))  // the fetch is in flight
            try await file.write([1, 2, 3], at: 500)
            _ = try await read
            var expected = content
            expected[500..<503] = [1, 2, 3]
            #expect(try await file.read(at: 0, count: 4000) == expected)
        }
    }

    @Test func discardRemovesTheFileAndEndsUse() async throws {
        try await withDirectory { directory in
            let file = try StagedFile(directory: directory, base: nil, store: InMemoryObjectStore())
            try await file.write([1], at: 0)
            file.discard()
            #expect(try stagingFiles(in: directory).isEmpty)
            await expectWriteBackError(.discarded) { try await file.write([2], at: 0) }
            await expectWriteBackError(.discarded) { try await file.read(at: 0, count: 1) }
            file.discard()  // twice is harmless
        }
    }

    @Test func releasingWithoutDiscardKeepsTheStagedData() async throws {
        try await withDirectory { directory in
            var path = ""
            do {
                let file = try StagedFile(directory: directory, base: nil, store: InMemoryObjectStore())
                try await file.write([4, 5, 6], at: 0)
                path = file.path
            }
            #expect(bytesOnDisk(path) == [4, 5, 6])
        }
    }

    @Test func filesOverFiveTebibytesAreRefused() async throws {
        try await withDirectory { directory in
            let file = try StagedFile(directory: directory, base: nil, store: InMemoryObjectStore())
            await expectWriteBackError(.tooLarge) {
                try await file.write([1], at: StagedFile.maximumSize)
            }
            await expectWriteBackError(.tooLarge) {
                try await file.write([1], at: UInt64.max)
            }
            await expectWriteBackError(.tooLarge) {
                try await file.truncate(to: StagedFile.maximumSize + 1)
            }
            #expect(file.size == 0)
        }
    }

    @Test func aMissingCacheDirectoryIsALocalError() async throws {
        do {
            _ = try StagedFile(directory: "/nonexistent-coffer-cache", base: nil, store: InMemoryObjectStore())
            Issue.record("expected a local I/O error")
        } catch {
            guard case .localIO(let message) = error else {
                Issue.record("expected .localIO, got \(error)")
                return
            }
            #expect(message.contains("/nonexistent-coffer-cache"))
        }
    }
}

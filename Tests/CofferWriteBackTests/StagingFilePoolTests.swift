import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

@testable import CofferWriteBack

/// Staging files are reused through a pool: a discarded file is emptied and renamed, the next staged file takes it
/// (no new inode), and a staging file that was moved away keeps its bytes.
@Suite("Staging file pool")
struct StagingFilePoolTests {
    static func inode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int)
    }

    @Test func aDiscardedFileIsEmptiedAndReusedByTheNextOne() async throws {
        let directory = try ProjectPaths.temporaryDirectory("coffer-pool")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryObjectStore()
        let pool = StagingFilePool(directory: directory, capacity: 2)
        let first = try StagedFile(directory: directory, base: nil, store: store, pool: pool)
        try await first.write(Array(repeating: 9, count: 5000), at: 0)
        let firstInode = try Self.inode(first.path)
        first.discard()
        #expect(!FileManager.default.fileExists(atPath: first.path))
        #expect(pool.count == 1)
        let second = try StagedFile(directory: directory, base: nil, store: store, pool: pool)
        #expect(try Self.inode(second.path) == firstInode, "the spare was taken, not a new file")
        #expect(second.size == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: second.path)[.size] as? Int == 0, "emptied")
        #expect(pool.count == 0)
        second.discard()
        // A new pool adopts the spares an earlier one left.
        #expect(StagingFilePool(directory: directory, capacity: 2).count == 1)
    }

    @Test func theBoundIsKeptAndAMovedAwayFileKeepsItsBytes() async throws {
        let directory = try ProjectPaths.temporaryDirectory("coffer-pool")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = InMemoryObjectStore()
        let pool = StagingFilePool(directory: directory, capacity: 1)
        let files = try (0..<3).map { _ in try StagedFile(directory: directory, base: nil, store: store, pool: pool) }
        for file in files { file.discard() }
        #expect(pool.count == 1)
        let spares = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("coffer-spare-") }
        #expect(spares.count == 1)
        let kept = try StagedFile(directory: directory, base: nil, store: store, pool: pool)
        try await kept.write(Array("keep me".utf8), at: 0)
        let elsewhere = directory + "/lost-and-found-copy"
        try FileManager.default.moveItem(atPath: kept.path, toPath: elsewhere)
        kept.discard()
        #expect(try String(contentsOfFile: elsewhere, encoding: .utf8) == "keep me")
    }
}

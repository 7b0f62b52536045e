import CofferChecksum
import CofferTestSupport
import Foundation
import Testing

@testable import CofferWriteBack

/// The journal's record files: the newest intact version wins, a torn or damaged slot leaves the previous one,
/// rewrites stay in one inode, and records of the earlier one-JSON-file form are still read.
@Suite("Write-back journal records")
struct JournalTests {
    static func record(_ id: String, key: String, at date: Date = Date(), ranges: Int = 1) -> JournalRecord {
        JournalRecord(id: id, mount: "m", key: key, expected: .absent, stagingPath: "/nonexistent/\(id)",
                      file: StagedFileState(size: UInt64(ranges) * 10, base: nil, baseLimit: 0, present: [],
                                            dirty: (0..<ranges).map { [UInt64($0) * 10, UInt64($0) * 10 + 5] }),
                      metadata: ["mode": "33188"], contentType: nil, recordedAt: date)
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        // Eight bytes at a time and byte by byte agree, for every length and split (zlib's value for 0..<1000).
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = CRC32.checksum(bytes)
        #expect(whole == 0x8902_161E, "zlib.crc32 of the same bytes")
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let first = bytes[..<split].withUnsafeBytes { CRC32.checksum($0) }
            let both = bytes[split...].withUnsafeBytes { CRC32.checksum($0, continuing: first) }
            #expect(both == whole, "split at \(split)")
        }
    }

    @Test func everyRewriteIsReadBackAndStaysInOneInode() throws {
        let cache = try ProjectPaths.temporaryDirectory("coffer-journal")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let journal = try Journal(cacheDirectory: cache)
        try journal.write(Self.record("r1", key: "a"))
        let inode = try #require(FileManager.default.attributesOfItem(atPath: journal.path(of: "r1"))[.systemFileNumber] as? Int)
        for name in ["b", "c", "d", "e"] {
            try journal.write(Self.record("r1", key: name))
            #expect(journal.load(mount: "m").records.map(\.key) == [name])
        }
        let after = try #require(FileManager.default.attributesOfItem(atPath: journal.path(of: "r1"))[.systemFileNumber] as? Int)
        #expect(after == inode, "rewritten in place")
        #expect(try FileManager.default.contentsOfDirectory(atPath: journal.directory) == ["r1.rec"])
        journal.remove(id: "r1")
        #expect(journal.load(mount: "m").records.isEmpty)
    }

    @Test func aRemovedRecordsFileIsReusedByTheNextRecord() throws {
        let cache = try ProjectPaths.temporaryDirectory("coffer-journal")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let journal = try Journal(cacheDirectory: cache)
        try journal.write(Self.record("one", key: "a"))
        let inode = try #require(FileManager.default.attributesOfItem(atPath: journal.path(of: "one"))[.systemFileNumber] as? Int)
        journal.remove(id: "one")
        try journal.write(Self.record("two", key: "b"))
        let reused = try #require(FileManager.default.attributesOfItem(atPath: journal.path(of: "two"))[.systemFileNumber] as? Int)
        #expect(reused == inode)
        #expect(journal.load(mount: "m").records.map(\.key) == ["b"], "the old record's bytes are gone")
        // A spare taken but never written (a kill in between) is no record and no damage.
        _ = FileManager.default.createFile(atPath: journal.path(of: "empty"), contents: nil)
        let contents = journal.load(mount: "m")
        #expect(contents.unreadable.isEmpty && contents.records.count == 1)
        #expect(!FileManager.default.fileExists(atPath: journal.path(of: "empty")))
    }

    @Test func aTornNewestSlotLeavesThePreviousVersion() throws {
        let cache = try ProjectPaths.temporaryDirectory("coffer-journal")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let journal = try Journal(cacheDirectory: cache)
        try journal.write(Self.record("r", key: "old"))   // slot 0
        try journal.write(Self.record("r", key: "new"))   // slot 1
        // A write cut short: the newest slot's payload is damaged (its checksum no longer matches).
        let handle = try #require(FileHandle(forUpdatingAtPath: journal.path(of: "r")))
        try handle.seek(toOffset: RecordFile.slotSize + UInt64(RecordFile.headerSize) + 5)
        try handle.write(contentsOf: Data("XXXX".utf8))
        try handle.close()
        #expect(journal.load(mount: "m").records.map(\.key) == ["old"])
        // The next write goes to the damaged slot and is the newest again.
        try journal.write(Self.record("r", key: "newer"))
        #expect(journal.load(mount: "m").records.map(\.key) == ["newer"])
    }

    @Test func aRecordWithNoIntactSlotIsSetAside() throws {
        let cache = try ProjectPaths.temporaryDirectory("coffer-journal")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let journal = try Journal(cacheDirectory: cache)
        try Data(repeating: 0x41, count: 100).write(to: URL(fileURLWithPath: journal.path(of: "bad")))
        let contents = journal.load(mount: "m")
        #expect(contents.records.isEmpty)
        #expect(contents.unreadable.count == 1)
        #expect(FileManager.default.fileExists(atPath: journal.lostAndFound + "/bad/record.rec"))
        #expect(!FileManager.default.fileExists(atPath: journal.path(of: "bad")))
    }

    @Test func recordsOfTheEarlierFormAndLargeRecordsAreReadAndTheNewerFormWins() throws {
        let cache = try ProjectPaths.temporaryDirectory("coffer-journal")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let journal = try Journal(cacheDirectory: cache)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        // Written by an earlier Coffer: one JSON file.
        let legacy = Self.record("old", key: "legacy", at: Date(timeIntervalSince1970: 1_700_000_000))
        try encoder.encode(legacy).write(to: URL(fileURLWithPath: journal.largePath(of: "old")))
        #expect(journal.load(mount: "m").records.map(\.key) == ["legacy"])
        // Rewritten now: the record file replaces it.
        try journal.write(Self.record("old", key: "moved"))
        #expect(!FileManager.default.fileExists(atPath: journal.largePath(of: "old")))
        #expect(journal.load(mount: "m").records.map(\.key) == ["moved"])
        // Both forms of one id (a kill between writing one and removing the other): the newer record wins.
        try encoder.encode(legacy).write(to: URL(fileURLWithPath: journal.largePath(of: "old")))
        #expect(journal.load(mount: "m").records.map(\.key) == ["moved"])
        // Too large for a slot: the JSON form.
        let large = Self.record("big", key: "many-ranges", ranges: 100_000)
        try journal.write(large)
        #expect(FileManager.default.fileExists(atPath: journal.largePath(of: "big")))
        #expect(journal.load(mount: "m").records.first { $0.id == "big" }?.file.dirty.count == 100_000)
    }

    @Test func lostAndFoundHoldsTheRecordAsJSON() throws {
        let cache = try ProjectPaths.temporaryDirectory("coffer-journal")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let journal = try Journal(cacheDirectory: cache)
        let record = Self.record("x", key: "k")
        try journal.write(record)
        let folder = try journal.moveToLostAndFound(record, reason: "test")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let kept = try decoder.decode(JournalRecord.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/record.json")))
        #expect(kept.key == "k")
        #expect(journal.load(mount: "m").records.isEmpty)
    }
}

import CofferFS
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// The write-back engine through the filesystem core, on the in-memory store: what folds into one upload, the
/// journal across a simulated crash, conflicts with another client, ordering of rename and upload, faults.
@Suite("Write-back engine on the in-memory store")
struct WriteBackTests {
    static let root = FileSystem.rootInode
    static let me = FileSystemTests.me

    /// A write-back filesystem whose queue never fires by itself (an hour's delay): uploads happen only when a test
    /// asks (fsync, fsyncDirectory, shutdown), so request counts are exact.
    static func make(store: InMemoryObjectStore = InMemoryObjectStore(minimumPartSize: 1024), cache: String? = nil,
                     configure: (inout FileSystemOptions) -> Void = { _ in }) throws -> (FileSystem, InMemoryObjectStore, String) {
        let cache = try cache ?? ProjectPaths.temporaryDirectory("coffer-wb-cache")
        var options = FileSystemOptions(defaultUID: 501, defaultGID: 20, metadataTTL: 60, cacheDirectory: cache,
                                        multipartThreshold: 4096, partSize: 1024, writeBackDelay: 3600,
                                        mountIdentity: "test", hostName: "hostA")
        configure(&options)
        return (FileSystem(store: store, options: options), store, cache)
    }

    static func stagingFiles(_ cache: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).filter { $0.hasPrefix("coffer-staged-") }
    }

    static func journalRecords(_ cache: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cache + "/journal")) ?? [])
            .filter { $0.hasSuffix(".rec") || $0.hasSuffix(".json") }
    }

    @Test func rsyncsSequenceIsOnePutWithTheFinalNameAndMetadata() async throws {
        let (fs, store, cache) = try Self.make()
        store.resetCounts()
        // rsync: create a temporary name, write, close, set times and mode, rename into place.
        let inode = try await FileSystemTests.writeFile(fs, Self.root, ".data.txt.XyZ123", Array("payload".utf8))
        let mtime = Timestamp(seconds: 1_600_000_000, nanoseconds: 0)
        _ = try await fs.setattr(inode, AttributeChanges(mtime: .at(mtime)), handle: nil, caller: Self.me)
        _ = try await fs.setattr(inode, AttributeChanges(mode: 0o600), handle: nil, caller: Self.me)
        try await fs.rename(parent: Self.root, name: ".data.txt.XyZ123", newParent: Self.root, newName: "data.txt",
                            mode: .replace)
        #expect(store.requestCount(.put, .copy, .delete) == 0, "nothing is sent before the upload")
        #expect(Self.journalRecords(cache).count == 1)
        try await fs.fsyncDirectory(Self.root)
        #expect(store.requestCount(.put) == 1)
        #expect(store.requestCount(.copy, .delete) + store.requestCount(InMemoryObjectStore.Operation.multipart) == 0)
        #expect(store.keys == ["data.txt"])
        let stored = try #require(store.peek("data.txt"))
        #expect(stored.bytes == Array("payload".utf8))
        let metadata = POSIXMetadata(userMetadata: stored.info.metadata)
        #expect(metadata.mode == FileMode.regular | 0o600)
        #expect(metadata.mtime == mtime)
        #expect(Self.journalRecords(cache).isEmpty)
        #expect(Self.stagingFiles(cache).isEmpty, "a clean, closed file leaves no staging file")
        await fs.shutdown()
    }

    @Test func twoClosesOfOneFileAreOneUpload() async throws {
        let (fs, store, _) = try Self.make()
        let (entry, file) = try await fs.create(parent: Self.root, name: "f", mode: 0o644, flags: OpenFlags(write: true),
                                                caller: Self.me)
        let inode = entry.attributes.inode
        _ = try await fs.write(inode, handle: file.handle, offset: 0, bytes: [1, 2, 3])
        try await fs.flush(inode, handle: file.handle)  // the shell's dup'ed descriptor
        try await fs.flush(inode, handle: file.handle)
        await fs.release(inode, handle: file.handle)
        await fs.shutdown()
        #expect(store.requestCount(.put) == 1)
        #expect(store.peek("f")?.bytes == [1, 2, 3])
    }

    @Test func aFileCreatedAndRemovedBeforeUploadCostsNothing() async throws {
        let (fs, store, cache) = try Self.make()
        try await FileSystemTests.writeFile(fs, Self.root, "tmp", Array(repeating: 7, count: 10_000))
        try await fs.unlink(parent: Self.root, name: "tmp")
        await fs.shutdown()
        #expect(store.requestCount(.put, .delete, .copy) + store.requestCount(InMemoryObjectStore.Operation.multipart) == 0)
        #expect(Self.journalRecords(cache).isEmpty)
        #expect(Self.stagingFiles(cache).isEmpty)
    }

    @Test func aPendingFileIsReadableListedAndStattedBeforeUpload() async throws {
        let (fs, store, _) = try Self.make()
        let inode = try await FileSystemTests.writeFile(fs, Self.root, "new", Array("abc".utf8))
        #expect(try await FileSystemTests.readAll(fs, inode) == Array("abc".utf8))
        #expect(try await FileSystemTests.names(fs, Self.root).contains("new"))
        #expect(try await fs.getattr(inode).0.size == 3)
        #expect(store.keys.isEmpty)
        await fs.shutdown()
        #expect(store.keys == ["new"])
    }

    @Test func theJournalReplaysAfterACrash() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1024)
        let (crashed, _, cache) = try Self.make(store: store)
        _ = try await crashed.recoverPendingUploads()
        let big = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await FileSystemTests.writeFile(crashed, Self.root, "small", Array("acknowledged".utf8))
        let bigInode = try await FileSystemTests.writeFile(crashed, Self.root, "big.bin", big)
        _ = try await crashed.setattr(bigInode, AttributeChanges(mode: 0o640), handle: nil, caller: Self.me)
        try await crashed.rename(parent: Self.root, name: "big.bin", newParent: Self.root, newName: "renamed.bin",
                                 mode: .replace)
        // An open file that was never closed was not acknowledged: it may go.
        let (open, _) = try await crashed.create(parent: Self.root, name: "unclosed", mode: 0o644,
                                                 flags: OpenFlags(write: true), caller: Self.me)
        _ = open
        #expect(store.keys.isEmpty)
        #expect(Self.journalRecords(cache).count == 2)
        // The process dies here: no shutdown. A new mount with the same cache directory replays the journal.
        crashed.stopWithoutUploading()
        let (recovered, _, _) = try Self.make(store: store, cache: cache)
        let summary = try await recovered.recoverPendingUploads()
        #expect(summary.found == 2)
        #expect(summary.uploaded == 2)
        #expect(summary.orphansRemoved == 1, "the unclosed file's staging file")
        #expect(store.peek("small")?.bytes == Array("acknowledged".utf8))
        let renamed = try #require(store.peek("renamed.bin"))
        #expect(renamed.bytes == big)
        #expect(POSIXMetadata(userMetadata: renamed.info.metadata).mode == FileMode.regular | 0o640)
        #expect(store.peek("big.bin") == nil)
        #expect(Self.journalRecords(cache).isEmpty)
        #expect(Self.stagingFiles(cache).isEmpty)
        await recovered.shutdown()
    }

    @Test func aDirectorysMarkerIsOnePutWithItsFinalModeAndTimes() async throws {
        let (fs, store, cache) = try Self.make()
        store.resetCounts()
        // rsync: mkdir, files inside, then the directory's mode and times at the end.
        let dir = try await fs.mkdir(parent: Self.root, name: "photos", mode: 0o700, caller: Self.me).attributes.inode
        try await FileSystemTests.writeFile(fs, dir, "a.jpg", [1, 2, 3])
        let mtime = Timestamp(seconds: 1_500_000_000, nanoseconds: 0)
        _ = try await fs.setattr(dir, AttributeChanges(mode: 0o750), handle: nil, caller: Self.me)
        _ = try await fs.setattr(dir, AttributeChanges(mtime: .at(mtime)), handle: nil, caller: Self.me)
        #expect(store.requestCount(.put, .copy, .delete) == 0, "nothing is sent before the upload")
        #expect(try await FileSystemTests.names(fs, Self.root).filter { !$0.hasPrefix(".") } == ["photos"],
                "a pending directory is listed")
        #expect(try await fs.getattr(dir).0.mode == FileMode.directory | 0o750)
        #expect(Self.journalRecords(cache).count == 2)
        try await fs.fsyncDirectory(Self.root)
        #expect(store.requestCount(.put) == 2, "the marker and the file")
        let marker = try #require(store.peek("photos/"))
        #expect(marker.info.contentType == "application/x-directory")
        let metadata = POSIXMetadata(userMetadata: marker.info.metadata)
        #expect(metadata.mode == FileMode.directory | 0o750)
        #expect(metadata.mtime == mtime)
        #expect(store.peek("photos/a.jpg")?.bytes == [1, 2, 3])
        #expect(Self.journalRecords(cache).isEmpty)
        // A later chmod of the uploaded directory is one more PUT of its marker, at the queue's time.
        _ = try await fs.setattr(dir, AttributeChanges(mode: 0o755), handle: nil, caller: Self.me)
        #expect(store.requestCount(.put) == 2)
        try await fs.fsyncDirectory(dir)
        #expect(store.requestCount(.put) == 3)
        #expect(POSIXMetadata(userMetadata: try #require(store.peek("photos/")).info.metadata).mode
                == FileMode.directory | 0o755)
        await fs.shutdown()
    }

    @Test func aDirectoryMadeAndRemovedOrRenamedBeforeUploadCostsOnlyItsChecks() async throws {
        let (fs, store, cache) = try Self.make()
        store.resetCounts()
        _ = try await fs.mkdir(parent: Self.root, name: "tmp", mode: 0o755, caller: Self.me)
        try await fs.rmdir(parent: Self.root, name: "tmp")
        _ = try await fs.mkdir(parent: Self.root, name: "old", mode: 0o755, caller: Self.me)
        try await fs.rename(parent: Self.root, name: "old", newParent: Self.root, newName: "new", mode: .replace)
        await fs.shutdown()
        #expect(store.requestCount(.put) == 1)
        #expect(store.requestCount(.copy, .delete) == 0)
        #expect(store.keys == ["new/"])
        #expect(Self.journalRecords(cache).isEmpty)
    }

    @Test func aPendingDirectoryMarkerIsWrittenAfterACrash() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1024)
        let (crashed, _, cache) = try Self.make(store: store)
        _ = try await crashed.recoverPendingUploads()
        let dir = try await crashed.mkdir(parent: Self.root, name: "docs", mode: 0o711, caller: Self.me).attributes.inode
        try await FileSystemTests.writeFile(crashed, dir, "readme", Array("hi".utf8))
        crashed.stopWithoutUploading()
        #expect(store.keys.isEmpty)
        let (recovered, _, _) = try Self.make(store: store, cache: cache)
        let summary = try await recovered.recoverPendingUploads()
        #expect(summary.found == 2 && summary.uploaded == 2, "\(summary)")
        #expect(store.keys == ["docs/", "docs/readme"])
        #expect(POSIXMetadata(userMetadata: try #require(store.peek("docs/")).info.metadata).mode
                == FileMode.directory | 0o711)
        #expect(Self.journalRecords(cache).isEmpty)
        await recovered.shutdown()
    }

    @Test func aSecondMountOnTheSameCacheDirectoryIsRefused() async throws {
        let (first, store, cache) = try Self.make()
        _ = try await first.recoverPendingUploads()
        let (second, _, _) = try Self.make(store: store, cache: cache)
        await #expect(throws: CacheDirectoryError.self) { _ = try await second.recoverPendingUploads() }
        await first.shutdown()
    }

    @Test func anUpdateOfAFileAnotherClientChangedKeepsBothVersions() async throws {
        let (fs, store, _) = try Self.make()
        try await store.put("doc.txt", bytes: Array("original".utf8))
        let entry = try await fs.lookup(parent: Self.root, name: "doc.txt")
        let inode = entry.attributes.inode
        let file = try await fs.open(inode, flags: OpenFlags(read: true, write: true))
        #expect(try await fs.read(inode, handle: file.handle, offset: 0, count: 100) == Array("original".utf8))
        _ = try await fs.write(inode, handle: file.handle, offset: 0, bytes: Array("OURS".utf8))
        try await fs.flush(inode, handle: file.handle)
        // Another host replaces the object before this mount uploads (its whole base is cached here: the
        // upload's own If-Match must catch it).
        try await store.put("doc.txt", bytes: Array("theirs, newer".utf8))
        await #expect(throws: FSError.self) { try await fs.fsync(inode, handle: file.handle) }
        await fs.release(inode, handle: file.handle)
        #expect(store.peek("doc.txt")?.bytes == Array("theirs, newer".utf8), "the other host's version stays")
        let conflict = try #require(store.keys.first { $0.hasPrefix("doc.txt.conflict-hostA-") })
        #expect(store.peek(conflict)?.bytes == Array("OURSinal".utf8))
        let status = fs.writeBackStatus
        #expect(status.conflictCount == 1)
        #expect(status.recentConflicts.first?.keptAs == conflict)
        await fs.shutdown()
    }

    @Test func changesToAVersionThatIsGoneGoToLostAndFound() async throws {
        let (fs, store, cache) = try Self.make()
        try await store.put("doc.txt", bytes: Array("original".utf8))
        let inode = try await fs.lookup(parent: Self.root, name: "doc.txt").attributes.inode
        let file = try await fs.open(inode, flags: OpenFlags(write: true))
        _ = try await fs.write(inode, handle: file.handle, offset: 0, bytes: Array("OURS".utf8))
        try await fs.flush(inode, handle: file.handle)
        try await store.put("doc.txt", bytes: Array("theirs".utf8))
        await #expect(throws: FSError.self) { try await fs.fsync(inode, handle: file.handle) }
        await fs.release(inode, handle: file.handle)
        #expect(store.keys == ["doc.txt"])
        #expect(store.peek("doc.txt")?.bytes == Array("theirs".utf8))
        let kept = try FileManager.default.contentsOfDirectory(atPath: cache + "/lost+found")
        #expect(kept.count == 1)
        let data = try #require(FileManager.default.contents(atPath: cache + "/lost+found/" + kept[0] + "/data"))
        #expect(Array(data.prefix(4)) == Array("OURS".utf8))
        #expect(Self.journalRecords(cache).isEmpty)
        await fs.shutdown()
    }

    @Test func twoCreatorsOfOneNameBothKeepTheirBytes() async throws {
        let (fs, store, _) = try Self.make()
        try await FileSystemTests.writeFile(fs, Self.root, "report.csv", Array("mine".utf8))
        try await store.put("report.csv", bytes: Array("other host".utf8))
        await fs.shutdown()  // the background upload meets the conflict: no error to give, a conflict copy
        #expect(store.peek("report.csv")?.bytes == Array("other host".utf8))
        #expect(store.keys.filter { $0.hasPrefix("report.csv.conflict-") }.count == 1)
    }

    @Test func overwritePolicyIsLastWriterWins() async throws {
        let (fs, store, _) = try Self.make { $0.conflictPolicy = .overwrite }
        try await FileSystemTests.writeFile(fs, Self.root, "report.csv", Array("mine".utf8))
        try await store.put("report.csv", bytes: Array("other host".utf8))
        await fs.shutdown()
        #expect(store.peek("report.csv")?.bytes == Array("mine".utf8))
        #expect(store.keys == ["report.csv"])
    }

    @Test func failedUploadsStayPendingAndAreRetried() async throws {
        let (fs, store, cache) = try Self.make { $0.writeBackDelay = 0.05 }
        // The first three PUTs fail with 503 SlowDown (after the client's own retries).
        store.failNext(.put, with: .throttled("SlowDown"), count: 3)
        try await FileSystemTests.writeFile(fs, Self.root, "f", Array("data".utf8))
        let deadline = Date().addingTimeInterval(60)
        while store.peek("f") == nil && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(store.peek("f")?.bytes == Array("data".utf8))
        #expect(store.requestCount(.put) == 4)
        while !Self.journalRecords(cache).isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(Self.journalRecords(cache).isEmpty)
        await fs.shutdown()
    }

    /// Every 3rd request fails (503s and resets) while 60 files are written and renamed, then S3 is down for a
    /// while: uploads fail and stay pending; once it is back every file reaches S3 with its bytes under its final
    /// name, and the journal empties.
    @Test func faultsAndAnOutageLoseNothing() async throws {
        let memory = InMemoryObjectStore(minimumPartSize: 1024)
        let faulty = FaultInjectingObjectStore(memory)
        let cache = try ProjectPaths.temporaryDirectory("coffer-wb-faults")
        let options = FileSystemOptions(metadataTTL: 60, cacheDirectory: cache, multipartThreshold: 4096,
                                        partSize: 1024, writeBackDelay: 3600, mountIdentity: "faults")
        let fs = FileSystem(store: faulty, options: options)
        faulty.inject(.everyKth(3))
        var expected: [String: [UInt8]] = [:]
        var random = SplitMix64(seed: 9)
        for i in 0..<60 {
            let bytes = (0..<(Int(random.next() % 9000) + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            var written = false
            for _ in 0..<20 where !written {
                do {
                    try await FileSystemTests.writeFile(fs, Self.root, "tmp\(i)", bytes)
                    try await fs.rename(parent: Self.root, name: "tmp\(i)", newParent: Self.root, newName: "f\(i)",
                                        mode: .replace)
                    written = true
                } catch {
                    // A lookup the fault hit: the application sees the error and tries again, as rsync would.
                }
            }
            #expect(written)
            expected["f\(i)"] = bytes
            if i == 20 {
                // Some uploads now, through the faults: fsync of the root reports the ones that failed.
                await #expect(throws: FSError.self) { try await fs.fsyncDirectory(Self.root) }
            }
        }
        faulty.inject(.outage)
        await #expect(throws: FSError.self) { try await fs.fsyncDirectory(Self.root) }
        #expect(Self.journalRecords(cache).count > 0, "what failed stays journaled")
        faulty.inject(.everyKth(3))
        for _ in 0..<20 where (try? await fs.fsyncDirectory(Self.root)) == nil {}
        faulty.heal()
        try await fs.fsyncDirectory(Self.root)
        #expect(faulty.failedRequests >= 20)
        #expect(Set(memory.keys) == Set(expected.keys))
        for (key, bytes) in expected { #expect(memory.peek(key)?.bytes == bytes, "\(key)") }
        #expect(Self.journalRecords(cache).isEmpty)
        await fs.shutdown()
    }

    @Test func aRefusedUploadReachesFsyncAsEACCESAndKeepsTheData() async throws {
        let (fs, store, cache) = try Self.make()
        store.setFaultInjector { $0.operation == .put ? .accessDenied("no PutObject") : nil }
        let (entry, file) = try await fs.create(parent: Self.root, name: "f", mode: 0o644, flags: OpenFlags(write: true),
                                                caller: Self.me)
        _ = try await fs.write(entry.attributes.inode, handle: file.handle, offset: 0, bytes: [9])
        try await fs.flush(entry.attributes.inode, handle: file.handle)
        do {
            try await fs.fsync(entry.attributes.inode, handle: file.handle)
            Issue.record("fsync succeeded")
        } catch {
            #expect(error.errno == EACCES)
        }
        await fs.release(entry.attributes.inode, handle: file.handle)
        #expect(Self.journalRecords(cache).count == 1)
        store.clearFaults()
        try await fs.fsyncDirectory(Self.root)
        #expect(store.peek("f")?.bytes == [9])
        await fs.shutdown()
    }

    /// Renames and uploads of one dirty file, started together many times in seeded orders: the object always
    /// ends under the final name with the final bytes, and never under an old name.
    @Test(arguments: 0..<4)
    func renameAndUploadOfOneFileNeverInterleave(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let (fs, store, _) = try Self.make()
        var name = "f0"
        let inode = try await FileSystemTests.writeFile(fs, Self.root, name, Array("v0".utf8))
        try await fs.fsyncDirectory(Self.root)
        for step in 1...25 {
            let bytes = Array("v\(step)-\(random.next() % 1000)".utf8)
            let file = try await fs.open(inode, flags: OpenFlags(read: true, write: true, truncate: true))
            _ = try await fs.write(inode, handle: file.handle, offset: 0, bytes: bytes)
            try await fs.flush(inode, handle: file.handle)
            let newName = "f\(step)"
            let oldName = name
            let uploadFirst = random.next() % 2 == 0
            async let upload: Void = {
                if !uploadFirst { await Task.yield() }
                try await fs.fsync(inode, handle: file.handle)
            }()
            async let rename: Void = {
                if uploadFirst { await Task.yield() }
                try await fs.rename(parent: Self.root, name: oldName, newParent: Self.root, newName: newName,
                                    mode: .replace)
            }()
            try await upload
            try await rename
            await fs.release(inode, handle: file.handle)
            name = newName
            try await fs.fsyncDirectory(Self.root)
            #expect(store.keys == [newName], "step \(step)")
            #expect(store.peek(newName)?.bytes == bytes, "step \(step)")
        }
        await fs.shutdown()
    }
}

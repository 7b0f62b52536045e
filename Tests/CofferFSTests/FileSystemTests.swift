import CofferFS
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// The filesystem core called directly, on the in-memory store: every operation, its S3 cost, and edge cases.
@Suite("Filesystem core on the in-memory store")
struct FileSystemTests {
    static let root = FileSystem.rootInode
    static let me = Caller(uid: 1000, gid: 1000, umask: 0o022)

    /// A filesystem over a fresh in-memory store (1 KiB parts so multipart paths run on small files).
    static func make(_ setup: (InMemoryObjectStore) async throws -> Void = { _ in },
                     configure: (inout FileSystemOptions) -> Void = { _ in }) async throws -> (FileSystem, InMemoryObjectStore, String) {
        let store = InMemoryObjectStore(minimumPartSize: 1024)
        try await setup(store)
        let cache = try ProjectPaths.temporaryDirectory("coffer-fs-cache")
        var options = FileSystemOptions(defaultUID: 501, defaultGID: 20, metadataTTL: 60, cacheDirectory: cache,
                                        multipartThreshold: 4096, partSize: 1024)
        configure(&options)
        let fs = FileSystem(store: store, options: options)
        store.resetCounts()
        return (fs, store, cache)
    }

    /// Creates `name` in `parent` with `bytes`, closes it, and returns its inode.
    @discardableResult
    static func writeFile(_ fs: FileSystem, _ parent: UInt64, _ name: String, _ bytes: [UInt8], mode: UInt32 = 0o644) async throws -> UInt64 {
        let (entry, file) = try await fs.create(parent: parent, name: name, mode: mode, flags: OpenFlags(write: true), caller: me)
        if !bytes.isEmpty {
            _ = try await fs.write(entry.attributes.inode, handle: file.handle, offset: 0, bytes: bytes)
        }
        try await fs.flush(entry.attributes.inode, handle: file.handle)
        await fs.release(entry.attributes.inode, handle: file.handle)
        return entry.attributes.inode
    }

    /// The whole file through one open handle, released before returning (so that a change made right after sees
    /// no open handle).
    static func readAll(_ fs: FileSystem, _ inode: UInt64) async throws -> [UInt8] {
        let file = try await fs.open(inode, flags: OpenFlags())
        var out: [UInt8] = []
        do {
            while true {
                let chunk = try await fs.read(inode, handle: file.handle, offset: UInt64(out.count), count: 65536)
                if chunk.isEmpty { break }
                out += chunk
            }
        } catch {
            await fs.release(inode, handle: file.handle)
            throw error
        }
        await fs.release(inode, handle: file.handle)
        return out
    }

    static func names(_ fs: FileSystem, _ inode: UInt64, plus: Bool = false) async throws -> [String] {
        let handle = try await fs.opendir(inode)
        defer { fs.releasedir(inode, handle: handle) }
        return try await fs.readdir(inode, handle: handle, offset: 0, plus: plus).map(\.name)
    }

    static func errno(_ body: () async throws -> Void) async -> Int32? {
        do {
            try await body()
            return nil
        } catch let error as FSError {
            return error.errno
        } catch {
            return -1
        }
    }

    @Test func objectsWithoutMetadataGetTheDefaults() async throws {
        let (fs, _, _) = try await Self.make { store in try await store.put("docs/readme.txt", bytes: Array("hello".utf8)) }
        let docs = try await fs.lookup(parent: Self.root, name: "docs")
        #expect(docs.attributes.fileType == .directory)
        #expect(docs.attributes.mode & 0o7777 == 0o755)
        let file = try await fs.lookup(parent: docs.attributes.inode, name: "readme.txt")
        #expect(file.attributes.mode == FileMode.regular | 0o644)
        #expect(file.attributes.uid == 501 && file.attributes.gid == 20)
        #expect(file.attributes.size == 5)
        #expect(try await Self.readAll(fs, file.attributes.inode) == Array("hello".utf8))
    }

    @Test func lookupCostsOneRoundTripThenNothingWithinTheTTL() async throws {
        let (fs, store, _) = try await Self.make { store in try await store.put("a.txt", bytes: [1]) }
        _ = try await fs.lookup(parent: Self.root, name: "a.txt")
        #expect(store.requestCount() <= 3)
        #expect(store.requestCount(.get, .put, .copy) == 0)
        store.resetCounts()
        _ = try await fs.lookup(parent: Self.root, name: "a.txt")
        _ = try await fs.getattr(try await fs.lookup(parent: Self.root, name: "a.txt").attributes.inode)
        #expect(store.requestCount() == 0)
        // A negative lookup is cached too.
        #expect(await Self.errno { _ = try await fs.lookup(parent: Self.root, name: "missing") } == ENOENT)
        store.resetCounts()
        #expect(await Self.errno { _ = try await fs.lookup(parent: Self.root, name: "missing") } == ENOENT)
        #expect(store.requestCount() == 0)
    }

    @Test func siblingsOfALookedUpNameAreFetchedWithItAndAbsentNamesCostNothing() async throws {
        let (fs, store, _) = try await Self.make { store in
            for name in ["a", "b", "c"] { try await store.put("d/\(name)", bytes: [1]) }
            try await store.put("d/sub/x", bytes: [1])
            try await store.put("e/only", bytes: [1])
        }
        let e = try await fs.lookup(parent: Self.root, name: "e").attributes.inode
        store.resetCounts()
        #expect(await Self.errno { _ = try await fs.lookup(parent: e, name: "absent") } == ENOENT)
        #expect(store.requestCount() == 1 && store.requestCount(.list) == 1, "an absent name costs one LIST page")
        let d = try await fs.lookup(parent: Self.root, name: "d").attributes.inode
        store.resetCounts()
        _ = try await fs.lookup(parent: d, name: "a")
        #expect(store.requestCount(.list) == 1, "one LIST page of the parent")
        #expect(store.requestCount(.head) == 4,
                "the HEAD of the name it shows, sent with those of the names after it (b, c, and sub's marker)")
        store.resetCounts()
        #expect(await Self.errno { _ = try await fs.lookup(parent: d, name: "new-name") } == ENOENT)
        #expect(store.requestCount() == 0, "the listing answers for absent names")
        _ = try await fs.lookup(parent: d, name: "b")
        #expect(try await fs.lookup(parent: d, name: "sub").attributes.fileType == .directory)
        #expect(store.requestCount() == 0, "names fetched with a's lookup cost nothing within the TTL")
        #expect(await Self.errno { _ = try await fs.lookup(parent: d, name: "not-there") } == ENOENT)
        #expect(store.requestCount() == 0)
    }

    @Test func aLookupFetchesAtMostThirtyTwoNamesAtATime() async throws {
        let names = (0..<100).map { String(format: "f%03d", $0) }
        let (fs, store, _) = try await Self.make { store in
            for name in names { try await store.put("d/\(name)", bytes: [1]) }
        }
        let d = try await fs.lookup(parent: Self.root, name: "d").attributes.inode
        store.resetCounts()
        _ = try await fs.lookup(parent: d, name: "f000")
        #expect(store.requestCount(.head) == 32, "f000 and the 31 names after it")
        for name in names[1..<32] { _ = try await fs.lookup(parent: d, name: name) }
        #expect(store.requestCount(.head) == 32, "already fetched")
        _ = try await fs.lookup(parent: d, name: "f032")
        #expect(store.requestCount(.head) == 64, "the next 32")
        for name in names[33...] { _ = try await fs.lookup(parent: d, name: name) }
        #expect(store.requestCount(.head) == 100, "every name fetched once")
        #expect(store.requestCount(.list) == 1)
        store.resetCounts()
        _ = try await fs.lookup(parent: d, name: "f050")
        #expect(store.requestCount() == 0)
    }

    @Test func lookupsInADirectoryOfMoreThanOnePageAskAboutOneKey() async throws {
        let (fs, store, _) = try await Self.make { store in
            for i in 0..<1100 { try await store.put(String(format: "big/f%04d", i), bytes: []) }
        }
        let big = try await fs.lookup(parent: Self.root, name: "big").attributes.inode
        store.resetCounts()
        #expect(await Self.errno { _ = try await fs.lookup(parent: big, name: "new-1") } == ENOENT)
        #expect(store.requestCount() == 2, "the first page is truncated: one more LIST, of the keys new-1 begins")
        store.resetCounts()
        #expect(await Self.errno { _ = try await fs.lookup(parent: big, name: "new-2") } == ENOENT)
        #expect(store.requestCount() == 1, "known large: one LIST of the name's key")
        #expect(store.requestLog.allSatisfy { $0.operation == .list && $0.key.hasSuffix("big/new-2") })
        store.resetCounts()
        #expect(try await fs.lookup(parent: big, name: "f0500").attributes.size == 0)
        #expect(store.requestCount(.list) == 1 && store.requestCount(.head) == 1, "a file: the LIST, then its HEAD")
        try await store.put("big/sub/x", bytes: [1])
        store.resetCounts()
        #expect(try await fs.lookup(parent: big, name: "sub").attributes.fileType == .directory)
        #expect(store.requestCount(.list) == 1 && store.requestCount(.head) == 1, "a directory: the LIST, then its marker")
    }

    @Test func readdirCostsListPagesAndReaddirplusHeadsEachEntryOnce() async throws {
        let (fs, store, _) = try await Self.make { store in
            for i in 0..<30 { try await store.put(String(format: "d/f%02d", i), bytes: [UInt8(i)]) }
            try await store.put("d/sub/x", bytes: [1])
            try await store.put("e/only", bytes: [1])
        }
        let e = try await fs.lookup(parent: Self.root, name: "e").attributes.inode
        store.resetCounts()
        #expect(await Self.errno { _ = try await fs.lookup(parent: e, name: "absent") } == ENOENT)
        #expect(store.requestCount() == 1 && store.requestCount(.list) == 1, "an absent name costs one LIST page")
        let d = try await fs.lookup(parent: Self.root, name: "d").attributes.inode
        store.resetCounts()
        let plain = try await Self.names(fs, d)
        #expect(plain.count == 2 + 31)
        #expect(store.requestCount() == store.requestCount(.list))
        #expect(store.requestCount(.list) == 1)
        store.resetCounts()
        _ = try await Self.names(fs, d, plus: true)
        #expect(store.requestCount(.list) == 1)
        #expect(store.requestCount(.head) == 31, "one HEAD per file and per subdirectory marker")
        store.resetCounts()
        _ = try await Self.names(fs, d, plus: true)
        #expect(store.requestCount(.head) == 0, "attributes are cached for the TTL")
    }

    @Test func keysThatCannotBeNamesAreSkippedAndFilesAreShadowedByDirectories() async throws {
        let long = String(repeating: "x", count: 256)
        let (fs, _, _) = try await Self.make { store in
            for key in ["top/ok.txt", "top//double", "top/./dot", "top/../up", "top/\(long)", "top/a", "top/a/inside",
                        "top/ünï cødé.txt"] {
                try await store.put(key, bytes: [1])
            }
        }
        let top = try await fs.lookup(parent: Self.root, name: "top").attributes.inode
        let names = try await Self.names(fs, top)
        #expect(names == [".", "..", "a", "ok.txt", "ünï cødé.txt"])
        let a = try await fs.lookup(parent: top, name: "a")
        #expect(a.attributes.fileType == .directory)
        #expect(try await fs.lookup(parent: top, name: "ünï cødé.txt").attributes.size == 1)
    }

    @Test func createWriteFlushUploadsBytesAndS3fsMetadata() async throws {
        let (fs, store, _) = try await Self.make()
        let inode = try await Self.writeFile(fs, Self.root, "new.txt", Array("content".utf8), mode: 0o640)
        let object = try #require(store.peek("new.txt"))
        #expect(object.bytes == Array("content".utf8))
        #expect(object.info.metadata["mode"] == "\(FileMode.regular | 0o640 & ~0o022)")
        #expect(object.info.metadata["uid"] == "1000")
        #expect(object.info.metadata["gid"] == "1000")
        #expect(object.info.metadata["mtime"] != nil)
        #expect(object.info.contentType == "text/plain")
        #expect(store.requestCount(.put) == 1)
        #expect(try await fs.getattr(inode).0.size == 7)
        // An empty file is uploaded too.
        try await Self.writeFile(fs, Self.root, "empty", [])
        #expect(store.peek("empty")?.bytes == [])
    }

    @Test func exclusiveCreateOfAnExistingNameFails() async throws {
        let (fs, _, _) = try await Self.make { store in try await store.put("taken", bytes: [1]) }
        let code = await Self.errno {
            _ = try await fs.create(parent: Self.root, name: "taken", mode: 0o644,
                                    flags: OpenFlags(write: true, exclusive: true), caller: Self.me)
        }
        #expect(code == EEXIST)
    }

    @Test func randomWritesAppendsAndOverwriteInPlace() async throws {
        let original = (0..<10_000).map { UInt8($0 % 251) }
        let (fs, store, _) = try await Self.make { store in try await store.put("big.bin", bytes: original) }
        let inode = try await fs.lookup(parent: Self.root, name: "big.bin").attributes.inode
        let file = try await fs.open(inode, flags: OpenFlags(read: true, write: true))
        _ = try await fs.write(inode, handle: file.handle, offset: 5000, bytes: [9, 9, 9])
        _ = try await fs.write(inode, handle: file.handle, offset: 10_000, bytes: [7, 7])
        #expect(try await fs.read(inode, handle: file.handle, offset: 4999, count: 5) == [original[4999], 9, 9, 9, original[5003]])
        try await fs.flush(inode, handle: file.handle)
        await fs.release(inode, handle: file.handle)
        var expected = original
        expected.replaceSubrange(5000..<5003, with: [9, 9, 9])
        expected += [7, 7]
        #expect(store.peek("big.bin")?.bytes == expected)
    }

    @Test func truncateShrinksAndExtendsWithZeros() async throws {
        let (fs, store, _) = try await Self.make { store in try await store.put("t", bytes: Array(repeating: 5, count: 100)) }
        let inode = try await fs.lookup(parent: Self.root, name: "t").attributes.inode
        let shrunk = try await fs.setattr(inode, AttributeChanges(size: 10), handle: nil, caller: Self.me)
        #expect(shrunk.0.size == 10)
        #expect(store.peek("t")?.bytes == Array(repeating: 5, count: 10))
        _ = try await fs.setattr(inode, AttributeChanges(size: 20), handle: nil, caller: Self.me)
        #expect(store.peek("t")?.bytes == Array(repeating: 5, count: 10) + Array(repeating: 0, count: 10))
    }

    @Test func unlinkedOpenFileStaysReadableUntilRelease() async throws {
        let (fs, store, _) = try await Self.make { store in try await store.put("gone", bytes: Array("still here".utf8)) }
        let inode = try await fs.lookup(parent: Self.root, name: "gone").attributes.inode
        let file = try await fs.open(inode, flags: OpenFlags())
        try await fs.unlink(parent: Self.root, name: "gone")
        #expect(store.peek("gone") == nil)
        #expect(try await fs.read(inode, handle: file.handle, offset: 0, count: 100) == Array("still here".utf8))
        #expect(await Self.errno { _ = try await fs.lookup(parent: Self.root, name: "gone") } == ENOENT)
        await fs.release(inode, handle: file.handle)
    }

    @Test func mkdirWritesAMarkerAndRmdirChecksEmptiness() async throws {
        let (fs, store, _) = try await Self.make()
        let dir = try await fs.mkdir(parent: Self.root, name: "photos", mode: 0o750, caller: Self.me)
        let marker = try #require(store.peek("photos/"))
        #expect(marker.bytes.isEmpty)
        #expect(marker.info.contentType == "application/x-directory")
        #expect(marker.info.metadata["mode"] == "\(FileMode.directory | 0o750)")
        try await Self.writeFile(fs, dir.attributes.inode, "cat.jpg", [1, 2, 3])
        #expect(await Self.errno { try await fs.rmdir(parent: Self.root, name: "photos") } == ENOTEMPTY)
        try await fs.unlink(parent: dir.attributes.inode, name: "cat.jpg")
        try await fs.rmdir(parent: Self.root, name: "photos")
        #expect(store.keys.isEmpty)
        #expect(await Self.errno { _ = try await fs.mkdir(parent: Self.root, name: "x", mode: 0o755, caller: Self.me) } == nil)
        #expect(await Self.errno { _ = try await fs.mkdir(parent: Self.root, name: "x", mode: 0o755, caller: Self.me) } == EEXIST)
    }

    @Test func renameOfFilesReplacesTargetsAndOfDirectoriesMovesEveryKey() async throws {
        let (fs, store, _) = try await Self.make { store in
            try await store.put("a.txt", bytes: [1])
            try await store.put("b.txt", bytes: [2])
            for i in 0..<5 { try await store.put("dir/sub/\(i)", bytes: [UInt8(i)]) }
            try await store.put("dir/", bytes: [])
        }
        try await fs.rename(parent: Self.root, name: "a.txt", newParent: Self.root, newName: "b.txt", mode: .replace)
        #expect(store.peek("a.txt") == nil)
        #expect(store.peek("b.txt")?.bytes == [1])
        #expect(store.requestCount(.copy) == 1)
        #expect(await Self.errno {
            try await fs.rename(parent: Self.root, name: "b.txt", newParent: Self.root, newName: "dir", mode: .replace)
        } == EISDIR)
        try await fs.rename(parent: Self.root, name: "dir", newParent: Self.root, newName: "moved", mode: .replace)
        #expect(store.keys == ["b.txt", "moved/", "moved/sub/0", "moved/sub/1", "moved/sub/2", "moved/sub/3", "moved/sub/4"])
        let moved = try await fs.lookup(parent: Self.root, name: "moved").attributes.inode
        let sub = try await fs.lookup(parent: moved, name: "sub").attributes.inode
        #expect(try await Self.readAll(fs, try await fs.lookup(parent: sub, name: "3").attributes.inode) == [3])
    }

    @Test func renameOfObjectsAboveTheCopyLimitUsesMultipartPartCopies() async throws {
        let bytes = (0..<5000).map { UInt8($0 % 253) }
        let (fs, store, _) = try await Self.make({ store in
            _ = try await store.put("huge", body: .bytes(bytes), options: PutOptions(metadata: ["mode": "33188"]))
        }, configure: { $0.singleCopyLimit = 2048 })
        try await fs.rename(parent: Self.root, name: "huge", newParent: Self.root, newName: "moved", mode: .replace)
        #expect(store.requestCount(.copy) == 0)
        #expect(store.requestCount(.uploadPartCopy) == 3)
        #expect(store.peek("huge") == nil)
        let moved = try #require(store.peek("moved"))
        #expect(moved.bytes == bytes)
        #expect(moved.info.metadata["mode"] == "33188")
    }

    @Test func readdirOffsetsStayValidWhileTheDirectoryChanges() async throws {
        let (fs, _, _) = try await Self.make { store in
            for name in ["a", "b", "c", "d"] { try await store.put("dir/\(name)", bytes: [1]) }
        }
        let dir = try await fs.lookup(parent: Self.root, name: "dir").attributes.inode
        let handle = try await fs.opendir(dir)
        let first = try await fs.readdir(dir, handle: handle, offset: 0)
        let afterB = try #require(first.first { $0.name == "b" }).nextOffset
        try await fs.unlink(parent: dir, name: "a")
        try await Self.writeFile(fs, dir, "aa", [2])
        let rest = try await fs.readdir(dir, handle: handle, offset: afterB)
        #expect(rest.map(\.name) == ["c", "d"], "no entry skipped or repeated after changes")
        fs.releasedir(dir, handle: handle)
        #expect(try await Self.names(fs, dir) == [".", "..", "aa", "b", "c", "d"])
    }

    @Test func readdirReturnsAtMostTheLimitAndPagesThroughEveryEntry() async throws {
        let names = (0..<50).map { String(format: "f%02d", $0) }
        let (fs, _, _) = try await Self.make { store in
            for name in names { try await store.put("dir/\(name)", bytes: [1]) }
        }
        let dir = try await fs.lookup(parent: Self.root, name: "dir").attributes.inode
        let handle = try await fs.opendir(dir)
        var seen: [String] = []
        var offset: UInt64 = 0
        while true {
            let page = try await fs.readdir(dir, handle: handle, offset: offset, limit: 7)
            #expect(page.count <= 7)
            guard let last = page.last else { break }
            seen += page.map(\.name)
            offset = last.nextOffset
        }
        fs.releasedir(dir, handle: handle)
        #expect(seen == [".", ".."] + names, "pages of 7 list every entry once, in order")
        #expect(try await fs.readdir(dir, handle: try await fs.opendir(dir), offset: 0, limit: 0).isEmpty)
    }

    @Test func lookupCountsKeepInodesUntilForgotten() async throws {
        let (fs, _, _) = try await Self.make { store in try await store.put("f", bytes: [1]) }
        let first = try await fs.lookup(parent: Self.root, name: "f")
        let second = try await fs.lookup(parent: Self.root, name: "f")
        #expect(first.attributes.inode == second.attributes.inode)
        fs.forget(first.attributes.inode, count: 1)
        #expect(try await fs.getattr(first.attributes.inode).0.size == 1, "one lookup is still held")
        fs.forget(first.attributes.inode, count: 1)
        #expect(await Self.errno { _ = try await fs.getattr(first.attributes.inode) } == ESTALE)
    }

    @Test func renameOfAFileNotYetUploadedUploadsItUnderTheNewName() async throws {
        let (fs, store, _) = try await Self.make()
        let (entry, file) = try await fs.create(parent: Self.root, name: ".tmp.x", mode: 0o644, flags: OpenFlags(write: true), caller: Self.me)
        _ = try await fs.write(entry.attributes.inode, handle: file.handle, offset: 0, bytes: [4, 2])
        try await fs.rename(parent: Self.root, name: ".tmp.x", newParent: Self.root, newName: "final", mode: .replace)
        try await fs.flush(entry.attributes.inode, handle: file.handle)
        await fs.release(entry.attributes.inode, handle: file.handle)
        #expect(store.keys == ["final"])
        #expect(store.peek("final")?.bytes == [4, 2])
    }

    @Test func symlinksAreStoredInS3fsForm() async throws {
        let (fs, store, _) = try await Self.make()
        let link = try await fs.symlink(target: "../target file", parent: Self.root, name: "link", caller: Self.me)
        #expect(link.attributes.fileType == .symlink)
        let object = try #require(store.peek("link"))
        #expect(object.bytes == Array("../target file".utf8))
        #expect(object.info.metadata["mode"] == "\(FileMode.symlink | 0o777)")
        let (fresh, _, _) = try await Self.make { other in
            _ = try await other.put("link", body: .bytes(object.bytes), options: PutOptions(metadata: object.info.metadata))
        }
        let found = try await fresh.lookup(parent: Self.root, name: "link")
        #expect(found.attributes.fileType == .symlink)
        #expect(try await fresh.readlink(found.attributes.inode) == "../target file")
    }

    @Test func chmodChownUtimensPersistByCopyingOntoItself() async throws {
        let (fs, store, _) = try await Self.make { store in try await store.put("f", bytes: [1, 2]) }
        let inode = try await fs.lookup(parent: Self.root, name: "f").attributes.inode
        store.resetCounts()
        let when = Timestamp(seconds: 1_600_000_000, nanoseconds: 123_456_789)
        _ = try await fs.setattr(inode, AttributeChanges(mode: 0o600, uid: 33, gid: 44, mtime: .at(when)), handle: nil, caller: Self.me)
        #expect(store.requestCount(.copy) == 1)
        let object = try #require(store.peek("f"))
        #expect(object.bytes == [1, 2])
        #expect(object.info.metadata["mode"] == "\(FileMode.regular | 0o600)")
        #expect(object.info.metadata["uid"] == "33")
        #expect(object.info.metadata["mtime"] == "1600000000.123456789")
        let dir = try await fs.mkdir(parent: Self.root, name: "d", mode: 0o755, caller: Self.me)
        _ = try await fs.setattr(dir.attributes.inode, AttributeChanges(mode: 0o700), handle: nil, caller: Self.me)
        #expect(store.peek("d/")?.info.metadata["mode"] == "\(FileMode.directory | 0o700)")
    }

    @Test func userExtendedAttributesRoundTrip() async throws {
        let (fs, store, _) = try await Self.make { store in try await store.put("x", bytes: [1]) }
        let inode = try await fs.lookup(parent: Self.root, name: "x").attributes.inode
        try await fs.setxattr(inode, name: "user.color", value: Array("blue".utf8), flags: 0)
        #expect(try await fs.getxattr(inode, name: "user.color") == Array("blue".utf8))
        #expect(try await fs.listxattr(inode) == ["user.color"])
        #expect(store.peek("x")?.info.metadata["xattr"] != nil)
        try await fs.removexattr(inode, name: "user.color")
        #expect(await Self.errno { _ = try await fs.getxattr(inode, name: "user.color") } == ENODATA)
        #expect(await Self.errno { try await fs.setxattr(inode, name: "trusted.x", value: [1], flags: 0) } == ENOTSUP)
    }

    @Test func aFailedUploadReachesTheApplicationAndKeepsTheData() async throws {
        let (fs, store, _) = try await Self.make()
        let (entry, file) = try await fs.create(parent: Self.root, name: "report.pdf", mode: 0o644, flags: OpenFlags(write: true), caller: Self.me)
        _ = try await fs.write(entry.attributes.inode, handle: file.handle, offset: 0, bytes: [1, 2, 3])
        store.failNext(.put, with: .transport("connection reset"), count: 1)
        #expect(await Self.errno { try await fs.flush(entry.attributes.inode, handle: file.handle) } == EIO)
        #expect(store.peek("report.pdf") == nil)
        try await fs.flush(entry.attributes.inode, handle: file.handle)
        #expect(store.peek("report.pdf")?.bytes == [1, 2, 3])
        await fs.release(entry.attributes.inode, handle: file.handle)
    }

    @Test func noOverwriteRefusesToReplaceObjects() async throws {
        let (fs, store, _) = try await Self.make({ store in try await store.put("backup-1.tar", bytes: [1]) },
                                                 configure: { $0.noOverwrite = true })
        #expect(await Self.errno {
            _ = try await fs.create(parent: Self.root, name: "backup-1.tar", mode: 0o644, flags: OpenFlags(write: true), caller: Self.me)
        } == EEXIST)
        try await Self.writeFile(fs, Self.root, "backup-2.tar", [2])
        #expect(store.peek("backup-2.tar")?.bytes == [2])
        #expect(store.peek("backup-1.tar")?.bytes == [1])
    }

    /// `tar -czf` through a `--no-overwrite` mount: tar closes its copy of the new file at once, gzip writes and
    /// closes it later; with uploads at close that is two uploads of one file this mount created. The second
    /// replaces only this mount's own version (If-Match), so it succeeds; once another writer replaced the object,
    /// it is refused (EEXIST) and nothing of theirs is overwritten.
    @Test func noOverwriteLetsAFileCreatedHereBeUploadedAgain() async throws {
        let (fs, store, _) = try await Self.make(configure: { $0.noOverwrite = true })
        let (entry, file) = try await fs.create(parent: Self.root, name: "etc.tar.gz", mode: 0o644,
                                                flags: OpenFlags(write: true), caller: Self.me)
        let inode = entry.attributes.inode
        try await fs.flush(inode, handle: file.handle)
        #expect(store.peek("etc.tar.gz")?.bytes == [])
        _ = try await fs.write(inode, handle: file.handle, offset: 0, bytes: [1, 2, 3])
        try await fs.flush(inode, handle: file.handle)
        #expect(store.peek("etc.tar.gz")?.bytes == [1, 2, 3], "the second upload replaced this mount's own version")
        _ = try await fs.write(inode, handle: file.handle, offset: 3, bytes: [4])
        try await fs.flush(inode, handle: file.handle)
        #expect(store.peek("etc.tar.gz")?.bytes == [1, 2, 3, 4])

        await fs.release(inode, handle: file.handle)

        // Once every descriptor was closed, the file is an existing object: a new writer may not replace it.
        let again = try await fs.open(inode, flags: OpenFlags(write: true))
        _ = try await fs.write(inode, handle: again.handle, offset: 0, bytes: [7])
        #expect(await Self.errno { try await fs.flush(inode, handle: again.handle) } == EEXIST)
        await fs.release(inode, handle: again.handle)
        #expect(store.peek("etc.tar.gz")?.bytes == [1, 2, 3, 4], "the backup stays as it was")
    }

    /// While the creating descriptors are open, another writer's replacement is never overwritten either.
    @Test func noOverwriteNeverReplacesAnotherWritersVersionOfAFileCreatedHere() async throws {
        let (fs, store, _) = try await Self.make(configure: { $0.noOverwrite = true })
        let (entry, file) = try await fs.create(parent: Self.root, name: "f", mode: 0o644,
                                                flags: OpenFlags(write: true), caller: Self.me)
        let inode = entry.attributes.inode
        _ = try await fs.write(inode, handle: file.handle, offset: 0, bytes: [1])
        try await fs.flush(inode, handle: file.handle)
        _ = try await store.put("f", bytes: [9])
        _ = try await fs.write(inode, handle: file.handle, offset: 1, bytes: [2])
        #expect(await Self.errno { try await fs.flush(inode, handle: file.handle) } == EEXIST)
        await fs.release(inode, handle: file.handle)
        #expect(store.peek("f")?.bytes == [9], "another writer's object is never replaced")
    }

    @Test func dataReadTwiceIsFetchedOnce() async throws {
        let (fs, store, _) = try await Self.make { store in try await store.put("r", bytes: Array(repeating: 1, count: 50_000)) }
        let inode = try await fs.lookup(parent: Self.root, name: "r").attributes.inode
        store.resetCounts()
        _ = try await Self.readAll(fs, inode)
        let first = store.requestCount(.get)
        _ = try await Self.readAll(fs, inode)
        #expect(first >= 1)
        #expect(store.requestCount(.get) == first)
    }

    @Test func readOnlyMountsRefuseChanges() async throws {
        let (fs, _, _) = try await Self.make({ store in try await store.put("f", bytes: [1]) }, configure: { $0.readOnly = true })
        #expect(await Self.errno { _ = try await fs.mkdir(parent: Self.root, name: "d", mode: 0o755, caller: Self.me) } == EROFS)
        #expect(await Self.errno { try await fs.unlink(parent: Self.root, name: "f") } == EROFS)
    }

    // MARK: - FIFOs, sockets and devices

    @Test func specialFilesAreZeroByteObjectsWithS3FSHeaders() async throws {
        let (fs, store, _) = try await Self.make()
        let made: [(String, FileType, UInt64)] = [("fifo", .fifo, 0), ("sock", .socket, 0),
                                                  ("char", .characterDevice, 0x107), ("block", .blockDevice, 0x801)]
        for (name, type, rdev) in made {
            let entry = try await fs.mknod(parent: Self.root, name: name, type: type, mode: 0o666, rdev: rdev, caller: Self.me)
            #expect(entry.attributes.fileType == type)
            #expect(entry.attributes.mode & FileMode.permissionMask == 0o644, "the umask applies")
            #expect(entry.attributes.rdev == rdev && entry.attributes.size == 0)
            let info = try await store.head(name)
            #expect(info.size == 0)
            #expect(info.metadata["mode"] == String(type.modeBits | 0o644))
            #expect(info.metadata["rdev"] == (type.isDevice ? String(rdev) : nil))
        }
        #expect(await Self.errno {
            _ = try await fs.mknod(parent: Self.root, name: "fifo", type: .fifo, mode: 0o644, rdev: 0, caller: Self.me)
        } == EEXIST)
        #expect(await Self.errno {
            _ = try await fs.mknod(parent: Self.root, name: "f", type: .regular, mode: 0o644, rdev: 0, caller: Self.me)
        } == EINVAL)
        // chmod is a metadata copy that keeps the type and the device number; rename keeps both too.
        let char = try await fs.lookup(parent: Self.root, name: "char").attributes.inode
        _ = try await fs.setattr(char, AttributeChanges(mode: 0o600), handle: nil, caller: Self.me)
        #expect(try await store.head("char").metadata["rdev"] == "263")
        #expect(try await store.head("char").metadata["mode"] == String(FileMode.characterDevice | 0o600))
        try await fs.rename(parent: Self.root, name: "char", newParent: Self.root, newName: "tty", mode: .replace)
        #expect(try await store.head("tty").metadata["rdev"] == "263")
        #expect(await Self.errno { _ = try await fs.open(char, flags: OpenFlags()) } == ENXIO)
        #expect(await Self.errno {
            _ = try await fs.setattr(char, AttributeChanges(size: 0), handle: nil, caller: Self.me)
        } == EINVAL)
    }

    @Test func specialFilesWrittenByS3FSAreShownAsWhatTheyAre() async throws {
        let (fs, _, _) = try await Self.make { store in
            // What s3fs 1.90 writes for mkfifo and for a device (with the rdev header newer tools add).
            _ = try await store.put("fifo", body: .bytes([]), options: PutOptions(metadata: ["mode": "4512", "uid": "0", "gid": "0", "mtime": "1700000000"]))
            _ = try await store.put("dev", body: .bytes([]), options: PutOptions(metadata: ["mode": "8576", "rdev": "263"]))
            _ = try await store.put("sock", body: .bytes([]), options: PutOptions(metadata: ["mode": "49645"]))
        }
        let fifo = try await fs.lookup(parent: Self.root, name: "fifo").attributes
        #expect(fifo.fileType == .fifo && fifo.mode == 0o10640 && fifo.mtime.seconds == 1_700_000_000)
        let device = try await fs.lookup(parent: Self.root, name: "dev").attributes
        #expect(device.fileType == .characterDevice && device.rdev == 263)
        #expect(try await fs.lookup(parent: Self.root, name: "sock").attributes.fileType == .socket)
        // A fresh mount listing them first (readdirplus) shows the same.
        let (again, _, _) = try await Self.make { store in
            _ = try await store.put("fifo", body: .bytes([]), options: PutOptions(metadata: ["mode": "4512"]))
        }
        let handle = try await again.opendir(Self.root)
        let entries = try await again.readdir(Self.root, handle: handle, offset: 0, plus: true)
        again.releasedir(Self.root, handle: handle)
        #expect(entries.first { $0.name == "fifo" }?.attributes.fileType == .fifo)
    }
}

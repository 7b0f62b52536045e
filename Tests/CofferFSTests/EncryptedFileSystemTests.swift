import CofferCrypto
import CofferEncryption
import CofferFS
import CofferObjectStore
import CofferTestSupport
import Foundation
import Synchronization
import Testing

/// The filesystem core with encryption on, on the in-memory store: what is stored, what reads back, what each
/// change costs and keeps.
@Suite("Encrypted filesystem on the in-memory store")
struct EncryptedFileSystemTests {
    static let root = FileSystem.rootInode
    static let me = FileSystemTests.me
    static let context = ["coffer:fs": "test-bucket/fs"]

    /// `coffer-local/test-key-1` with key 00…1f.
    static let keyring = try! RawAESKeyring(wrappingKey: SecretBytes(copying: Array(0..<32) as [UInt8]),
                                            namespace: "coffer-local", name: "test-key-1")

    /// Small frames (1 KiB) so that small files span many frames.
    static func encryption(mode: EncryptionMode = .required, keyrings: [any Keyring] = [keyring]) -> EncryptionConfiguration {
        EncryptionConfiguration(keyrings: keyrings, context: context, mode: mode, frameLength: 1024)
    }

    /// An encrypting filesystem over `store` (a new one with 1 KiB minimum parts when nil).
    static func make(store: InMemoryObjectStore? = nil, encryption: EncryptionConfiguration = encryption(),
                     configure: (inout FileSystemOptions) -> Void = { _ in }) throws -> (FileSystem, InMemoryObjectStore, String) {
        let store = store ?? InMemoryObjectStore(minimumPartSize: 1024)
        let cache = try ProjectPaths.temporaryDirectory("coffer-fs-enc-cache")
        var options = FileSystemOptions(defaultUID: 501, defaultGID: 20, metadataTTL: 60, cacheDirectory: cache)
        configure(&options)
        let fs = FileSystem(store: store, options: options, encryption: encryption)
        store.resetCounts()
        return (fs, store, cache)
    }

    /// The plaintext of the message stored as `key`, decrypted by the SDK-format reader with the required context.
    static func decrypted(_ store: InMemoryObjectStore, _ key: String) async throws -> [UInt8] {
        let object = try #require(store.peek(key), "\(key) is stored")
        #expect(MessageHeader.looksLikeMessage(object.bytes), "\(key) is stored as a message")
        var required = context
        required[EncryptionConfiguration.versionKey] = "1"
        return try await MessageDecryptor.decrypt(object.bytes, keyrings: [keyring],
                                                  requiredContext: EncryptionContext(required))
    }

    static func header(_ store: InMemoryObjectStore, _ key: String) throws -> MessageHeader {
        try MessageHeader(parsing: try #require(store.peek(key)).bytes)
    }

    /// Checks the `coffer-*` metadata of `key` against its message.
    static func expectHints(_ store: InMemoryObjectStore, _ key: String, plaintextSize: Int,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let object = try #require(store.peek(key), sourceLocation: sourceLocation)
        let header = try MessageHeader(parsing: object.bytes)
        #expect(object.info.metadata["coffer-enc"] == "esdk2-0478", sourceLocation: sourceLocation)
        #expect(object.info.metadata["coffer-size"] == String(plaintextSize), sourceLocation: sourceLocation)
        #expect(object.info.metadata["coffer-hlen"] == String(header.length), sourceLocation: sourceLocation)
        #expect(try header.layout(ciphertextSize: UInt64(object.bytes.count)).plaintextSize == UInt64(plaintextSize),
                sourceLocation: sourceLocation)
    }

    static func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func names(in directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    // MARK: - Writing and reading

    @Test func writtenFilesAreStoredAsMessagesWithHintsAndPOSIXMetadata() async throws {
        let (fs, store, _) = try Self.make()
        let plaintext = Self.bytes(5000)
        let inode = try await FileSystemTests.writeFile(fs, Self.root, "notes.txt", plaintext, mode: 0o640)
        let object = try #require(store.peek("notes.txt"))
        #expect(object.bytes.count > plaintext.count)
        #expect(try await Self.decrypted(store, "notes.txt") == plaintext)
        try Self.expectHints(store, "notes.txt", plaintextSize: 5000)
        #expect(object.info.metadata["mode"] == "\(FileMode.regular | 0o640 & ~0o022)")
        #expect(object.info.metadata["uid"] == "1000")
        #expect(object.info.contentType == "text/plain")
        #expect(try Self.header(store, "notes.txt").frameLength == 1024)
        #expect(store.requestCount(.put) == 1)
        #expect(try await fs.getattr(inode).0.size == 5000)

        // An empty file is a message too.
        try await FileSystemTests.writeFile(fs, Self.root, "empty", [])
        #expect(try await Self.decrypted(store, "empty") == [])
        try Self.expectHints(store, "empty", plaintextSize: 0)
        #expect(store.peek("empty")!.bytes.count == (try Self.header(store, "empty")).length + MessageFormat.finalFrameOverhead)
    }

    @Test func readsReturnThePlaintextAndAttributesShowItsSize() async throws {
        let (fs, store, _) = try Self.make()
        let plaintext = Self.bytes(70_000, seed: 2)
        let inode = try await FileSystemTests.writeFile(fs, Self.root, "data.bin", plaintext)
        // Released and clean: reads go through the decrypting block cache.
        #expect(try await FileSystemTests.readAll(fs, inode) == plaintext)
        #expect(try await fs.getattr(inode).0.size == 70_000)

        // Another mount of the bucket: the size comes from the hints of one HEAD, the bytes from decrypted reads.
        let (other, _, _) = try Self.make(store: store)
        let entry = try await other.lookup(parent: Self.root, name: "data.bin")
        #expect(entry.attributes.size == 70_000)
        #expect(store.requestCount(.get) == 0, "the lookup reads no object bytes")
        let file = try await other.open(entry.attributes.inode, flags: OpenFlags())
        let middle = try await other.read(entry.attributes.inode, handle: file.handle, offset: 33_333, count: 4000)
        #expect(middle[...] == plaintext[33_333..<37_333])
        let tail = try await other.read(entry.attributes.inode, handle: file.handle, offset: 69_990, count: 4000)
        #expect(tail[...] == plaintext[69_990...])
        #expect(try await other.read(entry.attributes.inode, handle: file.handle, offset: 70_000, count: 10) == [])
        await other.release(entry.attributes.inode, handle: file.handle)
        #expect(try await FileSystemTests.readAll(other, entry.attributes.inode) == plaintext)
        #expect(try await other.getattr(entry.attributes.inode).0.size == 70_000)

        // readdirplus shows plaintext sizes too.
        let (third, _, _) = try Self.make(store: store)
        let handle = try await third.opendir(Self.root)
        let entries = try await third.readdir(Self.root, handle: handle, offset: 0, plus: true)
        third.releasedir(Self.root, handle: handle)
        #expect(entries.first { $0.name == "data.bin" }?.attributes.size == 70_000)
    }

    @Test func aListingThatSeesANewVersionDoesNotGiveTheFileItsStoredSize() async throws {
        let (writer, store, _) = try Self.make()
        try await FileSystemTests.writeFile(writer, Self.root, "shared.bin", Self.bytes(5000, seed: 11))
        let (reader, _, _) = try Self.make(store: store)
        let entry = try await reader.lookup(parent: Self.root, name: "shared.bin")
        let inode = entry.attributes.inode
        let file = try await reader.open(inode, flags: OpenFlags())
        // Another host replaces the file while it is open here; then this mount lists the directory.
        let replaced = Self.bytes(7000, seed: 12)
        try await FileSystemTests.writeFile(writer, Self.root, "shared.bin", replaced)
        #expect(try await FileSystemTests.names(reader, Self.root).contains("shared.bin"))
        // The open descriptor stays on the version it opened: its size, and ESTALE rather than the new bytes.
        #expect(try await reader.getattr(inode).0.size == 5000)
        let stale = await #expect(throws: FSError.self) {
            _ = try await reader.read(inode, handle: file.handle, offset: 0, count: 100_000)
        }
        #expect(stale?.errno == ESTALE)
        await reader.release(inode, handle: file.handle)
        // After the last close: the listing's size is the message's, not the file's, and must not be used.
        #expect(try await reader.getattr(inode).0.size == 7000)
        #expect(try await FileSystemTests.readAll(reader, inode) == replaced)

        // And a getattr straight after a listing shows the new plaintext size.
        let again = Self.bytes(3000, seed: 13)
        try await FileSystemTests.writeFile(writer, Self.root, "shared.bin", again)
        _ = try await FileSystemTests.names(reader, Self.root)
        #expect(try await reader.getattr(inode).0.size == 3000)
        #expect(try await FileSystemTests.readAll(reader, inode) == again)
    }

    @Test func anUnlinkedOpenFileStaysReadableInPlaintext() async throws {
        let (fs, store, _) = try Self.make()
        let plaintext = Self.bytes(3000, seed: 3)
        try await FileSystemTests.writeFile(fs, Self.root, "gone", plaintext)
        let (other, _, _) = try Self.make(store: store)
        let inode = try await other.lookup(parent: Self.root, name: "gone").attributes.inode
        let file = try await other.open(inode, flags: OpenFlags())
        try await other.unlink(parent: Self.root, name: "gone")
        #expect(store.peek("gone") == nil)
        #expect(try await other.read(inode, handle: file.handle, offset: 0, count: 10_000) == plaintext)
        await other.release(inode, handle: file.handle)
    }

    @Test func overwritesAndAppendsReencryptUnderANewMessageID() async throws {
        let (fs, store, _) = try Self.make()
        var expected = Self.bytes(3000, seed: 4)
        let inode = try await FileSystemTests.writeFile(fs, Self.root, "f.bin", expected)
        let first = try Self.header(store, "f.bin")

        let file = try await fs.open(inode, flags: OpenFlags(read: true, write: true))
        _ = try await fs.write(inode, handle: file.handle, offset: 100, bytes: [9, 9, 9])
        try await fs.flush(inode, handle: file.handle)
        expected.replaceSubrange(100..<103, with: [9, 9, 9])
        let second = try Self.header(store, "f.bin")
        #expect(second.messageID != first.messageID)
        #expect(second.encryptedDataKeys != first.encryptedDataKeys, "a new data key too")
        #expect(try await Self.decrypted(store, "f.bin") == expected)
        try Self.expectHints(store, "f.bin", plaintextSize: 3000)

        _ = try await fs.write(inode, handle: file.handle, offset: 3000, bytes: Array("appended".utf8))
        try await fs.flush(inode, handle: file.handle)
        await fs.release(inode, handle: file.handle)
        expected += Array("appended".utf8)
        let third = try Self.header(store, "f.bin")
        #expect(Set([first.messageID, second.messageID, third.messageID]).count == 3)
        #expect(try await Self.decrypted(store, "f.bin") == expected)
        try Self.expectHints(store, "f.bin", plaintextSize: 3008)
        #expect(store.requestCount(.uploadPartCopy, .copy) == 0)

        let (other, _, _) = try Self.make(store: store)
        let entry = try await other.lookup(parent: Self.root, name: "f.bin")
        #expect(entry.attributes.size == 3008)
        #expect(try await FileSystemTests.readAll(other, entry.attributes.inode) == expected)

        // A file opened elsewhere and changed there: its unchanged bytes are fetched decrypted, the whole is
        // encrypted again.
        let reopened = try await other.open(entry.attributes.inode, flags: OpenFlags(read: true, write: true))
        _ = try await other.write(entry.attributes.inode, handle: reopened.handle, offset: 0, bytes: [1])
        try await other.flush(entry.attributes.inode, handle: reopened.handle)
        await other.release(entry.attributes.inode, handle: reopened.handle)
        expected[0] = 1
        #expect(try await Self.decrypted(store, "f.bin") == expected)
        #expect(try Self.header(store, "f.bin").messageID != third.messageID)
    }

    @Test func renameLeavesTheStoredBytesIdentical() async throws {
        let (fs, store, _) = try Self.make()
        let plaintext = Self.bytes(9000, seed: 5)
        try await FileSystemTests.writeFile(fs, Self.root, "before.bin", plaintext)
        let original = try #require(store.peek("before.bin"))
        store.resetCounts()
        try await fs.rename(parent: Self.root, name: "before.bin", newParent: Self.root, newName: "after.bin", mode: .replace)
        #expect(store.peek("before.bin") == nil)
        let moved = try #require(store.peek("after.bin"))
        #expect(moved.bytes == original.bytes)
        #expect(moved.info.metadata == original.info.metadata)
        #expect(store.requestCount(.copy) == 1)
        #expect(store.requestCount(.put, .uploadPart) == 0)

        let (other, _, _) = try Self.make(store: store)
        let entry = try await other.lookup(parent: Self.root, name: "after.bin")
        #expect(entry.attributes.size == 9000)
        #expect(try await FileSystemTests.readAll(other, entry.attributes.inode) == plaintext)

        // A directory rename moves messages unchanged too.
        let dir = try await fs.mkdir(parent: Self.root, name: "d", mode: 0o755, caller: Self.me)
        try await FileSystemTests.writeFile(fs, dir.attributes.inode, "inner", plaintext)
        let inner = try #require(store.peek("d/inner"))
        try await fs.rename(parent: Self.root, name: "d", newParent: Self.root, newName: "e", mode: .replace)
        #expect(store.peek("e/inner")?.bytes == inner.bytes)
        #expect(store.peek("e/inner")?.info.metadata == inner.info.metadata)
        #expect(try await Self.decrypted(store, "e/inner") == plaintext)
    }

    @Test func renameAndChmodAboveTheCopyLimitCopyTheWholeMessage() async throws {
        // The plaintext size is below the limit, the message above it: the copy must be sized by the stored object.
        let (fs, store, _) = try Self.make(configure: { $0.singleCopyLimit = 5000 })
        let plaintext = Self.bytes(4900, seed: 14)
        let inode = try await FileSystemTests.writeFile(fs, Self.root, "near.bin", plaintext)
        let original = try #require(store.peek("near.bin"))
        #expect(original.bytes.count > 5000)
        store.resetCounts()
        try await fs.rename(parent: Self.root, name: "near.bin", newParent: Self.root, newName: "moved.bin", mode: .replace)
        #expect(store.requestCount(.copy) == 0)
        #expect(store.requestCount(.uploadPartCopy) == 2)
        let moved = try #require(store.peek("moved.bin"))
        #expect(moved.bytes == original.bytes)
        #expect(moved.info.metadata == original.info.metadata)
        _ = try await fs.setattr(inode, AttributeChanges(mode: 0o600), handle: nil, caller: Self.me)
        let chmodded = try #require(store.peek("moved.bin"))
        #expect(chmodded.bytes == original.bytes)
        try Self.expectHints(store, "moved.bin", plaintextSize: 4900)
        let (other, _, _) = try Self.make(store: store)
        let entry = try await other.lookup(parent: Self.root, name: "moved.bin")
        #expect(entry.attributes.size == 4900)
        #expect(try await FileSystemTests.readAll(other, entry.attributes.inode) == plaintext)
    }

    @Test func metadataChangesKeepTheHints() async throws {
        let (fs, store, _) = try Self.make()
        let plaintext = Self.bytes(4000, seed: 6)
        let inode = try await FileSystemTests.writeFile(fs, Self.root, "m.bin", plaintext)
        let original = try #require(store.peek("m.bin"))
        store.resetCounts()
        _ = try await fs.setattr(inode, AttributeChanges(mode: 0o600), handle: nil, caller: Self.me)
        #expect(store.requestCount(.copy) == 1)
        var changed = try #require(store.peek("m.bin"))
        #expect(changed.bytes == original.bytes)
        #expect(changed.info.metadata["mode"] == "\(FileMode.regular | 0o600)")
        for key in ["coffer-enc", "coffer-size", "coffer-hlen"] {
            #expect(changed.info.metadata[key] == original.info.metadata[key], "\(key)")
        }

        // The same through another mount that only looked the file up, and for an xattr.
        let (other, _, _) = try Self.make(store: store)
        let entry = try await other.lookup(parent: Self.root, name: "m.bin")
        _ = try await other.setattr(entry.attributes.inode, AttributeChanges(uid: 7, gid: 8), handle: nil, caller: Self.me)
        try await other.setxattr(entry.attributes.inode, name: "user.tag", value: Array("x".utf8), flags: 0)
        changed = try #require(store.peek("m.bin"))
        #expect(changed.bytes == original.bytes)
        #expect(changed.info.metadata["uid"] == "7")
        #expect(changed.info.metadata["xattr"] != nil)
        try Self.expectHints(store, "m.bin", plaintextSize: 4000)

        // A third mount still learns the size from the HEAD alone.
        let (third, _, _) = try Self.make(store: store)
        let looked = try await third.lookup(parent: Self.root, name: "m.bin")
        #expect(looked.attributes.size == 4000)
        #expect(looked.attributes.mode == FileMode.regular | 0o600)
        #expect(store.requestCount(.get) == 0)
        #expect(try await FileSystemTests.readAll(third, looked.attributes.inode) == plaintext)
    }

    @Test func theMetadataCacheKeepsBothSizesSoARemountListsWithoutHead() async throws {
        let store = InMemoryObjectStore(minimumPartSize: 1024)
        let cache = try ProjectPaths.temporaryDirectory("coffer-fs-enc-metadata")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        func mount() async throws -> FileSystem {
            let options = FileSystemOptions(defaultUID: 501, defaultGID: 20, metadataTTL: 60, cacheDirectory: cache,
                                            metadataCacheEntries: 1000)
            let fs = FileSystem(store: store, options: options, encryption: Self.encryption())
            _ = try await fs.recoverPendingUploads()
            return fs
        }
        let first = try await mount()
        let big = Self.bytes(3000, seed: 11)
        let a = try await FileSystemTests.writeFile(first, Self.root, "a.bin", big)
        let b = try await FileSystemTests.writeFile(first, Self.root, "b.txt", Array("ten bytes!".utf8))
        _ = try await first.setattr(b, AttributeChanges(mode: 0o600), handle: nil, caller: Self.me)
        try await first.rename(parent: Self.root, name: "a.bin", newParent: Self.root, newName: "c.bin", mode: .replace)
        _ = a
        // Another tool's object: HEADed once, then known.
        let (other, _, _) = try Self.make(store: store)
        _ = try await FileSystemTests.writeFile(other, Self.root, "d.txt", Array("from elsewhere".utf8))
        _ = try await MetadataCacheTests.listWithAttributes(first)
        await first.shutdown()

        let second = try await mount()
        store.resetCounts()
        let listed = try await MetadataCacheTests.listWithAttributes(second)
        #expect(store.requestCount(.head) == 0, "every row matches the stored size the listing shows")
        #expect(listed["c.bin"]?.size == 3000)
        #expect(listed["b.txt"]?.size == 10)
        #expect(listed["b.txt"]?.mode == FileMode.regular | 0o600)
        #expect(listed["d.txt"]?.size == 14)
        let c = try await second.lookup(parent: Self.root, name: "c.bin")
        #expect(try await FileSystemTests.readAll(second, c.attributes.inode) == big)
        // No file contents in the database: only metadata.
        let database = try Data(contentsOf: URL(fileURLWithPath: cache + "/metadata.sqlite"))
        #expect(database.range(of: Data("from elsewhere".utf8)) == nil)
        #expect(database.range(of: Data(big.prefix(64))) == nil)
        await second.shutdown()
    }

    @Test func multipartUploadsAreValidMessagesWithoutPartCopies() async throws {
        let (fs, store, _) = try Self.make(configure: { options in
            options.multipartThreshold = 4096
            options.partSize = 4096
        })
        var plaintext = Self.bytes(20_000, seed: 7)
        let inode = try await FileSystemTests.writeFile(fs, Self.root, "large.bin", plaintext)
        let stored = try #require(store.peek("large.bin"))
        let parts = (stored.bytes.count + 4095) / 4096
        #expect(parts == 6)
        #expect(store.requestCount(.createMultipartUpload) == 1)
        #expect(store.requestCount(.uploadPart) == parts)
        #expect(store.requestCount(.completeMultipartUpload) == 1)
        #expect(store.requestCount(.uploadPartCopy, .put, .abortMultipartUpload) == 0)
        #expect(stored.info.etag.hasSuffix("-\(parts)"))
        #expect(try await Self.decrypted(store, "large.bin") == plaintext)
        try Self.expectHints(store, "large.bin", plaintextSize: 20_000)
        #expect(store.pendingUploads.isEmpty)

        // A small change to a large file: every part is uploaded again (no byte of the old message is reusable).
        store.resetCounts()
        let file = try await fs.open(inode, flags: OpenFlags(read: true, write: true))
        _ = try await fs.write(inode, handle: file.handle, offset: 10_000, bytes: [0, 0, 0, 0])
        try await fs.flush(inode, handle: file.handle)
        await fs.release(inode, handle: file.handle)
        plaintext.replaceSubrange(10_000..<10_004, with: [0, 0, 0, 0])
        #expect(store.requestCount(.uploadPartCopy) == 0)
        #expect(store.requestCount(.uploadPart) == parts)
        #expect(try await Self.decrypted(store, "large.bin") == plaintext)
        #expect(try Self.header(store, "large.bin").messageID != (try MessageHeader(parsing: stored.bytes)).messageID)

        let (other, _, _) = try Self.make(store: store)
        let entry = try await other.lookup(parent: Self.root, name: "large.bin")
        #expect(entry.attributes.size == 20_000)
        #expect(try await FileSystemTests.readAll(other, entry.attributes.inode) == plaintext)
    }

    @Test func aFailingKeyringFailsTheFlushAndTheDataStaysStaged() async throws {
        let flaky = InstrumentedKeyring(Self.keyring, failingWraps: 2)
        let (fs, store, cache) = try Self.make(encryption: Self.encryption(keyrings: [flaky]))
        let plaintext = Self.bytes(6000, seed: 8)
        let (entry, file) = try await fs.create(parent: Self.root, name: "secret.txt", mode: 0o644,
                                                flags: OpenFlags(read: true, write: true), caller: Self.me)
        let inode = entry.attributes.inode
        _ = try await fs.write(inode, handle: file.handle, offset: 0, bytes: plaintext)

        for _ in 0..<2 {
            #expect(await FileSystemTests.errno { try await fs.flush(inode, handle: file.handle) } == EIO)
            #expect(store.peek("secret.txt") == nil)
            #expect(store.requestCount(.put, .createMultipartUpload) == 0)
            #expect(Self.names(in: cache).allSatisfy { !$0.hasSuffix(".encoded") }, "\(Self.names(in: cache))")
            #expect(try await fs.read(inode, handle: file.handle, offset: 0, count: 10_000) == plaintext)
            #expect(try await fs.getattr(inode).0.size == 6000)
        }
        try await fs.flush(inode, handle: file.handle)
        await fs.release(inode, handle: file.handle)
        #expect(try await Self.decrypted(store, "secret.txt") == plaintext)
        try Self.expectHints(store, "secret.txt", plaintextSize: 6000)
        #expect(Self.names(in: cache).allSatisfy { !$0.hasSuffix(".encoded") })
        #expect(flaky.wraps == 3)

        // A failed re-encryption of an existing file leaves the stored version intact.
        let before = try #require(store.peek("secret.txt"))
        let failing = InstrumentedKeyring(Self.keyring, failingWraps: 1)
        let (other, _, _) = try Self.make(store: store, encryption: Self.encryption(keyrings: [failing]))
        let found = try await other.lookup(parent: Self.root, name: "secret.txt")
        let handle = try await other.open(found.attributes.inode, flags: OpenFlags(read: true, write: true))
        _ = try await other.write(found.attributes.inode, handle: handle.handle, offset: 0, bytes: [1, 2, 3])
        #expect(await FileSystemTests.errno { try await other.flush(found.attributes.inode, handle: handle.handle) } == EIO)
        #expect(store.peek("secret.txt") == before)
        try await other.flush(found.attributes.inode, handle: handle.handle)
        await other.release(found.attributes.inode, handle: handle.handle)
        #expect(try await Self.decrypted(store, "secret.txt") == [1, 2, 3] + plaintext[3...])
    }

    @Test func aFailedUploadOfTheMessageRemovesItAndTheNextFlushEncryptsAgain() async throws {
        let (fs, store, cache) = try Self.make()
        let plaintext = Self.bytes(2500, seed: 15)
        let (entry, file) = try await fs.create(parent: Self.root, name: "up.bin", mode: 0o644,
                                                flags: OpenFlags(write: true), caller: Self.me)
        _ = try await fs.write(entry.attributes.inode, handle: file.handle, offset: 0, bytes: plaintext)
        store.failNext(.put, with: .transport("connection reset"))
        #expect(await FileSystemTests.errno { try await fs.flush(entry.attributes.inode, handle: file.handle) } == EIO)
        #expect(store.peek("up.bin") == nil)
        #expect(Self.names(in: cache).allSatisfy { !$0.hasSuffix(".encoded") }, "\(Self.names(in: cache))")
        try await fs.flush(entry.attributes.inode, handle: file.handle)
        await fs.release(entry.attributes.inode, handle: file.handle)
        #expect(try await Self.decrypted(store, "up.bin") == plaintext)
        #expect(store.requestCount(.put) == 2)
        #expect(Self.names(in: cache).allSatisfy { !$0.hasSuffix(".encoded") })
    }

    @Test func truncateThenExtendReadsZerosInTheExtension() async throws {
        let (fs, store, _) = try Self.make()
        let plaintext = Self.bytes(3000, seed: 9)
        let inode = try await FileSystemTests.writeFile(fs, Self.root, "t.bin", plaintext)
        #expect(try await fs.setattr(inode, AttributeChanges(size: 1000), handle: nil, caller: Self.me).0.size == 1000)
        #expect(try await Self.decrypted(store, "t.bin") == Array(plaintext[0..<1000]))
        try Self.expectHints(store, "t.bin", plaintextSize: 1000)
        _ = try await fs.setattr(inode, AttributeChanges(size: 2500), handle: nil, caller: Self.me)
        let expected = Array(plaintext[0..<1000]) + [UInt8](repeating: 0, count: 1500)
        #expect(try await Self.decrypted(store, "t.bin") == expected)
        try Self.expectHints(store, "t.bin", plaintextSize: 2500)

        let (other, _, _) = try Self.make(store: store)
        let entry = try await other.lookup(parent: Self.root, name: "t.bin")
        #expect(entry.attributes.size == 2500)
        #expect(try await FileSystemTests.readAll(other, entry.attributes.inode) == expected)

        // The same on a file this mount has only looked up: its kept bytes are fetched decrypted.
        _ = try await other.setattr(entry.attributes.inode, AttributeChanges(size: 10), handle: nil, caller: Self.me)
        _ = try await other.setattr(entry.attributes.inode, AttributeChanges(size: 50), handle: nil, caller: Self.me)
        let shortened = Array(plaintext[0..<10]) + [UInt8](repeating: 0, count: 40)
        #expect(try await Self.decrypted(store, "t.bin") == shortened)
        let (third, _, _) = try Self.make(store: store)
        let last = try await third.lookup(parent: Self.root, name: "t.bin")
        #expect(try await FileSystemTests.readAll(third, last.attributes.inode) == shortened)
    }

    // MARK: - What stays plaintext

    @Test func symlinksAndDirectoriesStayPlaintextAndReadInRequiredMode() async throws {
        let (fs, store, _) = try Self.make()
        let short = "../target file.txt"
        let long = String(repeating: "deep/", count: 60) + "file"
        _ = try await fs.symlink(target: short, parent: Self.root, name: "short-link", caller: Self.me)
        _ = try await fs.symlink(target: long, parent: Self.root, name: "long-link", caller: Self.me)
        _ = try await fs.mkdir(parent: Self.root, name: "dir", mode: 0o750, caller: Self.me)
        #expect(store.peek("short-link")?.bytes == Array(short.utf8))
        #expect(store.peek("long-link")?.bytes == Array(long.utf8))
        #expect(store.peek("short-link")?.info.metadata["coffer-enc"] == nil)
        #expect(store.peek("dir/")?.bytes == [])

        let (other, _, _) = try Self.make(store: store)
        for (name, target) in [("short-link", short), ("long-link", long)] {
            let entry = try await other.lookup(parent: Self.root, name: name)
            #expect(entry.attributes.fileType == .symlink, "\(name)")
            #expect(entry.attributes.size == UInt64(target.utf8.count), "\(name)")
            #expect(try await other.readlink(entry.attributes.inode) == target, "\(name)")
        }
        let dir = try await other.lookup(parent: Self.root, name: "dir")
        #expect(dir.attributes.fileType == .directory)
        #expect(dir.attributes.mode & 0o777 == 0o750)
        #expect(try await FileSystemTests.names(other, Self.root).sorted() == [".", "..", "dir", "long-link", "short-link"])
    }

    @Test func plaintextFilesFailInRequiredModeAndAreEncryptedOnWriteInMigrateMode() async throws {
        let legacy = Self.bytes(5000, seed: 10)
        let store = InMemoryObjectStore(minimumPartSize: 1024)
        try await store.put("legacy.bin", bytes: legacy)

        let (required, _, _) = try Self.make(store: store)
        let entry = try await required.lookup(parent: Self.root, name: "legacy.bin")
        #expect(entry.attributes.size == 5000)
        let file = try await required.open(entry.attributes.inode, flags: OpenFlags())
        #expect(await FileSystemTests.errno {
            _ = try await required.read(entry.attributes.inode, handle: file.handle, offset: 0, count: 100)
        } == EIO)
        await required.release(entry.attributes.inode, handle: file.handle)

        let (migrate, _, _) = try Self.make(store: store, encryption: Self.encryption(mode: .migrate))
        let found = try await migrate.lookup(parent: Self.root, name: "legacy.bin")
        #expect(try await FileSystemTests.readAll(migrate, found.attributes.inode) == legacy)
        let handle = try await migrate.open(found.attributes.inode, flags: OpenFlags(read: true, write: true))
        _ = try await migrate.write(found.attributes.inode, handle: handle.handle, offset: 4999, bytes: [0xAB, 0xCD])
        try await migrate.flush(found.attributes.inode, handle: handle.handle)
        await migrate.release(found.attributes.inode, handle: handle.handle)
        let expected = Array(legacy[0..<4999]) + [0xAB, 0xCD]
        #expect(try await Self.decrypted(store, "legacy.bin") == expected)
        try Self.expectHints(store, "legacy.bin", plaintextSize: 5001)

        // Now encrypted, it reads in required mode too.
        let (after, _, _) = try Self.make(store: store)
        let now = try await after.lookup(parent: Self.root, name: "legacy.bin")
        #expect(now.attributes.size == 5001)
        #expect(try await FileSystemTests.readAll(after, now.attributes.inode) == expected)
    }

    @Test func filesUnderAnotherKeyAreIOErrors() async throws {
        let (fs, store, _) = try Self.make()
        try await FileSystemTests.writeFile(fs, Self.root, "mine", Self.bytes(2000))
        let stranger = try RawAESKeyring(wrappingKey: SecretBytes(copying: [UInt8](repeating: 9, count: 32)),
                                         namespace: "coffer-local", name: "test-key-1")
        let (other, _, _) = try Self.make(store: store, encryption: Self.encryption(keyrings: [stranger]))
        let entry = try await other.lookup(parent: Self.root, name: "mine")
        #expect(entry.attributes.size == 2000, "the size comes from the hints")
        let file = try await other.open(entry.attributes.inode, flags: OpenFlags())
        #expect(await FileSystemTests.errno {
            _ = try await other.read(entry.attributes.inode, handle: file.handle, offset: 0, count: 10)
        } == EIO)
        await other.release(entry.attributes.inode, handle: file.handle)
    }
}

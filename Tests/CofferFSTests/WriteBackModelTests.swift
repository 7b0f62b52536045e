import CofferFS
import CofferObjectStore
import CofferTestSupport
import Foundation
import Testing

/// Seeded model-based tests of the write-back engine: random sequences of file operations (create, write,
/// partial edits, truncate, rename, unlink, chmod, fsync, sync of everything), another client's PUT and DELETE
/// straight to the store (also while the file is open here for reading or editing), and simulated crashes (the process dies; a new mount replays the journal) — each step
/// checked against a reference model of what the application must see and, after every upload, of what S3 must
/// hold.
///
/// The model: S3 holds versioned objects; the mount holds pending files, each based on the S3 version it was
/// last seen at (or on "no object" for a new file). The mount shows its pending files over S3 (the metadata TTL is
/// 0, so clean names always show S3's current object). An upload replaces its base version, or, when another
/// client changed or removed the object since, leaves S3's object alone and stores the mount's bytes under
/// `NAME.conflict-HOST-TIME`. A crash loses nothing that was closed: the replay uploads it.
///
/// Renames of a file whose changes are not uploaded while an older version is in S3 are preceded by an fsync here
/// (that path uploads at once; `WriteBackTests.renameAndUploadOfOneFileNeverInterleave` races it).
@Suite("Write-back engine against a reference model")
struct WriteBackModelTests {
    static let root = FileSystem.rootInode
    static let me = FileSystemTests.me
    static let names = ["a", "b", "c", "d/x", "d/y", "d/z"]

    /// An object in S3 as the model has it: its bytes, its permission bits (nil: stored without metadata) and a
    /// version number that changes with every write.
    struct Object: Equatable {
        var bytes: [UInt8]
        var mode: UInt32?
        var version: Int
    }

    /// A file with changes the mount has not uploaded.
    struct Pending: Equatable {
        var bytes: [UInt8]
        var mode: UInt32
        /// The S3 version the changes were made to; nil for a file S3 did not have.
        var base: Int?
        /// Some of the file's bytes are still only in its base version (a truncate of a file this mount had not
        /// read): when another client replaces or removes that version first, the changes cannot be completed and
        /// go to lost+found instead of a conflict copy.
        var needsBase = false
    }

    struct Model {
        var s3: [String: Object] = [:]
        var pending: [String: Pending] = [:]
        var nextVersion = 1

        mutating func version() -> Int {
            defer { nextVersion += 1 }
            return nextVersion
        }

        /// What the application sees at `name`: bytes and permission bits.
        func view(_ name: String, defaultMode: UInt32) -> (bytes: [UInt8], mode: UInt32)? {
            if let local = pending[name] { return (local.bytes, local.mode) }
            if let object = s3[name] { return (object.bytes, object.mode ?? defaultMode) }
            return nil
        }

        var visibleNames: Set<String> { Set(s3.keys).union(pending.keys) }

        /// The base a change to `name` is made to: a pending file keeps its own; a clean one is the S3 version now.
        func base(of name: String) -> Int? { pending[name].map(\.base) ?? s3[name]?.version }
    }

    /// The filesystem under test and what it runs on.
    final class Rig {
        let store = InMemoryObjectStore(minimumPartSize: 1024)
        let cache: String
        var fs: FileSystem
        var model = Model()
        var rng: SplitMix64
        var log: [String] = []
        /// Checks that failed so far (the steps are printed when there were any).
        var failures = 0
        let defaultMode: UInt32 = 0o644

        /// Records an issue when `condition` is false.
        func check(_ condition: Bool, _ message: @autoclosure () -> String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
            guard !condition else { return }
            failures += 1
            Issue.record(Comment(rawValue: message()), sourceLocation: sourceLocation)
        }

        init(seed: UInt64) async throws {
            cache = try ProjectPaths.temporaryDirectory("coffer-wb-model")
            rng = SplitMix64(seed: seed)
            fs = Self.makeFileSystem(store: store, cache: cache)
            _ = try await fs.recoverPendingUploads()
            let dir = try await fs.mkdir(parent: WriteBackModelTests.root, name: "d", mode: 0o755,
                                         caller: WriteBackModelTests.me)
            try await fs.fsyncDirectory(dir.attributes.inode)
        }

        static func makeFileSystem(store: InMemoryObjectStore, cache: String) -> FileSystem {
            // Uploads only when the test asks (fsync, sync, crash replay); every lookup asks the store.
            let options = FileSystemOptions(defaultUID: 501, defaultGID: 20, metadataTTL: 0, cacheDirectory: cache,
                                            multipartThreshold: 4096, partSize: 1024, writeBackDelay: 3600,
                                            mountIdentity: "model", hostName: "hostA")
            return FileSystem(store: store, options: options)
        }

        func bytes(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }

        func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &rng)] }

        /// The inode of `name`'s parent.
        func parent(of name: String) async throws -> (UInt64, String) {
            guard let slash = name.lastIndex(of: "/") else { return (WriteBackModelTests.root, name) }
            let dir = try await fs.lookup(parent: WriteBackModelTests.root, name: String(name[..<slash]))
            return (dir.attributes.inode, String(name[name.index(after: slash)...]))
        }

        func inode(of name: String) async throws -> UInt64 {
            let (parent, base) = try await parent(of: name)
            return try await fs.lookup(parent: parent, name: base).attributes.inode
        }

        /// Names under `directory` as the model should list them (conflict copies included).
        func expectedNames(in directory: String) -> Set<String> {
            Set(model.visibleNames.compactMap { name -> String? in
                let parent = name.contains("/") ? String(name[..<name.lastIndex(of: "/")!]) : ""
                guard parent == directory else { return nil }
                return String(name.split(separator: "/").last!)
            })
        }

        // MARK: Steps

        func writeWhole(_ name: String) async throws {
            let content = bytes(Int.random(in: 0...6000, using: &rng))
            let (parent, base) = try await parent(of: name)
            let (entry, file) = try await fs.create(parent: parent, name: base, mode: 0o644,
                                                    flags: OpenFlags(write: true, truncate: true),
                                                    caller: WriteBackModelTests.me)
            let inode = entry.attributes.inode
            if !content.isEmpty { _ = try await fs.write(inode, handle: file.handle, offset: 0, bytes: content) }
            try await fs.flush(inode, handle: file.handle)
            await fs.release(inode, handle: file.handle)
            let mode = model.view(name, defaultMode: defaultMode)?.mode ?? 0o644
            model.pending[name] = Pending(bytes: content, mode: mode, base: model.base(of: name))
        }

        /// Opens read-write, reads all of it through the handle, writes a piece somewhere (perhaps past the end).
        func edit(_ name: String) async throws {
            guard let current = model.view(name, defaultMode: defaultMode) else { return try await writeWhole(name) }
            let inode = try await inode(of: name)
            let file = try await fs.open(inode, flags: OpenFlags(read: true, write: true))
            var seen: [UInt8] = []
            while true {
                let chunk = try await fs.read(inode, handle: file.handle, offset: UInt64(seen.count), count: 65536)
                if chunk.isEmpty { break }
                seen += chunk
            }
            check(seen == current.bytes, "read before the edit of \(name)")
            let offset = Int.random(in: 0...(current.bytes.count + 100), using: &rng)
            let piece = bytes(Int.random(in: 1...3000, using: &rng))
            _ = try await fs.write(inode, handle: file.handle, offset: UInt64(offset), bytes: piece)
            try await fs.flush(inode, handle: file.handle)
            await fs.release(inode, handle: file.handle)
            var updated = current.bytes
            if updated.count < offset + piece.count {
                updated += [UInt8](repeating: 0, count: offset + piece.count - updated.count)
            }
            updated.replaceSubrange(offset..<(offset + piece.count), with: piece)
            model.pending[name] = Pending(bytes: updated, mode: current.mode, base: model.base(of: name))
        }

        /// Opens read-write and reads all of it; another client replaces the object; the kernel revalidates the
        /// name; then a piece is written. The changes stay based on the version that was open: their upload must
        /// not replace the other client's object, however much of the old one this mount holds.
        func editWhileAnotherClientReplaces(_ name: String) async throws {
            guard let current = model.view(name, defaultMode: defaultMode) else { return try await writeWhole(name) }
            let base = model.base(of: name)
            let inode = try await inode(of: name)
            let file = try await fs.open(inode, flags: OpenFlags(read: true, write: true))
            let seen = try await readThrough(inode, handle: file.handle)
            check(seen == current.bytes, "read before the racing edit of \(name)")
            try await otherClientPut(name)
            _ = try await self.inode(of: name)
            check(try await fs.getattr(inode).0.size == UInt64(current.bytes.count),
                  "the size of \(name) changed under its open descriptor")
            let again = try await readThrough(inode, handle: file.handle)
            check(again == current.bytes, "an open descriptor of \(name) read another version")
            let offset = Int.random(in: 0...current.bytes.count, using: &rng)
            let piece = bytes(Int.random(in: 1...2000, using: &rng))
            _ = try await fs.write(inode, handle: file.handle, offset: UInt64(offset), bytes: piece)
            try await fs.flush(inode, handle: file.handle)
            await fs.release(inode, handle: file.handle)
            var updated = current.bytes
            if updated.count < offset + piece.count {
                updated += [UInt8](repeating: 0, count: offset + piece.count - updated.count)
            }
            updated.replaceSubrange(offset..<(offset + piece.count), with: piece)
            model.pending[name] = Pending(bytes: updated, mode: current.mode, base: base,
                                          needsBase: model.pending[name]?.needsBase ?? false)
        }

        /// Opens read-only and reads the start; another client replaces the object; the kernel revalidates; the
        /// rest is read. Every read returns the opened version's bytes or fails with ESTALE (and then every later
        /// one does): never the other version's bytes, and the size stays.
        func readWhileAnotherClientReplaces(_ name: String) async throws {
            guard let current = model.view(name, defaultMode: defaultMode) else { return }
            let inode = try await inode(of: name)
            let file = try await fs.open(inode, flags: OpenFlags())
            let start = try await fs.read(inode, handle: file.handle, offset: 0, count: 1000)
            check(start[...] == current.bytes.prefix(1000), "start of \(name) before another client replaced it")
            try await otherClientPut(name)
            _ = try await self.inode(of: name)
            check(try await fs.getattr(inode).0.size == UInt64(current.bytes.count),
                  "the size of \(name) changed under its open descriptor")
            var offset = start.count
            var stale = false
            while true {
                let outcome: Result<[UInt8], FSError>
                do throws(FSError) {
                    outcome = .success(try await fs.read(inode, handle: file.handle, offset: UInt64(offset), count: 700))
                } catch {
                    outcome = .failure(error)
                }
                switch outcome {
                case .success(let chunk):
                    check(!stale, "a read of \(name) succeeded after one failed with ESTALE")
                    check(chunk[...] == current.bytes.dropFirst(offset).prefix(700),
                          "bytes \(offset)... of \(name) are not the opened version's")
                    offset += chunk.count
                    if chunk.isEmpty { break }
                    continue
                case .failure(let error):
                    check(error.errno == ESTALE, "read of \(name) after another client replaced it: \(error)")
                    stale = true
                }
                break
            }
            await fs.release(inode, handle: file.handle)
        }

        /// Every byte of `inode` through `handle`.
        func readThrough(_ inode: UInt64, handle: UInt64) async throws -> [UInt8] {
            var seen: [UInt8] = []
            while true {
                let chunk = try await fs.read(inode, handle: handle, offset: UInt64(seen.count), count: 65536)
                if chunk.isEmpty { return seen }
                seen += chunk
            }
        }

        func truncate(_ name: String) async throws {
            guard let current = model.view(name, defaultMode: defaultMode) else { return }
            let size = Int.random(in: 0...(current.bytes.count + 2000), using: &rng)
            let inode = try await inode(of: name)
            _ = try await fs.setattr(inode, AttributeChanges(size: UInt64(size)), handle: nil,
                                     caller: WriteBackModelTests.me)
            var updated = Array(current.bytes.prefix(size))
            if updated.count < size { updated += [UInt8](repeating: 0, count: size - updated.count) }
            let needsBase = model.pending[name]?.needsBase ?? (size > 0 && !current.bytes.isEmpty)
            model.pending[name] = Pending(bytes: updated, mode: current.mode, base: model.base(of: name),
                                          needsBase: needsBase)
        }

        func chmod(_ name: String) async throws {
            guard model.view(name, defaultMode: defaultMode) != nil else { return }
            let mode = pick([0o600, 0o640, 0o644, 0o755, 0o700]) as UInt32
            let inode = try await inode(of: name)
            _ = try await fs.setattr(inode, AttributeChanges(mode: mode), handle: nil, caller: WriteBackModelTests.me)
            if model.pending[name] != nil {
                model.pending[name]?.mode = mode
            } else {
                // A clean file's metadata is replaced in S3 now (a copy onto itself).
                let version = model.version()
                model.s3[name]?.mode = mode
                model.s3[name]?.version = version
            }
        }

        func rename(_ from: String, _ to: String) async throws {
            guard from != to, model.view(from, defaultMode: defaultMode) != nil else { return }
            if let local = model.pending[from], local.base != nil {
                try await fsync(from)
            }
            guard model.view(from, defaultMode: defaultMode) != nil else { return }
            let (fromParent, fromBase) = try await parent(of: from)
            let (toParent, toBase) = try await parent(of: to)
            try await fs.rename(parent: fromParent, name: fromBase, newParent: toParent, newName: toBase, mode: .replace)
            if let local = model.pending[from] {
                // Never uploaded: the pending upload is retargeted and replaces what the mount knew at `to`.
                model.pending[from] = nil
                model.pending[to] = Pending(bytes: local.bytes, mode: local.mode, base: model.base(of: to),
                                            needsBase: local.needsBase)
            } else if let object = model.s3[from] {
                model.pending[to] = nil
                model.s3[to] = Object(bytes: object.bytes, mode: object.mode, version: model.version())
                model.s3[from] = nil
            }
        }

        func unlink(_ name: String) async throws {
            guard model.view(name, defaultMode: defaultMode) != nil else { return }
            let (parent, base) = try await parent(of: name)
            try await fs.unlink(parent: parent, name: base)
            let local = model.pending.removeValue(forKey: name)
            // A file S3 never had (its base is "no object") is forgotten; anything else is deleted in S3.
            if local == nil || local?.base != nil { model.s3[name] = nil }
        }

        /// The model of one upload of a pending file: the base is still S3's version, or it is a conflict (the
        /// bytes under a conflict name, or in lost+found when some of them were only in the base).
        func applyUpload(_ name: String) -> Bool {
            guard let local = model.pending.removeValue(forKey: name) else { return true }
            if model.s3[name]?.version == local.base {
                model.s3[name] = Object(bytes: local.bytes, mode: local.mode, version: model.version())
                return true
            }
            let copies = newConflictCopies(of: name)
            if local.needsBase && copies.isEmpty {
                // The mount had not fetched the rest of the version the changes were made to (whether it had
                // depends on what it read and kept before; either way nothing is lost).
                lostAndFound += 1
                check(lostAndFoundEntries() == lostAndFound, "\(name) went to lost+found: \(lostAndFoundEntries()) entries")
                return false
            }
            check(copies.count == 1, "one new conflict copy of \(name): \(copies)")
            let conflict = copies.first ?? name + ".conflict-missing"
            model.s3[conflict] = Object(bytes: local.bytes, mode: local.mode, version: model.version())
            return false
        }

        /// Changes set aside in the cache directory's lost+found so far (by the model).
        var lostAndFound = 0

        func lostAndFoundEntries() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: cache + "/lost+found")) ?? []).count
        }

        /// Conflict copies of `name` the store holds that the model does not know yet.
        func newConflictCopies(of name: String) -> [String] {
            store.keys.filter { $0.hasPrefix(name + ".conflict-hostA-") && model.s3[$0] == nil }
        }

        func fsync(_ name: String) async throws {
            guard model.view(name, defaultMode: defaultMode) != nil else { return }
            let inode = try await inode(of: name)
            let file = try await fs.open(inode, flags: OpenFlags())
            var failure: FSError?
            do throws(FSError) {
                try await fs.fsync(inode, handle: file.handle)
            } catch {
                failure = error
            }
            await fs.release(inode, handle: file.handle)
            let clean = applyUpload(name)
            check((failure == nil) == clean, "fsync of \(name): \(String(describing: failure)), model expected clean=\(clean)")
            if !clean { check(failure?.errno == EIO, "fsync of \(name) after a conflict: \(String(describing: failure))") }
        }

        func syncAll() async throws {
            let pendingNames = Array(model.pending.keys)
            var expectFailure = false
            // The model decides each upload in turn; conflicts between the names themselves cannot arise.
            var outcomes: [String: Bool] = [:]
            for name in pendingNames { outcomes[name] = model.s3[name]?.version == model.pending[name]?.base }
            do {
                try await fs.fsyncDirectory(WriteBackModelTests.root)
            } catch {
                expectFailure = true
            }
            for name in pendingNames.sorted() { _ = applyUpload(name) }
            check(expectFailure == outcomes.values.contains(false), "sync: failed=\(expectFailure), model: \(outcomes)")
        }

        func crashAndReplay() async throws {
            fs.stopWithoutUploading()
            fs = Self.makeFileSystem(store: store, cache: cache)
            let summary = try await fs.recoverPendingUploads()
            check(summary.found == model.pending.count, "\(summary), pending \(model.pending.keys.sorted())")
            check(summary.setAside == 0 && summary.stillPending == 0, "\(summary)")
            for name in model.pending.keys.sorted() { _ = applyUpload(name) }
        }

        func otherClientPut(_ name: String) async throws {
            let content = bytes(Int.random(in: 0...3000, using: &rng))
            _ = try await store.put(name, bytes: content)
            model.s3[name] = Object(bytes: content, mode: nil, version: model.version())
        }

        func otherClientDelete(_ name: String) async throws {
            try await store.delete(name)
            model.s3[name] = nil
        }

        // MARK: Checks

        /// The entry of `name`, or nil when there is none (ENOENT).
        func lookupIfPresent(parent: UInt64, name: String) async throws -> Entry? {
            let outcome: Result<Entry, FSError>
            do throws(FSError) {
                outcome = .success(try await fs.lookup(parent: parent, name: name))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let entry): return entry
            case .failure(let error) where error.errno == ENOENT: return nil
            case .failure(let error): throw error
            }
        }

        /// The mount shows exactly the model's view: names in each directory, and bytes and mode of each file.
        func checkView(after step: String) async throws {
            for directory in ["", "d"] {
                let inode = directory.isEmpty ? WriteBackModelTests.root : try await inode(of: directory)
                let listed = Set(try await FileSystemTests.names(fs, inode).filter { $0 != "." && $0 != ".." }
                    .filter { directory != "" || $0 != "d" })
                check(listed == expectedNames(in: directory), "listing of '\(directory)' after \(step): \(listed.sorted()) != \(expectedNames(in: directory).sorted())")
            }
            for name in Set(WriteBackModelTests.names).union(model.visibleNames) {
                let expected = model.view(name, defaultMode: defaultMode)
                let (parent, base) = try await parent(of: name)
                let found: Entry? = try await lookupIfPresent(parent: parent, name: base)
                guard let entry = found else {
                    check(expected == nil, "\(name) is missing after \(step)")
                    continue
                }
                guard let expected else {
                    check(false, "\(name) exists after \(step) but the model has no such file")
                    continue
                }
                let inode = entry.attributes.inode
                let read = try await FileSystemTests.readAll(fs, inode)
                check(read == expected.bytes, "bytes of \(name) after \(step): \(read.count) bytes read, \(expected.bytes.count) expected")
                let attributes = try await fs.getattr(inode).0
                check(attributes.size == UInt64(expected.bytes.count), "size of \(name) after \(step): \(attributes.size)")
                check(attributes.mode & FileMode.permissionMask == expected.mode, "mode of \(name) after \(step): \(String(attributes.mode, radix: 8)) for \(String(expected.mode, radix: 8))")
            }
        }

        /// S3 holds exactly the model's objects (with their modes), besides the directory marker.
        func checkStore(after step: String) {
            let keys = Set(store.keys).subtracting(["d/"])
            check(keys == Set(model.s3.keys), "keys in S3 after \(step): \(keys.sorted()) != \(model.s3.keys.sorted())")
            for (key, object) in model.s3 {
                guard let stored = store.peek(key) else { continue }
                check(stored.bytes == object.bytes, "bytes of \(key) in S3 after \(step)")
                if let mode = object.mode {
                    let metadata = POSIXMetadata(userMetadata: stored.info.metadata)
                    check(metadata.mode.map { $0 & FileMode.permissionMask } == mode, "mode of \(key) in S3 after \(step)")
                }
            }
        }

        func run(steps: Int) async throws {
            for index in 0..<steps {
                let name = pick(WriteBackModelTests.names)
                let roll = Int.random(in: 0..<100, using: &rng)
                let target = pick(WriteBackModelTests.names)
                let (step, uploads): (String, Bool) = switch roll {
                case 0..<20: ("write \(name)", false)
                case 20..<32: ("edit \(name)", false)
                case 32..<38: ("truncate \(name)", false)
                case 38..<46: ("chmod \(name)", false)
                case 46..<56: ("rename \(name) \(target)", false)
                case 56..<63: ("unlink \(name)", false)
                case 63..<73: ("fsync \(name)", true)
                case 73..<78: ("sync", true)
                case 78..<83: ("crash", true)
                case 83..<90: ("other client PUT \(name)", false)
                case 90..<93: ("edit \(name) while another client replaces it", false)
                case 93..<96: ("read \(name) while another client replaces it", false)
                default: ("other client DELETE \(name)", false)
                }
                log.append("\(index): \(step)")
                switch roll {
                case 0..<20: try await writeWhole(name)
                case 20..<32: try await edit(name)
                case 32..<38: try await truncate(name)
                case 38..<46: try await chmod(name)
                case 46..<56: try await rename(name, target)
                case 56..<63: try await unlink(name)
                case 63..<73: try await fsync(name)
                case 73..<78: try await syncAll()
                case 78..<83: try await crashAndReplay()
                case 83..<90: try await otherClientPut(name)
                case 90..<93: try await editWhileAnotherClientReplaces(name)
                case 93..<96: try await readWhileAnotherClientReplaces(name)
                default: try await otherClientDelete(name)
                }
                try await checkView(after: "step \(index) (\(step))")
                if uploads && model.pending.isEmpty { checkStore(after: "step \(index) (\(step))") }
                // The first step that went wrong is the one to look at.
                if failures > 0 { return }
            }
            try await syncAll()
            try await checkView(after: "the final sync")
            checkStore(after: "the final sync")
            await fs.shutdown()
            check(WriteBackTests.journalRecords(cache).isEmpty, "journal records left: \(WriteBackTests.journalRecords(cache))")
            check(WriteBackTests.stagingFiles(cache).isEmpty, "staging files left: \(WriteBackTests.stagingFiles(cache))")
        }
    }

    /// Seeds 0 to 11, or only `COFFER_MODEL_SEED` when set (to replay one failing sequence).
    static let seeds: [UInt64] = ProcessInfo.processInfo.environment["COFFER_MODEL_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? Array(0..<12)

    @Test(arguments: WriteBackModelTests.seeds)
    func randomOperationsMatchTheModel(seed: UInt64) async throws {
        let rig = try await Rig(seed: 0xC0FFE7 &+ seed &* 7919)
        defer { try? FileManager.default.removeItem(atPath: rig.cache) }
        do {
            try await rig.run(steps: 150)
        } catch {
            rig.failures += 1
            let state = "S3 has \(rig.store.keys), the model \(rig.model.s3.keys.sorted()) with "
                + "\(rig.model.pending.keys.sorted()) pending"
            Issue.record(Comment(rawValue: "seed \(seed): \(error); \(state)"))
        }
        if rig.failures > 0 { print("seed \(seed), the steps that led there:\n" + rig.log.joined(separator: "\n")) }
    }
}


import CofferObjectStore
import Foundation
import Synchronization

/// One file's contents staged on local disk while it is being written, until an `Uploader` sends them to the store.
///
/// The bytes live only in the staging file (never in memory); this object keeps the bookkeeping:
/// - the **base**: the object the file started from. Its bytes are fetched lazily with ranged GETs sent with
///   `If-Match: base.etag`, only when a read needs them or an upload cannot copy them server-side;
/// - the **base limit**: base bytes at or beyond it were truncated away, so a truncation followed by an extension
///   reads zeros, never old bytes;
/// - which ranges below the base limit are **present** in the staging file (fetched or written), and which are
///   **dirty** (written since the last upload), as `ByteRangeSet`s;
/// - a write **generation**, so an upload that raced with writes leaves the file dirty.
///
/// A write or truncation that overlaps a range being fetched waits for that fetch, so a fetch never overwrites newer
/// bytes or resurrects truncated ones. Uploads of one file are serialized. All state is behind one `Mutex`; local
/// `pread`/`pwrite` calls happen under it (short disk I/O), network requests never do.
///
/// Staging files are named `coffer-staged-<UUID>` and have mode 0600. `discard()` removes one (or empties it into a
/// `StagingFilePool`); a `StagedFile` that is released without `discard()` leaves its file in place, so staged data
/// is never silently lost.
public final class StagedFile: Sendable {
    /// The largest file that can be staged: S3's largest object, 5 TiB.
    public static let maximumSize: UInt64 = 5 << 40

    /// Reads fetch missing base ranges in aligned blocks of this size (1 MiB), so that sequential reads through an
    /// untouched region make one GET per block rather than one per read.
    static let readFetchBlockSize: UInt64 = 1 << 20

    /// The staging file's path.
    public let path: String
    let store: any ObjectStore
    let state: Mutex<State>
    /// Where `discard()` leaves the emptied file for reuse; nil to remove it.
    let pool: StagingFilePool?

    /// Creates a staging file (mode 0600) under `directory`.
    ///
    /// With a base, the file's contents start as the base object's; nothing is downloaded now. Base ranges are
    /// fetched from `store` only when needed: a read of them, or an upload that must send a part containing them
    /// and cannot copy it server-side. Without a base the file starts empty and dirty (it must be uploaded, even if
    /// nothing is written, to create the object).
    /// - Parameters:
    ///   - directory: the cache directory; it must exist and be writable.
    ///   - base: the object the file starts from, or nil for a new (or truncated) file.
    ///   - store: where base ranges are fetched from.
    ///   - pool: spare staging files to take the file from (and give it back to on `discard()`).
    /// - Throws: `.localIO` when the file cannot be created, `.tooLarge` for a base over 5 TiB.
    public convenience init(directory: String, base: BaseObject?, store: any ObjectStore,
                            pool: StagingFilePool? = nil) throws(WriteBackError) {
        if let base, base.size > Self.maximumSize {
            throw .tooLarge("\(base) is larger than the 5 TiB S3 allows and cannot be staged")
        }
        let separator = directory.hasSuffix("/") ? "" : "/"
        let path = directory + separator + "coffer-staged-" + UUID().uuidString
        let fd: Int32
        if let spare = pool?.take(as: path) {
            fd = spare
        } else {
            fd = try StagingFileIO.create(path)
        }
        if let base, base.size > 0 {
            do throws(WriteBackError) {
                try StagingFileIO.setLength(fd, base.size, path: path)
            } catch {
                StagingFileIO.close(fd)
                try? StagingFileIO.remove(path)
                throw error
            }
        }
        self.init(path: path, store: store, state: State(fd: fd, base: base), pool: pool)
    }

    /// A staged file over an open staging file and its state.
    init(path: String, store: any ObjectStore, state: State, pool: StagingFilePool? = nil) {
        self.path = path
        self.store = store
        self.state = Mutex(state)
        self.pool = pool
    }

    deinit {
        state.withLock { state in
            if state.fd >= 0 { StagingFileIO.close(state.fd) }
            state.fd = -1
        }
    }

    /// The file's size in bytes.
    public var size: UInt64 {
        state.withLock { $0.size }
    }

    /// True when there are changes not yet uploaded (always for a new file that was never uploaded).
    public var isDirty: Bool {
        state.withLock { $0.needsUpload }
    }

    /// The object the file is based on: the one it was opened from, then the last one uploaded.
    public var base: BaseObject? {
        state.withLock { $0.base }
    }

    /// Writes `bytes` at `offset`, extending the file with zeros over any gap past its end.
    /// - Throws: `.tooLarge` past 5 TiB, `.localIO` when the staging file cannot be written, `.discarded`.
    public func write(_ bytes: [UInt8], at offset: UInt64) async throws(WriteBackError) {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(bytes.count))
        guard !overflow, end <= Self.maximumSize else {
            throw .tooLarge("a write of \(bytes.count) bytes at offset \(offset) would make the file larger than "
                            + "the 5 TiB S3 allows")
        }
        let path = self.path
        guard !bytes.isEmpty else {
            try state.withLock { (state: inout State) throws(WriteBackError) in try state.checkUsable(path) }
            return
        }
        try await whenNoFetchOverlaps(offset..<end) { (state: inout State) throws(WriteBackError) in
            try StagingFileIO.write(state.fd, bytes, at: offset, path: path)
            state.recordWrite(offset..<end)
        }
    }

    /// Reads up to `count` bytes at `offset`: fewer only at the end of the file, none at or past it.
    ///
    /// Base ranges not yet present are fetched first (in 1 MiB-aligned blocks, with `If-Match: base.etag`).
    /// - Throws: `.baseChanged` when the base object changed on the server, `.store` when a fetch failed,
    ///   `.localIO`, `.discarded`.
    public func read(at offset: UInt64, count: Int) async throws(WriteBackError) -> [UInt8] {
        let path = self.path
        while true {
            let wanted = try state.withLock { (state: inout State) throws(WriteBackError) -> Range<UInt64>? in
                try state.checkUsable(path)
                guard count > 0, offset < state.size else { return nil }
                return offset..<(offset + min(UInt64(count), state.size - offset))
            }
            guard let wanted else { return [] }
            try await ensurePresent(wanted, blockSize: Self.readFetchBlockSize)
            let bytes = try state.withLock { (state: inout State) throws(WriteBackError) -> [UInt8]? in
                try state.checkUsable(path)
                guard offset < state.size else { return [] }
                let range = offset..<min(wanted.upperBound, state.size)
                // A truncation and extension between the fetch and now can only add zeros (present by definition);
                // anything else missing means the base changed under us: fetch again.
                guard state.missing(in: range).isEmpty else { return nil }
                return try StagingFileIO.read(state.fd, count: Int(range.upperBound - range.lowerBound),
                                              at: offset, path: path)
            }
            if let bytes { return bytes }
        }
    }

    /// Sets the file's size: cuts it (the base bytes beyond are gone for good, even if the file grows again) or
    /// extends it with zeros. Truncating to the current size changes nothing.
    /// - Throws: `.tooLarge` past 5 TiB, `.localIO`, `.discarded`.
    public func truncate(to size: UInt64) async throws(WriteBackError) {
        guard size <= Self.maximumSize else {
            throw .tooLarge("cannot extend the file to \(size) bytes: S3 objects are at most 5 TiB")
        }
        let path = self.path
        try await whenNoFetchOverlaps(size..<UInt64.max) { (state: inout State) throws(WriteBackError) in
            guard size != state.size else { return }
            try StagingFileIO.setLength(state.fd, size, path: path)
            state.recordTruncation(to: size)
        }
    }

    /// Removes the staging file: after a successful upload when it is no longer needed, or on unlink.
    ///
    /// Later calls on this object throw `.discarded`. Unuploaded changes are lost, so call it only when that is
    /// intended. Removal errors are ignored: a file left behind is in the cache directory, never elsewhere.
    public func discard() {
        let given = state.withLock { state -> Bool in
            defer {
                state.fd = -1
                state.isDiscarded = true
            }
            guard state.fd >= 0 else { return false }
            if let pool, !state.isDiscarded, pool.give(state.fd, path: path) { return true }
            StagingFileIO.close(state.fd)
            return false
        }
        if !given { try? StagingFileIO.remove(path) }
    }

    // MARK: - Waiting for fetches

    /// Runs `body` under the lock once no fetch in flight overlaps `range`.
    func whenNoFetchOverlaps<T: Sendable>(
        _ range: Range<UInt64>, _ body: (inout State) throws(WriteBackError) -> T
    ) async throws(WriteBackError) -> T {
        let path = self.path
        while true {
            let step = try state.withLock { (state: inout State) throws(WriteBackError) -> LockedStep<T> in
                try state.checkUsable(path)
                if let id = state.fetch(overlapping: [range]) { return .wait(fetch: id) }
                return .done(try body(&state))
            }
            switch step {
            case .done(let value): return value
            case .wait(let id): await waitForFetch(id)
            }
        }
    }

    /// Returns when fetch `id` is over (at once if it already is).
    func waitForFetch(_ id: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let registered = state.withLock { state in
                guard let index = state.fetches.firstIndex(where: { $0.id == id }) else { return false }
                state.fetches[index].waiters.append(continuation)
                return true
            }
            if !registered { continuation.resume() }
        }
    }

    /// What a step under the lock decided.
    enum LockedStep<T: Sendable>: Sendable {
        case done(T)
        case wait(fetch: Int)
    }
}

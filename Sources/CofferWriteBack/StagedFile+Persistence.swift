import CofferObjectStore

/// What a staging file holds, as a plain value a journal can store and a later process can adopt.
///
/// The bytes stay in the staging file; this says which of them are the file's own and which must still come from
/// the base object: the file is `size` bytes long; below `baseLimit`, the ranges in `present` are in the staging
/// file and the others are the base's bytes at the same offsets; from `baseLimit` on every byte is in the staging
/// file. `dirty` is what was written since the base was uploaded (parts without dirty bytes can be copied
/// server-side from the base).
public struct StagedFileState: Sendable, Equatable, Codable {
    public var size: UInt64
    public var base: BaseObject?
    public var baseLimit: UInt64
    /// Ranges below `baseLimit` present in the staging file, as `[start, end)` pairs.
    public var present: [[UInt64]]
    /// Ranges written since the last upload, as `[start, end)` pairs.
    public var dirty: [[UInt64]]

    /// A state from its parts.
    public init(size: UInt64, base: BaseObject?, baseLimit: UInt64, present: [[UInt64]], dirty: [[UInt64]]) {
        self.size = size
        self.base = base
        self.baseLimit = baseLimit
        self.present = present
        self.dirty = dirty
    }

    /// No bytes: the state of a journal record without data (a directory marker).
    public static let empty = StagedFileState(size: 0, base: nil, baseLimit: 0, present: [], dirty: [])

    static func pairs(_ set: ByteRangeSet) -> [[UInt64]] { set.ranges.map { [$0.lowerBound, $0.upperBound] } }

    static func set(_ pairs: [[UInt64]]) -> ByteRangeSet {
        ByteRangeSet(pairs.compactMap { $0.count == 2 && $0[0] < $0[1] ? $0[0]..<$0[1] : nil })
    }
}

extension StagedFile {
    /// The file's state now, for a journal record.
    public var persistentState: StagedFileState {
        state.withLock { state in
            StagedFileState(size: state.size, base: state.base, baseLimit: state.baseLimit,
                            present: StagedFileState.pairs(state.present), dirty: StagedFileState.pairs(state.dirty))
        }
    }

    /// Takes over a staging file an earlier process left (found through its journal record): the file at `path`
    /// must exist; it is cut or extended to `state.size`. The file is dirty (it is adopted to be uploaded).
    /// - Throws: `.localIO` when the file is missing or cannot be opened, `.tooLarge` past 5 TiB.
    public convenience init(adopting path: String, state saved: StagedFileState,
                            store: any ObjectStore) throws(WriteBackError) {
        guard saved.size <= Self.maximumSize else {
            throw .tooLarge("the staging file \(path) records \(saved.size) bytes, more than the 5 TiB S3 allows")
        }
        let fd = try StagingFileIO.openExisting(path)
        do throws(WriteBackError) {
            try StagingFileIO.setLength(fd, saved.size, path: path)
        } catch {
            StagingFileIO.close(fd)
            throw error
        }
        var adopted = State(fd: fd, base: saved.base)
        adopted.size = saved.size
        adopted.baseLimit = saved.base == nil ? 0 : min(saved.baseLimit, saved.size)
        adopted.present = StagedFileState.set(saved.present)
        adopted.dirty = StagedFileState.set(saved.dirty)
        adopted.needsUpload = true
        self.init(path: path, store: store, state: adopted)
    }

    /// Points the base at another key holding the same bytes (after the object was copied there by a rename), so
    /// that unchanged bytes are fetched or copied from where they now are.
    public func rebase(toKey key: String, etag: String) {
        state.withLock { state in
            guard let base = state.base else { return }
            state.base = BaseObject(key: key, etag: etag, size: base.size)
            state.baseVersion += 1
        }
    }

    /// Marks the whole file as needing upload, as if every byte had been written (after its object was lost or
    /// replaced elsewhere: the next upload sends it whole).
    public func markEntirelyDirty() async throws(WriteBackError) {
        let size = self.size
        try await ensurePresent(0..<size)
        state.withLock { state in
            state.dirty = ByteRangeSet([0..<state.size])
            state.needsUpload = true
            state.generation += 1
        }
    }
}

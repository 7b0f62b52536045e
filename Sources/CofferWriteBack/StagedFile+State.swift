extension StagedFile {
    /// A fetch of base ranges in flight; writes and truncations that overlap it wait for it.
    struct Fetch: Sendable {
        let id: Int
        let ranges: [Range<UInt64>]
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Everything a `StagedFile` knows besides the bytes, guarded by its `Mutex`.
    ///
    /// Invariants: `baseLimit <= size`; `baseLimit == 0` without a base; `present` and `dirty` matter only below
    /// `baseLimit` and `size` respectively (bytes at or past `baseLimit` are always in the staging file: written, or
    /// zeros from an extension); `dirty` ⊆ written bytes.
    struct State: Sendable {
        /// The staging file's descriptor; -1 once discarded.
        var fd: Int32
        var isDiscarded = false
        var size: UInt64
        var base: BaseObject?
        /// Counts changes of `base` (an upload replaces it), so a fetch that failed against an old base retries.
        var baseVersion: UInt64 = 0
        /// Base bytes at or past this offset were truncated away.
        var baseLimit: UInt64
        /// Ranges below `baseLimit` that are in the staging file (fetched or written).
        var present = ByteRangeSet()
        /// Ranges written since the last successful upload.
        var dirty = ByteRangeSet()
        /// True when the file differs from `base` (or has never been uploaded).
        var needsUpload: Bool
        /// Bumped by every write and truncation.
        var generation: UInt64 = 0

        /// An upload of this file is in flight; others wait in `uploadWaiters`.
        var isUploading = false
        var uploadWaiters: [CheckedContinuation<Void, Never>] = []
        /// Written while the upload in flight runs: what stays dirty if it succeeds.
        var writtenDuringUpload = ByteRangeSet()
        /// The smallest size truncated to while the upload in flight runs: the uploaded object's bytes past it are
        /// not the file's.
        var truncatedDuringUpload: UInt64?

        var fetches: [Fetch] = []
        var nextFetchID = 0

        init(fd: Int32, base: BaseObject?) {
            self.fd = fd
            self.base = base
            size = base?.size ?? 0
            baseLimit = base?.size ?? 0
            needsUpload = base == nil
        }

        /// Throws `.discarded` once the file was discarded.
        func checkUsable(_ path: String) throws(WriteBackError) {
            guard isDiscarded else { return }
            throw .discarded("the staging file \(path) was discarded (the file was unlinked or released); "
                             + "open the file again")
        }

        /// The parts of `range` that are base bytes not yet in the staging file.
        func missing(in range: Range<UInt64>) -> [Range<UInt64>] {
            let limit = min(baseLimit, size)
            guard range.lowerBound < limit else { return [] }
            return present.gaps(in: range.lowerBound..<min(range.upperBound, limit))
        }

        /// The id of a fetch in flight that overlaps one of `ranges`, if any.
        func fetch(overlapping ranges: [Range<UInt64>]) -> Int? {
            fetches.first { fetch in
                fetch.ranges.contains { fetched in ranges.contains { $0.overlaps(fetched) } }
            }?.id
        }

        /// Records that `range` was written (the bytes are already in the staging file).
        mutating func recordWrite(_ range: Range<UInt64>) {
            size = max(size, range.upperBound)
            present.insert(range)
            dirty.insert(range)
            if isUploading { writtenDuringUpload.insert(range) }
            needsUpload = true
            generation += 1
        }

        /// Records that the file was cut or extended to `newSize` (the staging file already was).
        mutating func recordTruncation(to newSize: UInt64) {
            if newSize < size {
                present.removeAll(from: newSize)
                dirty.removeAll(from: newSize)
                writtenDuringUpload.removeAll(from: newSize)
                baseLimit = min(baseLimit, newSize)
                if isUploading { truncatedDuringUpload = min(truncatedDuringUpload ?? newSize, newSize) }
            }
            size = newSize
            needsUpload = true
            generation += 1
        }

        /// Removes fetch `id` and returns the tasks waiting for it, to resume outside the lock.
        mutating func endFetch(_ id: Int) -> [CheckedContinuation<Void, Never>] {
            guard let index = fetches.firstIndex(where: { $0.id == id }) else { return [] }
            return fetches.remove(at: index).waiters
        }
    }
}

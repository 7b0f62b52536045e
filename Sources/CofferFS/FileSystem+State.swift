extension FileSystem {
    /// What the core holds in memory about inodes, names, handles and listings, guarded by `FileSystem.state`.
    ///
    /// Bounded: inodes nobody references (the kernel forgot them or never learnt them, no handle, no pending
    /// upload) are swept once the table grows past `unreferencedInodeLimit`, listings are bounded by
    /// `ListingCache`, and negative entries are dropped once expired. What is evicted is only a cache of S3's
    /// answers (kept on disk too when the metadata cache is on), so a walk of any number of objects runs in bounded
    /// memory.
    struct State {
        var inodes: [UInt64: InodeRecord] = [:]
        var byPath: [String: UInt64] = [:]
        var nextInode: UInt64 = 2
        var handles: [UInt64: OpenHandle] = [:]
        var directories: [UInt64: DirectorySnapshot] = [:]
        var nextHandle: UInt64 = 1
        /// Paths known not to exist, until the monotonic time given.
        var negative: [String: Double] = [:]
        /// Directory listings by directory path.
        var listings: ListingCache
        /// Directories known to hold more than one LIST page: lookups in them ask about one key, not the first page.
        var largeDirectories: Set<String> = []
        /// Unreferenced inodes kept at most (roughly: a sweep runs when the table doubles past what it kept).
        let unreferencedInodeLimit: Int
        /// The table size at which the next sweep runs.
        private var nextSweep: Int
        /// The negative-entry count at which expired ones are dropped.
        private var nextNegativeSweep = 4096

        init(unreferencedInodeLimit: Int, listedNameLimit: Int) {
            self.unreferencedInodeLimit = max(1, unreferencedInodeLimit)
            self.nextSweep = self.unreferencedInodeLimit
            self.listings = ListingCache(capacity: listedNameLimit)
        }

        /// Adds a new inode under `record.path`, then sweeps the table if it has grown past its bound.
        mutating func insert(_ record: InodeRecord, now: Double) {
            inodes[record.number] = record
            byPath[record.path] = record.number
            negative[record.path] = nil
            if inodes.count >= nextSweep { sweepUnreferencedInodes(now: now) }
        }

        /// Records that `path` does not exist until `until`, dropping expired negative entries now and then.
        mutating func rememberAbsent(_ path: String, until: Double, now: Double) {
            negative[path] = until
            guard negative.count >= nextNegativeSweep else { return }
            negative = negative.filter { $0.value > now }
            nextNegativeSweep = max(4096, negative.count * 2)
        }

        /// Drops inodes that nothing references — not the kernel (lookup count 0), no open handle, no staged copy,
        /// no pending upload — expired ones first, then the rest if the table is still past its bound. Their names
        /// are looked up again (from the listing or the metadata cache, or S3) if needed.
        mutating func sweepUnreferencedInodes(now: Double) {
            func isSweepable(_ record: InodeRecord) -> Bool {
                record.isDroppable && record.staged == nil && record.journalID == nil && !record.hasPendingUpload
            }
            let expired = inodes.values.filter { isSweepable($0) && $0.validUntil <= now }.map(\.number)
            for number in expired { drop(number) }
            if inodes.count > unreferencedInodeLimit {
                let fresh = inodes.values.filter(isSweepable).map(\.number)
                for number in fresh { drop(number) }
            }
            nextSweep = max(unreferencedInodeLimit, inodes.count * 2)
        }

        private mutating func drop(_ number: UInt64) {
            guard let record = inodes.removeValue(forKey: number) else { return }
            if byPath[record.path] == number { byPath[record.path] = nil }
        }
    }
}

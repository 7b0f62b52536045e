import CofferObjectStore

/// What an open directory handle has listed so far. Entries are appended as LIST pages arrive and keep their
/// offsets while the directory changes, so a reader resumes where it stopped; the first reply waits for one page,
/// not for the whole directory.
struct DirectorySnapshot {
    /// How far the handle's LIST pass has got.
    enum Progress {
        /// Nothing listed yet: an open(2) of a directory that never reads it (rsync's fchmod, fchdir, a dirfd for
        /// openat) costs no LIST.
        case notStarted
        /// More pages follow this continuation token.
        case continuing(token: String)
        /// Every page was read, and the files not uploaded yet were appended.
        case complete
    }

    let inode: UInt64
    /// ".", "..", then the children in the order they were listed.
    var entries: [DirectoryEntry] = []
    var progress = Progress.notStarted
    /// LIST pages read.
    var pages = 0
    /// When the first LIST request was sent (monotonic): records changed here since keep their own state.
    var listedAt: Double = 0
    /// The children listed so far with their kind and, for files, what the listing showed (for the directory's
    /// `CachedListing` once complete); nil once there are more than a listing may keep.
    var children: [String: EntryKind]? = [:]
    var objects: [String: ObjectSummary] = [:]
    /// Names listed that have a pending upload here (already in `entries`, not to be added again at the end).
    var pendingListed: Set<String> = []

    init(inode: UInt64) {
        self.inode = inode
    }

    var isComplete: Bool {
        if case .complete = progress { return true }
        return false
    }
}

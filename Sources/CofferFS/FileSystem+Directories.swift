import CofferMetadata
import CofferObjectStore
import Foundation

extension FileSystem {
    /// Opens a directory handle. Its entries are listed by the readdirs that reach them, not here.
    public func opendir(_ inode: UInt64) async throws(FSError) -> UInt64 {
        let directory = try record(inode)
        guard directory.type == .directory else { throw .notDirectory(directory.path) }
        return state.withLock { state in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.directories[handle] = DirectorySnapshot(inode: inode)
            return handle
        }
    }

    /// At most `limit` entries of an open directory from `offset` (a reply buffer holds only so many: asking for
    /// no more keeps listing a huge directory linear). LIST pages are read as the offsets reach them, so the first
    /// reply waits for one page, and kept for the handle, so offsets stay valid while the directory changes.
    ///
    /// With `plus`, the entries returned carry current attributes — a HEAD of each stale file or directory
    /// marker, the names after them fetched ahead under the mount-wide budget — and each one marked
    /// `countsLookup` counts as a lookup: the caller forgets the ones it does not pass on to the kernel.
    public func readdir(_ inode: UInt64, handle: UInt64, offset: UInt64, plus: Bool = false,
                        limit: Int = .max) async throws(FSError) -> [DirectoryEntry] {
        guard var snapshot = state.withLock({ $0.directories[handle] }), snapshot.inode == inode else {
            throw .badHandle(handle)
        }
        guard offset < UInt64(Int.max), limit > 0 else { return [] }
        // A readdirplus reply waits for the HEADs of its entries: at most a few rounds of the budget's worth, so
        // the first entries come soon whatever buffer the kernel offers; the next window is fetched meanwhile.
        let plusWindow = Self.plusWindow(budget: options.metadataRequestBudget)
        let limit = plus ? min(limit, plusWindow) : limit
        let start = Int(offset)
        let (sum, overflow) = start.addingReportingOverflow(limit)
        let wanted = overflow ? Int.max : sum
        if snapshot.entries.count < wanted && !snapshot.isComplete {
            let directory = try record(inode)
            while snapshot.entries.count < wanted && !snapshot.isComplete {
                try await listNextPage(of: directory, into: &snapshot)
            }
            let listed = snapshot
            state.withLock { state in
                if state.directories[handle] != nil { state.directories[handle] = listed }
            }
        }
        let entries = snapshot.entries
        guard start < entries.count else { return [] }
        let window = start..<(start + min(limit, entries.count - start))
        guard plus else { return Array(entries[window]) }
        let ahead = window.upperBound..<min(entries.count, window.upperBound + plusWindow)
        return await withCurrentAttributes(entries[window], fetchingAhead: entries[ahead], of: snapshot)
    }

    /// The most entries one readdirplus reply carries: four rounds of the mount's HEAD budget.
    static func plusWindow(budget: Int) -> Int { max(16, budget * 4) }

    public func releasedir(_ inode: UInt64, handle: UInt64) {
        state.withLock { _ = $0.directories.removeValue(forKey: handle) }
    }

    /// Reads the next LIST page of `directory` into `snapshot`: "." and ".." first, then the page's directories and
    /// files; after the last page, the files and directories created here and not uploaded yet, and the
    /// directory's listing is kept for lookups. Keys that cannot be file names are skipped with a warning; a file
    /// that has the name of a directory on the same page is shadowed by it.
    func listNextPage(of directory: InodeRecord, into snapshot: inout DirectorySnapshot) async throws(FSError) {
        let prefix = directoryPrefix(of: directory.path)
        var request = ListRequest(prefix: prefix, delimiter: "/")
        switch snapshot.progress {
        case .complete:
            return
        case .continuing(let token):
            request.continuationToken = token
        case .notStarted:
            snapshot.listedAt = Self.monotonicNow()
            let parentInode = state.withLock { state in
                state.byPath[Names.parentPath(directory.path)] ?? Self.rootInode
            }
            snapshot.entries.append(DirectoryEntry(name: ".", attributes: directory.attributes, nextOffset: 1))
            var parentAttributes = directory.attributes
            parentAttributes.inode = parentInode
            snapshot.entries.append(DirectoryEntry(name: "..", attributes: parentAttributes, nextOffset: 2))
        }
        let page: ListPage
        do {
            page = try await store.list(request)
        } catch {
            throw FSError.from(error, "LIST \(prefix)")
        }
        snapshot.pages += 1
        var directories: [String] = []
        for common in page.commonPrefixes {
            let name = common.dropFirst(prefix.count).dropLast()
            if let problem = Names.problem(with: name) {
                logger.warning("skipping a prefix that cannot be a directory name",
                               metadata: ["prefix": "\(common)", "reason": "\(problem)"])
                continue
            }
            directories.append(String(name))
        }
        let directoryNames = Set(directories)
        var files: [ObjectSummary] = []
        for object in page.objects where object.key != prefix {
            let name = object.key.dropFirst(prefix.count)
            if let problem = Names.problem(with: name) {
                logger.warning("skipping a key that cannot be a file name",
                               metadata: ["key": "\(object.key)", "reason": "\(problem)"])
                continue
            }
            if directoryNames.contains(String(name)) {
                logger.warning("object is shadowed by a directory of the same name", metadata: ["key": "\(object.key)"])
                continue
            }
            files.append(object)
        }
        func append(_ name: String, _ kind: EntryKind, _ record: InodeRecord) {
            var attributes = record.attributes
            if let staged = record.staged { attributes.size = staged.size }
            snapshot.entries.append(DirectoryEntry(name: name, attributes: attributes,
                                                   nextOffset: UInt64(snapshot.entries.count + 1)))
            snapshot.children?[name] = kind
            if record.hasPendingUpload { snapshot.pendingListed.insert(name) }
        }
        for name in directories {
            append(name, .directory, registerListed(path: Names.child(directory.path, name), type: .directory,
                                                    summary: nil))
        }
        // Objects the metadata cache knows unchanged need no HEAD.
        let known = metadataCache?.info(matching: files) ?? [:]
        for object in files {
            let name = String(object.key.dropFirst(prefix.count))
            append(name, .file, registerListed(path: Names.child(directory.path, name), type: .regular, summary: object,
                                               cached: known[object.key], listedAt: snapshot.listedAt))
            if snapshot.children != nil { snapshot.objects[name] = object }
        }
        if let children = snapshot.children, children.count > options.listedNameLimit {
            // More than a listing may keep: the snapshot still lists it all, lookups probe names one by one.
            snapshot.children = nil
            snapshot.objects = [:]
        }
        if page.isTruncated, let token = page.nextContinuationToken {
            snapshot.progress = .continuing(token: token)
            return
        }
        finishListing(of: directory, into: &snapshot)
    }

    /// After the last page: appends files and directories with changes not uploaded yet — created here (no object
    /// yet), or changed here while another client removed their object (the upload will meet that as a conflict)
    /// — and keeps the listing for lookups.
    private func finishListing(of directory: InodeRecord, into snapshot: inout DirectorySnapshot) {
        let pending: [InodeRecord] = state.withLock { state in
            state.inodes.values.filter {
                $0.hasPendingUpload && !$0.isUnlinked && Names.parentPath($0.path) == directory.path && !$0.path.isEmpty
            }
        }
        for record in pending.sorted(by: { $0.path < $1.path }) {
            let name = Names.baseName(record.path)
            guard !snapshot.pendingListed.contains(name), snapshot.children?[name] == nil else { continue }
            snapshot.children?[name] = EntryKind(record.type)
            var attributes = record.attributes
            if let staged = record.staged { attributes.size = staged.size }
            snapshot.entries.append(DirectoryEntry(name: name, attributes: attributes,
                                                   nextOffset: UInt64(snapshot.entries.count + 1)))
        }
        snapshot.progress = .complete
        let listing = snapshot.children.map { CachedListing(children: $0, validUntil: expiry, objects: snapshot.objects) }
        let large = snapshot.pages > 1
        let path = directory.path
        state.withLock { state in
            if let listing { state.listings[path] = listing } else { state.listings.removeValue(forKey: path) }
            if large { state.largeDirectories.insert(path) } else { state.largeDirectories.remove(path) }
        }
        snapshot.children = nil
        snapshot.objects = [:]
        snapshot.pendingListed = []
    }

    /// `window` with current attributes: HEADs of its stale names first (and of the stale names in `ahead`,
    /// not waited for, so the next readdir finds them fetched), then each entry from its inode's record, counted
    /// as a lookup (`countsLookup`). An entry whose record is gone (swept meanwhile) goes without attributes.
    /// Attributes learnt since the listing began count as current even past the TTL: they are at least as new
    /// as the listing the reader is reading (a slow reader does not HEAD what was fetched ahead of it again).
    private func withCurrentAttributes(_ window: ArraySlice<DirectoryEntry>, fetchingAhead ahead: ArraySlice<DirectoryEntry>,
                                       of snapshot: DirectorySnapshot) async -> [DirectoryEntry] {
        let directory = state.withLock { state in state.inodes[snapshot.inode]?.path }
        guard let directory else { return Array(window) }
        let now = Self.monotonicNow()
        // A record registered at time t is valid until t + TTL.
        let learntSinceListing = snapshot.listedAt + options.metadataTTL
        func stale(_ entries: ArraySlice<DirectoryEntry>, in state: State) -> [ListedName] {
            entries.compactMap { entry in
                guard entry.name != ".", entry.name != ".." else { return nil }
                let path = Names.child(directory, entry.name)
                if let number = state.byPath[path], let record = state.inodes[number],
                   record.validUntil > now || record.validUntil >= learntSinceListing || record.hasPendingUpload {
                    return nil
                }
                return ListedName(path: path, type: FileType(mode: entry.attributes.mode) == .directory ? .directory : .file)
            }
        }
        let (current, next) = state.withLock { state in (stale(window, in: state), stale(ahead, in: state)) }
        startFetchingAttributes(of: next)
        await fetchAttributes(of: current)
        return state.withLock { state in
            window.map { entry in
                var updated = entry
                guard entry.name != ".", entry.name != ".." else { return updated }
                guard let number = state.byPath[Names.child(directory, entry.name)], var record = state.inodes[number]
                else { return updated }
                record.lookupCount += 1
                state.inodes[number] = record
                updated.attributes = record.attributes
                if let staged = record.staged { updated.attributes.size = staged.size }
                updated.countsLookup = true
                return updated
            }
        }
    }

    /// The inode of a name seen in a listing. A known inode keeps its metadata while its ETag is unchanged; a new
    /// one gets default attributes, marked stale so that getattr or readdirplus fetches its metadata — unless the
    /// metadata cache knows the object unchanged (`cached`): then it gets that metadata, current.
    /// - Parameter listedAt: when the LIST request was sent; a record changed here since keeps its own state.
    func registerListed(path: String, type: FileType, summary: ObjectSummary?, cached: ObjectInfo? = nil,
                        listedAt: Double = 0) -> InodeRecord {
        if let cached, let summary {
            let metadata = POSIXMetadata(userMetadata: cached.metadata)
            let kind: FileType = type == .directory ? type : Self.type(of: metadata)
            // The row's size is the file's (with encryption the listing shows the stored message's).
            return register(path: path, type: kind, etag: summary.etag, size: cached.size,
                            lastModified: Timestamp(summary.lastModified), metadata: metadata, countLookup: false,
                            fetchedAt: listedAt)
        }
        return state.withLock { state in
            if let number = state.byPath[path], var existing = state.inodes[number],
               existing.type == type || Self.isObjectKindChange(existing.type, type)
            {
                if let summary, existing.holdsVersion, existing.etag != summary.etag {
                    existing.isSuperseded = true
                    state.inodes[number] = existing
                } else if let summary, existing.etag != summary.etag {
                    // With encryption a listing shows the stored (ciphertext) size, not the file's: keep the old
                    // version until a HEAD (the expired record's next getattr, or a read that gets 412) tells both.
                    if encryption == nil {
                        existing.etag = summary.etag
                        existing.attributes.size = summary.size
                    }
                    existing.validUntil = 0
                    state.inodes[number] = existing
                }
                return existing
            }
            let number = state.nextInode
            state.nextInode += 1
            let metadata = POSIXMetadata(userMetadata: [:])
            let record = InodeRecord(
                number: number, path: path, type: type,
                attributes: attributes(inode: number, type: type, size: summary?.size ?? 0,
                                       lastModified: Timestamp(summary?.lastModified ?? Date()), metadata: metadata),
                validUntil: 0, etag: summary?.etag, metadata: metadata)
            state.insert(record, now: Self.monotonicNow())
            return record
        }
    }

    /// HEADs `names` (the object of a file, the marker of a directory) under the mount-wide budget and registers
    /// what each answer says, valid for the attribute TTL. A name already being fetched (by another readdir or
    /// lookup) is waited for, not asked again.
    func fetchAttributes(of names: [ListedName]) async {
        for fetch in startFetchingAttributes(of: names) { await fetch.value }
    }

    /// Starts the HEADs of `names` that are not running yet (registered before returning, so a caller that asks
    /// for the same names right after waits for these) and returns every name's fetch.
    @discardableResult
    func startFetchingAttributes(of names: [ListedName]) -> [Task<Void, Never>] {
        guard !names.isEmpty else { return [] }
        let requestedAt = Self.monotonicNow()
        return attributeFetches.withLock { inFlight in
            names.map { name in
                let id = name.type == .directory ? name.path + "/" : name.path
                if let running = inFlight[id] { return running }
                let fetch = Task {
                    await self.metadataRequests.run { await self.fetchMetadata(name, unlessLearntAfter: requestedAt) }
                    _ = self.attributeFetches.withLock { $0.removeValue(forKey: id) }
                }
                inFlight[id] = fetch
                return fetch
            }
        }
    }

    /// One HEAD for a listed name: the object for a file, the marker for a directory — none when its record is
    /// current by now (a fetch that ended just before this one was asked for, or a lookup while it waited for the
    /// budget) or was refreshed after `requestedAt`.
    private func fetchMetadata(_ name: ListedName, unlessLearntAfter requestedAt: Double) async {
        let now = Self.monotonicNow()
        let learnt = state.withLock { state -> Bool in
            guard let number = state.byPath[name.path], let record = state.inodes[number] else { return false }
            return record.validUntil > now || record.validUntil >= requestedAt + options.metadataTTL
        }
        if learnt { return }
        let isDirectory = name.type == .directory
        let objectKey = isDirectory ? directoryPrefix(of: name.path) : key(of: name.path)
        let started = Self.monotonicNow()
        let info: ObjectInfo
        do {
            info = try await store.head(objectKey)
        } catch {
            switch error {
            case .notFound where isDirectory, .accessDenied:
                // A directory without a marker (written by aws s3 sync), or credentials without s3:GetObject:
                // the defaults, and no need to ask again soon.
                state.withLock { state in
                    if let number = state.byPath[name.path] { state.inodes[number]?.validUntil = expiry }
                }
                if isDirectory, state.withLock({ $0.byPath[name.path] == nil }) {
                    _ = register(path: name.path, type: .directory, etag: nil, size: 0, lastModified: Timestamp.now(),
                                 metadata: POSIXMetadata(userMetadata: [:]), countLookup: false, fetchedAt: started)
                }
            default:
                logger.debug("HEAD failed while listing", metadata: ["key": "\(objectKey)", "error": "\(error)"])
            }
            return
        }
        metadataCache?.remember(info)
        let metadata = POSIXMetadata(userMetadata: info.metadata)
        let type: FileType = isDirectory ? .directory : Self.type(of: metadata)
        _ = register(path: name.path, type: type, etag: info.etag, size: info.size,
                     lastModified: Timestamp(info.lastModified), metadata: metadata,
                     hasMarker: isDirectory, countLookup: false, fetchedAt: started)
    }

    /// Makes a directory. With write-back its marker (`dir/`, carrying mode, owner and times) is journaled and
    /// uploaded by the queue like a file, so a later chmod or utimens folds into that one PUT; with
    /// `--write-back-delay 0` it is written now.
    public func mkdir(parent: UInt64, name: String, mode: UInt32, caller: Caller) async throws(FSError) -> Entry {
        let (directory, path) = try await placeForNewEntry(parent: parent, name: name, operation: "mkdir")
        let now = Timestamp.now()
        let metadata = newMetadata(mode: FileMode.directory | (mode & ~caller.umask & FileMode.permissionMask),
                                   caller: caller, at: now)
        guard writesBack else {
            let etag: String
            do {
                etag = try await putMarker(of: path, metadata: metadata, condition: options.noOverwrite ? .doesNotExist : nil)
            } catch {
                throw FSError.from(error, "PUT \(directoryPrefix(of: path))")
            }
            invalidateListing(ofParentOf: path)
            touchDirectory(directory.number)
            return entry(for: register(path: path, type: .directory, etag: etag, size: 0, lastModified: now,
                                       metadata: metadata, hasMarker: true, countLookup: true, fetchedAt: .infinity))
        }
        let made = register(path: path, type: .directory, etag: nil, size: 0, lastModified: now, metadata: metadata,
                            hasMarker: false, countLookup: true, fetchedAt: .infinity)
        let record: InodeRecord = state.withLock { state in
            state.inodes[made.number]?.isLocalOnly = true
            state.listings[directory.path]?.children[name] = .directory
            // New and empty: lookups in it (rsync's of every name it is about to make) need no LIST while this is fresh.
            state.listings[path] = CachedListing(children: [:], validUntil: expiry)
            return state.inodes[made.number] ?? made
        }
        do {
            try await locks.withLock(record.number) { () throws(FSError) in try recordPendingUpload(record.number) }
        } catch {
            abandonPendingUpload(record.number)
            removeName(path)
            throw error
        }
        scheduleUpload(record.number)
        touchDirectory(directory.number)
        return entry(for: record)
    }

    /// Removes an empty directory: its marker is deleted, or its pending marker upload dropped.
    public func rmdir(parent: UInt64, name: String) async throws(FSError) {
        try requireWritable("rmdir \(name)")
        let directory = try record(parent)
        let path = Names.child(directory.path, name)
        let target = try await findRecord(parent: parent, name: name, countLookup: false)
        guard target.type == .directory else { throw .notDirectory(path) }
        // In order with the marker's upload: an upload finishing after the LIST below would bring the directory back.
        try await locks.withLock(target.number) { () throws(FSError) in
            let prefix = directoryPrefix(of: path)
            let page: ListPage
            do throws(ObjectStoreError) {
                page = try await store.list(ListRequest(prefix: prefix, maxKeys: 2))
            } catch {
                throw FSError.from(error, "LIST \(prefix)")
            }
            let hasPendingChildren = state.withLock { state in
                state.inodes.values.contains { $0.isLocalOnly && !$0.isUnlinked && Names.parentPath($0.path) == path }
            }
            if page.objects.contains(where: { $0.key != prefix }) || hasPendingChildren { throw .notEmpty(path) }
            if state.withLock({ $0.inodes[target.number]?.hasPendingUpload ?? false }) {
                abandonPendingUpload(target.number)
            }
            if page.objects.contains(where: { $0.key == prefix }) {
                do throws(ObjectStoreError) {
                    try await store.delete(prefix)
                } catch {
                    throw FSError.from(error, "DELETE \(prefix)")
                }
            }
            removeName(path)
        }
        touchDirectory(directory.number)
    }

    /// Checks that a new entry `name` may be made in `parent` (writable mount, valid name, a directory, nothing there
    /// yet) and returns the directory's record and the new path.
    func placeForNewEntry(parent: UInt64, name: String,
                          operation: String) async throws(FSError) -> (InodeRecord, String) {
        try requireWritable("\(operation) \(name)")
        try Names.validate(name)
        let directory = try record(parent)
        guard directory.type == .directory else { throw .notDirectory(directory.path) }
        let path = Names.child(directory.path, name)
        if try await exists(path) { throw .exists(path) }
        return (directory, path)
    }

    /// True when something exists at `path` (known here or in S3).
    func exists(_ path: String) async throws(FSError) -> Bool {
        let now = Self.monotonicNow()
        let local: Bool? = state.withLock { state in
            if let number = state.byPath[path], let record = state.inodes[number], !record.isUnlinked,
               record.hasPendingUpload || record.validUntil > now { return true }
            if let until = state.negative[path], until > now { return false }
            let parent = Names.parentPath(path)
            if let listing = state.listings[parent], listing.validUntil > now || Self.isMadeHere(parent, in: state) {
                return listing.children[Names.baseName(path)] != nil
            }
            return nil
        }
        if let local { return local }
        return try await resolveThroughListing(path, parent: Names.parentPath(path)) != nil
    }

    /// Forgets the name `path` (after unlink, rmdir or rename): its inode lives on, unlinked, while referenced.
    func removeName(_ path: String) {
        let dropped: UInt64? = state.withLock { state in
            state.rememberAbsent(path, until: expiry, now: Self.monotonicNow())
            state.listings[Names.parentPath(path)]?.children[Names.baseName(path)] = nil
            guard let number = state.byPath.removeValue(forKey: path) else { return nil }
            state.inodes[number]?.isUnlinked = true
            state.inodes[number]?.isLocalOnly = false
            return number
        }
        if let dropped { dropIfUnused(dropped) }
    }

    /// Updates a directory's mtime and ctime after a change in it (kept locally; S3 has no directory times).
    func touchDirectory(_ inode: UInt64) {
        let now = Timestamp.now()
        state.withLock { state in
            state.inodes[inode]?.attributes.mtime = now
            state.inodes[inode]?.attributes.ctime = now
            state.inodes[inode]?.changedAt = Self.monotonicNow()
        }
    }
}

import CofferMetadata
import CofferObjectStore
import Foundation

/// What S3 says is at a path.
struct RemoteObject {
    var type: FileType
    var etag: String?
    var size: UInt64
    var lastModified: Timestamp
    var metadata: POSIXMetadata
    var hasMarker: Bool
}

/// Runs a store call and captures its outcome, so that several can run in parallel with `async let`.
func outcome<T: Sendable>(_ body: () async throws(ObjectStoreError) -> T) async -> Result<T, ObjectStoreError> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

extension FileSystem {
    public func lookup(parent: UInt64, name: String) async throws(FSError) -> Entry {
        entry(for: try await findRecord(parent: parent, name: name, countLookup: true))
    }

    /// The record of `name` in `parent`, from the table when current, else from S3. Adds a lookup when asked:
    /// operations that only need the record (unlink, rename) do not, so the kernel's counts stay exact.
    func findRecord(parent: UInt64, name: String, countLookup: Bool) async throws(FSError) -> InodeRecord {
        try Names.validate(name)
        let directory = try record(parent)
        guard directory.type == .directory else { throw .notDirectory(directory.path) }
        let path = Names.child(directory.path, name)
        let now = Self.monotonicNow()
        let known: InodeRecord? = state.withLock { state in
            guard let number = state.byPath[path], var record = state.inodes[number], !record.isUnlinked else { return nil }
            let hasLocalState = record.hasPendingUpload
            guard hasLocalState || record.validUntil > now else { return nil }
            if countLookup { record.lookupCount += 1 }
            state.inodes[number] = record
            return record
        }
        if let known { return known }
        // A fresh listing of the parent already says whether the name exists, and as what.
        let listed = state.withLock { state -> ListingAnswer in
            if let until = state.negative[path], until > now { return .absent }
            if let listing = state.listings[directory.path],
               listing.validUntil > now || Self.isMadeHere(directory.path, in: state) {
                return listing.children[name].map { .present($0) } ?? .absent
            }
            return .unknown
        }
        let started = Self.monotonicNow()
        let remote: RemoteObject?
        do throws(FSError) {
            switch listed {
            case .absent: throw FSError.notFound(path)
            case .present(let kind):
                let summary = state.withLock { $0.listings[directory.path]?.objects[name] }
                remote = try await resolveListed(path, in: directory.path, as: kind, listed: summary)
            case .unknown: remote = try await resolveThroughListing(path, parent: directory.path)
            }
        } catch where error.isUnavailable {
            // S3 is unreachable: a name this mount knows keeps its last known attributes.
            let stale: InodeRecord? = state.withLock { state in
                guard let number = state.byPath[path], var record = state.inodes[number], !record.isUnlinked else {
                    return nil
                }
                if countLookup { record.lookupCount += 1 }
                state.inodes[number] = record
                return record
            }
            guard let stale else { throw error }
            return stale
        }
        guard let remote else {
            state.withLock { $0.rememberAbsent(path, until: expiry, now: Self.monotonicNow()) }
            throw .notFound(path)
        }
        return register(path: path, type: remote.type, etag: remote.etag, size: remote.size,
                        lastModified: remote.lastModified, metadata: remote.metadata, hasMarker: remote.hasMarker,
                        countLookup: countLookup, fetchedAt: started)
    }

    public func forget(_ inode: UInt64, count: UInt64) {
        state.withLock { state in
            guard var record = state.inodes[inode] else { return }
            record.lookupCount -= min(count, record.lookupCount)
            state.inodes[inode] = record
        }
        dropIfUnused(inode)
    }

    public func getattr(_ inode: UInt64) async throws(FSError) -> (FileAttributes, timeout: Double) {
        let current = try record(inode)
        // A file open here keeps the attributes of the version it was opened at.
        if inode == Self.rootInode || current.holdsVersion || current.isUnlinked
            || current.validUntil > Self.monotonicNow() {
            return (try localAttributes(current), options.metadataTTL)
        }
        let started = Self.monotonicNow()
        let resolved: RemoteObject?
        do throws(FSError) {
            // A directory whose marker the metadata cache knows: one LIST of its own page shows the marker
            // unchanged (the directory exists, its metadata known), instead of two HEADs and a LIST.
            if current.type == .directory, let known = try await directoryFromOwnListing(current.path) {
                resolved = known
            } else {
                resolved = try await resolve(current.path)
            }
        } catch where error.isUnavailable {
            // S3 is unreachable: the attributes this mount last knew, rather than an error for a file that is there.
            return (try localAttributes(current), options.metadataTTL)
        }
        guard let remote = resolved else {
            if current.openCount > 0 { return (current.attributes, options.metadataTTL) }
            throw .notFound(current.path)
        }
        let updated = register(path: current.path, type: remote.type, etag: remote.etag, size: remote.size,
                               lastModified: remote.lastModified, metadata: remote.metadata, hasMarker: remote.hasMarker,
                               countLookup: false, fetchedAt: started)
        if updated.etag != current.etag, current.type == .regular {
            cache.invalidate(key: key(of: current.path))
        }
        return (updated.attributes, options.metadataTTL)
    }

    /// The attributes of a record, with the size of its staged copy when it has one.
    func localAttributes(_ record: InodeRecord) throws(FSError) -> FileAttributes {
        var attributes = record.attributes
        if let staged = record.staged { attributes.size = staged.size }
        return attributes
    }

    /// Asks S3 what is at `path`, in one round trip: HEAD of the key, HEAD of the directory marker and a LIST of
    /// `path/` run in parallel. A directory shadows a file of the same name.
    func resolve(_ path: String) async throws(FSError) -> RemoteObject? {
        let fileKey = key(of: path)
        let prefix = directoryPrefix(of: path)
        let listRequest = ListRequest(prefix: prefix, delimiter: "/", maxKeys: 2)
        async let fileHead = outcome { () async throws(ObjectStoreError) in try await store.head(fileKey) }
        async let markerHead = outcome { () async throws(ObjectStoreError) in try await store.head(prefix) }
        async let children = outcome { () async throws(ObjectStoreError) in try await store.list(listRequest) }
        let (file, marker, listing) = await (fileHead, markerHead, children)

        var isDirectory: Bool
        switch listing {
        case .success(let page): isDirectory = !page.objects.isEmpty || !page.commonPrefixes.isEmpty
        case .failure(let error): throw FSError.from(error, "LIST \(listRequest.prefix)")
        }
        var markerInfo: ObjectInfo?
        switch marker {
        case .success(let info): markerInfo = info; isDirectory = true
        case .failure(.notFound), .failure(.accessDenied): break
        case .failure(let error): throw FSError.from(error, "HEAD \(prefix)")
        }
        if isDirectory {
            if case .success = file {
                logger.warning("object is shadowed by a directory of the same name", metadata: ["key": "\(fileKey)"])
            }
            return directoryObject(marker: markerInfo)
        }
        return try await fileObject(file, key: fileKey)
    }

    /// What S3 says of a name whose parent has no fresh listing: the parent's first LIST page first, kept as its
    /// listing when it is the whole directory; then one HEAD only if the name is in it. A name that is not there
    /// (every new file `rsync` or `cp` makes) costs that one LIST, and the next names of the directory nothing
    /// while the listing is fresh. In a directory of more than one page, each name is probed on its own (`probe`).
    func resolveThroughListing(_ path: String, parent: String) async throws(FSError) -> RemoteObject? {
        if state.withLock({ $0.largeDirectories.contains(parent) }) { return try await probe(path) }
        let parentPrefix = directoryPrefix(of: parent)
        let page: ListPage
        do {
            page = try await store.list(ListRequest(prefix: parentPrefix, delimiter: "/"))
        } catch {
            guard error.isUnavailable, let children = lastKnownChildren(of: parent) else {
                throw FSError.from(error, "LIST \(parentPrefix)")
            }
            // S3 is unreachable: answer from what this mount last knew of the directory, so that writes keep
            // working locally through an outage. Uploads carry If-None-Match/If-Match, so a name another host made
            // meanwhile cannot be overwritten on the strength of this answer.
            logger.debug("S3 is unavailable; answering a lookup from the last listing",
                         metadata: ["path": "\(path)", "error": "\(error)"])
            guard let kind = children[Names.baseName(path)] else { return nil }
            return try await resolve(path, knownDirectory: kind == .directory)
        }
        guard !page.isTruncated else {
            state.withLock { _ = $0.largeDirectories.insert(parent) }
            return try await probe(path)
        }
        let children = childNames(of: page, under: parentPrefix)
        let objects = listedObjects(of: page, under: parentPrefix)
        state.withLock {
            $0.listings[parent] = CachedListing(children: children, validUntil: expiry, objects: objects)
        }
        guard let kind = children[Names.baseName(path)] else { return nil }
        return try await resolveListed(path, in: parent, as: kind, listed: objects[Names.baseName(path)])
    }

    /// What a directory's listing says of one name.
    private enum ListingAnswer {
        /// No fresh listing: S3 must be asked.
        case unknown
        /// Not there.
        case absent
        /// There, as a file or a directory.
        case present(EntryKind)
    }

    /// `resolve` of a name the fresh listing of `directory` shows, with the names after it that would cost a HEAD
    /// too fetched alongside (`namesToFetch`).
    private func resolveListed(_ path: String, in directory: String, as kind: EntryKind,
                               listed summary: ObjectSummary?) async throws(FSError) -> RemoteObject? {
        let ahead = namesToFetch(after: Names.baseName(path), in: directory, whenFetching: kind, summary: summary,
                                 now: Self.monotonicNow())
        async let fetched: Void = fetchAttributes(of: ahead)
        let remote = try await resolve(path, knownDirectory: kind == .directory, listed: summary)
        await fetched
        return remote
    }

    /// When looking up `name` costs a HEAD, the names listed after it in `directory` whose lookups would cost one
    /// too, at most `limit`: they are fetched alongside, so programs that stat every name of a directory in order
    /// (rsync, `find -ls`, `du`, `stat *`) wait for one round trip per 32 names instead of one per name.
    private func namesToFetch(after name: String, in directory: String, whenFetching kind: EntryKind,
                              summary: ObjectSummary?, now: Double, limit: Int = 31) -> [ListedName] {
        let cache = metadataCache
        switch kind {
        case .file:
            if let summary, cache?.info(matching: summary) != nil { return [] }
        case .directory:
            if cache?.contains(directoryPrefix(of: Names.child(directory, name))) ?? false { return [] }
        }
        let candidates: [(ListedName, ObjectSummary?)] = state.withLock { state in
            guard let listing = state.listings[directory], listing.validUntil > now else { return [] }
            let names = listing.children.keys.sorted()
            var index = names.firstIndex { $0 > name } ?? names.count
            var found: [(ListedName, ObjectSummary?)] = []
            while index < names.count, found.count < limit * 2 {
                let next = names[index]
                index += 1
                let path = Names.child(directory, next)
                if let number = state.byPath[path], let record = state.inodes[number],
                   record.validUntil > now || record.hasPendingUpload {
                    continue
                }
                guard let type = listing.children[next] else { continue }
                found.append((ListedName(path: path, type: type), listing.objects[next]))
            }
            return found
        }
        guard !candidates.isEmpty else { return [] }
        // Files and directory markers the metadata cache knows unchanged need no HEAD.
        let known = cache?.info(matching: candidates.compactMap(\.1)) ?? [:]
        var names: [ListedName] = []
        for (candidate, listed) in candidates where names.count < limit {
            switch candidate.type {
            case .file:
                if let listed, known[listed.key] != nil { continue }
            case .directory:
                if cache?.contains(directoryPrefix(of: candidate.path)) ?? false { continue }
            }
            names.append(candidate)
        }
        return names
    }

    /// True for a directory this mount made and has not uploaded yet: its listing is what this mount holds, kept
    /// current by every change here, so lookups in it answer from that listing for as long as it stays so (rsync
    /// fills a directory before it sets the directory's times, which uploads it). Another host can only have
    /// made the same new name meanwhile, which the conditional upload turns into a conflict copy, not a loss.
    static func isMadeHere(_ path: String, in state: State) -> Bool {
        guard !path.isEmpty, let number = state.byPath[path], let record = state.inodes[number] else { return false }
        return record.type == .directory && record.isLocalOnly && !record.isUnlinked
    }

    /// What S3 says of one name in a directory of more than one LIST page: a LIST of the keys that begin with the
    /// name's key (delimiter `/`) shows the object and the directory `name/` if they exist, with the object's ETag,
    /// size and Last-Modified. A name that is not there — every new file made in a large directory — costs that
    /// one request; a file then costs a HEAD unless the metadata cache knows it, a directory its marker's HEAD.
    /// When the page is cut short before showing `name/`, the three-request `resolve` decides.
    func probe(_ path: String) async throws(FSError) -> RemoteObject? {
        let fileKey = key(of: path)
        let request = ListRequest(prefix: fileKey, delimiter: "/", maxKeys: 1000)
        let page: ListPage
        do {
            page = try await store.list(request)
        } catch {
            throw FSError.from(error, "LIST \(fileKey)")
        }
        if page.commonPrefixes.contains(fileKey + "/") { return try await resolve(path, knownDirectory: true) }
        if page.isTruncated { return try await resolve(path) }
        guard let object = page.objects.first(where: { $0.key == fileKey }) else { return nil }
        return try await resolve(path, knownDirectory: false, listed: object)
    }

    /// The children of `parent` as this mount last knew them, however old: its last listing, or none at all for a
    /// directory made here whose marker is not uploaded yet (its contents are what this mount holds). Nil when
    /// nothing is known.
    private func lastKnownChildren(of parent: String) -> [String: EntryKind]? {
        state.withLock { state in
            if let listing = state.listings[parent] { return listing.children }
            if let number = state.byPath[parent], let record = state.inodes[number], record.isLocalOnly { return [:] }
            return nil
        }
    }

    /// What S3 says of a name a fresh listing already placed: one HEAD (the object, or the directory's marker), or
    /// none for a file the metadata cache knows unchanged from what the listing showed of it (`listed`).
    func resolve(_ path: String, knownDirectory: Bool, listed: ObjectSummary? = nil) async throws(FSError) -> RemoteObject? {
        if !knownDirectory, let listed, let info = metadataCache?.info(matching: listed) {
            return try await fileObject(.success(info), key: listed.key, remember: false)
        }
        if knownDirectory {
            if let known = try await directoryFromOwnListing(path) { return known }
            let prefix = directoryPrefix(of: path)
            do {
                let marker = try await store.head(prefix)
                metadataCache?.remember(marker)
                return directoryObject(marker: marker)
            } catch {
                switch error {
                case .notFound, .accessDenied: return directoryObject(marker: nil)
                default: throw FSError.from(error, "HEAD \(prefix)")
                }
            }
        }
        let fileKey = key(of: path)
        return try await fileObject(await outcome { () async throws(ObjectStoreError) in try await store.head(fileKey) },
                                    key: fileKey)
    }

    /// A directory whose marker the metadata cache knows: one LIST of the directory's own first page shows the
    /// marker's ETag, size and Last-Modified — when they match the row, no HEAD is needed — and becomes the
    /// directory's listing, which the lookups in it (rsync's next steps) need anyway. Nil when the cache has no row
    /// for the marker, or the listing shows it changed or gone: the caller HEADs it.
    private func directoryFromOwnListing(_ path: String) async throws(FSError) -> RemoteObject? {
        let prefix = directoryPrefix(of: path)
        guard let metadataCache, metadataCache.contains(prefix) else { return nil }
        let page: ListPage
        do {
            page = try await store.list(ListRequest(prefix: prefix, delimiter: "/"))
        } catch {
            throw FSError.from(error, "LIST \(prefix)")
        }
        let children = childNames(of: page, under: prefix)
        let objects = listedObjects(of: page, under: prefix)
        state.withLock { state in
            if page.isTruncated {
                state.largeDirectories.insert(path)
            } else if !Self.isMadeHere(path, in: state) {
                state.listings[path] = CachedListing(children: children, validUntil: expiry, objects: objects)
            }
        }
        guard let marker = page.objects.first(where: { $0.key == prefix }),
              let info = metadataCache.info(matching: marker) else { return nil }
        return directoryObject(marker: info)
    }

    /// A directory, with the metadata of its marker when it has one.
    private func directoryObject(marker: ObjectInfo?) -> RemoteObject {
        RemoteObject(type: .directory, etag: marker?.etag, size: 0, lastModified: Timestamp(marker?.lastModified ?? Date()),
                     metadata: POSIXMetadata(userMetadata: marker?.metadata ?? [:]), hasMarker: marker != nil)
    }

    /// A file or symlink from its HEAD answer; nil when there is no such object.
    /// - Parameter remember: keep a HEAD answer in the metadata cache.
    private func fileObject(_ head: Result<ObjectInfo, ObjectStoreError>, key fileKey: String,
                            remember: Bool = true) async throws(FSError) -> RemoteObject? {
        switch head {
        case .success(let info):
            if remember { metadataCache?.remember(info) }
            let metadata = POSIXMetadata(userMetadata: info.metadata)
            return RemoteObject(type: Self.type(of: metadata), etag: info.etag,
                                size: info.size, lastModified: Timestamp(info.lastModified), metadata: metadata,
                                hasMarker: false)
        case .failure(.notFound):
            return nil
        case .failure(.accessDenied):
            // Credentials without s3:GetObject (a least-privilege backup host) cannot HEAD: a LIST tells whether the
            // key exists, with its size and date but without POSIX metadata.
            let page: ListPage
            do {
                page = try await store.list(ListRequest(prefix: fileKey, maxKeys: 1))
            } catch {
                throw FSError.from(error, "LIST \(fileKey)")
            }
            guard let summary = page.objects.first, summary.key == fileKey else { return nil }
            return RemoteObject(type: .regular, etag: summary.etag, size: summary.size,
                                lastModified: Timestamp(summary.lastModified), metadata: POSIXMetadata(userMetadata: [:]),
                                hasMarker: false)
        case .failure(let error):
            throw FSError.from(error, "HEAD \(fileKey)")
        }
    }

    /// What a LIST page shows of each file directly under `prefix`, by name.
    func listedObjects(of page: ListPage, under prefix: String) -> [String: ObjectSummary] {
        var objects: [String: ObjectSummary] = [:]
        for object in page.objects where object.key != prefix {
            let name = object.key.dropFirst(prefix.count)
            if Names.problem(with: name) == nil { objects[String(name)] = object }
        }
        return objects
    }

    /// The names a listing page shows under `prefix`, with their kind; keys that cannot be names are left out
    /// and a directory shadows a file of the same name, as in `listDirectory`.
    func childNames(of page: ListPage, under prefix: String) -> [String: EntryKind] {
        var names: [String: EntryKind] = [:]
        for object in page.objects where object.key != prefix {
            let name = object.key.dropFirst(prefix.count)
            if Names.problem(with: name) == nil { names[String(name)] = .file }
        }
        for common in page.commonPrefixes {
            let name = common.dropFirst(prefix.count).dropLast()
            if Names.problem(with: name) == nil { names[String(name)] = .directory }
        }
        return names
    }
}

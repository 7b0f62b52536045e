import CofferObjectStore

extension StagedFile {
    /// What `ensurePresent` decided under the lock.
    private enum FetchStep: Sendable {
        case done
        case wait(fetch: Int)
        case fetch(id: Int, ranges: [Range<UInt64>], base: BaseObject, baseVersion: UInt64)
    }

    /// Makes every base byte of `range` present in the staging file, fetching the missing ones with ranged GETs
    /// sent with `If-Match: base.etag`, straight into the file.
    ///
    /// With a `blockSize`, the missing bytes of the enclosing aligned blocks are fetched too (reads use this as a
    /// small read-ahead). A fetch already in flight for an overlapping range is waited for, not repeated. A fetch that
    /// fails because the base was replaced meanwhile by an upload of this file is retried against the new base.
    /// - Throws: `.baseChanged` when the base object changed or vanished on the server, `.store` for other failures.
    func ensurePresent(_ range: Range<UInt64>, blockSize: UInt64? = nil) async throws(WriteBackError) {
        let path = self.path
        while true {
            let step = try state.withLock { (state: inout State) throws(WriteBackError) -> FetchStep in
                try state.checkUsable(path)
                guard !state.missing(in: range).isEmpty, let base = state.base else { return .done }
                var wanted = range
                if let blockSize, blockSize > 0 {
                    let start = range.lowerBound / blockSize * blockSize
                    let (end, overflow) = range.upperBound.addingReportingOverflow(blockSize - 1)
                    wanted = start..<(overflow ? UInt64.max : end / blockSize * blockSize)
                }
                let gaps = state.missing(in: wanted)
                if let id = state.fetch(overlapping: gaps) { return .wait(fetch: id) }
                let id = state.nextFetchID
                state.nextFetchID += 1
                state.fetches.append(Fetch(id: id, ranges: gaps))
                return .fetch(id: id, ranges: gaps, base: base, baseVersion: state.baseVersion)
            }
            switch step {
            case .done:
                return
            case .wait(let id):
                await waitForFetch(id)
            case .fetch(let id, let ranges, let base, let baseVersion):
                let failure = await download(ranges, of: base)
                let (waiters, discarded, baseMoved) = state.withLock { state in
                    if failure == nil {
                        for range in ranges { state.present.insert(range) }
                    }
                    return (state.endFetch(id), state.isDiscarded, state.baseVersion != baseVersion)
                }
                for waiter in waiters { waiter.resume() }
                if discarded {
                    // The store's write may have recreated the unlinked file.
                    try? StagingFileIO.remove(path)
                }
                guard let failure else { continue }
                if case .baseChanged = failure, baseMoved { continue }
                throw failure
            }
        }
    }

    /// GETs `ranges` of `base` into the staging file; returns the first failure.
    private func download(_ ranges: [Range<UInt64>], of base: BaseObject) async -> WriteBackError? {
        for range in ranges {
            let count: UInt64
            do throws(ObjectStoreError) {
                count = try await store.get(base.key, range: range, ifMatch: base.etag, intoFile: path,
                                            at: range.lowerBound).count
            } catch {
                switch error {
                case .preconditionFailed, .notFound, .invalidRange:
                    return Self.baseChanged(base, path: path, detail: "\(error)")
                default:
                    return .store(error, "GetObject \(base.key) bytes \(range.lowerBound)..<\(range.upperBound) "
                                  + "(If-Match \(base.etag)) to fill the staging file \(path)")
                }
            }
            if count != range.upperBound - range.lowerBound {
                return Self.baseChanged(base, path: path,
                                        detail: "bytes \(range) returned only \(count) bytes: the object is shorter")
            }
        }
        return nil
    }

    /// The error for a base object that is no longer the one the file was opened from.
    static func baseChanged(_ base: BaseObject, path: String, detail: String) -> WriteBackError {
        .baseChanged("\(base.key) is no longer the version this file was opened from (ETag \(base.etag)): \(detail). "
                     + "Its unchanged bytes cannot be fetched or copied any more; the local changes are kept in "
                     + "\(path). "
                     + "Reopen the file to see the new version.")
    }
}

extension StagedFile {
    /// What an upload sends: the file as it was when the upload began.
    struct Snapshot: Sendable, Equatable {
        /// The size to upload; parts are read from the staging file up to here.
        var size: UInt64
        var base: BaseObject?
        /// Base bytes at or past this offset are not the file's (truncated), so they cannot be copied.
        var baseLimit: UInt64
        /// Ranges written since the last upload: parts touching them are sent from the staging file.
        var dirty: ByteRangeSet
        var generation: UInt64
    }

    /// Waits until no other upload of this file is in flight, then starts one and returns what it must send.
    /// Every successful call must be followed by `finishUpload` or `abandonUpload`.
    func beginUpload() async throws(WriteBackError) -> Snapshot {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state in
                if state.isUploading {
                    state.uploadWaiters.append(continuation)
                    return false
                }
                state.isUploading = true
                return true
            }
            if acquired { continuation.resume() }
        }
        // The upload is ours now (a finishing upload hands it over without clearing `isUploading`).
        let path = self.path
        let snapshot = state.withLock { (state: inout State) -> Result<Snapshot, WriteBackError> in
            do throws(WriteBackError) {
                try state.checkUsable(path)
            } catch {
                return .failure(error)
            }
            state.writtenDuringUpload = ByteRangeSet()
            state.truncatedDuringUpload = nil
            return .success(Snapshot(size: state.size, base: state.base, baseLimit: state.baseLimit,
                                     dirty: state.dirty, generation: state.generation))
        }
        switch snapshot {
        case .success(let snapshot):
            return snapshot
        case .failure(let error):
            abandonUpload()
            throw error
        }
    }

    /// Records a successful upload of `snapshot` as `key` with `etag`: that object becomes the base, and the file
    /// becomes clean unless it was written or truncated during the upload.
    func finishUpload(_ snapshot: Snapshot, key: String, etag: String) {
        let next = state.withLock { state in
            let limit = min(snapshot.size, state.truncatedDuringUpload ?? snapshot.size, state.size)
            state.base = BaseObject(key: key, etag: etag, size: snapshot.size)
            state.baseVersion += 1
            // Bytes past the old base limit were the file's own (written or zeros): now they are base bytes, present.
            if snapshot.baseLimit < limit { state.present.insert(snapshot.baseLimit..<limit) }
            state.present.removeAll(from: limit)
            state.baseLimit = limit
            state.dirty = state.writtenDuringUpload
            state.needsUpload = state.generation != snapshot.generation
            return state.releaseUpload()
        }
        next?.resume()
    }

    /// Ends an upload that failed: nothing changes but that other uploads may start.
    func abandonUpload() {
        let next = state.withLock { state in state.releaseUpload() }
        next?.resume()
    }
}

extension StagedFile.State {
    /// Ends the upload in flight and returns the next waiting one, which then owns the upload slot.
    mutating func releaseUpload() -> CheckedContinuation<Void, Never>? {
        writtenDuringUpload = ByteRangeSet()
        truncatedDuringUpload = nil
        guard !uploadWaiters.isEmpty else {
            isUploading = false
            return nil
        }
        return uploadWaiters.removeFirst()
    }
}

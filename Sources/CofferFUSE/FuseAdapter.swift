internal import CFuse
import CofferFS
import Foundation
import Logging

/// Translates libfuse's low-level requests into `FileSystem` calls and sends each reply exactly once.
///
/// The C callbacks (`FuseOperations`) copy everything the kernel lends into Swift values and call a method here;
/// the method starts a `Task` for the core's async call and replies from it. Cheap synchronous operations
/// (forget, statfs, releasedir) reply inline. `tracker` counts unanswered requests so the session outlives them.
final class FuseAdapter: Sendable {
    let fileSystem: FileSystem
    let logger: Logger
    let tracker = RequestTracker()
    /// Entry and attribute timeout for entries added by readdirplus (lookup replies carry the core's own).
    let directoryEntryTimeout: Double
    /// `conn->max_read` / `max_write`: must equal the `max_read` mount option (pitfall 9).
    let maxTransferSize: UInt32
    /// Told about each operation served through `serve` (metrics), if any.
    let observer: (any FuseOperationObserver)?
    /// The kernel's read-ahead for the mount, raised after FUSE_INIT (nil: left as the kernel sets it).
    let readAhead: KernelReadAhead?

    init(fileSystem: FileSystem, logger: Logger, directoryEntryTimeout: Double, maxTransferSize: UInt32,
         observer: (any FuseOperationObserver)? = nil, readAhead: KernelReadAhead? = nil) {
        self.fileSystem = fileSystem
        self.logger = logger
        self.directoryEntryTimeout = directoryEntryTimeout
        self.maxTransferSize = maxTransferSize
        self.observer = observer
        self.readAhead = readAhead
    }

    /// The adapter a request belongs to (the session's userdata).
    static func from(_ req: fuse_req_t?) -> FuseAdapter {
        Unmanaged<FuseAdapter>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    /// The adapter behind a session's userdata pointer (init and destroy get only that).
    static func from(userdata: UnsafeMutableRawPointer?) -> FuseAdapter {
        Unmanaged<FuseAdapter>.fromOpaque(userdata!).takeUnretainedValue()
    }

    // MARK: - Serving

    /// Accepts `req` for a later reply and returns its Swift handle.
    func accept(_ req: fuse_req_t?) -> FuseRequest {
        readAhead?.raiseIfDue()
        tracker.begin()
        return FuseRequest(raw: req!)
    }

    /// Runs `body` in a task; `body` replies on success, a thrown error is replied here.
    /// - Parameter neverUnimplemented: ENOSYS becomes EIO (flush, fsync: the kernel takes ENOSYS as "always succeeds").
    func serve(_ request: FuseRequest, _ operation: StaticString, inode: UInt64, neverUnimplemented: Bool = false,
               _ body: @escaping @Sendable () async throws(FSError) -> Void) {
        let started = ContinuousClock.now
        Task {
            var code: Int32 = 0
            do throws(FSError) {
                try await body()
            } catch {
                code = self.fail(request, operation, inode: inode, error, neverUnimplemented: neverUnimplemented)
            }
            self.observer?.operationEnded("\(operation)", errno: code, duration: started.duration(to: .now))
        }
    }

    /// Logs a failed operation (EIO at warning, everything else at debug), replies with its errno and returns it.
    @discardableResult
    func fail(_ request: FuseRequest, _ operation: StaticString, inode: UInt64, _ error: FSError,
              neverUnimplemented: Bool = false) -> Int32 {
        var code = error.errno
        if code == ENOSYS && neverUnimplemented { code = EIO }
        if code == EIO {
            logger.warning("\(operation) failed", metadata: ["inode": "\(inode)", "error": "\(error.message)"])
        } else {
            logger.debug("\(operation) failed", metadata: [
                "inode": "\(inode)", "errno": "\(code)", "error": "\(error.message)",
            ])
        }
        replyError(request, code)
        return code
    }

    // MARK: - Replies (each completes the request in `tracker`; a nil result means the session is closed)

    /// `fuse_reply_err`; 0 means success for operations without data.
    @discardableResult
    func replyError(_ request: FuseRequest, _ code: Int32) -> Int32? {
        tracker.complete { fuse_reply_err(request.raw, code) }
    }

    /// `fuse_reply_none` (forget).
    func replyNone(_ request: FuseRequest) {
        _ = tracker.complete {
            fuse_reply_none(request.raw)
            return 0
        }
    }

    /// `fuse_reply_entry`; when the kernel did not take the entry, the lookup it counted is forgotten again.
    func replyEntry(_ request: FuseRequest, _ entry: Entry) {
        var parameters = fuse_entry_param(entry)
        let result = tracker.complete { fuse_reply_entry(request.raw, &parameters) }
        if result != 0 { fileSystem.forget(entry.attributes.inode, count: 1) }
    }

    /// `fuse_reply_attr`.
    func replyAttributes(_ request: FuseRequest, _ attributes: FileAttributes, timeout: Double) {
        var status = stat(attributes)
        tracker.complete { fuse_reply_attr(request.raw, &status, timeout) }
    }

    /// `fuse_reply_buf` with `bytes`.
    @discardableResult
    func replyBuffer(_ request: FuseRequest, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        tracker.complete {
            fuse_reply_buf(request.raw, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
    }

    /// `fuse_reply_buf` with `bytes`.
    @discardableResult
    func replyBuffer(_ request: FuseRequest, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { replyBuffer(request, $0) }
    }

    /// `fuse_reply_iov` with `segments` in order, at most `limit` bytes: the kernel copies each segment itself, so
    /// the bytes of cached blocks are not first copied into one array.
    func replySegments(_ request: FuseRequest, _ segments: [ArraySlice<UInt8>], limit: Int) {
        var vectors: [iovec] = []
        vectors.reserveCapacity(segments.count)
        withVectors(segments[...], limit: limit, into: &vectors) { vectors in
            tracker.complete { fuse_reply_iov(request.raw, vectors, Int32(vectors.count)) }
        }
    }

    /// Runs `body` with an iovec for each of `segments` (up to `limit` bytes), each pointer valid inside its
    /// segment's `withUnsafeBytes` (nested once per segment: a read has a few dozen at most).
    private func withVectors(_ segments: ArraySlice<ArraySlice<UInt8>>, limit: Int, into vectors: inout [iovec],
                             _ body: ([iovec]) -> Void) {
        guard let first = segments.first, limit > 0 else { return body(vectors) }
        first.withUnsafeBytes { bytes in
            let length = min(bytes.count, limit)
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: length))
            withVectors(segments.dropFirst(), limit: limit - length, into: &vectors, body)
        }
    }

    /// `fuse_reply_xattr`: the size a buffer needs.
    func replyXattrSize(_ request: FuseRequest, _ size: Int) {
        tracker.complete { fuse_reply_xattr(request.raw, size) }
    }

    /// `fuse_reply_write`.
    func replyWrite(_ request: FuseRequest, _ count: Int) {
        tracker.complete { fuse_reply_write(request.raw, count) }
    }

    /// `fuse_reply_readlink`.
    func replyReadlink(_ request: FuseRequest, _ target: String) {
        tracker.complete { fuse_reply_readlink(request.raw, target) }
    }

    /// `fuse_reply_open` with the handle and cache flags of `file`; returns false if the kernel did not take it
    /// (interrupted: no release will come).
    func replyOpen(_ request: FuseRequest, _ info: FileInfo, _ file: OpenFile) -> Bool {
        var raw = info.raw
        raw.fh = file.handle
        raw.keep_cache = file.keepCache ? 1 : 0
        raw.direct_io = file.directIO ? 1 : 0
        return tracker.complete { fuse_reply_open(request.raw, &raw) } == 0
    }

    /// `fuse_reply_create`; returns false if the kernel did not take it.
    func replyCreate(_ request: FuseRequest, _ entry: Entry, _ info: FileInfo, _ file: OpenFile) -> Bool {
        var parameters = fuse_entry_param(entry)
        var raw = info.raw
        raw.fh = file.handle
        raw.keep_cache = file.keepCache ? 1 : 0
        raw.direct_io = file.directIO ? 1 : 0
        return tracker.complete { fuse_reply_create(request.raw, &parameters, &raw) } == 0
    }

    /// `fuse_reply_statfs`.
    func replyStatistics(_ request: FuseRequest, _ statistics: FileSystemStatistics) {
        var raw = statvfs()
        raw.f_bsize = UInt(statistics.blockSize)
        raw.f_frsize = UInt(statistics.blockSize)
        raw.f_blocks = UInt(statistics.blocks)
        raw.f_bfree = UInt(statistics.freeBlocks)
        raw.f_bavail = UInt(statistics.availableBlocks)
        raw.f_files = UInt(statistics.files)
        raw.f_ffree = UInt(statistics.freeFiles)
        raw.f_favail = UInt(statistics.freeFiles)
        raw.f_namemax = UInt(statistics.maximumNameLength)
        tracker.complete { fuse_reply_statfs(request.raw, &raw) }
    }
}

/// A copy of the kernel's `fuse_file_info` that can cross threads.
struct FileInfo: @unchecked Sendable {
    var raw: fuse_file_info

    /// A copy of `pointer`'s target, or an empty one.
    init(_ pointer: UnsafeMutablePointer<fuse_file_info>?) {
        raw = pointer?.pointee ?? fuse_file_info()
    }

    /// The handle `open`/`create`/`opendir` returned.
    var handle: UInt64 { raw.fh }
    /// The `open(2)` flags.
    var flags: Int32 { raw.flags }
}

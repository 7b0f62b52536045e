internal import CFuse
import CofferFS

/// A kernel request waiting for its one reply. `fuse_req_t` is an `OpaquePointer`, which is not `Sendable`
/// (pitfall 6); libfuse allows replying from any thread, once.
struct FuseRequest: @unchecked Sendable {
    /// The request handle.
    let raw: fuse_req_t

    /// The process that made the request (`fuse_req_ctx`).
    var caller: Caller {
        guard let context = fuse_req_ctx(raw) else { return Caller(uid: 0, gid: 0, umask: 0o022) }
        return Caller(uid: context.pointee.uid, gid: context.pointee.gid, umask: context.pointee.umask)
    }
}

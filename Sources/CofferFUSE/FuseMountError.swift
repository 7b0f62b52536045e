/// Why a FUSE mount could not be set up or ended abnormally.
public enum FuseMountError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The mountpoint does not exist.
    case mountpointMissing(String)
    /// The mountpoint exists but is not a directory.
    case mountpointNotDirectory(String)
    /// The mountpoint is a directory with entries in it.
    case mountpointNotEmpty(String)
    /// The mountpoint already has a filesystem mounted on it.
    case mountpointInUse(String)
    /// The mountpoint could not be inspected (permissions, a dead mount).
    case mountpointUnusable(String, reason: String)
    /// libfuse rejected the mount options.
    case invalidOptions(String)
    /// The kernel refused the mount (libfuse printed why on standard error).
    case mountFailed(String)
    /// The request loop ended with an error (negative errno from `fuse_session_loop_mt`).
    case loopFailed(Int32)
    /// `run()` was called twice.
    case alreadyRun

    public var description: String {
        switch self {
        case .mountpointMissing(let path):
            return "mountpoint \(path) does not exist: create it with `mkdir -p \(path)`"
        case .mountpointNotDirectory(let path):
            return "mountpoint \(path) is not a directory"
        case .mountpointNotEmpty(let path):
            return "mountpoint \(path) is not empty: mount on an empty directory"
        case .mountpointInUse(let path):
            return "mountpoint \(path) already has a filesystem mounted on it: unmount it first (`coffer unmount \(path)`)"
        case .mountpointUnusable(let path, let reason):
            return "mountpoint \(path) cannot be used: \(reason)"
        case .invalidOptions(let options):
            return "FUSE rejected the mount options \(options)"
        case .mountFailed(let path):
            return "the kernel refused to mount on \(path) (is /dev/fuse available, and are you root or is fusermount3 installed?)"
        case .loopFailed(let code):
            return "the FUSE request loop failed with error \(-code)"
        case .alreadyRun:
            return "this mount has already been run"
        }
    }
}

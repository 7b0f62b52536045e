import CofferObjectStore

/// Why staging or uploading a file failed. Every case carries a message that says what was being done and what
/// to do about it; the filesystem core reports these to the application as `EIO` (or `EFBIG` for `.tooLarge`).
///
/// Whatever the case, the staged data is kept: a failed upload leaves the file dirty so a later flush can retry.
public enum WriteBackError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An object store request failed (after the S3 client's own retries); the message says which request and why
    /// it was made.
    case store(ObjectStoreError, String)
    /// The staging file could not be created, read or written: the message names the file and the system error
    /// (typically a full or read-only cache directory).
    case localIO(String)
    /// The object the file is based on changed or disappeared on the server since the file was opened, so its
    /// unchanged ranges can no longer be fetched or copied. The local changes stay staged.
    case baseChanged(String)
    /// The file would grow past the largest object S3 can store (5 TiB).
    case tooLarge(String)
    /// The staged file was discarded (unlinked or released) and can no longer be used.
    case discarded(String)
    /// The upload was cancelled before it completed; nothing was committed and the file is still dirty.
    case cancelled(String)
    /// The `UploadEncoder` failed (for an encrypting one: no data key could be made, KMS refused or was unreachable).
    case encodingFailed(String)

    /// The error and what to do about it, for logs and error replies.
    public var description: String {
        switch self {
        case .store(let error, let context): return "\(context): \(error)"
        case .localIO(let message): return "staging file error: \(message)"
        case .baseChanged(let message): return "object changed on the server: \(message)"
        case .tooLarge(let message): return "file too large: \(message)"
        case .discarded(let message): return "staged file discarded: \(message)"
        case .cancelled(let message): return "upload cancelled: \(message)"
        case .encodingFailed(let message): return "encoding failed: \(message)"
        }
    }
}

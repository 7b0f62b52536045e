import CofferObjectStore
import Foundation

/// A filesystem operation that failed: the errno the kernel gets, and a message for the log.
public struct FSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The POSIX error number returned to the application.
    public var errno: Int32
    /// What happened, for the log (never shown to the application, which only sees `errno`).
    public var message: String
    /// The object store's answer that caused it, when one did.
    public var cause: ObjectStoreError?

    /// An error with an errno and a message.
    public init(_ errno: Int32, _ message: String, cause: ObjectStoreError? = nil) {
        self.errno = errno
        self.message = message
        self.cause = cause
    }

    /// True when S3 could not be reached or was overloaded: the answer says nothing about the file.
    public var isUnavailable: Bool { cause?.isUnavailable ?? false }

    public var description: String { "\(message) (\(String(cString: strerror(errno))))" }

    public static func notFound(_ what: String) -> FSError { FSError(ENOENT, "\(what): no such file or directory") }
    public static func exists(_ what: String) -> FSError { FSError(EEXIST, "\(what) exists") }
    public static func notDirectory(_ what: String) -> FSError { FSError(ENOTDIR, "\(what) is not a directory") }
    public static func isDirectory(_ what: String) -> FSError { FSError(EISDIR, "\(what) is a directory") }
    public static func notEmpty(_ what: String) -> FSError { FSError(ENOTEMPTY, "\(what) is not empty") }
    public static func invalid(_ what: String) -> FSError { FSError(EINVAL, what) }
    public static func badHandle(_ handle: UInt64) -> FSError { FSError(EBADF, "no open file handle \(handle)") }
    public static func readOnly(_ what: String) -> FSError { FSError(EROFS, "\(what): the filesystem is mounted read-only") }
    public static func nameTooLong(_ name: String) -> FSError { FSError(ENAMETOOLONG, "name of \(name.utf8.count) bytes is over 255") }

    /// The errno an object store failure becomes, with the store's message kept for the log.
    public static func from(_ error: ObjectStoreError, _ context: String) -> FSError {
        let code: Int32
        switch error {
        case .notFound: code = ENOENT
        case .noSuchBucket: code = EIO
        case .preconditionFailed: code = EEXIST
        case .accessDenied, .invalidCredentials: code = EACCES
        case .invalidRange: code = EINVAL
        case .throttled, .transport, .invalidResponse, .service, .unreadable: code = EIO
        }
        return FSError(code, "\(context): \(error)", cause: error)
    }
}

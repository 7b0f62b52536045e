#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a local key file could not be read or created.
public enum KeyFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened (`errno` says why).
    case cannotOpen(path: String, errno: Int32)
    /// The path is not a regular file.
    case notARegularFile(path: String)
    /// Group or others have permissions on the file (`mode` holds its permission bits).
    case insecurePermissions(path: String, mode: UInt32)
    /// The file does not hold a 32-byte key (raw, 64 hex digits or 44 base64 characters).
    case invalidContents(path: String, byteCount: Int)
    /// Reading failed (`errno` says why).
    case readFailed(path: String, errno: Int32)
    /// `generate(at:)` found something at the path already.
    case alreadyExists(path: String)
    /// Writing, syncing or closing a new key file failed (`operation` and `errno` say how).
    case writeFailed(path: String, operation: String, errno: Int32)
    /// The key is fine but the keyring settings are not.
    case invalidKeyring(path: String, KeyringError)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno):
            return "cannot open the key file \(path): \(systemMessage(errno)); check --encryption-key-file, or create "
                + "a key with `coffer keygen \(path)`"
        case .notARegularFile(let path):
            return "the key file \(path) is not a regular file; point --encryption-key-file at a file made by "
                + "`coffer keygen`"
        case .insecurePermissions(let path, let mode):
            return "the key file \(path) has mode \(octal(mode)): group or others may use it; run `chmod 600 \(path)` "
                + "(if others could have read it, create a new key with `coffer keygen` and re-encrypt the files)"
        case .invalidContents(let path, let byteCount):
            return "the key file \(path) holds \(byteCount) bytes, not a 32-byte key (32 raw bytes, 64 hex digits or "
                + "44 base64 characters); create one with `coffer keygen NEWPATH`"
        case .readFailed(let path, let errno):
            return "cannot read the key file \(path): \(systemMessage(errno))"
        case .alreadyExists(let path):
            return "\(path) already exists; Coffer never overwrites a key (files encrypted under it would be lost): "
                + "choose another path"
        case .writeFailed(let path, let operation, let errno):
            return "could not create the key file \(path) (\(operation): \(systemMessage(errno))); nothing was left behind"
        case .invalidKeyring(let path, let error):
            return "key file \(path): \(error)"
        }
    }

    private func octal(_ mode: UInt32) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: Swift.max(0, 4 - digits.count)) + digits
    }
}

/// `strerror(errno)`.
func systemMessage(_ code: Int32) -> String {
    guard let message = strerror(code) else { return "error \(code)" }
    return String(cString: message)
}

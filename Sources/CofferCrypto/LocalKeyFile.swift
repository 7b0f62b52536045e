#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A local wrapping key in a file: 32 random bytes, readable by its owner only.
///
/// `generate(at:)` (what `coffer keygen` runs) writes 32 raw bytes from `RAND_bytes`. `load(at:)` also accepts the
/// key as 64 hex digits or 44 base64 characters (with an optional trailing newline), so a key kept in a password
/// manager can be pasted into a file. The same bytes decrypt Coffer's objects with the Python SDK:
/// `RawMasterKey(provider_id="coffer-local", key_id=b"default", wrapping_key=WrappingKey(
/// WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING, open(PATH, "rb").read(), EncryptionKeyType.SYMMETRIC))`.
public enum LocalKeyFile {
    /// The key length in bytes.
    public static let keyByteCount = 32

    /// The key in the file at `path`.
    ///
    /// Refuses anything but a regular file whose mode grants group and others nothing (`chmod 600` or `400`), and
    /// contents that are not a 32-byte key. The read buffer is wiped; the key is returned as `SecretBytes`.
    public static func load(at path: String) throws(KeyFileError) -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .readFailed(path: path, errno: errno) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notARegularFile(path: path) }
        let permissions = UInt32(status.st_mode) & 0o7777
        guard permissions & 0o077 == 0 else { throw .insecurePermissions(path: path, mode: permissions) }

        // A key file is tiny: read at most 256 bytes (plus one, to notice anything longer).
        var buffer = [UInt8](repeating: 0, count: 257)
        defer { wipe(&buffer) }
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .readFailed(path: path, errno: errno)
            }
            if count == 0 { break }
            filled += count
        }
        guard let key = decodeKey(buffer[0..<filled]) else { throw .invalidContents(path: path, byteCount: filled) }
        return key
    }

    /// Writes a new random key to `path`, readable and writable by the owner only (mode 0600).
    ///
    /// Never overwrites: the file is created with `O_CREAT | O_EXCL | O_NOFOLLOW`, so an existing file or symlink
    /// fails with `.alreadyExists`. The key is written, the file and its directory are `fsync`ed; on any failure the
    /// new file is removed again.
    public static func generate(at path: String) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw .alreadyExists(path: path) }
            throw .writeFailed(path: path, operation: "create", errno: errno)
        }
        var isOpen = true
        do throws(KeyFileError) {
            // The umask can only have removed bits, but make the mode exact.
            guard fchmod(fd, 0o600) == 0 else { throw .writeFailed(path: path, operation: "chmod", errno: errno) }
            let key = SecretBytes(randomCount: keyByteCount)
            try key.withUnsafeBytes { (bytes) throws(KeyFileError) in
                var written = 0
                while written < bytes.count {
                    let count = write(fd, bytes.baseAddress! + written, bytes.count - written)
                    if count < 0 {
                        if errno == EINTR { continue }
                        throw .writeFailed(path: path, operation: "write", errno: errno)
                    }
                    written += count
                }
            }
            guard fsync(fd) == 0 else { throw .writeFailed(path: path, operation: "fsync", errno: errno) }
            isOpen = false
            guard close(fd) == 0 else { throw .writeFailed(path: path, operation: "close", errno: errno) }
            try syncDirectory(containing: path)
        } catch {
            if isOpen { close(fd) }
            unlink(path)
            throw error
        }
    }

    /// `fsync` of the directory holding `path`, so that the new directory entry is durable too.
    private static func syncDirectory(containing path: String) throws(KeyFileError) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .writeFailed(path: path, operation: "open directory", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .writeFailed(path: path, operation: "fsync directory", errno: errno) }
    }

    /// 32 raw bytes, or 64 hex digits, or 44 base64 characters, each optionally followed by whitespace.
    static func decodeKey(_ contents: ArraySlice<UInt8>) -> SecretBytes? {
        if contents.count == keyByteCount { return SecretBytes(copying: contents) }
        // Trim trailing whitespace by index: mutating the slice could copy the key to a buffer nobody wipes.
        var end = contents.endIndex
        while end > contents.startIndex, [0x0a, 0x0d, 0x20, 0x09].contains(contents[end - 1]) { end -= 1 }
        let text = contents[contents.startIndex..<end]
        var decoded: [UInt8]?
        defer { if decoded != nil { wipe(&decoded!) } }
        if text.count == 2 * keyByteCount {
            decoded = decodeHex(text)
        } else if text.count == 44 {
            decoded = decodeBase64(text)
        }
        guard let bytes = decoded, bytes.count == keyByteCount else { return nil }
        return SecretBytes(copying: bytes)
    }

    private static func decodeHex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = hexValue(text[index]), let low = hexValue(text[index + 1]) else {
                wipe(&out)
                return nil
            }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    /// Standard base64 with padding (RFC 4648 §4).
    private static func decodeBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(text.count / 4 * 3)
        var accumulator: UInt32 = 0, bits = 0, padding = 0
        for c in text {
            let value: UInt32
            switch c {
            case 0x41...0x5a: value = UInt32(c - 0x41)
            case 0x61...0x7a: value = UInt32(c - 0x61 + 26)
            case 0x30...0x39: value = UInt32(c - 0x30 + 52)
            case 0x2b: value = 62
            case 0x2f: value = 63
            case 0x3d:
                padding += 1
                continue
            default:
                wipe(&out)
                return nil
            }
            guard padding == 0 else {
                wipe(&out)
                return nil
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        accumulator = 0
        guard padding <= 2 else {
            wipe(&out)
            return nil
        }
        return out
    }
}

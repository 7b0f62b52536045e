#if canImport(Glibc)
import Glibc
#endif
import CofferCrypto
import CofferObjectStore
import Logging
import Synchronization

/// A view of an object store in which encrypted objects (AWS Encryption SDK messages) read as their plaintext.
///
/// - **Reads** (`get`) take plaintext offsets. The first read of an object version (key and ETag) fetches its first
///   4 KiB, which hold the header (a small object entirely); the header is parsed, its data key unwrapped by the
///   keyrings and the header authenticated (key commitment and header tag) before any byte is given out. Header and
///   derived key are kept in memory per version. Each read then fetches just the frames that hold the requested bytes
///   with one ranged GET (`If-Match` the version's ETag), checks every frame's tag, position and final marker, and
///   returns the bytes asked for. When the first read of a version starts in its first frame and its HEAD showed
///   the hints, header and frames come in one GET (so reading a whole small file costs one request). A frame that fails makes that read fail with `.unreadable`; other ranges still read.
/// - **Sizes.** `head` reports the plaintext size: from the `coffer-*` hints when present (checked against the
///   header at the first read, a mismatch is corruption), otherwise by reading the header of objects large enough
///   to be messages. Listings (`list`) report stored sizes, which for encrypted objects are the ciphertext sizes.
/// - **Unencrypted objects** read as they are in mode `.migrate`, and fail with `.unreadable` (and a log line naming
///   the object) in mode `.required`. Objects that start like a message but are refused (another suite, a signed
///   message, a corrupt header) always fail with the reason and what to do. Keys ending in `/` (directory markers)
///   pass through.
/// - **Writes** (`put`, copies, multipart uploads, deletes) and listings pass through unchanged
///   (`ForwardingObjectStore`): encrypt new contents first with a `FileEncryptor`.
public final class DecryptingObjectStore: ForwardingObjectStore {
    /// Bytes read from the start of an object to find its header.
    public static let probeLength = 4096
    /// No message is shorter: the fixed header, one empty encrypted data key and an empty final frame.
    public static let minimumMessageSize = UInt64(MessageFormat.fixedHeaderLength + 6 + MessageFormat.finalFrameOverhead)
    /// Plaintext bytes per ranged GET when reading into a file.
    static let fileChunkSize: UInt64 = 8 << 20

    /// The store underneath, holding the ciphertext.
    public let base: any ObjectStore
    /// Where listings and writes go unchanged: `base`.
    public var underlying: any ObjectStore { base }
    /// The keys and settings.
    public let configuration: EncryptionConfiguration
    let logger: Logger
    let state = Mutex(VersionCache())

    /// A decrypting view of `base`.
    public init(base: any ObjectStore, configuration: EncryptionConfiguration,
                logger: Logger = Logger(label: "coffer.encryption")) {
        self.base = base
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: - Reading

    public func head(_ key: String) async throws(ObjectStoreError) -> ObjectInfo {
        var info = try await base.head(key)
        guard !key.hasSuffix("/") else { return info }
        let stored = info.size
        if let hints = EncryptionHints(metadata: info.metadata) {
            state.withLock { $0.record(hints, for: VersionKey(key: key, etag: info.etag)) }
            info.size = hints.plaintextSize
            info.storedSize = stored
            return info
        }
        guard info.size >= Self.minimumMessageSize else { return info }
        do throws(ObjectStoreError) {
            info.size = try await content(of: key, etag: info.etag, info: info).visibleSize
            if info.size != stored { info.storedSize = stored }
        } catch {
            // A host that may HEAD but not GET (or a transient failure): the stored size is the best answer.
            logger.debug("could not read the header of an object to find its plaintext size",
                         metadata: ["key": "\(key)", "error": "\(error)"])
        }
        return info
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?) async throws(ObjectStoreError) -> ObjectData {
        guard !key.hasSuffix("/") else { return try await base.get(key, range: range, ifMatch: ifMatch) }
        if let ifMatch, let data = try await readWithHeader(key, range: range, etag: ifMatch) { return data }
        switch try await content(of: key, etag: ifMatch, info: nil) {
        case .plaintext(let info, let whole):
            try requirePlaintextAllowed(key)
            if let whole {
                let wanted = try Self.cut(range, size: info.size, key: key)
                return ObjectData(bytes: Array(whole[Int(wanted.lowerBound)..<Int(wanted.upperBound)]), info: info)
            }
            return try await base.get(key, range: range, ifMatch: info.etag)
        case .refused(_, let reason):
            throw .unreadable("\(key): \(reason)")
        case .message(let info, let header, let layout, let prefix):
            let decryptor = try await decryptor(key: key, info: info, header: header, layout: layout)
            return try await decrypt(key, range: range, info: info, layout: layout, prefix: prefix, with: decryptor)
        }
    }

    public func get(_ key: String, range: Range<UInt64>?, ifMatch: String?, intoFile path: String,
                    at fileOffset: UInt64) async throws(ObjectStoreError) -> (info: ObjectInfo, count: UInt64) {
        guard !key.hasSuffix("/") else {
            return try await base.get(key, range: range, ifMatch: ifMatch, intoFile: path, at: fileOffset)
        }
        let content = try await content(of: key, etag: ifMatch, info: nil)
        if case .plaintext(let info, _) = content {
            try requirePlaintextAllowed(key)
            return try await base.get(key, range: range, ifMatch: info.etag, intoFile: path, at: fileOffset)
        }
        let etag = content.info.etag
        let wanted = try Self.cut(range, size: content.visibleSize, key: key)
        var info = content.info
        info.size = content.visibleSize
        let fd: Int32
        do throws(FileEncryptionError) {
            fd = try LocalFile.open(path, O_WRONLY | O_CREAT)
        } catch {
            throw .transport("GET \(key) into \(path): \(error)")
        }
        defer { LocalFile.close(fd) }
        var offset = wanted.lowerBound
        repeat {
            let chunk = offset..<min(wanted.upperBound, offset + Self.fileChunkSize)
            let data = try await get(key, range: chunk, ifMatch: etag)
            info = data.info
            do throws(FileEncryptionError) {
                try LocalFile.write(fd, data.bytes, at: fileOffset + (chunk.lowerBound - wanted.lowerBound), path: path)
            } catch {
                throw .transport("GET \(key) into \(path): \(error)")
            }
            offset = chunk.upperBound
        } while offset < wanted.upperBound
        return (info, UInt64(wanted.count))
    }

    /// Throws unless mode `.migrate` lets unencrypted objects be read.
    private func requirePlaintextAllowed(_ key: String) throws(ObjectStoreError) {
        guard configuration.mode == .required else { return }
        logger.warning("object is not encrypted; reads of it fail while encryption is required",
                       metadata: ["key": "\(key)"])
        throw .unreadable("\(key) is not encrypted (not an AWS Encryption SDK message) and encryption is required, "
                          + "so it is not served: someone may have replaced an encrypted file with plaintext. If the "
                          + "bucket holds files from before encryption was turned on, mount with encryption mode "
                          + "'migrate'")
    }

    /// The bytes `range` asks for of an object of `size` bytes, with S3's semantics: nil is everything; an empty
    /// range is nothing; a range that starts at or past the end is `.invalidRange`; one that ends past it is cut.
    static func cut(_ range: Range<UInt64>?, size: UInt64, key: String) throws(ObjectStoreError) -> Range<UInt64> {
        guard let range else { return 0..<size }
        if range.isEmpty { return range.lowerBound..<range.lowerBound }
        guard range.lowerBound < size else {
            throw .invalidRange("\(key): bytes \(range) start at or past its end (\(size) bytes)")
        }
        return range.lowerBound..<min(range.upperBound, size)
    }
}

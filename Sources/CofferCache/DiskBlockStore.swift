import CofferChecksum
import Foundation
import Logging
import Synchronization

/// Blocks of objects kept on disk (`CACHE/blocks/`), so that a file read again after its blocks left memory, or
/// after a remount, is not downloaded again.
///
/// - **Keys.** A block is stored under its object's key, ETag and index, like in memory: a new version of an object
///   (a new ETag) never finds the old version's bytes, so the disk cache is never stale and needs no TTL.
/// - **Files.** One file per block, `blocks/XX/HASH-INDEX`, with a header naming the key, ETag and index and a
///   CRC-32C of everything after it. A block that does not verify (a torn write, a damaged disk, another key under
///   the same hash) is deleted and read from S3 again; it is never returned. Files are written to a temporary name
///   and renamed, so a crash leaves the old state or the new one.
/// - **Bound.** At most `capacity` bytes of blocks; past it, the least recently used go first (down to 90 %).
///   The order survives a remount through the files' modification times.
/// - **Writes** run on a thread of their own, behind a bounded queue (blocks are dropped, not waited for, when it is
///   full): reads never wait for the disk cache. When the disk is full or read-only, writes stop with one warning
///   and reads go on from memory and S3.
///
/// Only unencrypted mounts use it: with encryption the blocks are plaintext, which must not touch the disk.
final class DiskBlockStore: Sendable {
    private struct Entry {
        var path: String
        /// Bytes of the file (header and data).
        var size: Int
        var lastUse: UInt64
    }

    private struct Index {
        var entries: [BlockKey: Entry] = [:]
        var byObject: [String: Set<BlockKey>] = [:]
        var totalBytes = 0
        var clock: UInt64 = 0
        var writesFailed = false
        var hits = 0
        var corrupt = 0
        var writes = 0
        var dropped = 0

        mutating func insert(_ block: BlockKey, _ entry: Entry) {
            if let old = entries.updateValue(entry, forKey: block) { totalBytes -= old.size }
            totalBytes += entry.size
            byObject[block.key, default: []].insert(block)
        }

        mutating func remove(_ block: BlockKey) -> Entry? {
            guard let entry = entries.removeValue(forKey: block) else { return nil }
            totalBytes -= entry.size
            byObject[block.key]?.remove(block)
            if byObject[block.key]?.isEmpty ?? false { byObject[block.key] = nil }
            return entry
        }
    }

    /// What the store's counters say now.
    struct Statistics {
        var blocks: Int
        var bytes: Int
        var hits: Int
        var corrupt: Int
        var writes: Int
        var dropped: Int
    }

    /// The directory holding the block files.
    let directory: String
    /// The most bytes of block files kept.
    let capacity: Int
    private let logger: Logger
    private let index: Mutex<Index>
    private let writer: DiskBlockWriter

    /// The header's fixed part: magic, CRC-32C, key length, ETag length, index, data length. The magic is "CFB2":
    /// files of the first format ("CFB1", CRC-32) are not blocks to the scan at mount, which deletes them.
    static let fixedHeaderSize = 28
    private static let magic: [UInt8] = Array("CFB2".utf8)

    /// A store in `directory` (created when missing) holding at most `capacity` bytes, with the blocks a previous
    /// mount left there; nil, with a warning, when the directory cannot be used.
    static func open(directory: String, capacity: Int, logger: Logger) -> DiskBlockStore? {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            guard access(directory, W_OK) == 0 else { throw CocoaError(.fileWriteNoPermission) }
        } catch {
            logger.warning("no disk cache: its directory cannot be used; reads not in memory go to S3",
                           metadata: ["directory": "\(directory)", "error": "\(error)"])
            return nil
        }
        return DiskBlockStore(directory: directory, capacity: capacity, logger: logger)
    }

    private init(directory: String, capacity: Int, logger: Logger) {
        self.directory = directory
        self.capacity = max(0, capacity)
        self.logger = logger
        self.index = Mutex(Self.scan(directory, logger: logger))
        self.writer = DiskBlockWriter(maxQueuedBytes: 32 << 20)
        writer.start { [weak self] block, bytes in self?.store(block, bytes) }
        let kept = index.withLock { $0.totalBytes }
        if kept > self.capacity { evict(downTo: self.capacity) }
    }

    deinit { writer.stop() }

    /// True when a block file for `block` is known.
    func contains(_ block: BlockKey) -> Bool {
        index.withLock { $0.entries[block] != nil }
    }

    /// The bytes of `block`, verified; nil when there is no such block or its file does not verify (then it is
    /// deleted, to be fetched again).
    func read(_ block: BlockKey) -> BlockBytes? {
        let entry: Entry? = index.withLock { index in
            guard var entry = index.entries[block] else { return nil }
            index.clock += 1
            entry.lastUse = index.clock
            index.entries[block] = entry
            return entry
        }
        guard let entry else { return nil }
        if let bytes = Self.readVerified(entry.path, expecting: block) {
            index.withLock { $0.hits += 1 }
            return bytes
        }
        logger.warning("a cached block did not verify; it is fetched from S3 again",
                       metadata: ["key": "\(block.key)", "block": "\(block.index)", "file": "\(entry.path)"])
        index.withLock { index in
            if index.entries[block]?.path == entry.path { _ = index.remove(block) }
            index.corrupt += 1
        }
        unlink(entry.path)
        return nil
    }

    /// Queues `bytes` of `block` to be written (dropped when the queue is full or the disk failed).
    func write(_ block: BlockKey, _ bytes: BlockBytes) {
        guard capacity > 0, index.withLock({ !$0.writesFailed && $0.entries[block] == nil }) else { return }
        if !writer.enqueue(block, bytes) { index.withLock { $0.dropped += 1 } }
    }

    /// The bytes the writer's queue can still take: `BlockCache` fetches no more read-ahead than this (with the
    /// GETs in flight counted), so that a sequential read does not fetch faster than the disk cache keeps blocks.
    var writeRoom: Int {
        max(0, writer.maxQueuedBytes - writer.backlog)
    }

    /// Deletes the blocks of `key` that `shouldRemove` selects (all by default).
    func removeBlocks(of key: String, where shouldRemove: (BlockKey) -> Bool = { _ in true }) {
        let removed: [String] = index.withLock { index in
            guard let blocks = index.byObject[key] else { return [] }
            return blocks.filter(shouldRemove).compactMap { index.remove($0)?.path }
        }
        for path in removed { unlink(path) }
    }

    /// Waits until every queued write is on disk (for tests and unmount).
    func flush() {
        writer.waitUntilIdle()
    }

    var statistics: Statistics {
        index.withLock {
            Statistics(blocks: $0.entries.count, bytes: $0.totalBytes, hits: $0.hits, corrupt: $0.corrupt,
                       writes: $0.writes, dropped: $0.dropped)
        }
    }

    /// The file of `block`.
    func path(of block: BlockKey) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in block.key.utf8 + [0] + block.etag.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        let name = String(hash, radix: 16)
        let padded = String(repeating: "0", count: 16 - name.count) + name
        return "\(directory)/\(padded.prefix(2))/\(padded)-\(block.index)"
    }

    // MARK: - Writing (on the writer's thread)

    private func store(_ block: BlockKey, _ bytes: BlockBytes) {
        let path = path(of: block)
        let temporary = path + ".tmp"
        let header = Self.header(of: block, bytes)
        do {
            do {
                try Self.write(header, bytes, to: temporary)
            } catch POSIXError.ENOENT {
                // The first block of its directory (or the directory was deleted under the mount).
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
                try Self.write(header, bytes, to: temporary)
            }
            guard rename(temporary, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            unlink(temporary)
            let first = index.withLock { index -> Bool in
                defer { index.writesFailed = true }
                return !index.writesFailed
            }
            if first {
                logger.warning("""
                    the disk cache cannot be written (disk full or read-only?); it is not written again until the \
                    next mount, reads go on from memory and S3
                    """,
                               metadata: ["directory": "\(directory)", "error": "\(error)"])
            }
            return
        }
        let over: Bool = index.withLock { index in
            index.clock += 1
            index.insert(block, Entry(path: path, size: header.count + bytes.count, lastUse: index.clock))
            index.writes += 1
            return index.totalBytes > capacity
        }
        if over { evict(downTo: capacity - capacity / 10) }
    }

    /// Deletes least recently used blocks until at most `target` bytes remain.
    private func evict(downTo target: Int) {
        let removed: [String] = index.withLock { index in
            guard index.totalBytes > target else { return [] }
            var paths: [String] = []
            for (block, _) in index.entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
                guard index.totalBytes > target else { break }
                if let entry = index.remove(block) { paths.append(entry.path) }
            }
            return paths
        }
        for path in removed { unlink(path) }
    }

    // MARK: - File format

    /// The header of the file of `block` holding `bytes`: magic, CRC-32C of everything after it (the rest of the
    /// header and the data), key length, ETag length, index, data length, key, ETag. The data follows it.
    static func header(of block: BlockKey, _ bytes: BlockBytes) -> [UInt8] {
        let key = Array(block.key.utf8)
        let etag = Array(block.etag.utf8)
        var header: [UInt8] = magic + [0, 0, 0, 0]
        header.reserveCapacity(fixedHeaderSize + key.count + etag.count)
        appendLittleEndian(UInt32(key.count), to: &header)
        appendLittleEndian(UInt32(etag.count), to: &header)
        appendLittleEndian(block.index, to: &header)
        appendLittleEndian(UInt32(bytes.count), to: &header)
        header += key
        header += etag
        let headerCRC = header.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8...])) }
        let crc = bytes.withUnsafeBytes { CRC32C.checksum($0, continuing: headerCRC) }
        for offset in 0..<4 { header[4 + offset] = UInt8(truncatingIfNeeded: crc >> (8 * offset)) }
        return header
    }

    /// What a file's header says: the block and the whole file's expected size; nil when it is not one.
    static func header(_ bytes: [UInt8]) -> (block: BlockKey, fileSize: Int)? {
        guard bytes.count >= fixedHeaderSize, Array(bytes[0..<4]) == magic else { return nil }
        let keyLength = Int(littleEndian(bytes, at: 8, count: 4))
        let etagLength = Int(littleEndian(bytes, at: 12, count: 4))
        let blockIndex = littleEndian(bytes, at: 16, count: 8)
        let dataLength = Int(littleEndian(bytes, at: 24, count: 4))
        let end = fixedHeaderSize + keyLength + etagLength
        guard keyLength < 1 << 16, etagLength < 1 << 12, bytes.count >= end,
              let key = String(validating: bytes[fixedHeaderSize..<(fixedHeaderSize + keyLength)], as: UTF8.self),
              let etag = String(validating: bytes[(fixedHeaderSize + keyLength)..<end], as: UTF8.self)
        else { return nil }
        return (BlockKey(key: key, etag: etag, index: blockIndex), end + dataLength)
    }

    /// The data of the block file at `path` when it is whole, its checksum holds and it is `block`'s.
    static func readVerified(_ path: String, expecting block: BlockKey) -> BlockBytes? {
        guard let file = readWhole(path), let (found, size) = header(file), found == block, file.count == size
        else { return nil }
        let stored = UInt32(littleEndian(file, at: 4, count: 4))
        let computed = file.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8...])) }
        guard stored == computed else { return nil }
        let dataStart = fixedHeaderSize + block.key.utf8.count + block.etag.utf8.count
        return file[dataStart...]
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        for offset in 0..<(T.bitWidth / 8) { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * offset))) }
    }

    private static func littleEndian(_ bytes: [UInt8], at offset: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(bytes[offset + index]) << (8 * index) }
        return value
    }

    /// Creates (or truncates) the file at `path` holding `header` then `bytes`.
    /// - Throws: `POSIXError` of the failed call (`.ENOENT` when its directory is missing).
    private static func write(_ header: [UInt8], _ bytes: BlockBytes, to path: String) throws {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        for part in [header[...], bytes] {
            try part.withUnsafeBytes { buffer in
                var written = 0
                while written < buffer.count {
                    let result = Glibc.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                    guard result > 0 else {
                        if result < 0 && errno == EINTR { continue }
                        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                    }
                    written += result
                }
            }
        }
    }

    /// The whole file at `path` (one block file: tens of KiB), read into one array; nil when it cannot be read.
    private static func readWhole(_ path: String) -> [UInt8]? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size >= 0, status.st_size < 1 << 30 else { return nil }
        let size = Int(status.st_size)
        var complete = true
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let result = Glibc.read(descriptor, buffer.baseAddress! + done, size - done)
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { break }
                done += result
            }
            complete = done == size
            initialized = done
        }
        return complete ? bytes : nil
    }

    /// The blocks a previous mount left in `directory`: each file's header is read (not its data: that is
    /// verified when read); temporary files and files that are not blocks are deleted. Least recently modified
    /// first in the LRU order.
    private static func scan(_ directory: String, logger: Logger) -> Index {
        var index = Index()
        var found: [(BlockKey, Entry, Date)] = []
        let manager = FileManager.default
        for shard in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] {
            let shardPath = directory + "/" + shard
            for name in (try? manager.contentsOfDirectory(atPath: shardPath)) ?? [] {
                let path = shardPath + "/" + name
                if name.hasSuffix(".tmp") {
                    // A write cut short by a crash (an hour old: not one a running writer is finishing).
                    let modified = (try? manager.attributesOfItem(atPath: path))?[.modificationDate] as? Date
                    if let modified, modified.timeIntervalSinceNow < -3600 { unlink(path) }
                    continue
                }
                guard let handle = FileHandle(forReadingAtPath: path) else { continue }
                let prefix = (try? handle.read(upToCount: 4096)).map { Array($0) } ?? []
                try? handle.close()
                let attributes = try? manager.attributesOfItem(atPath: path)
                let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
                guard let (block, expected) = header(prefix), expected == size else {
                    unlink(path)
                    continue
                }
                let modified = attributes?[.modificationDate] as? Date ?? .distantPast
                found.append((block, Entry(path: path, size: size, lastUse: 0), modified))
            }
        }
        for (block, entry, _) in found.sorted(by: { $0.2 < $1.2 }) {
            index.clock += 1
            var used = entry
            used.lastUse = index.clock
            index.insert(block, used)
        }
        if !found.isEmpty {
            logger.info("disk cache: blocks of an earlier mount kept",
                        metadata: ["blocks": "\(found.count)", "bytes": "\(index.totalBytes)"])
        }
        return index
    }
}

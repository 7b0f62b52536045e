import CofferChecksum
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that holds the latest of a sequence of small documents (a journal record's versions), replaced in place
/// so that a kill at any instant — or a torn write after a power loss — leaves the previous version or the new one.
///
/// The file has two slots, at offset 0 and at `slotSize`. Each holds a header (magic, generation, payload length,
/// CRC-32 of the payload) and the payload. A write goes, in one `pwrite`, to the slot that does not hold the newest
/// valid version, with the next generation; a read takes the valid slot with the highest generation. Rewrites
/// touch no directory entry and allocate no inode (an atomic rename per rewrite made the file system's inode
/// allocator the bottleneck of a create storm); the file is sparse, so the gap between the slots takes no space.
enum RecordFile {
    /// Where the second slot starts; a payload must fit in a slot with its header.
    static let slotSize: UInt64 = 1 << 20
    static let headerSize = 32
    /// The largest payload a slot holds.
    static let maximumPayload = Int(slotSize) - headerSize
    private static let magic: [UInt8] = Array("CofferJ1".utf8)

    /// One slot's version.
    struct Version {
        var generation: UInt64
        var payload: [UInt8]
    }

    /// Writes `payload` as the file's newest version, creating the file (mode 0600) when missing.
    static func write(_ payload: [UInt8], to path: String) throws(WriteBackError) {
        precondition(payload.count <= maximumPayload, "a record file slot holds at most \(maximumPayload) bytes")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StagingFileIO.failure("cannot open", path) }
        defer { StagingFileIO.close(fd) }
        let slots = try [version(fd, slot: 0, path: path), version(fd, slot: 1, path: path)]
        let newest = slots.enumerated().compactMap { index, version in version.map { (index, $0.generation) } }
            .max { $0.1 < $1.1 }
        let target: UInt64 = newest.map { $0.0 == 0 ? 1 : 0 } ?? 0
        let generation = (newest?.1 ?? 0) + 1
        var bytes = magic
        bytes += littleEndian(generation)
        bytes += littleEndian(UInt32(payload.count))
        bytes += littleEndian(CRC32.checksum(payload))
        bytes += [UInt8](repeating: 0, count: headerSize - bytes.count)
        bytes += payload
        try StagingFileIO.write(fd, bytes, at: target * slotSize, path: path)
    }

    /// The file's newest valid version; nil when no slot holds one (an empty or damaged file).
    static func read(_ path: String) throws(WriteBackError) -> [UInt8]? {
        let fd = try StagingFileIO.openExisting(path)
        defer { StagingFileIO.close(fd) }
        let slots = try [version(fd, slot: 0, path: path), version(fd, slot: 1, path: path)].compactMap { $0 }
        return slots.max { $0.generation < $1.generation }?.payload
    }

    /// The version in `slot`, when its header and checksum are intact.
    private static func version(_ fd: Int32, slot: UInt64, path: String) throws(WriteBackError) -> Version? {
        let header = try StagingFileIO.read(fd, count: headerSize, at: slot * slotSize, path: path)
        guard header.count == headerSize, Array(header[0..<8]) == magic else { return nil }
        let generation = integer(header[8..<16], as: UInt64.self)
        let length = Int(integer(header[16..<20], as: UInt32.self))
        let checksum = integer(header[20..<24], as: UInt32.self)
        guard length <= maximumPayload else { return nil }
        let payload = try StagingFileIO.read(fd, count: length, at: slot * slotSize + UInt64(headerSize), path: path)
        guard payload.count == length, CRC32.checksum(payload) == checksum else { return nil }
        return Version(generation: generation, payload: payload)
    }

    private static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    private static func integer<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, as type: T.Type) -> T {
        var value: T = 0
        for (shift, byte) in bytes.enumerated() { value |= T(byte) << (8 * shift) }
        return value
    }
}

import Foundation

/// The kernel's table of mounts as this process sees it (`/proc/self/mountinfo`).
public enum MountTable {
    /// One mounted filesystem.
    public struct Mount: Sendable, Equatable {
        /// Where it is mounted (absolute, with escapes decoded).
        public var mountpoint: String
        /// The filesystem type, such as `fuse.coffer`.
        public var type: String
        /// The source, such as `coffer:bucket/prefix`.
        public var source: String
        /// The device numbers as `major:minor` (for FUSE, the backing device info in /sys/class/bdi).
        public var device: String
    }

    /// Every mount, in mount order.
    public static func mounts() -> [Mount] {
        guard let text = readToEnd("/proc/self/mountinfo") else { return [] }
        return text.split(separator: "\n").compactMap(parse)
    }

    /// A procfs file read until end of file: the kernel hands such files out a page or so per read(2), and one
    /// read (what `String(contentsOfFile:)` does for a file whose size shows as 0) misses every mount past the
    /// first 4 KiB, as on container and systemd hosts with many mounts.
    static func readToEnd(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The topmost mount at `path` (compared after resolving symlinks in the parent), if any.
    public static func mount(at path: String) -> Mount? {
        let wanted = canonical(path)
        return mounts().last { $0.mountpoint == wanted }
    }

    /// True when a filesystem is mounted at `path`.
    public static func isMounted(_ path: String) -> Bool {
        mount(at: path) != nil
    }

    /// `path` made absolute with symlinks resolved; when the path itself cannot be resolved (a dead FUSE mount
    /// answers ENOTCONN), its parent is resolved instead and the last component appended.
    public static func canonical(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        if let resolved = realpath(absolute, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        let url = URL(fileURLWithPath: absolute).standardized
        let parent = url.deletingLastPathComponent().path
        guard let resolvedParent = realpath(parent, nil) else { return url.path }
        defer { free(resolvedParent) }
        let base = String(cString: resolvedParent)
        return (base == "/" ? "" : base) + "/" + url.lastPathComponent
    }

    private static func parse(_ line: Substring) -> Mount? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator + 2 < fields.count else {
            return nil
        }
        return Mount(mountpoint: unescape(fields[4]), type: unescape(fields[separator + 1]),
                     source: unescape(fields[separator + 2]), device: String(fields[2]))
    }

    /// Decodes the octal escapes (`\040` for a space) the kernel writes in mountinfo.
    private static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

internal import CFuse
import Foundation

/// Reads what a running Coffer mount says of itself: the JSON its root answers for `user.coffer.status`.
public enum MountStatus {
    /// The status bytes of the mount at `mountpoint`.
    /// - Throws: `MountStatusError` with the system's reason when the attribute cannot be read (not a Coffer mount,
    ///   or a Coffer too old to have one).
    public static func read(mountpoint: String, attribute: String) throws(MountStatusError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let count = getxattr(mountpoint, attribute, &buffer, buffer.count)
        guard count >= 0 else {
            throw MountStatusError(description: "cannot read the status of \(mountpoint) (\(String(cString: strerror(errno)))): "
                                   + "is it a Coffer mount?")
        }
        return Array(buffer[0..<count])
    }
}

/// Why a mount's status could not be read.
public struct MountStatusError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

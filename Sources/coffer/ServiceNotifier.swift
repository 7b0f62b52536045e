import Foundation
import Glibc

/// Tells systemd how the service is doing, in the sd_notify protocol (sd_notify(3)): one datagram of
/// newline-separated `KEY=VALUE` assignments to the Unix socket named by `$NOTIFY_SOCKET` (a path, or `@name` for
/// the abstract namespace). A `Type=notify` unit running `coffer mount --foreground` is "started" only once
/// `READY=1` arrives, that is once the kernel has the mount, so units ordered after it never see an empty
/// directory. Without `$NOTIFY_SOCKET` (not started by systemd) nothing is sent.
struct ServiceNotifier {
    /// The socket address from `$NOTIFY_SOCKET`, or nil.
    let socketPath: String?

    /// A notifier for the socket named in `environment`.
    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Sends `assignments` (such as `["READY=1", "STATUS=mounted"]`); returns false when there is no socket or the
    /// datagram could not be sent (systemd then goes by its own timeouts).
    @discardableResult
    func notify(_ assignments: [String]) -> Bool {
        guard let socketPath, var address = Self.address(socketPath) else { return false }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let message = Array(assignments.joined(separator: "\n").utf8)
        let sent = withUnsafePointer(to: &address.storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                sendto(descriptor, message, message.count, Int32(MSG_NOSIGNAL), socketAddress, address.length)
            }
        }
        return sent == message.count
    }

    /// `sockaddr_un` for `path` (`@` first: abstract namespace, a leading NUL byte and no terminator).
    private static func address(_ path: String) -> (storage: sockaddr_un, length: socklen_t)? {
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard bytes.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &storage.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        // A filesystem path includes its NUL terminator (the storage was zeroed); an abstract name does not.
        let length = pathOffset + bytes.count + (abstract ? 0 : 1)
        return (storage, socklen_t(length))
    }
}

import CofferMetrics
import Foundation
import Glibc
import Logging

/// Serves `GET /metrics` in the Prometheus text format on one TCP address (`--metrics-addr`), on a thread of its
/// own: one connection at a time, each answered and closed (scrapes are rare and small). Anything else gets 404.
final class MetricsServer: @unchecked Sendable {
    /// What cannot be served.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let registry: MetricsRegistry
    private let logger: Logger
    private let listener: Int32
    /// The address actually bound (the port is chosen by the system when 0 was asked for).
    let boundAddress: String

    /// Binds and listens on `address` (`HOST:PORT`, an IPv4 address or `localhost`; port 0 picks a free one).
    init(address: String, registry: MetricsRegistry, logger: Logger) throws {
        self.registry = registry
        self.logger = logger
        let (host, port) = try Self.parse(address)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "cannot open a socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        socketAddress.sin_addr = host
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw Failure(description: "cannot listen on \(address) for --metrics-addr: \(reason)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        listener = descriptor
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &actual.sin_addr, &text, socklen_t(INET_ADDRSTRLEN))
        boundAddress = "\(String(cString: text)):\(UInt16(bigEndian: actual.sin_port))"
    }

    /// `HOST:PORT` as an IPv4 address and a port.
    static func parse(_ address: String) throws -> (in_addr, UInt16) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw Failure(description: "--metrics-addr \(address) is not HOST:PORT (such as 127.0.0.1:9464)")
        }
        var host = String(address[..<colon])
        if host == "localhost" || host.isEmpty { host = "127.0.0.1" }
        var parsed = in_addr()
        guard inet_pton(AF_INET, host, &parsed) == 1 else {
            throw Failure(description: "--metrics-addr \(address): \(host) is not an IPv4 address")
        }
        return (parsed, port)
    }

    /// Starts answering on a background thread.
    func start() {
        let thread = Thread { [self] in serve() }
        thread.name = "coffer-metrics"
        thread.start()
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                logger.error("metrics server stopped", metadata: ["error": "\(String(cString: strerror(errno)))"])
                return
            }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            answer(connection)
            close(connection)
        }
    }

    private func answer(_ connection: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // The request line and headers, up to the blank line (a scrape has no body).
        while request.count < 16384, !request.ends(with: Array("\r\n\r\n".utf8)), !request.ends(with: [10, 10]) {
            let count = read(connection, &buffer, buffer.count)
            if count <= 0 { break }
            request += buffer[0..<count]
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let response: String
        if parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD",
           parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") {
            let body = registry.render()
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
            response = parts[0] == "HEAD" ? head : head + body
        } else {
            let body = "not found: metrics are at /metrics\n"
            response = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Connection: close\r\n\r\n" + body
        }
        var bytes = Array(response.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            bytes = bytes.dropFirst(written)
        }
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

import Foundation
import Synchronization
internal import CCurl
internal import CCurlShims

/// An `HTTPTransport` over libcurl's multi interface.
///
/// One dedicated thread owns the multi handle and drives every transfer, so many requests are in flight at once
/// over a shared, reused connection pool; callers only await. Request bodies are read from memory or a file range
/// while sending, and response bodies go to memory or straight into a file: memory does not grow with object size.
public final class CurlTransport: HTTPTransport, @unchecked Sendable {
    /// Tunables for the transport.
    public struct Options: Sendable {
        /// Seconds allowed to establish a connection.
        public var connectTimeout: Int = 10
        /// A transfer slower than `lowSpeedLimit` bytes/s for this many seconds is aborted as timed out.
        public var lowSpeedTime: Int = 30
        /// See `lowSpeedTime`.
        public var lowSpeedLimit: Int = 1
        /// Connections kept per host (the number of requests truly in parallel against one endpoint).
        public var maxConnectionsPerHost: Int = 64
        /// Verify the server's TLS certificate and host name. On by default; turning it off is for test servers only.
        public var verifyTLS: Bool = true
        /// A CA bundle file to verify against instead of the system's.
        public var caBundlePath: String?

        /// The default options.
        public init() {}
    }

    private let options: Options
    private let loop: CurlMultiLoop

    /// A transport with its own transfer thread. Call `shutdown()` when done, or let it live for the process.
    public init(options: Options = Options()) {
        CurlGlobal.initialize()
        self.options = options
        self.loop = CurlMultiLoop(maxConnectionsPerHost: options.maxConnectionsPerHost)
    }

    deinit { loop.stop() }

    /// Stops the transfer thread. Requests in flight fail with `HTTPError.other`.
    public func shutdown() { loop.stop() }

    public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let transfer = try CurlTransfer(request: request, options: options)
        let result: Result<HTTPResponse, HTTPError> = await withCheckedContinuation { continuation in
            transfer.continuation = continuation
            loop.submit(transfer)
        }
        return try result.get()
    }
}

/// `curl_global_init` exactly once, before any other curl call.
enum CurlGlobal {
    private static let once: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        signal(SIGPIPE, SIG_IGN)
    }()

    static func initialize() { _ = once }
}

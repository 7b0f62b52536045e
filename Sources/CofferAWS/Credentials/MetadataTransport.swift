import Synchronization
import CofferHTTP

/// The transport for the instance-metadata and container endpoints: a `CurlTransport` with short timeouts
/// (1 s to connect, a stalled transfer aborted after 2 s), created on first use so that a chain which never
/// reaches those providers starts no transfer thread.
final class MetadataTransport: HTTPTransport {
    private let transport = Mutex<CurlTransport?>(nil)

    init() {}

    func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let curl = transport.withLock { current -> CurlTransport in
            if let current { return current }
            var options = CurlTransport.Options()
            options.connectTimeout = 1
            options.lowSpeedTime = 2
            options.lowSpeedLimit = 1
            options.maxConnectionsPerHost = 2
            let created = CurlTransport(options: options)
            current = created
            return created
        }
        return try await curl.send(request)
    }
}

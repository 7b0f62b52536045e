/// A failure to complete an HTTP exchange (as opposed to an HTTP error status, which is a response).
public enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The host name could not be resolved.
    case cannotResolveHost(String)
    /// The TCP connection could not be made.
    case cannotConnect(String)
    /// The exchange took longer than the configured timeouts allow.
    case timedOut(String)
    /// The connection broke while sending or receiving.
    case connectionLost(String)
    /// The server's TLS certificate could not be verified, or the TLS handshake failed.
    case tls(String)
    /// The request body file could not be read, or the response file could not be written.
    case localIO(String)
    /// The URL or request was malformed.
    case invalidRequest(String)
    /// Any other transport failure.
    case other(String)

    /// True when sending the same request again may succeed.
    public var isRetryable: Bool {
        switch self {
        case .cannotConnect, .timedOut, .connectionLost: return true
        case .cannotResolveHost, .tls, .localIO, .invalidRequest, .other: return false
        }
    }

    public var description: String {
        switch self {
        case .cannotResolveHost(let m): return "cannot resolve host: \(m)"
        case .cannotConnect(let m): return "cannot connect: \(m)"
        case .timedOut(let m): return "timed out: \(m)"
        case .connectionLost(let m): return "connection lost: \(m)"
        case .tls(let m): return "TLS failure: \(m)"
        case .localIO(let m): return "local I/O error: \(m)"
        case .invalidRequest(let m): return "invalid request: \(m)"
        case .other(let m): return "HTTP transport error: \(m)"
        }
    }
}

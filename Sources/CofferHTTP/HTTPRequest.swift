/// Where the bytes of a request body come from.
public enum HTTPRequestBody: Sendable, Equatable {
    /// No body.
    case empty
    /// Bytes held in memory.
    case bytes([UInt8])
    /// `count` bytes of the file at `path`, starting at `offset`; read while sending, never loaded whole.
    case file(path: String, offset: UInt64, count: UInt64)

    /// The number of bytes the body holds (sent as `Content-Length`).
    public var count: UInt64 {
        switch self {
        case .empty: return 0
        case .bytes(let bytes): return UInt64(bytes.count)
        case .file(_, _, let count): return count
        }
    }
}

/// Where the body of a successful (2xx) response goes. Error bodies are always kept in memory.
public enum HTTPResponseSink: Sendable, Equatable {
    /// Collect the body in `HTTPResponse.body`.
    case memory
    /// Write the body into the file at `path`, starting at `offset`, without holding it in memory.
    case file(path: String, offset: UInt64)
    /// Collect the body in `HTTPResponse.pieces`, arrays of `size` bytes each (the last may be shorter): a block
    /// cache keeps them as they are, with no buffer of the whole body and no copy.
    case pieces(size: Int)
}

/// One HTTP request, fully described by value.
public struct HTTPRequest: Sendable {
    /// The method, such as `GET` or `PUT`.
    public var method: String
    /// The absolute URL, already percent-encoded as it should go on the wire.
    public var url: String
    /// The header fields to send. `Content-Length` is added by the transport.
    public var headers: HTTPHeaders
    /// The request body.
    public var body: HTTPRequestBody
    /// Where a successful response's body goes.
    public var responseSink: HTTPResponseSink

    /// A request for `method` on `url`.
    public init(method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: HTTPRequestBody = .empty,
                responseSink: HTTPResponseSink = .memory) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.responseSink = responseSink
    }
}

/// An HTTP response.
public struct HTTPResponse: Sendable {
    /// The status code, such as 200 or 404.
    public var status: Int
    /// The response header fields.
    public var headers: HTTPHeaders
    /// The body, when the request's sink was `.memory` or the status was not 2xx.
    public var body: [UInt8]
    /// The body of a 2xx response to a request whose sink was `.pieces`.
    public var pieces: [[UInt8]]
    /// The number of body bytes received, wherever they were written.
    public var bodyCount: UInt64

    /// A response as received.
    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], pieces: [[UInt8]] = [],
                bodyCount: UInt64? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.pieces = pieces
        self.bodyCount = bodyCount ?? UInt64(body.count + pieces.reduce(0) { $0 + $1.count })
    }

    /// True for 2xx statuses.
    public var isSuccess: Bool { (200..<300).contains(status) }
}

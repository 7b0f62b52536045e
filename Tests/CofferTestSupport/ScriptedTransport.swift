import CofferHTTP
import Foundation

/// An `HTTPTransport` that answers from a script instead of the network, and records every request.
///
/// Each request is passed to the script with its index; the script returns a response or throws an `HTTPError`.
/// Use it to drive retries, lost answers and malformed bodies deterministically.
public final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    public typealias Script = @Sendable (_ index: Int, _ request: HTTPRequest) throws(HTTPError) -> HTTPResponse

    private let lock = NSLock()
    private var recorded: [HTTPRequest] = []
    private let script: Script

    /// A transport that answers with `script`.
    public init(_ script: @escaping Script) {
        self.script = script
    }

    /// The requests sent so far.
    public var requests: [HTTPRequest] {
        lock.withLock { recorded }
    }

    public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let index = lock.withLock {
            recorded.append(request)
            return recorded.count - 1
        }
        return try script(index, request)
    }

    /// An XML error answer as S3 sends it.
    public static func s3Error(_ status: Int, code: String, message: String = "message",
                               headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>\(code)</Code><Message>\(message)</Message>"
            + "<RequestId>REQ123</RequestId></Error>"
        var all = headers
        all.set("Content-Type", "application/xml")
        all.set("x-amz-request-id", "REQ123")
        return HTTPResponse(status: status, headers: all, body: Array(body.utf8))
    }
}

/// Something that performs HTTP requests. `CurlTransport` is the real one; tests inject faults with their own.
public protocol HTTPTransport: Sendable {
    /// Sends `request` and returns the response, whatever its status.
    /// - Throws: `HTTPError` when no response could be had.
    func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse
}

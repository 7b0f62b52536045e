import Foundation
internal import CCurl
internal import CCurlShims

/// One request on a curl easy handle, with the state its C callbacks need.
///
/// Created on the caller's thread, then touched only by the transfer thread until `complete` hands the result back.
final class CurlTransfer: @unchecked Sendable {
    /// Error bodies beyond this size are cut (S3 error documents are a few hundred bytes).
    private static let maxErrorBody = 64 * 1024
    /// curl's receive buffer for GETs (its default is 16 KiB): a ranged GET of megabytes is read from the socket
    /// and handed to `receiveBody` in a few large pieces rather than thousands of small ones.
    private static let receiveBufferSize = 512 * 1024

    let easy: UnsafeMutableRawPointer
    var continuation: CheckedContinuation<Result<HTTPResponse, HTTPError>, Never>?

    private let request: HTTPRequest
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    // Request body state.
    private var bodyBytes: [UInt8] = []
    private var bodyFile: Int32 = -1
    private var bodyOffset: UInt64 = 0
    private var bodyCount: UInt64 = 0
    private var bodySent: UInt64 = 0

    // Response state.
    private var status = 0
    private var responseHeaders = HTTPHeaders()
    private var responseBody: [UInt8] = []
    private var responsePieces: [[UInt8]] = []
    private var pieceSize = 0
    /// `Content-Length` of the response, read from the headers once, at its first body bytes.
    private lazy var expectedBodyLength: UInt64? = responseHeaders["Content-Length"].flatMap(UInt64.init)
    private var responseCount: UInt64 = 0
    private var sinkFile: Int32 = -1
    private var sinkOffset: UInt64 = 0
    private var sinkError: String?

    init(request: HTTPRequest, options: CurlTransport.Options) throws(HTTPError) {
        guard let handle = curl_easy_init() else { throw .other("curl_easy_init failed (out of memory)") }
        easy = handle
        self.request = request
        do {
            try configure(options)
        } catch {
            cleanup()
            throw error
        }
    }

    deinit { cleanup() }

    private func cleanup() {
        if let list = headerList { curl_slist_free_all(list); headerList = nil }
        if bodyFile >= 0 { close(bodyFile); bodyFile = -1 }
        if sinkFile >= 0 { close(sinkFile); sinkFile = -1 }
        curl_easy_cleanup(easy)
    }

    private func configure(_ options: CurlTransport.Options) throws(HTTPError) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = coffer_curl_setopt_ptr(easy, CURLOPT_URL, request.url)
        _ = coffer_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = coffer_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT, options.connectTimeout)
        _ = coffer_curl_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, options.lowSpeedTime)
        _ = coffer_curl_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedLimit)
        _ = coffer_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, options.verifyTLS ? 1 : 0)
        _ = coffer_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, options.verifyTLS ? 2 : 0)
        if let ca = options.caBundlePath { _ = coffer_curl_setopt_ptr(easy, CURLOPT_CAINFO, ca) }
        _ = coffer_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        // S3 keys may contain "." and ".." segments: send the path exactly as given.
        _ = coffer_curl_setopt_long(easy, CURLOPT_PATH_AS_IS, 1)
        _ = coffer_curl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        _ = coffer_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = coffer_curl_setopt_ptr(easy, CURLOPT_ACCEPT_ENCODING, nil)
        errorBuffer.withUnsafeMutableBufferPointer { _ = coffer_curl_setopt_ptr(easy, CURLOPT_ERRORBUFFER, $0.baseAddress) }
        _ = coffer_curl_setopt_ptr(easy, CURLOPT_PRIVATE, me)

        _ = coffer_curl_setopt_header_cb(easy, CurlCallbacks.header)
        _ = coffer_curl_setopt_ptr(easy, CURLOPT_HEADERDATA, me)
        _ = coffer_curl_setopt_write_cb(easy, CurlCallbacks.write)
        _ = coffer_curl_setopt_ptr(easy, CURLOPT_WRITEDATA, me)

        switch request.method {
        case "GET":
            _ = coffer_curl_setopt_long(easy, CURLOPT_HTTPGET, 1)
            _ = coffer_curl_setopt_long(easy, CURLOPT_BUFFERSIZE, Self.receiveBufferSize)
        case "HEAD": _ = coffer_curl_setopt_long(easy, CURLOPT_NOBODY, 1)
        case "PUT":
            _ = coffer_curl_setopt_long(easy, CURLOPT_UPLOAD, 1)
        case "POST":
            _ = coffer_curl_setopt_long(easy, CURLOPT_POST, 1)
        default:
            _ = coffer_curl_setopt_ptr(easy, CURLOPT_CUSTOMREQUEST, request.method)
        }

        try prepareBody()
        if request.method == "PUT" {
            _ = coffer_curl_setopt_off(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(bodyCount))
        } else if request.method == "POST" {
            _ = coffer_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bodyCount))
        } else if bodyCount > 0 {
            _ = coffer_curl_setopt_long(easy, CURLOPT_UPLOAD, 1)
            _ = coffer_curl_setopt_off(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(bodyCount))
        }
        if request.method == "PUT" || request.method == "POST" || bodyCount > 0 {
            _ = coffer_curl_setopt_read_cb(easy, CurlCallbacks.read)
            _ = coffer_curl_setopt_ptr(easy, CURLOPT_READDATA, me)
            _ = coffer_curl_setopt_seek_cb(easy, CurlCallbacks.seek)
            _ = coffer_curl_setopt_ptr(easy, CURLOPT_SEEKDATA, me)
        }

        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers {
            // "Name;" sends an empty header; "Name:" would remove it.
            let line = value.isEmpty ? "\(name);" : "\(name): \(value)"
            list = curl_slist_append(list, line)
        }
        list = curl_slist_append(list, "Expect:")
        if !request.headers.contains("Content-Type") && (request.method == "POST" || request.method == "PUT") {
            list = curl_slist_append(list, "Content-Type:")
        }
        headerList = list
        _ = coffer_curl_setopt_ptr(easy, CURLOPT_HTTPHEADER, UnsafeRawPointer(list))

        switch request.responseSink {
        case .memory:
            break
        case .file(let path, let offset):
            sinkFile = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard sinkFile >= 0 else { throw .localIO("cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
            sinkOffset = offset
        case .pieces(let size):
            guard size > 0 else { throw .invalidRequest("the piece size must be positive, not \(size)") }
            pieceSize = size
        }
    }

    private func prepareBody() throws(HTTPError) {
        switch request.body {
        case .empty:
            bodyCount = 0
        case .bytes(let bytes):
            bodyBytes = bytes
            bodyCount = UInt64(bytes.count)
        case .file(let path, let offset, let count):
            bodyFile = open(path, O_RDONLY | O_CLOEXEC)
            guard bodyFile >= 0 else { throw .localIO("cannot open \(path) for reading: \(String(cString: strerror(errno)))") }
            bodyOffset = offset
            bodyCount = count
        }
    }

    // MARK: - Callbacks (transfer thread)

    fileprivate func readBody(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let remaining = bodyCount - bodySent
        let n = Int(min(UInt64(capacity), remaining))
        guard n > 0 else { return 0 }
        if bodyFile >= 0 {
            let got = pread(bodyFile, buffer, n, off_t(bodyOffset + bodySent))
            guard got > 0 else {
                sinkError = got == 0 ? "request body file is shorter than expected" : String(cString: strerror(errno))
                return Int(CURL_READFUNC_ABORT)
            }
            bodySent += UInt64(got)
            return got
        }
        bodyBytes.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + Int(bodySent), byteCount: n)
        }
        bodySent += UInt64(n)
        return n
    }

    fileprivate func seekBody(to offset: Int64) -> Int32 {
        guard offset >= 0, UInt64(offset) <= bodyCount else { return Int32(CURL_SEEKFUNC_FAIL) }
        bodySent = UInt64(offset)
        return Int32(CURL_SEEKFUNC_OK)
    }

    fileprivate func receiveHeader(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            // A new status line (after a 100 Continue, for instance) starts a new header block.
            responseHeaders = HTTPHeaders()
            let parts = trimmed.split(separator: " ", maxSplits: 2)
            if parts.count >= 2, let code = Int(parts[1]) { status = code }
            return
        }
        guard let colon = trimmed.firstIndex(of: ":") else { return }
        let name = String(trimmed[..<colon]).trimmingCharacters(in: .whitespaces)
        let value = String(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        responseHeaders.add(name, value)
    }

    fileprivate func receiveBody(_ data: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        let success = (200..<300).contains(status)
        if success, sinkFile >= 0 {
            var written = 0
            while written < count {
                let n = pwrite(sinkFile, data + written, count - written, off_t(sinkOffset + responseCount) + off_t(written))
                if n < 0 {
                    if errno == EINTR { continue }
                    sinkError = "cannot write the response body: \(String(cString: strerror(errno)))"
                    return 0
                }
                written += n
            }
        } else if success, pieceSize > 0 {
            receivePieces(data, count: count)
        } else {
            if responseBody.isEmpty, success, let length = expectedBodyLength, length > 0 {
                responseBody.reserveCapacity(Int(length))
            }
            if success || responseBody.count < CurlTransfer.maxErrorBody {
                data.withMemoryRebound(to: UInt8.self, capacity: count) {
                    responseBody.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
                }
            }
        }
        responseCount += UInt64(count)
        return count
    }

    /// Appends `count` bytes to the pieces, each allocated at its final size (the last one from `Content-Length`).
    private func receivePieces(_ data: UnsafeMutablePointer<CChar>, count: Int) {
        let expected = expectedBodyLength
        var consumed = 0
        data.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
            while consumed < count {
                if responsePieces.isEmpty || responsePieces[responsePieces.count - 1].count == pieceSize {
                    let received = responseCount + UInt64(consumed)
                    let left = expected.map { $0 > received ? Int(min($0 - received, UInt64(pieceSize))) : pieceSize }
                    var piece: [UInt8] = []
                    piece.reserveCapacity(left ?? pieceSize)
                    responsePieces.append(piece)
                }
                let last = responsePieces.count - 1
                let n = min(pieceSize - responsePieces[last].count, count - consumed)
                responsePieces[last].append(contentsOf: UnsafeBufferPointer(start: bytes + consumed, count: n))
                consumed += n
            }
        }
    }

    /// Called by the loop thread when curl reports the transfer done.
    func finish(_ code: CURLcode) {
        if code == CURLE_OK {
            var httpCode = 0
            _ = coffer_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &httpCode)
            complete(.success(HTTPResponse(status: httpCode, headers: responseHeaders, body: responseBody,
                                           pieces: responsePieces, bodyCount: responseCount)))
            return
        }
        let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let message = "\(request.method) \(redactedURL): \(detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)"
        if let sinkError {
            complete(.failure(.localIO(sinkError)))
            return
        }
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: complete(.failure(.cannotResolveHost(message)))
        case CURLE_COULDNT_CONNECT: complete(.failure(.cannotConnect(message)))
        case CURLE_OPERATION_TIMEDOUT: complete(.failure(.timedOut(message)))
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            complete(.failure(.connectionLost(message)))
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
            complete(.failure(.tls(message)))
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: complete(.failure(.invalidRequest(message)))
        default: complete(.failure(.other(message)))
        }
    }

    /// The URL without its query, which may carry a presigned signature.
    private var redactedURL: String {
        request.url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.url
    }

    /// Resumes the waiting caller exactly once.
    func complete(_ result: Result<HTTPResponse, HTTPError>) {
        let waiting = continuation
        continuation = nil
        waiting?.resume(returning: result)
    }
}

/// The C callbacks curl calls on the transfer thread; each forwards to the `CurlTransfer` in its userdata.
enum CurlCallbacks {
    static let write: curl_write_callback = { data, size, count, userdata in
        guard let data, let userdata else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        return transfer.receiveBody(data, count: size * count)
    }

    static let header: curl_write_callback = { data, size, count, userdata in
        guard let data, let userdata else { return 0 }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        let n = size * count
        let line = data.withMemoryRebound(to: UInt8.self, capacity: n) {
            String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
        }
        transfer.receiveHeader(line)
        return n
    }

    static let read: curl_read_callback = { buffer, size, count, userdata in
        guard let buffer, let userdata else { return Int(CURL_READFUNC_ABORT) }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        return transfer.readBody(into: buffer, capacity: size * count)
    }

    static let seek: curl_seek_callback = { userdata, offset, origin in
        guard let userdata, origin == SEEK_SET else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
        return transfer.seekBody(to: Int64(offset))
    }
}

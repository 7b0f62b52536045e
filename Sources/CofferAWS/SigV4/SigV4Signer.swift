import CofferCrypto
import CofferHTTP
import Foundation

/// Signs HTTP requests with AWS Signature Version 4 in the `Authorization` header (no presigned URLs).
///
/// The behaviour follows botocore's `SigV4Auth` (generic services) and `S3SigV4Auth` (`service == "s3"`),
/// which the tests check request by request:
///
/// - `request.url` is absolute and its path and query are already percent-encoded as they go on the wire.
/// - Canonical URI: for S3, the wire path exactly as it is (S3 does not normalize: `.`, `..` and `//` are kept and
///   nothing is encoded again). For every other service, the path is normalized (`.` and `..` segments resolved,
///   runs of `/` collapsed, as botocore's `remove_dot_segments`) and then encoded again with
///   `AWSURIEncoding.encode(_:encodeSlash: false)`, so `%` becomes `%25` (double encoding). An empty path is `/`.
/// - Canonical query: the query is split on `&` (empty pieces are dropped), each name and value is split at the
///   first `=`, decoded and encoded again with `AWSURIEncoding.encode`; a piece that does not decode is used as
///   written. Pairs are sorted by encoded name, then encoded value (byte order); an empty value gives `name=`.
/// - Signed headers: every header present, names lower-cased and trimmed, values trimmed with inner runs of
///   whitespace collapsed to one space; repeated names are joined with `,` in their order. `Host` is signed even
///   when absent (taken from the URL, as `sign` would set it). Not signed, as in botocore 1.43: `Authorization`
///   (removed by `sign`), `User-Agent`, `Expect`, `X-Amzn-Trace-Id` and the hop-by-hop headers `Connection`,
///   `Keep-Alive`, `Proxy-Authenticate`, `Proxy-Authorization`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`.
///   `Content-Length` **is** signed when present, as botocore does; the transport normally adds it itself after
///   signing, so it is usually absent (and a caller that sets it must send exactly that value).
/// - A `Date` header, if a caller sets one, is signed as-is; `X-Amz-Date` is always set and wins
///   (botocore would use `Date` instead: we do not).
///
/// Secrets (the secret key, the session token, derived keys) are never logged or shown in a description.
/// The derived signing key is cached per signer (one entry: secret and day); copies of a signer share it.
public struct SigV4Signer: Sendable {
    /// The payload hash to use when the body is not hashed (S3 over HTTPS).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The SHA-256 of an empty body, in lower-case hex.
    public static let emptyPayloadHash: String = payloadHash([])

    /// The AWS service name in the credential scope, such as `s3`, `sts` or `kms`.
    public let service: String
    /// The AWS region in the credential scope, such as `us-east-1`.
    public let region: String

    private let keyCache = SigV4SigningKeyCache()

    /// Header names (lower-case) never signed: botocore 1.43's `SIGNED_HEADERS_BLACKLIST` plus `authorization`.
    static let unsignedHeaderNames: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// A signer for `service` in `region`.
    public init(service: String, region: String) {
        self.service = service
        self.region = region
    }

    /// Signs `request` in place: sets `Host` if absent (from the URL, with port when non-default), `X-Amz-Date`,
    /// `X-Amz-Security-Token` when credentials have a session token, `X-Amz-Content-Sha256` (only when
    /// service == "s3"), and `Authorization`. Signs every header present (lower-cased, trimmed, inner runs of
    /// spaces collapsed), except `Authorization`, `User-Agent`, `Expect`, `X-Amzn-Trace-Id` and the hop-by-hop
    /// headers, as botocore does; `Content-Length` is signed when present (see the type's documentation).
    ///
    /// Existing `X-Amz-Date`, `X-Amz-Security-Token`, `X-Amz-Content-Sha256` and `Authorization` fields are
    /// replaced, so signing a request again (a retry) is correct.
    ///
    /// - Parameters:
    ///   - credentials: the keys to sign with; an empty session token counts as none.
    ///   - date: the signing time; AWS rejects requests more than 15 minutes away from its clock.
    ///   - payloadHash: the lower-case hex SHA-256 of the body (`payloadHash(_:)`), or `unsignedPayload`.
    public func sign(_ request: inout HTTPRequest, credentials: AWSCredentials, date: Date, payloadHash: String) {
        let timestamp = SigV4Timestamp(date)
        request.headers.set("Authorization", nil)
        if !request.headers.contains("Host") {
            let host = SigV4URLParts(request.url).hostHeader
            if !host.isEmpty { request.headers.set("Host", host) }
        }
        request.headers.set("X-Amz-Date", timestamp.amzDate)
        if let token = credentials.sessionToken, !token.isEmpty {
            request.headers.set("X-Amz-Security-Token", token)
        }
        if service == "s3" {
            request.headers.set("X-Amz-Content-Sha256", payloadHash)
        }
        let (canonical, signedHeaders) = canonicalRequestAndSignedHeaders(for: request, payloadHash: payloadHash)
        let toSign = stringToSign(canonicalRequest: canonical, date: date)
        let signature = signature(stringToSign: toSign, secretAccessKey: credentials.secretAccessKey, date: date)
        request.headers.set(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(credentialScope(timestamp)), "
                + "SignedHeaders=\(signedHeaders), Signature=\(signature)")
    }

    /// The canonical request of `request` as it stands (no header is added or changed, except that `Host` is
    /// signed from the URL when absent): method, canonical URI, canonical query, canonical headers, signed
    /// headers and `payloadHash`, separated by newlines.
    public func canonicalRequest(for request: HTTPRequest, payloadHash: String) -> String {
        canonicalRequestAndSignedHeaders(for: request, payloadHash: payloadHash).canonical
    }

    /// The string to sign: the algorithm, the `X-Amz-Date` form of `date`, the credential scope and the hex
    /// SHA-256 of `canonicalRequest`, separated by newlines.
    public func stringToSign(canonicalRequest: String, date: Date) -> String {
        let timestamp = SigV4Timestamp(date)
        return "AWS4-HMAC-SHA256\n\(timestamp.amzDate)\n\(credentialScope(timestamp))\n"
            + Hex.encode(SHA256.hash(canonicalRequest))
    }

    /// The hex HMAC-SHA256 of `stringToSign` under the signing key derived from `secretAccessKey`, the day of
    /// `date`, the region and the service.
    public func signature(stringToSign: String, secretAccessKey: String, date: Date) -> String {
        let dateStamp = SigV4Timestamp(date).dateStamp
        let key = keyCache.key(secretAccessKey: secretAccessKey, dateStamp: dateStamp) {
            let dateKey = HMACSHA256.authenticationCode(for: dateStamp, key: Array("AWS4\(secretAccessKey)".utf8))
            let regionKey = HMACSHA256.authenticationCode(for: region, key: dateKey)
            let serviceKey = HMACSHA256.authenticationCode(for: service, key: regionKey)
            return HMACSHA256.authenticationCode(for: "aws4_request", key: serviceKey)
        }
        return Hex.encode(HMACSHA256.authenticationCode(for: stringToSign, key: key))
    }

    /// sha256 hex of a body.
    public static func payloadHash(_ body: [UInt8]) -> String {
        Hex.encode(SHA256.hash(body))
    }

    // MARK: - Pieces

    private func credentialScope(_ timestamp: SigV4Timestamp) -> String {
        "\(timestamp.dateStamp)/\(region)/\(service)/aws4_request"
    }

    private func canonicalRequestAndSignedHeaders(for request: HTTPRequest, payloadHash: String)
        -> (canonical: String, signedHeaders: String) {
        let parts = SigV4URLParts(request.url)
        let uri = service == "s3" ? (parts.path.isEmpty ? "/" : parts.path) : SigV4Signer.genericCanonicalURI(parts.path)
        let query = SigV4Signer.canonicalQuery(parts.query)
        let (headers, signedHeaders) = SigV4Signer.canonicalHeaders(request.headers, hostFromURL: parts.hostHeader)
        let canonical = request.method.uppercased() + "\n" + uri + "\n" + query + "\n" + headers + "\n"
            + signedHeaders + "\n" + payloadHash
        return (canonical, signedHeaders)
    }

    /// The canonical URI for services other than S3: normalized, then every segment encoded again.
    static func genericCanonicalURI(_ path: String) -> String {
        AWSURIEncoding.encode(removeDotSegments(path), encodeSlash: false)
    }

    /// RFC 3986 dot-segment removal plus the collapse of repeated `/`, exactly as botocore's
    /// `normalize_url_path`: `""` → `/`, `/a/./b/../c//` → `/a/c/`, `/..` → `/`.
    static func removeDotSegments(_ path: String) -> String {
        if path.isEmpty { return "/" }
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
            if segment == ".." {
                if !output.isEmpty { output.removeLast() }
            } else {
                output.append(segment)
            }
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
        return first + output.joined(separator: "/") + last
    }

    /// The canonical query string of a wire query (without `?`).
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        for piece in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring, value: Substring
            if let equals = piece.firstIndex(of: "=") {
                name = piece[..<equals]
                value = piece[piece.index(after: equals)...]
            } else {
                name = piece
                value = ""
            }
            pairs.append((Array(reencode(name).utf8), Array(reencode(value).utf8)))
        }
        pairs.sort { lhs, rhs in
            if lhs.name != rhs.name { return lhs.name.lexicographicallyPrecedes(rhs.name) }
            return lhs.value.lexicographicallyPrecedes(rhs.value)
        }
        var out = [UInt8]()
        for (index, pair) in pairs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            out.append(contentsOf: pair.name)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: pair.value)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func reencode(_ component: Substring) -> String {
        let text = String(component)
        guard let decoded = AWSURIEncoding.decode(text) else { return text }
        return AWSURIEncoding.encode(decoded)
    }

    /// The canonical header block (each `name:value` followed by a newline) and the signed header list.
    static func canonicalHeaders(_ headers: HTTPHeaders, hostFromURL: String) -> (block: String, signed: String) {
        var names: [String] = []
        var values: [String: [String]] = [:]
        for field in headers {
            let name = trimmedCollapsed(field.name).lowercased()
            if unsignedHeaderNames.contains(name) { continue }
            let value = trimmedCollapsed(field.value)
            if values[name] == nil {
                names.append(name)
                values[name] = [value]
            } else {
                values[name]!.append(value)
            }
        }
        if values["host"] == nil {
            names.append("host")
            values["host"] = [hostFromURL]
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var block = ""
        for name in names {
            block += name + ":" + values[name, default: []].joined(separator: ",") + "\n"
        }
        return (block, names.joined(separator: ";"))
    }

    /// `value` without leading and trailing whitespace, inner runs of whitespace replaced by one space
    /// (whitespace: space, tab, CR, LF, vertical tab, form feed — what Python's `str.split()` sees in ASCII).
    static func trimmedCollapsed(_ value: String) -> String {
        func isSpace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0B || byte == 0x0C
        }
        let utf8 = value.utf8
        // Fast path: nothing to trim or collapse.
        var previousSpace = true
        var clean = true
        for byte in utf8 {
            let space = isSpace(byte)
            if space && (previousSpace || byte != 0x20) {
                clean = false
                break
            }
            previousSpace = space
        }
        if clean && !previousSpace { return value }
        if clean && utf8.isEmpty { return value }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count)
        var pendingSpace = false
        for byte in utf8 {
            if isSpace(byte) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The pieces of an absolute request URL that SigV4 needs, taken from the string as it goes on the wire
/// (nothing is decoded or normalized here).
struct SigV4URLParts: Sendable, Equatable {
    /// The scheme, lower-cased (`https`); empty when the URL has none.
    var scheme: String
    /// The value of a `Host` header for this URL: the host lower-cased, without user info, with `:port` only
    /// when the port is not the scheme's default (80 for http, 443 for https).
    var hostHeader: String
    /// The path exactly as written, without query or fragment; empty when the URL has none.
    var path: String
    /// The query exactly as written, without the `?` and without any fragment; empty when there is none.
    var query: String

    init(_ url: String) {
        let bytes = Array(url.utf8)
        var index = 0
        var scheme = ""
        var authority: ArraySlice<UInt8> = []
        // "scheme://authority"
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
           colon + 2 < bytes.count, bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/"),
           !bytes[..<colon].contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) {
            scheme = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
            index = colon + 3
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "/"), bytes[index] != UInt8(ascii: "?"),
                  bytes[index] != UInt8(ascii: "#") {
                index += 1
            }
            authority = bytes[start..<index]
        }
        let pathStart = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "?"), bytes[index] != UInt8(ascii: "#") { index += 1 }
        let path = bytes[pathStart..<index]
        var query: ArraySlice<UInt8> = []
        if index < bytes.count, bytes[index] == UInt8(ascii: "?") {
            let queryStart = index + 1
            index = queryStart
            while index < bytes.count, bytes[index] != UInt8(ascii: "#") { index += 1 }
            query = bytes[queryStart..<index]
        }
        self.scheme = scheme
        self.hostHeader = SigV4URLParts.hostHeader(authority: authority, scheme: scheme)
        self.path = String(decoding: path, as: UTF8.self)
        self.query = String(decoding: query, as: UTF8.self)
    }

    private static func hostHeader(authority: ArraySlice<UInt8>, scheme: String) -> String {
        // Drop "user:password@".
        var hostAndPort = authority
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) { hostAndPort = authority[(at + 1)...] }
        var host = hostAndPort
        var port: ArraySlice<UInt8> = []
        let searchFrom: Int
        if hostAndPort.first == UInt8(ascii: "["), let close = hostAndPort.firstIndex(of: UInt8(ascii: "]")) {
            searchFrom = close   // IPv6 literal: the port colon comes after "]"
        } else {
            searchFrom = hostAndPort.startIndex
        }
        if let colon = hostAndPort[searchFrom...].lastIndex(of: UInt8(ascii: ":")) {
            host = hostAndPort[..<colon]
            port = hostAndPort[(colon + 1)...]
        }
        let hostText = String(decoding: host, as: UTF8.self).lowercased()
        guard !port.isEmpty else { return hostText }
        let portText = String(decoding: port, as: UTF8.self)
        if let number = Int(portText), (scheme == "http" && number == 80) || (scheme == "https" && number == 443) {
            return hostText
        }
        return hostText + ":" + portText
    }
}

import Foundation

/// s3fs's `x-amz-meta-xattr` (with `-o use_xattr`): the URL-encoded text of `{"name":"<base64 value>",...}`.
///
/// Written exactly as s3fs's `build_xattrs` does: names in byte order (a `std::map`), values in padded standard
/// base64 (an empty value as `""`), no spaces, then every byte but `A-Z a-z 0-9 / . - _ ~` percent-encoded with
/// upper-case hex (s3fs's `urlEncode`). s3fs writes names raw, so a name containing `"` cannot be stored in its
/// format: such names (and names containing `\`) are written with JSON escapes (`\"`, `\\`), which this reader
/// understands and s3fs skips (it drops that one attribute and keeps the others).
///
/// Read leniently, like s3fs's `parse_xattrs`: percent-decoding, then the text between the first `{` and the last
/// `}`; a pair that is malformed (no quotes, no `:`, invalid base64, a name that is not UTF-8) is skipped, the
/// others are kept; base64 may lack its padding.
enum S3FSXattrs {
    /// The header value for `xattrs`.
    static func encode(_ xattrs: [String: [UInt8]]) -> String {
        let names = xattrs.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var json = "{"
        for (position, name) in names.enumerated() {
            if position > 0 { json += "," }
            json += "\"" + escaped(name) + "\":\"" + Data(xattrs[name]!).base64EncodedString() + "\""
        }
        json += "}"
        return urlEncoded(json)
    }

    /// The attributes in a header value; empty when it is not in s3fs's format.
    static func decode(_ text: String) -> [String: [UInt8]] {
        let bytes = percentDecoded(text)
        guard let open = bytes.firstIndex(of: UInt8(ascii: "{")), let close = bytes.lastIndex(of: UInt8(ascii: "}")),
              open < close else { return [:] }
        var parser = PairParser(bytes: Array(bytes[(open + 1)..<close]))
        var xattrs: [String: [UInt8]] = [:]
        while let pair = parser.next() {
            if let (name, value) = pair { xattrs[name] = value }
        }
        return xattrs
    }

    /// Reads `"name":"value"` pairs separated by commas.
    private struct PairParser {
        let bytes: [UInt8]
        var position = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        /// The next pair: nil at the end, `.some(nil)` for a malformed pair (skipped up to the next comma).
        mutating func next() -> (String, [UInt8])?? {
            skipSpaces()
            guard position < bytes.count else { return nil }
            let pair = parsePair()
            skipSpaces()
            if pair == nil || (position < bytes.count && bytes[position] != UInt8(ascii: ",")) {
                // Resynchronise after the next comma that is outside quotes.
                var quoted = false
                while position < bytes.count {
                    let byte = bytes[position]
                    if byte == UInt8(ascii: "\"") { quoted.toggle() }
                    if byte == UInt8(ascii: ","), !quoted { break }
                    position += 1
                }
                position += 1
                return .some(nil)
            }
            position += 1  // past the comma, or the end
            return .some(pair)
        }

        private mutating func parsePair() -> (String, [UInt8])? {
            guard let nameBytes = quoted() else { return nil }
            skipSpaces()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return nil }
            position += 1
            skipSpaces()
            guard let valueBytes = quoted(),
                  let name = String(validating: nameBytes, as: UTF8.self),
                  let value = base64Decoded(valueBytes) else { return nil }
            return (name, value)
        }

        /// A string in double quotes; `\"` and `\\` are escapes, any other backslash is itself.
        private mutating func quoted() -> [UInt8]? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            position += 1
            var out: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    position += 1
                    return out
                }
                if byte == UInt8(ascii: "\\"), position + 1 < bytes.count,
                   bytes[position + 1] == UInt8(ascii: "\"") || bytes[position + 1] == UInt8(ascii: "\\") {
                    out.append(bytes[position + 1])
                    position += 2
                    continue
                }
                out.append(byte)
                position += 1
            }
            return nil
        }

        private mutating func skipSpaces() {
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 { position += 1 }
        }
    }

    /// `name` with `\` and `"` escaped as in JSON (all other bytes as they are, as s3fs writes them).
    static func escaped(_ name: String) -> String {
        guard name.contains(where: { $0 == "\"" || $0 == "\\" }) else { return name }
        var out = ""
        for character in name {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// s3fs's `urlEncode`: every UTF-8 byte but `A-Z a-z 0-9 / . - _ ~` as `%XX`.
    static func urlEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "/"), UInt8(ascii: "."), UInt8(ascii: "-"),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text` with `%XX` sequences decoded; a `%` not followed by two hex digits is kept as it is.
    static func percentDecoded(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let high = hexValue(bytes[i + 1]),
               let low = hexValue(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Standard base64, padding optional; nil when it is not base64.
    static func base64Decoded(_ bytes: [UInt8]) -> [UInt8]? {
        guard !bytes.isEmpty else { return [] }
        var text = String(decoding: bytes, as: UTF8.self)
        guard bytes.count % 4 != 1 else { return nil }
        if bytes.count % 4 != 0 { text += String(repeating: "=", count: 4 - bytes.count % 4) }
        return Data(base64Encoded: text).map { [UInt8]($0) }
    }
}

/// Percent-encoding exactly as AWS Signature Version 4 defines it (RFC 3986 unreserved set).
///
/// Only `A-Z a-z 0-9 - _ . ~` are left as they are; every other byte of the UTF-8 form becomes `%XX` with
/// upper-case hex digits. This is also the form S3 object keys and query parameters should have on the wire.
public enum AWSURIEncoding {
    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// True for the RFC 3986 unreserved bytes `A-Z a-z 0-9 - _ . ~`.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// RFC 3986 percent-encoding as SigV4 defines it: unreserved A-Z a-z 0-9 - _ . ~ kept, everything else %XX
    /// (upper-case hex) over UTF-8; "/" kept when encodeSlash is false.
    ///
    /// A `%` in the input is itself encoded (`%25`): the input is the raw text, not something already encoded.
    public static func encode(_ string: String, encodeSlash: Bool = true) -> String {
        let slash = UInt8(ascii: "/")
        let utf8 = string.utf8
        // Fast path: nothing to encode.
        if utf8.allSatisfy({ isUnreserved($0) || (!encodeSlash && $0 == slash) }) { return string }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count * 3)
        for byte in utf8 {
            if isUnreserved(byte) || (!encodeSlash && byte == slash) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Percent-decoding ("+" is NOT a space). nil for malformed input.
    ///
    /// Malformed means a `%` not followed by two hex digits (either case), or decoded bytes that are not valid
    /// UTF-8. Bytes that are not percent-encoded are kept as they are.
    ///
    /// - Parameter plusAsSpace: decode `+` as a space, as HTML forms and S3's `encoding-type=url` listings
    ///   (`ListObjectsV2` keys, prefixes, delimiters) do. Off by default: SigV4 and URLs treat `+` literally.
    public static func decode(_ string: String, plusAsSpace: Bool = false) -> String? {
        let utf8 = string.utf8
        let percent = UInt8(ascii: "%"), plus = UInt8(ascii: "+")
        if !utf8.contains(percent) && !(plusAsSpace && utf8.contains(plus)) { return string }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count)
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == percent {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                out.append(high << 4 | low)
            } else if plusAsSpace && byte == plus {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// An element of a small XML document, such as an S3 or STS response, parsed strictly by `parse(_:)`.
///
/// Names are local names: a namespace prefix is stripped (`ns:Key` → `Key`) from elements and attributes, and
/// `xmlns` / `xmlns:*` attributes are dropped. Character data is kept exactly as sent (no whitespace trimming and
/// no line-end normalization), so S3 keys that start or end with spaces, or hold CR/LF, round-trip. Attribute values
/// are not whitespace-normalized either. Only the five predefined entities exist (DTDs are refused).
public struct XMLTree: Sendable, Equatable {
    /// The maximum nesting of elements `parse(_:)` accepts (the root is depth 1).
    public static let maximumDepth = 64

    /// The local name: namespace prefix stripped ("ns:Key" -> "Key"); xmlns attributes ignored.
    public var name: String
    /// The attributes by local name, values with references decoded. When two attributes differ only by
    /// prefix, the first one is kept.
    public var attributes: [String: String]
    /// The child elements, in document order.
    public var children: [XMLTree]
    /// The concatenated character data directly inside this element (not inside its children), entities and
    /// character references decoded, CDATA sections included, whitespace kept as is.
    public var text: String

    /// An element from its parts.
    public init(name: String, attributes: [String: String] = [:], children: [XMLTree] = [], text: String = "") {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// Parses a whole UTF-8 document and returns its root element.
    ///
    /// Accepts an optional UTF-8 byte order mark and XML declaration, comments, processing instructions, CDATA,
    /// the five predefined entities and decimal/hex character references. Refuses (with an `XMLError` carrying
    /// the byte offset) malformed or truncated input, invalid UTF-8, control characters, references to code
    /// points XML 1.0 does not allow, DOCTYPE declarations, and nesting deeper than `maximumDepth`. It never
    /// traps and runs in time linear in the input.
    public static func parse(_ bytes: [UInt8]) throws(XMLError) -> XMLTree {
        let result: Result<XMLTree, XMLError> = bytes.withUnsafeBufferPointer { buffer in
            var scanner = XMLScanner(buffer)
            do throws(XMLError) {
                return .success(try scanner.parseDocument())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The first child element named `name`, if any.
    public func child(_ name: String) -> XMLTree? {
        children.first { $0.name == name }
    }

    /// Every child element named `name`, in document order.
    public func children(_ name: String) -> [XMLTree] {
        children.filter { $0.name == name }
    }

    /// The text of the first child with that name.
    public func childText(_ name: String) -> String? {
        child(name)?.text
    }

    /// Escapes &, <, >, ", ' for element text and attribute values.
    ///
    /// Also writes CR, LF and tab as character references (`&#13;`, `&#10;`, `&#9;`): a conforming parser turns a
    /// literal CR into LF and literal whitespace in attribute values into spaces, which would change S3 keys
    /// (AWS recommends `&#13;` for CR in object keys).
    public static func escape(_ text: String) -> String {
        let utf8 = text.utf8
        if !utf8.contains(where: needsEscape) { return text }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count + 16)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&apos;".utf8)
            case 0x0D: out.append(contentsOf: "&#13;".utf8)
            case 0x0A: out.append(contentsOf: "&#10;".utf8)
            case 0x09: out.append(contentsOf: "&#9;".utf8)
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "'"),
             0x0D, 0x0A, 0x09:
            return true
        default:
            return false
        }
    }
}

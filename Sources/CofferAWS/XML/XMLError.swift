/// Why a document could not be parsed by `XMLTree.parse(_:)`. Every case carries the byte offset in the input
/// where the problem was found.
public enum XMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input ended inside a construct (a tag, a comment, an unclosed element...).
    case unexpectedEnd(offset: Int)
    /// An end tag does not close the element that is open.
    case mismatchedTag(expected: String, found: String, offset: Int)
    /// A byte that is not allowed here: a syntax error, a control character, `]]>` in text, `<` in an attribute.
    case invalidCharacter(offset: Int)
    /// The input is not valid UTF-8 (or holds U+FFFE / U+FFFF).
    case invalidUTF8(offset: Int)
    /// An unknown entity, a malformed reference, or a character reference to a code point XML does not allow.
    case invalidEntity(offset: Int)
    /// An attribute appears twice on the same element.
    case duplicateAttribute(name: String, offset: Int)
    /// The document holds no element.
    case noRootElement(offset: Int)
    /// Something other than comments, processing instructions or whitespace follows the root element.
    case contentAfterRoot(offset: Int)
    /// Elements are nested deeper than `limit` (`XMLTree.maximumDepth`).
    case tooDeep(limit: Int, offset: Int)
    /// A construct this parser deliberately refuses, such as a DOCTYPE (no DTDs, no entity expansion).
    case unsupported(String, offset: Int)

    /// The byte offset in the input where the error was detected.
    public var offset: Int {
        switch self {
        case .unexpectedEnd(let offset), .invalidCharacter(let offset), .invalidUTF8(let offset),
             .invalidEntity(let offset), .noRootElement(let offset), .contentAfterRoot(let offset):
            return offset
        case .mismatchedTag(_, _, let offset), .duplicateAttribute(_, let offset), .tooDeep(_, let offset),
             .unsupported(_, let offset):
            return offset
        }
    }

    /// A one-line message naming the problem and its byte offset.
    public var description: String {
        switch self {
        case .unexpectedEnd(let offset):
            return "XML: unexpected end of document at byte \(offset)"
        case .mismatchedTag(let expected, let found, let offset):
            return "XML: end tag </\(found)> does not match <\(expected)> at byte \(offset)"
        case .invalidCharacter(let offset):
            return "XML: invalid character at byte \(offset)"
        case .invalidUTF8(let offset):
            return "XML: invalid UTF-8 at byte \(offset)"
        case .invalidEntity(let offset):
            return "XML: invalid entity or character reference at byte \(offset)"
        case .duplicateAttribute(let name, let offset):
            return "XML: duplicate attribute \(name) at byte \(offset)"
        case .noRootElement(let offset):
            return "XML: no root element (document ends at byte \(offset))"
        case .contentAfterRoot(let offset):
            return "XML: content after the root element at byte \(offset)"
        case .tooDeep(let limit, let offset):
            return "XML: elements nested deeper than \(limit) at byte \(offset)"
        case .unsupported(let what, let offset):
            return "XML: unsupported \(what) at byte \(offset)"
        }
    }
}

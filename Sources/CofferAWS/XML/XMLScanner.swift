/// The byte-level parser behind `XMLTree.parse(_:)`: one forward pass over a UTF-8 buffer that was validated
/// first, an explicit element stack (no recursion), every read bounds-checked against `end`.
///
/// It only lives for the duration of `withUnsafeBufferPointer` in `XMLTree.parse(_:)`.
struct XMLScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let end: Int
    private var index = 0

    /// An element whose end tag has not been seen yet.
    private struct Frame {
        /// Where the qualified name sits in the input, to match the end tag byte for byte.
        var qualifiedName: Range<Int>
        var name: String
        var attributes: [String: String]
        var children: [XMLTree] = []
        /// The text while it is a single run of the input (the common case: no copy until the end).
        var textSlice: Range<Int>?
        /// The text once it has been assembled from several pieces.
        var textBytes: [UInt8] = []
        var textIsAssembled = false
    }

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.end = bytes.count
    }

    // MARK: - Byte classes

    private static let lt = UInt8(ascii: "<"), gt = UInt8(ascii: ">"), amp = UInt8(ascii: "&")
    private static let slash = UInt8(ascii: "/"), question = UInt8(ascii: "?"), bang = UInt8(ascii: "!")
    private static let semicolon = UInt8(ascii: ";"), equals = UInt8(ascii: "="), colon = UInt8(ascii: ":")
    private static let rightBracket = UInt8(ascii: "]"), dash = UInt8(ascii: "-")

    @inline(__always)
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D
    }

    @inline(__always)
    private static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_") || byte == colon || byte >= 0x80
    }

    @inline(__always)
    private static func isNameChar(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == dash
            || byte == UInt8(ascii: ".")
    }

    // MARK: - Document

    mutating func parseDocument() throws(XMLError) -> XMLTree {
        try validateUTF8()
        if hasPrefix([0xEF, 0xBB, 0xBF]) { index = 3 }
        if hasPrefix(Array("<?xml".utf8)), index + 5 < end, XMLScanner.isSpace(bytes[index + 5]) {
            try skipProcessingInstruction(allowDeclaration: true)
        }
        // Prolog: whitespace, comments and processing instructions before the root.
        while true {
            skipSpaces()
            guard index < end else { throw .noRootElement(offset: index) }
            guard bytes[index] == XMLScanner.lt else { throw .invalidCharacter(offset: index) }
            guard index + 1 < end else { throw .unexpectedEnd(offset: end) }
            let next = bytes[index + 1]
            if next == XMLScanner.bang {
                if hasPrefix(Array("<!--".utf8)) {
                    try skipComment()
                } else if hasPrefix(Array("<!DOCTYPE".utf8)) {
                    throw .unsupported("DOCTYPE", offset: index)
                } else if end - index < 4 {
                    throw .unexpectedEnd(offset: end)
                } else {
                    throw .invalidCharacter(offset: index + 1)
                }
            } else if next == XMLScanner.question {
                try skipProcessingInstruction(allowDeclaration: false)
            } else {
                break
            }
        }
        let root = try parseElementTree()
        // Epilog: only whitespace, comments and processing instructions.
        while true {
            skipSpaces()
            guard index < end else { return root }
            guard bytes[index] == XMLScanner.lt, index + 1 < end else { throw .contentAfterRoot(offset: index) }
            if hasPrefix(Array("<!--".utf8)) {
                try skipComment()
            } else if bytes[index + 1] == XMLScanner.question {
                try skipProcessingInstruction(allowDeclaration: false)
            } else {
                throw .contentAfterRoot(offset: index)
            }
        }
    }

    // MARK: - Elements

    /// Parses the element starting at `index` (a `<` followed by a name) and everything inside it.
    private mutating func parseElementTree() throws(XMLError) -> XMLTree {
        var stack: [Frame] = []
        if let node = try parseStartTag(into: &stack, depth: 1) { return node }
        while true {
            guard index < end else { throw .unexpectedEnd(offset: end) }
            let byte = bytes[index]
            if byte == XMLScanner.lt {
                guard index + 1 < end else { throw .unexpectedEnd(offset: end) }
                let next = bytes[index + 1]
                if next == XMLScanner.slash {
                    let node = try parseEndTag(stack.removeLast())
                    if stack.isEmpty { return node }
                    stack[stack.count - 1].children.append(node)
                } else if next == XMLScanner.bang {
                    if hasPrefix(Array("<!--".utf8)) {
                        try skipComment()
                    } else if hasPrefix(Array("<![CDATA[".utf8)) {
                        let start = index + 9
                        guard let close = find([XMLScanner.rightBracket, XMLScanner.rightBracket, XMLScanner.gt],
                                               from: start) else { throw .unexpectedEnd(offset: end) }
                        appendText(start..<close, to: &stack[stack.count - 1])
                        index = close + 3
                    } else if end - index < 9
                                && Array("<![CDATA[".utf8).starts(with: bytes[index..<end])
                                || end - index < 4 && Array("<!--".utf8).starts(with: bytes[index..<end]) {
                        throw .unexpectedEnd(offset: end)
                    } else {
                        throw .invalidCharacter(offset: index + 1)
                    }
                } else if next == XMLScanner.question {
                    try skipProcessingInstruction(allowDeclaration: false)
                } else {
                    if let node = try parseStartTag(into: &stack, depth: stack.count + 1) {
                        stack[stack.count - 1].children.append(node)
                    }
                }
            } else if byte == XMLScanner.amp {
                var decoded: [UInt8] = []
                try parseReference(into: &decoded)
                appendText(decoded, to: &stack[stack.count - 1])
            } else {
                let start = index
                while index < end {
                    let c = bytes[index]
                    if c == XMLScanner.lt || c == XMLScanner.amp { break }
                    if c == XMLScanner.gt, index - start >= 2, bytes[index - 1] == XMLScanner.rightBracket,
                       bytes[index - 2] == XMLScanner.rightBracket {
                        throw .invalidCharacter(offset: index - 2)   // "]]>" is not allowed in text
                    }
                    index += 1
                }
                appendText(start..<index, to: &stack[stack.count - 1])
            }
        }
    }

    /// Parses a start tag at `index`. Returns the finished node for `<a/>`, or pushes a frame and returns nil.
    private mutating func parseStartTag(into stack: inout [Frame], depth: Int) throws(XMLError) -> XMLTree? {
        let tagStart = index
        if depth > XMLTree.maximumDepth { throw .tooDeep(limit: XMLTree.maximumDepth, offset: tagStart) }
        index += 1   // "<"
        let qualifiedName = try parseName()
        let name = try localName(qualifiedName)
        var attributes: [String: String] = [:]
        var seen: [Range<Int>] = []
        while true {
            let hadSpace = skipSpaces()
            guard index < end else { throw .unexpectedEnd(offset: end) }
            let byte = bytes[index]
            if byte == XMLScanner.gt {
                index += 1
                stack.append(Frame(qualifiedName: qualifiedName, name: name, attributes: attributes))
                return nil
            }
            if byte == XMLScanner.slash {
                index += 1
                guard index < end else { throw .unexpectedEnd(offset: end) }
                guard bytes[index] == XMLScanner.gt else { throw .invalidCharacter(offset: index) }
                index += 1
                return XMLTree(name: name, attributes: attributes)
            }
            guard hadSpace else { throw .invalidCharacter(offset: index) }
            let attributeStart = index
            let attributeName = try parseName()
            skipSpaces()
            guard index < end else { throw .unexpectedEnd(offset: end) }
            guard bytes[index] == XMLScanner.equals else { throw .invalidCharacter(offset: index) }
            index += 1
            skipSpaces()
            guard index < end else { throw .unexpectedEnd(offset: end) }
            let quote = bytes[index]
            guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
                throw .invalidCharacter(offset: index)
            }
            index += 1
            var value: [UInt8] = []
            while true {
                guard index < end else { throw .unexpectedEnd(offset: end) }
                let c = bytes[index]
                if c == quote {
                    index += 1
                    break
                } else if c == XMLScanner.lt {
                    throw .invalidCharacter(offset: index)
                } else if c == XMLScanner.amp {
                    try parseReference(into: &value)
                } else {
                    value.append(c)
                    index += 1
                }
            }
            if seen.contains(where: { bytes[$0].elementsEqual(bytes[attributeName]) }) {
                throw .duplicateAttribute(name: string(attributeName), offset: attributeStart)
            }
            seen.append(attributeName)
            let qualified = string(attributeName)
            if qualified == "xmlns" || qualified.hasPrefix("xmlns:") { continue }
            let local = try localName(attributeName)
            if attributes[local] == nil {
                attributes[local] = String(decoding: value, as: UTF8.self)
            }
        }
    }

    /// Parses the end tag at `index` (`</name>`), which must close `frame`, and returns the finished node.
    private mutating func parseEndTag(_ frame: Frame) throws(XMLError) -> XMLTree {
        let tagStart = index
        index += 2   // "</"
        let found = try parseName()
        skipSpaces()
        guard index < end else { throw .unexpectedEnd(offset: end) }
        guard bytes[index] == XMLScanner.gt else { throw .invalidCharacter(offset: index) }
        guard bytes[found].elementsEqual(bytes[frame.qualifiedName]) else {
            throw .mismatchedTag(expected: string(frame.qualifiedName), found: string(found), offset: tagStart)
        }
        index += 1
        let text: String
        if frame.textIsAssembled {
            text = String(decoding: frame.textBytes, as: UTF8.self)
        } else if let slice = frame.textSlice {
            text = string(slice)
        } else {
            text = ""
        }
        return XMLTree(name: frame.name, attributes: frame.attributes, children: frame.children, text: text)
    }

    private func appendText(_ range: Range<Int>, to frame: inout Frame) {
        if range.isEmpty { return }
        if !frame.textIsAssembled {
            guard let existing = frame.textSlice else {
                frame.textSlice = range
                return
            }
            frame.textBytes = Array(bytes[existing])
            frame.textIsAssembled = true
        }
        frame.textBytes.append(contentsOf: bytes[range])
    }

    private func appendText(_ decoded: [UInt8], to frame: inout Frame) {
        if !frame.textIsAssembled {
            if let existing = frame.textSlice { frame.textBytes = Array(bytes[existing]) }
            frame.textIsAssembled = true
        }
        frame.textBytes.append(contentsOf: decoded)
    }

    // MARK: - Names, references, skipping

    /// Reads a name at `index` and returns its range.
    private mutating func parseName() throws(XMLError) -> Range<Int> {
        let start = index
        guard index < end else { throw .unexpectedEnd(offset: end) }
        guard XMLScanner.isNameStart(bytes[index]) else { throw .invalidCharacter(offset: index) }
        index += 1
        while index < end, XMLScanner.isNameChar(bytes[index]) { index += 1 }
        return start..<index
    }

    /// The part of a qualified name after its prefix; an empty local name (`a:`) is an error.
    private func localName(_ range: Range<Int>) throws(XMLError) -> String {
        guard let colon = bytes[range].lastIndex(of: XMLScanner.colon) else { return string(range) }
        guard colon + 1 < range.upperBound else { throw .invalidCharacter(offset: colon) }
        return string(colon + 1..<range.upperBound)
    }

    /// Decodes the entity or character reference at `index` (`&...;`) and appends its UTF-8 bytes.
    private mutating func parseReference(into out: inout [UInt8]) throws(XMLError) {
        let start = index
        index += 1   // "&"
        guard index < end else { throw .unexpectedEnd(offset: end) }
        if bytes[index] == UInt8(ascii: "#") {
            index += 1
            var hex = false
            if index < end, bytes[index] == UInt8(ascii: "x") {
                hex = true
                index += 1
            }
            var value: UInt32 = 0
            var digits = 0
            while true {
                guard index < end else { throw .unexpectedEnd(offset: end) }
                let c = bytes[index]
                let digit: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f") where hex: digit = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F") where hex: digit = UInt32(c - UInt8(ascii: "A") + 10)
                case XMLScanner.semicolon where digits > 0:
                    index += 1
                    guard XMLScanner.isXMLChar(value), let scalar = Unicode.Scalar(value) else {
                        throw .invalidEntity(offset: start)
                    }
                    UTF8.encode(scalar) { out.append($0) }
                    return
                default:
                    throw .invalidEntity(offset: start)
                }
                value = value * (hex ? 16 : 10) + digit
                digits += 1
                index += 1
                if value > 0x10FFFF { throw .invalidEntity(offset: start) }
            }
        }
        let nameStart = index
        while index < end, bytes[index] != XMLScanner.semicolon {
            guard index - nameStart < 4, XMLScanner.isNameChar(bytes[index]) else { throw .invalidEntity(offset: start) }
            index += 1
        }
        guard index < end else { throw .unexpectedEnd(offset: end) }
        let name = bytes[nameStart..<index]
        index += 1   // ";"
        let replacement: UInt8
        if name.elementsEqual("lt".utf8) {
            replacement = XMLScanner.lt
        } else if name.elementsEqual("gt".utf8) {
            replacement = XMLScanner.gt
        } else if name.elementsEqual("amp".utf8) {
            replacement = XMLScanner.amp
        } else if name.elementsEqual("quot".utf8) {
            replacement = UInt8(ascii: "\"")
        } else if name.elementsEqual("apos".utf8) {
            replacement = UInt8(ascii: "'")
        } else {
            throw .invalidEntity(offset: start)
        }
        out.append(replacement)
    }

    /// XML 1.0 `Char`: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF.
    private static func isXMLChar(_ value: UInt32) -> Bool {
        switch value {
        case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    /// Skips `<!-- ... -->` at `index`; `--` inside a comment is an error, as XML requires.
    private mutating func skipComment() throws(XMLError) {
        guard let dashes = find([XMLScanner.dash, XMLScanner.dash], from: index + 4) else {
            throw .unexpectedEnd(offset: end)
        }
        guard dashes + 2 < end else { throw .unexpectedEnd(offset: end) }
        guard bytes[dashes + 2] == XMLScanner.gt else { throw .invalidCharacter(offset: dashes) }
        index = dashes + 3
    }

    /// Skips `<?target ... ?>` at `index`. The target `xml` (any case) is only allowed as the declaration.
    private mutating func skipProcessingInstruction(allowDeclaration: Bool) throws(XMLError) {
        let start = index
        index += 2   // "<?"
        let target = try parseName()
        if !allowDeclaration, target.count == 3, bytes[target].map({ $0 | 0x20 }).elementsEqual("xml".utf8) {
            throw .invalidCharacter(offset: start)
        }
        guard let close = find([XMLScanner.question, XMLScanner.gt], from: index) else {
            throw .unexpectedEnd(offset: end)
        }
        if close > index, !XMLScanner.isSpace(bytes[index]) { throw .invalidCharacter(offset: index) }
        index = close + 2
    }

    @discardableResult
    private mutating func skipSpaces() -> Bool {
        let start = index
        while index < end, XMLScanner.isSpace(bytes[index]) { index += 1 }
        return index > start
    }

    private func hasPrefix(_ prefix: [UInt8]) -> Bool {
        end - index >= prefix.count && bytes[index..<index + prefix.count].elementsEqual(prefix)
    }

    /// The offset of the first occurrence of `needle` at or after `from`, or nil.
    private func find(_ needle: [UInt8], from: Int) -> Int? {
        let first = needle[0]
        var i = from
        while i + needle.count <= end {
            if bytes[i] == first, bytes[i..<i + needle.count].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    private func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    // MARK: - UTF-8

    /// Checks the whole input: well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF), no
    /// U+FFFE/U+FFFF, and no C0 control characters other than tab, LF and CR.
    private func validateUTF8() throws(XMLError) {
        var i = 0
        while i < end {
            let b0 = bytes[i]
            if b0 < 0x80 {
                if b0 < 0x20 && b0 != 0x09 && b0 != 0x0A && b0 != 0x0D { throw .invalidCharacter(offset: i) }
                i += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: throw .invalidUTF8(offset: i)
            }
            guard i + length <= end else { throw .invalidUTF8(offset: i) }
            let b1 = bytes[i + 1]
            guard b1 >= low && b1 <= high else { throw .invalidUTF8(offset: i) }
            for k in 2..<max(2, length) where bytes[i + k] & 0xC0 != 0x80 { throw .invalidUTF8(offset: i) }
            // U+FFFE and U+FFFF are not XML characters.
            if b0 == 0xEF, b1 == 0xBF, bytes[i + 2] >= 0xBE { throw .invalidUTF8(offset: i) }
            i += length
        }
    }
}

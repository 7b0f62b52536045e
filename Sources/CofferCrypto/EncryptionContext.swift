/// The AWS Encryption SDK's encryption context: non-secret key/value pairs bound to a message.
///
/// The context is stored in plaintext in every header and authenticated three ways: by the header tag, as the
/// additional data of raw AES key wrapping, and by AWS KMS. Never put secrets in it.
///
/// Its serialization (`serialized`) is the SDK's: `u16 count`, then for each pair sorted by the UTF-8 bytes of the
/// key: `u16 key length, key, u16 value length, value`; an empty context serializes to no bytes at all.
public struct EncryptionContext: Sendable, Hashable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The pairs.
    public let pairs: [String: String]

    /// A context with `pairs`.
    ///
    /// - Precondition: every key and value is at most 65 535 UTF-8 bytes and there are at most 65 535 pairs (the
    ///   format's limits; the whole serialization must also fit in 65 535 bytes to be written).
    public init(_ pairs: [String: String]) {
        precondition(pairs.count <= Int(UInt16.max), "an encryption context holds at most 65535 pairs")
        for (key, value) in pairs {
            precondition(key.utf8.count <= Int(UInt16.max) && value.utf8.count <= Int(UInt16.max),
                         "encryption context keys and values are at most 65535 UTF-8 bytes")
        }
        self.pairs = pairs
    }

    /// A context with the given pairs.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// Whether there are no pairs.
    public var isEmpty: Bool { pairs.isEmpty }

    /// The value for `key`, if any.
    public subscript(key: String) -> String? { pairs[key] }

    /// The pairs sorted by the UTF-8 bytes of their keys, the order of the serialization.
    public var sortedPairs: [(key: String, value: String)] {
        pairs.map { ($0.key, $0.value) }.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    /// The SDK's serialization (empty for an empty context): the header's AAD field and the raw AES wrap's AAD.
    public var serialized: [UInt8] {
        guard !pairs.isEmpty else { return [] }
        var out = ByteWriter()
        out.append(UInt16(pairs.count))
        for (key, value) in sortedPairs {
            out.appendLengthPrefixed(Array(key.utf8))
            out.appendLengthPrefixed(Array(value.utf8))
        }
        return out.bytes
    }

    /// Parses a serialized context (the bytes of the header's AAD field, without its length).
    ///
    /// Pairs may come in any order (the header tag covers the exact bytes); duplicate keys, keys or values that are
    /// not UTF-8, and trailing bytes are refused.
    public init(serialized bytes: [UInt8]) throws(EncryptionError) {
        guard !bytes.isEmpty else {
            self.pairs = [:]
            return
        }
        let rawPairs: [(key: [UInt8], value: [UInt8])]
        do {
            rawPairs = try Self.readPairs(bytes)
        } catch {
            throw .malformedHeader("the encryption context field is not a valid serialization (cut pair, count 0 or trailing bytes)")
        }
        var pairs: [String: String] = [:]
        for (key, value) in rawPairs {
            guard let keyString = String(validating: key, as: UTF8.self),
                  let valueString = String(validating: value, as: UTF8.self) else {
                throw .malformedHeader("an encryption context key or value is not valid UTF-8")
            }
            guard pairs.updateValue(valueString, forKey: keyString) == nil else {
                throw .malformedHeader("the encryption context has the key \"\(keyString)\" twice")
            }
        }
        self.pairs = pairs
    }

    private static func readPairs(_ bytes: [UInt8]) throws(ByteReader.OutOfBytes) -> [(key: [UInt8], value: [UInt8])] {
        var reader = ByteReader(bytes)
        let count = Int(try reader.readUInt16())
        var pairs: [(key: [UInt8], value: [UInt8])] = []
        for _ in 0..<count {
            let key = try reader.readLengthPrefixed()
            pairs.append((key, try reader.readLengthPrefixed()))
        }
        // A count of 0 in a non-empty field, or bytes after the last pair, are as malformed as a cut pair.
        guard count > 0, reader.isAtEnd else { throw ByteReader.OutOfBytes(neededLength: bytes.count + 1) }
        return pairs
    }

    /// Throws `.encryptionContextMismatch` unless every pair of `required` is present here with the same value.
    ///
    /// This is how a reader insists on its configured pairs (like `aws-encryption-cli --encryption-context`).
    public func verify(contains required: EncryptionContext) throws(EncryptionError) {
        for (key, value) in required.sortedPairs where pairs[key] != value {
            throw .encryptionContextMismatch(key: key, expected: value, found: pairs[key])
        }
    }

    /// The pairs as `{"k": "v", ...}` in serialization order.
    public var description: String {
        "{" + sortedPairs.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ") + "}"
    }
}

/// Standard base64 (RFC 4648 §4, with padding), as the KMS JSON API uses for binary fields.
///
/// It works on raw buffers so that key material can be encoded from and decoded into `SecretBytes` without passing
/// through a `String` or `Data` that could not be wiped.
enum KMSBase64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let pad = UInt8(ascii: "=")

    /// The value of each alphabet character; 0xFF for bytes outside the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()

    /// The number of characters the encoding of `count` bytes takes.
    static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Appends the encoding of `bytes` to `output`.
    static func encode(_ bytes: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        output.reserveCapacity(output.count + encodedCount(bytes.count))
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(alphabet[Int(chunk >> 6 & 63)])
            output.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(rest == 2 ? alphabet[Int(chunk >> 6 & 63)] : pad)
            output.append(pad)
        }
    }

    /// The encoding of `bytes` as a string (for values that are not secret).
    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        bytes.withUnsafeBytes { encode($0, appendingTo: &output) }
        return String(decoding: output, as: UTF8.self)
    }

    /// The number of bytes `text` decodes to, or nil when it is not well-formed base64 (a length that is not a
    /// multiple of four once padded, or more than two `=`). Characters are checked by `decode`.
    static func decodedCount(_ text: some BidirectionalCollection<UInt8>) -> Int? {
        var padding = 0
        for character in text.reversed() {
            guard character == pad else { break }
            padding += 1
        }
        let total = text.count
        guard padding <= 2 else { return nil }
        let significant = total - padding
        if padding > 0 {
            guard total % 4 == 0 else { return nil }
        }
        switch significant % 4 {
        case 0: return significant / 4 * 3
        case 2: return significant / 4 * 3 + 1
        case 3: return significant / 4 * 3 + 2
        default: return nil
        }
    }

    /// Decodes `text` into `output`, which must be exactly `decodedCount(text)` bytes. Returns false (leaving
    /// `output` partly written) when a character is outside the alphabet or padding is misplaced.
    static func decode(_ text: some BidirectionalCollection<UInt8>, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard let count = decodedCount(text), count == output.count else { return false }
        var accumulator: UInt32 = 0
        var bits = 0
        var written = 0
        for character in text {
            if written == count {
                // Only padding may follow the last byte.
                guard character == pad else { return false }
                continue
            }
            let value = values[Int(character)]
            guard value != 0xFF else { return false }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output[written] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                written += 1
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return written == count
    }

    /// Decodes `text` (not secret) into an array; nil when it is not valid base64.
    static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard let count = decodedCount(utf8) else { return nil }
        var output = [UInt8](repeating: 0, count: count)
        let ok = output.withUnsafeMutableBytes { decode(utf8, into: $0) }
        return ok ? output : nil
    }
}

/// Reads big-endian fields from a byte collection, front to back.
struct ByteReader {
    /// The input ended before a field: `neededLength` bytes (counted from the start of the input) would hold it.
    struct OutOfBytes: Error {
        var neededLength: Int
    }

    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func read(_ count: Int) throws(OutOfBytes) -> ArraySlice<UInt8> {
        guard count <= remaining else { throw OutOfBytes(neededLength: offset + count) }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func readUInt8() throws(OutOfBytes) -> UInt8 { try read(1).first! }

    mutating func readUInt16() throws(OutOfBytes) -> UInt16 {
        try read(2).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func readUInt32() throws(OutOfBytes) -> UInt32 {
        try read(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// A `u16` length followed by that many bytes.
    mutating func readLengthPrefixed() throws(OutOfBytes) -> [UInt8] {
        let length = Int(try readUInt16())
        return Array(try read(length))
    }
}

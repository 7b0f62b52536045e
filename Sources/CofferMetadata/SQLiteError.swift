/// A failed SQLite call: what was being done, SQLite's result code and its message.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// SQLite's (extended) result code.
    public var code: Int32
    /// What failed, with SQLite's message.
    public var message: String

    /// An error from its parts.
    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) (SQLite code \(code))" }

    /// True when the file is not a usable database: damaged, or not SQLite at all.
    public var isCorruption: Bool {
        let primary = code & 0xff
        return primary == 11 /* SQLITE_CORRUPT */ || primary == 26 /* SQLITE_NOTADB */
    }
}

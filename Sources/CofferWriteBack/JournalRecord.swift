import Foundation

/// What an upload may replace in the store: the condition it is sent with, so that a write never silently
/// replaces a version this mount has not seen.
public enum ExpectedObject: Sendable, Equatable, Codable {
    /// No object has the key (`If-None-Match: *`).
    case absent
    /// The object with this ETag (`If-Match`).
    case version(etag: String)
}

/// One pending upload, as the journal keeps it: everything needed to upload the file after a crash.
public struct JournalRecord: Sendable, Equatable, Codable {
    /// The format of records this version writes and reads; records of other formats are set aside, not read.
    public static let currentFormat = 1

    public var format: Int
    /// The record's name in the journal, stable for the life of the pending file.
    public var id: String
    /// The mount that wrote it (bucket and prefix): a mount replays only its own records.
    public var mount: String
    /// The object key to upload to (the file's latest name). A key ending in "/" is a directory's marker: a
    /// zero-byte object with no staging file.
    public var key: String
    /// What the upload may replace.
    public var expected: ExpectedObject
    /// The staging file holding the data; empty for a directory marker.
    public var stagingPath: String
    /// Which bytes of the staging file are the file's (see `StagedFileState`).
    public var file: StagedFileState
    /// The user metadata to store (mode, owner, times, xattrs).
    public var metadata: [String: String]
    /// The Content-Type to store.
    public var contentType: String?
    /// When the record was written.
    public var recordedAt: Date

    /// True when the record is a directory's marker (its key ends in "/").
    public var isDirectoryMarker: Bool { key.hasSuffix("/") }

    /// A record from its parts.
    public init(id: String, mount: String, key: String, expected: ExpectedObject, stagingPath: String,
                file: StagedFileState, metadata: [String: String], contentType: String?, recordedAt: Date = Date()) {
        self.format = Self.currentFormat
        self.id = id
        self.mount = mount
        self.key = key
        self.expected = expected
        self.stagingPath = stagingPath
        self.file = file
        self.metadata = metadata
        self.contentType = contentType
        self.recordedAt = recordedAt
    }
}

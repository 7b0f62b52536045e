import CofferObjectStore
import Foundation

/// What S3 said about objects (HEAD answers, and what this mount's own uploads and copies stored), kept so that a
/// listing needs no HEAD for an object it shows unchanged.
///
/// An object's metadata can change only by writing the object again, which gives it a new Last-Modified (and
/// usually a new ETag), so an entry is used for as long as a listing shows the same key, ETag, size and
/// Last-Modified: no TTL. Two implementations: `ObjectMetadataCache` on disk (SQLite, across remounts) and
/// `InMemoryObjectMetadataCache` (for the life of one mount, when no database can be used).
public protocol ObjectMetadataStore: Sendable {
    /// The metadata of each listed object an entry matches, by key.
    func info(matching summaries: [ObjectSummary]) -> [String: ObjectInfo]
    /// True when an entry for `key` is kept (whatever version it describes).
    func contains(_ key: String) -> Bool
    /// The stored size (what listings show) of version `etag` of `key`, when an entry describes that version.
    func storedSize(of key: String, etag: String) -> UInt64?
    /// Keeps a HEAD answer.
    func remember(_ info: ObjectInfo)
    /// Keeps what this mount wrote with an upload or copy that ran from `start` to `end` (this host's clock); the
    /// answer carried no Last-Modified (`ObjectMetadataCache.rememberWrite` explains the window).
    func rememberWrite(of info: ObjectInfo, startedAt start: Date, endedAt end: Date)
    /// Drops the entry of `key`.
    func forget(_ key: String)
    /// Entries kept now.
    var count: Int { get }
}

extension ObjectMetadataStore {
    /// The object's metadata when an entry matches what a listing shows of it.
    public func info(matching summary: ObjectSummary) -> ObjectInfo? {
        info(matching: [summary])[summary.key]
    }
}

/// One kept answer about an object, and how it is checked against a listing: the same ETag and stored size, and the
/// same Last-Modified in whole seconds (HEAD gives seconds, LIST milliseconds) — or, for a write of this mount whose
/// Last-Modified S3 did not answer, a listed one within the request's time window, widened by `clockAllowance`.
struct MetadataEntry: Sendable, Equatable {
    /// How far this host's clock may be from S3's for an entry written by an upload to match a listing.
    static let clockAllowance: Int64 = 2

    var etag: String
    /// The stored size, as listings show it.
    var size: UInt64
    /// The size the file shows when it differs (the plaintext of an encrypted object).
    var visibleSize: UInt64?
    var lastModified: Int64?
    var writtenAfter: Int64?
    var writtenBefore: Int64?
    var contentType: String?
    var metadata: [String: String]

    /// What checking a listing against an entry says.
    enum Match: Equatable {
        /// Not this version.
        case different
        /// This version, with its exact Last-Modified.
        case exact
        /// This version, written by this mount: its Last-Modified is now known (`seconds`) and is kept.
        case pinned(seconds: Int64)
    }

    /// The entry of a HEAD answer (`window` nil) or of a write of this mount (`window` its time, no Last-Modified).
    init(_ info: ObjectInfo, window: (Int64, Int64)?) {
        etag = info.etag
        size = info.storedSize ?? info.size
        visibleSize = info.storedSize == nil ? nil : info.size
        lastModified = window == nil ? Self.seconds(info.lastModified) : nil
        writtenAfter = window?.0
        writtenBefore = window?.1
        contentType = info.contentType
        metadata = info.metadata
    }

    init(etag: String, size: UInt64, visibleSize: UInt64?, lastModified: Int64?, writtenAfter: Int64?,
         writtenBefore: Int64?, contentType: String?, metadata: [String: String]) {
        self.etag = etag
        self.size = size
        self.visibleSize = visibleSize
        self.lastModified = lastModified
        self.writtenAfter = writtenAfter
        self.writtenBefore = writtenBefore
        self.contentType = contentType
        self.metadata = metadata
    }

    func match(_ summary: ObjectSummary) -> Match {
        guard etag == summary.etag, size == summary.size else { return .different }
        let listed = Self.seconds(summary.lastModified)
        if let lastModified { return lastModified == listed ? .exact : .different }
        guard let after = writtenAfter, let before = writtenBefore,
              listed >= after - Self.clockAllowance, listed <= before + Self.clockAllowance else { return .different }
        return .pinned(seconds: listed)
    }

    /// The object's metadata as this entry describes it, for a listing that matched.
    func info(for summary: ObjectSummary) -> ObjectInfo {
        ObjectInfo(key: summary.key, size: visibleSize ?? size, etag: etag, lastModified: summary.lastModified,
                   contentType: contentType, metadata: metadata, storedSize: visibleSize == nil ? nil : size)
    }

    /// Whole seconds since the epoch, rounded down.
    static func seconds(_ date: Date) -> Int64 { Int64(floor(date.timeIntervalSince1970)) }
}

/// The bytes of one block: a slice of the buffer of the GET that fetched it (a GET of many blocks is not copied
/// into one array per block).
typealias BlockBytes = ArraySlice<UInt8>

/// One block of one version of one object: the unit the cache stores.
///
/// The ETag is part of the key, so a block of an older version is never returned for a newer one: a rewritten
/// object has a new ETag and therefore all-new keys.
struct BlockKey: Hashable, Sendable {
    /// The object's key.
    var key: String
    /// The object's ETag, as the caller gave it.
    var etag: String
    /// The block's index: the block covers bytes `index * blockSize ..< (index + 1) * blockSize` of the object.
    var index: UInt64
}

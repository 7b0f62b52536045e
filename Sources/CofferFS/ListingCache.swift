/// Directory listings by directory path, bounded by the number of names they hold together: storing a listing past
/// the bound evicts the least recently stored ones until a tenth of the bound is free again. A listing is a cache
/// (what S3 showed, trusted until `CachedListing.validUntil`), so evicting one costs at most a LIST later.
struct ListingCache {
    private struct Slot {
        var listing: CachedListing
        var sequence: UInt64
    }

    /// The most names all listings hold together.
    let capacity: Int
    private var slots: [String: Slot] = [:]
    private var nextSequence: UInt64 = 0
    /// Names held by all listings.
    private(set) var nameCount = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Listings held.
    var count: Int { slots.count }

    /// The listing of the directory at `path`. Setting one (or changing it in place) makes it the most recent.
    subscript(path: String) -> CachedListing? {
        get { slots[path]?.listing }
        _modify {
            var listing = slots.removeValue(forKey: path)?.listing
            nameCount -= listing?.children.count ?? 0
            defer { store(listing, at: path) }
            yield &listing
        }
    }

    /// Forgets the listing of `path`.
    @discardableResult
    mutating func removeValue(forKey path: String) -> CachedListing? {
        guard let slot = slots.removeValue(forKey: path) else { return nil }
        nameCount -= slot.listing.children.count
        return slot.listing
    }

    /// Forgets every listing whose path satisfies `predicate`.
    mutating func removeAll(where predicate: (String) -> Bool) {
        for path in slots.keys where predicate(path) { removeValue(forKey: path) }
    }

    private mutating func store(_ listing: CachedListing?, at path: String) {
        guard let listing else { return }
        nextSequence += 1
        slots[path] = Slot(listing: listing, sequence: nextSequence)
        nameCount += listing.children.count
        guard nameCount > capacity else { return }
        // Oldest first, down to 90 % of the bound: one sort per eviction batch, not per store.
        let target = capacity - capacity / 10
        for (oldPath, _) in slots.sorted(by: { $0.value.sequence < $1.value.sequence }) where nameCount > target {
            guard oldPath != path || slots.count == 1 else { continue }
            removeValue(forKey: oldPath)
        }
    }
}

/// Cached blocks in least-recently-used order, with their total size in bytes.
///
/// A doubly linked list threaded through an array of nodes (freed nodes are reused), indexed by block and by object,
/// so that every operation but `removeBlocks(of:where:)` is O(1). Not thread-safe: `BlockCache` keeps it behind its
/// lock.
struct BlockLRU {
    private struct Node {
        var key: BlockKey
        var bytes: BlockBytes
        /// The node used just before this one, or -1.
        var older: Int
        /// The node used just after this one, or -1.
        var newer: Int
    }

    private var nodes: [Node] = []
    private var freeSlots: [Int] = []
    private var slots: [BlockKey: Int] = [:]
    private var slotsByObject: [String: Set<Int>] = [:]
    private var newest = -1
    private var oldest = -1

    /// The bytes of all blocks together.
    private(set) var totalBytes = 0

    /// The number of blocks.
    var count: Int { slots.count }

    /// True when the block is cached; does not count as a use.
    func contains(_ key: BlockKey) -> Bool {
        slots[key] != nil
    }

    /// The block's bytes, marking it as the most recently used; nil when it is not cached.
    mutating func use(_ key: BlockKey) -> BlockBytes? {
        guard let slot = slots[key] else { return nil }
        moveToNewest(slot)
        return nodes[slot].bytes
    }

    /// Stores a block as the most recently used, replacing any block with the same key.
    mutating func insert(_ bytes: BlockBytes, for key: BlockKey) {
        if let slot = slots[key] {
            totalBytes += bytes.count - nodes[slot].bytes.count
            nodes[slot].bytes = bytes
            moveToNewest(slot)
            return
        }
        let node = Node(key: key, bytes: bytes, older: newest, newer: -1)
        let slot: Int
        if let free = freeSlots.popLast() {
            nodes[free] = node
            slot = free
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if newest >= 0 { nodes[newest].newer = slot } else { oldest = slot }
        newest = slot
        slots[key] = slot
        slotsByObject[key.key, default: []].insert(slot)
        totalBytes += bytes.count
    }

    /// Drops one block, if it is cached.
    mutating func remove(_ key: BlockKey) {
        guard let slot = slots[key] else { return }
        removeSlot(slot)
    }

    /// Drops the least recently used blocks until at most `capacity` bytes remain. Returns how many were dropped.
    @discardableResult
    mutating func evict(downTo capacity: Int) -> Int {
        var evicted = 0
        while totalBytes > capacity, oldest >= 0 {
            removeSlot(oldest)
            evicted += 1
        }
        return evicted
    }

    /// Drops the blocks of `object` for which `shouldRemove` is true (all of them by default). Returns how many.
    @discardableResult
    mutating func removeBlocks(of object: String, where shouldRemove: (BlockKey) -> Bool = { _ in true }) -> Int {
        guard let objectSlots = slotsByObject[object] else { return 0 }
        var removed = 0
        for slot in objectSlots where shouldRemove(nodes[slot].key) {
            removeSlot(slot)
            removed += 1
        }
        return removed
    }

    /// The keys from the most to the least recently used (for tests).
    var keysByRecency: [BlockKey] {
        var keys: [BlockKey] = []
        var slot = newest
        while slot >= 0 {
            keys.append(nodes[slot].key)
            slot = nodes[slot].older
        }
        return keys
    }

    private mutating func unlink(_ slot: Int) {
        let (older, newer) = (nodes[slot].older, nodes[slot].newer)
        if older >= 0 { nodes[older].newer = newer } else { oldest = newer }
        if newer >= 0 { nodes[newer].older = older } else { newest = older }
    }

    private mutating func moveToNewest(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        // `newest` is another node, still in the list.
        nodes[slot].older = newest
        nodes[slot].newer = -1
        nodes[newest].newer = slot
        newest = slot
    }

    private mutating func removeSlot(_ slot: Int) {
        unlink(slot)
        let key = nodes[slot].key
        totalBytes -= nodes[slot].bytes.count
        nodes[slot].bytes = []
        nodes[slot].older = -1
        nodes[slot].newer = -1
        slots[key] = nil
        slotsByObject[key.key]?.remove(slot)
        if slotsByObject[key.key]?.isEmpty == true { slotsByObject[key.key] = nil }
        freeSlots.append(slot)
    }
}

import Testing

@testable import CofferCache

@Suite("BlockLRU")
struct BlockLRUTests {
    func key(_ object: String, _ index: UInt64, etag: String = "e") -> BlockKey {
        BlockKey(key: object, etag: etag, index: index)
    }

    @Test func keepsBlocksInOrderOfUseAndCountsTheirBytes() {
        var lru = BlockLRU()
        lru.insert([1, 2, 3], for: key("a", 0))
        lru.insert([4], for: key("a", 1))
        lru.insert([5, 6], for: key("b", 0))
        #expect(lru.totalBytes == 6)
        #expect(lru.keysByRecency == [key("b", 0), key("a", 1), key("a", 0)])

        #expect(lru.use(key("a", 0)) == [1, 2, 3])
        #expect(lru.keysByRecency == [key("a", 0), key("b", 0), key("a", 1)])
        #expect(lru.use(key("zz", 0)) == nil)

        lru.insert([7, 7, 7, 7], for: key("a", 1))
        #expect(lru.totalBytes == 9)
        #expect(lru.keysByRecency.first == key("a", 1))
    }

    @Test func evictsTheLeastRecentlyUsedFirst() {
        var lru = BlockLRU()
        for index in 0..<5 { lru.insert([0, 0], for: key("a", UInt64(index))) }
        _ = lru.use(key("a", 0))
        #expect(lru.evict(downTo: 6) == 2)
        #expect(lru.totalBytes == 6)
        #expect(lru.keysByRecency == [key("a", 0), key("a", 4), key("a", 3)])
        #expect(lru.evict(downTo: 0) == 3)
        #expect(lru.count == 0)
        #expect(lru.keysByRecency == [])
    }

    @Test func removesTheBlocksOfOneObjectAndReusesTheirSlots() {
        var lru = BlockLRU()
        lru.insert([1], for: key("a", 0, etag: "old"))
        lru.insert([2], for: key("a", 1, etag: "new"))
        lru.insert([3], for: key("b", 0))
        #expect(lru.removeBlocks(of: "a") { $0.etag == "old" } == 1)
        #expect(lru.keysByRecency == [key("b", 0), key("a", 1, etag: "new")])
        #expect(lru.removeBlocks(of: "a") == 1)
        #expect(lru.removeBlocks(of: "missing") == 0)
        #expect(lru.keysByRecency == [key("b", 0)])
        #expect(lru.totalBytes == 1)

        lru.insert([4], for: key("c", 0))
        lru.insert([5], for: key("c", 1))
        lru.remove(key("b", 0))
        #expect(lru.keysByRecency == [key("c", 1), key("c", 0)])
        #expect(lru.contains(key("c", 0)))
        #expect(!lru.contains(key("b", 0)))
        #expect(lru.totalBytes == 2)
    }
}

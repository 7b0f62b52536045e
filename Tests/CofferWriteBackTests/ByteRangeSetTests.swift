@testable import CofferWriteBack
import CofferTestSupport
import Testing

@Suite("ByteRangeSet")
struct ByteRangeSetTests {
    @Test func insertionMergesOverlappingAndAdjacentRanges() {
        var set = ByteRangeSet()
        set.insert(10..<20)
        set.insert(30..<40)
        #expect(set.ranges == [10..<20, 30..<40])
        set.insert(20..<25)  // adjacent to the first
        #expect(set.ranges == [10..<25, 30..<40])
        set.insert(5..<35)  // swallows both
        #expect(set.ranges == [5..<40])
        set.insert(0..<0)
        #expect(set.ranges == [5..<40])
        set.insert(50..<60)
        set.insert(0..<1)
        #expect(set.ranges == [0..<1, 5..<40, 50..<60])
        #expect(set.byteCount == 1 + 35 + 10)
    }

    @Test func insertionInAnyOrderGivesTheSameSet() {
        let a = ByteRangeSet([0..<5, 10..<15, 5..<10, 30..<31])
        let b = ByteRangeSet([30..<31, 0..<15])
        #expect(a == b)
        #expect(a.ranges == [0..<15, 30..<31])
    }

    @Test func removalSplitsAndTrims() {
        var set = ByteRangeSet([0..<100])
        set.remove(40..<60)
        #expect(set.ranges == [0..<40, 60..<100])
        set.remove(30..<70)
        #expect(set.ranges == [0..<30, 70..<100])
        set.remove(0..<10)
        #expect(set.ranges == [10..<30, 70..<100])
        set.remove(200..<300)
        #expect(set.ranges == [10..<30, 70..<100])
        set.removeAll(from: 80)
        #expect(set.ranges == [10..<30, 70..<80])
        set.removeAll(from: 0)
        #expect(set.isEmpty)
    }

    @Test func containsNeedsEveryByte() {
        let set = ByteRangeSet([10..<20, 30..<40])
        #expect(set.contains(10..<20))
        #expect(set.contains(12..<13))
        #expect(!set.contains(15..<25))
        #expect(!set.contains(10..<40))
        #expect(!set.contains(0..<5))
        #expect(set.contains(100..<100))
    }

    @Test func intersectsNeedsOneByte() {
        let set = ByteRangeSet([10..<20, 30..<40])
        #expect(set.intersects(19..<21))
        #expect(!set.intersects(20..<30))
        #expect(set.intersects(0..<100))
        #expect(!set.intersects(40..<41))
        #expect(!set.intersects(15..<15))
    }

    @Test func gapsAreTheComplementWithinARange() {
        let set = ByteRangeSet([10..<20, 30..<40])
        #expect(set.gaps(in: 0..<50) == [0..<10, 20..<30, 40..<50])
        #expect(set.gaps(in: 15..<35) == [20..<30])
        #expect(set.gaps(in: 12..<18) == [])
        #expect(set.gaps(in: 20..<30) == [20..<30])
        #expect(ByteRangeSet().gaps(in: 5..<9) == [5..<9])
        #expect(set.gaps(in: 7..<7) == [])
    }

    @Test func intersectionClipsToTheRange() {
        let set = ByteRangeSet([10..<20, 30..<40])
        #expect(set.intersection(15..<35).ranges == [15..<20, 30..<35])
        #expect(set.intersection(20..<30).isEmpty)
    }

    @Test func agreesWithABitmapModelOnRandomOperations() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<50 {
            var set = ByteRangeSet()
            var model = [Bool](repeating: false, count: 200)
            for _ in 0..<40 {
                let a = UInt64.random(in: 0...200, using: &generator)
                let b = UInt64.random(in: 0...200, using: &generator)
                let range = min(a, b)..<max(a, b)
                let inserting = Bool.random(using: &generator)
                if inserting { set.insert(range) } else { set.remove(range) }
                for i in range { model[Int(i)] = inserting }

                // The representation is canonical: sorted, non-empty, separated ranges.
                for (left, right) in zip(set.ranges, set.ranges.dropFirst()) {
                    #expect(left.upperBound < right.lowerBound)
                }
                #expect(set.ranges.allSatisfy { !$0.isEmpty })
                var modelRanges: [Range<UInt64>] = []
                for (i, on) in model.enumerated() where on {
                    if let last = modelRanges.last, last.upperBound == UInt64(i) {
                        modelRanges[modelRanges.count - 1] = last.lowerBound..<UInt64(i + 1)
                    } else {
                        modelRanges.append(UInt64(i)..<UInt64(i + 1))
                    }
                }
                #expect(set.ranges == modelRanges)

                let c = UInt64.random(in: 0...200, using: &generator)
                let d = UInt64.random(in: 0...200, using: &generator)
                let probe = min(c, d)..<max(c, d)
                let bits = model[Int(probe.lowerBound)..<Int(probe.upperBound)]
                #expect(set.contains(probe) == bits.allSatisfy { $0 })
                #expect(set.intersects(probe) == bits.contains(true))
                #expect(set.gaps(in: probe).reduce(0) { $0 + $1.count } == bits.filter { !$0 }.count)
            }
        }
    }
}

import CofferObjectStore
@testable import CofferWriteBack
import Testing

@Suite("MultipartPlan")
struct MultipartPlanTests {
    static let mib: UInt64 = 1 << 20

    func snapshot(size: UInt64, base: BaseObject? = nil, baseLimit: UInt64? = nil,
                  dirty: [Range<UInt64>] = []) -> StagedFile.Snapshot {
        StagedFile.Snapshot(size: size, base: base, baseLimit: baseLimit ?? base?.size ?? 0,
                            dirty: ByteRangeSet(dirty), generation: 0)
    }

    /// Checks that parts are numbered 1..., contiguous, cover the file, and all but the last have `partSize` bytes.
    func expectWellFormed(_ plan: MultipartPlan, size: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
        var offset: UInt64 = 0
        for (index, part) in plan.parts.enumerated() {
            #expect(part.number == index + 1, sourceLocation: sourceLocation)
            #expect(part.range.lowerBound == offset, sourceLocation: sourceLocation)
            let length = part.range.upperBound - part.range.lowerBound
            if index < plan.parts.count - 1 {
                #expect(length == plan.partSize, sourceLocation: sourceLocation)
            } else {
                #expect(length > 0 && length <= plan.partSize, sourceLocation: sourceLocation)
            }
            offset = part.range.upperBound
        }
        #expect(offset == size, sourceLocation: sourceLocation)
        #expect(plan.parts.count <= 10_000, sourceLocation: sourceLocation)
    }

    @Test func partsOfTheDefaultSizeWithASmallerLastPart() {
        let size = 100 * Self.mib
        let plan = MultipartPlan(snapshot: snapshot(size: size), preferredPartSize: 16 * Self.mib)
        #expect(plan.partSize == 16 * Self.mib)
        #expect(plan.parts.count == 7)
        #expect(plan.parts.last?.range == 96 * Self.mib..<100 * Self.mib)
        expectWellFormed(plan, size: size)
        #expect(plan.parts.allSatisfy { $0.source == .stagingFile })
    }

    @Test func anExactMultipleHasNoShortPart() {
        let size = 64 * Self.mib
        let plan = MultipartPlan(snapshot: snapshot(size: size), preferredPartSize: 16 * Self.mib)
        #expect(plan.parts.count == 4)
        expectWellFormed(plan, size: size)
    }

    @Test func thePartSizeGrowsToFitTenThousandParts() {
        // 200 GiB in 16 MiB parts would be 12,800 parts.
        let size: UInt64 = 200 << 30
        let partSize = MultipartPlan.partSize(forObjectOf: size, preferred: 16 * Self.mib)
        #expect(partSize == (size + 9_999) / 10_000)
        #expect((size + partSize - 1) / partSize <= 10_000)
        // 5 TiB, the largest object: parts of about 525 MiB, exactly 10,000 of them.
        let largest: UInt64 = 5 << 40
        let largestPartSize = MultipartPlan.partSize(forObjectOf: largest, preferred: 16 * Self.mib)
        #expect(largestPartSize == 549_755_814)
        #expect((largest + largestPartSize - 1) / largestPartSize == 10_000)
        #expect(largestPartSize <= 5 << 30)  // S3's largest part
        // Exactly 10,000 parts of the preferred size still fit.
        #expect(MultipartPlan.partSize(forObjectOf: 10_000 * 16 * Self.mib, preferred: 16 * Self.mib) == 16 * Self.mib)
        #expect(MultipartPlan.partSize(forObjectOf: 10_000 * 16 * Self.mib + 1, preferred: 16 * Self.mib)
            == 16 * Self.mib + 1)
    }

    @Test func aGrownPlanIsWellFormed() {
        // Small enough to build: 10,000 × 1000 + 1 bytes with a preferred part of 100 bytes.
        let size: UInt64 = 10_000 * 1000 + 1
        let plan = MultipartPlan(snapshot: snapshot(size: size), preferredPartSize: 100)
        #expect(plan.partSize == 1001)
        expectWellFormed(plan, size: size)
    }

    @Test func unchangedBasePartsAreCopied() {
        let base = BaseObject(key: "k", etag: "e", size: 10_000)
        let plan = MultipartPlan(snapshot: snapshot(size: 10_000, base: base, dirty: [4_500..<4_501]),
                                 preferredPartSize: 2_000)
        #expect(plan.parts.map(\.source) == [.base, .base, .stagingFile, .base, .base])
        #expect(plan.copiedPartCount == 4)
    }

    @Test func partsPastATruncationOrTheBaseEndAreSent() {
        let base = BaseObject(key: "k", etag: "e", size: 10_000)
        // Truncated to 5,000 then extended to 12,000: the part holding the cut, and all after it, are sent.
        let truncated = MultipartPlan(snapshot: snapshot(size: 12_000, base: base, baseLimit: 5_000),
                                      preferredPartSize: 2_000)
        #expect(truncated.parts.map(\.source) == [.base, .base, .stagingFile, .stagingFile, .stagingFile, .stagingFile])
        // Appended to: the base's last part now ends past it.
        let appended = MultipartPlan(snapshot: snapshot(size: 13_000, base: base, dirty: [10_000..<13_000]),
                                     preferredPartSize: 2_000)
        #expect(appended.parts.map(\.source) == [.base, .base, .base, .base, .base, .stagingFile, .stagingFile])
        // Without a base nothing is copied.
        let new = MultipartPlan(snapshot: snapshot(size: 10_000), preferredPartSize: 2_000)
        #expect(new.copiedPartCount == 0)
    }
}

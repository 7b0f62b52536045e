/// How a multipart upload splits a staged file into parts, and which parts S3 can fill by copying the base object.
///
/// Parts all have `partSize` bytes but the last, which may be smaller: S3 requires every part but the last to be at
/// least 5 MiB, so no middle part is ever cut short. When `preferredPartSize` would need more than 10,000 parts (S3's
/// limit), the part size grows to the smallest size that fits.
///
/// A part is copied from the base (UploadPartCopy of the same byte range, so offsets line up) when every byte of it
/// is unchanged base data: no byte written since the last upload, and the base not truncated within it. Every other
/// part is sent from the staging file (UploadPart), after its missing base bytes are fetched.
struct MultipartPlan: Sendable, Equatable {
    /// Where a part's bytes come from.
    enum Source: Sendable, Equatable {
        /// The same range of the base object, copied server-side.
        case base
        /// The same range of the staging file.
        case stagingFile
    }

    /// One part of the upload.
    struct Part: Sendable, Equatable {
        /// 1...10000.
        var number: Int
        /// The part's bytes in the file (and, when copied, in the base object).
        var range: Range<UInt64>
        var source: Source
    }

    /// S3's largest number of parts in one upload.
    static let maximumPartCount: UInt64 = 10_000

    /// The size of every part but the last.
    let partSize: UInt64
    /// The parts in order.
    let parts: [Part]

    /// The part size for an object of `size` bytes: `preferred`, grown if needed to fit in 10,000 parts.
    static func partSize(forObjectOf size: UInt64, preferred: UInt64) -> UInt64 {
        let minimum = size / maximumPartCount + (size % maximumPartCount == 0 ? 0 : 1)
        return max(preferred, minimum, 1)
    }

    /// The plan for uploading `snapshot`.
    init(snapshot: StagedFile.Snapshot, preferredPartSize: UInt64) {
        let size = snapshot.size
        partSize = Self.partSize(forObjectOf: size, preferred: preferredPartSize)
        var parts: [Part] = []
        var offset: UInt64 = 0
        while offset < size {
            let range = offset..<(size - offset > partSize ? offset + partSize : size)
            let copies = snapshot.base != nil && range.upperBound <= snapshot.baseLimit
                && !snapshot.dirty.intersects(range)
            parts.append(Part(number: parts.count + 1, range: range, source: copies ? .base : .stagingFile))
            offset = range.upperBound
        }
        self.parts = parts
    }

    /// The number of parts copied from the base.
    var copiedPartCount: Int { parts.count { $0.source == .base } }
}

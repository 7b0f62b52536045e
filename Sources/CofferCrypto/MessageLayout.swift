/// Where the frames of a framed message lie, for random-access reads and for writing.
///
/// A message of plaintext size P with frame length F and header length H has n = ⌊P/F⌋ + 1 frames: n − 1 regular
/// frames of F bytes (F + 32 ciphertext bytes each) and one final frame of L = P mod F bytes (L + 40 bytes), so the
/// object holds C = H + (n − 1)(F + 32) + 40 + L bytes. An exact multiple of F ends with an empty final frame, as the
/// SDKs write it; readers also accept a full final frame (L = F). Frames are numbered from 1 (their sequence numbers); frame k starts at H + (k − 1)(F + 32).
public struct MessageLayout: Sendable, Hashable {
    /// The header length H.
    public let headerLength: Int
    /// The frame length F.
    public let frameLength: Int
    /// The plaintext size P.
    public let plaintextSize: UInt64
    /// The number of frames n, the final frame included.
    public let frameCount: Int
    /// The plaintext length L of the final frame: 0 ≤ L < F when Coffer writes, 0 ≤ L ≤ F when read (the
    /// specification also allows a full final frame for an exact multiple of F).
    public let finalFrameLength: Int

    /// The layout of a message of `plaintextSize` bytes.
    ///
    /// Throws `.messageTooLarge` when it would need more than 2^32 − 1 frames.
    public init(plaintextSize: UInt64, headerLength: Int, frameLength: Int) throws(EncryptionError) {
        precondition(frameLength > 0 && headerLength >= 0, "the frame length must be positive")
        let regularFrames = plaintextSize / UInt64(frameLength)
        guard regularFrames < UInt64(MessageFormat.maximumFrameCount) else {
            throw .messageTooLarge(plaintextSize: plaintextSize, frameLength: frameLength)
        }
        self.headerLength = headerLength
        self.frameLength = frameLength
        self.plaintextSize = plaintextSize
        self.frameCount = Int(regularFrames) + 1
        self.finalFrameLength = Int(plaintextSize % UInt64(frameLength))
    }

    /// The layout of a message whose object is `ciphertextSize` bytes: `layout(C, H, F)`.
    ///
    /// The inverse is unique because a regular frame is longer than any final frame's plaintext; a size that no
    /// message has (truncated inside the final frame, bytes added) throws `.invalidMessageSize`. A message cut at a
    /// frame boundary can still have a valid size: reading its last frame then finds no final-frame marker.
    public init(ciphertextSize: UInt64, headerLength: Int, frameLength: Int) throws(EncryptionError) {
        precondition(frameLength > 0 && headerLength >= 0, "the frame length must be positive")
        let invalid = EncryptionError.invalidMessageSize(ciphertextSize: ciphertextSize, headerLength: headerLength,
                                                         frameLength: frameLength)
        let minimum = UInt64(headerLength) + UInt64(MessageFormat.finalFrameOverhead)
        guard ciphertextSize >= minimum else { throw invalid }
        let body = ciphertextSize - minimum
        let regularFrameSize = UInt64(frameLength + MessageFormat.regularFrameOverhead)
        let regularFrames = body / regularFrameSize
        let finalLength = body % regularFrameSize
        guard finalLength <= UInt64(frameLength), regularFrames < UInt64(MessageFormat.maximumFrameCount) else { throw invalid }
        self.headerLength = headerLength
        self.frameLength = frameLength
        self.plaintextSize = regularFrames * UInt64(frameLength) + finalLength
        self.frameCount = Int(regularFrames) + 1
        self.finalFrameLength = Int(finalLength)
    }

    /// The object size C.
    public var ciphertextSize: UInt64 {
        UInt64(headerLength) + UInt64(frameCount - 1) * UInt64(frameLength + MessageFormat.regularFrameOverhead)
            + UInt64(MessageFormat.finalFrameOverhead + finalFrameLength)
    }

    /// All frame numbers, `1...frameCount`.
    public var allFrames: ClosedRange<Int> { 1...frameCount }

    /// Whether frame `k` is the final frame.
    public func isFinal(_ frame: Int) -> Bool { frame == frameCount }

    /// The plaintext bytes in frame `k`: F, or L for the final frame.
    public func plaintextLength(ofFrame frame: Int) -> Int {
        precondition(allFrames.contains(frame), "frame \(frame) is outside 1...\(frameCount)")
        return isFinal(frame) ? finalFrameLength : frameLength
    }

    /// The ciphertext bytes of frame `k`: F + 32, or L + 40 for the final frame.
    public func ciphertextLength(ofFrame frame: Int) -> Int {
        plaintextLength(ofFrame: frame)
            + (isFinal(frame) ? MessageFormat.finalFrameOverhead : MessageFormat.regularFrameOverhead)
    }

    /// The frames holding the bytes of `range` of the plaintext, or nil when the range holds no byte of it.
    ///
    /// The range is cut at the plaintext's end. A range that reaches the end includes the final frame (even an
    /// empty one), so reading to the end always checks the final-frame marker and detects truncation.
    public func frames(coveringPlaintext range: Range<UInt64>) -> ClosedRange<Int>? {
        let upper = Swift.min(range.upperBound, plaintextSize)
        guard range.lowerBound < upper else { return nil }
        let first = Int(range.lowerBound / UInt64(frameLength)) + 1
        let last = upper == plaintextSize ? frameCount : Int((upper - 1) / UInt64(frameLength)) + 1
        return first...last
    }

    /// The bytes of the object that hold `frames`: one ranged GET reads them.
    public func ciphertextRange(of frames: ClosedRange<Int>) -> Range<UInt64> {
        precondition(allFrames.contains(frames.lowerBound) && allFrames.contains(frames.upperBound),
                     "frames \(frames) are outside 1...\(frameCount)")
        let regularFrameSize = UInt64(frameLength + MessageFormat.regularFrameOverhead)
        let start = UInt64(headerLength) + UInt64(frames.lowerBound - 1) * regularFrameSize
        let end = UInt64(headerLength) + UInt64(frames.upperBound - 1) * regularFrameSize
            + UInt64(ciphertextLength(ofFrame: frames.upperBound))
        return start..<end
    }

    /// The plaintext bytes `frames` hold.
    public func plaintextRange(of frames: ClosedRange<Int>) -> Range<UInt64> {
        precondition(allFrames.contains(frames.lowerBound) && allFrames.contains(frames.upperBound),
                     "frames \(frames) are outside 1...\(frameCount)")
        let start = UInt64(frames.lowerBound - 1) * UInt64(frameLength)
        let end = UInt64(frames.upperBound - 1) * UInt64(frameLength) + UInt64(plaintextLength(ofFrame: frames.upperBound))
        return start..<end
    }
}

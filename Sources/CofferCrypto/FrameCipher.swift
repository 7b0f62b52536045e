/// Seals and opens the frames of one message with one reusable AES-256-GCM context.
///
/// Frame k's IV is 8 zero bytes ‖ u32 k; its additional data is message id ‖ "AWSKMSEncryptionClient Frame"
/// (or "… Final Frame") ‖ u32 k ‖ u64 plaintext length. Regular frames are `u32 k ‖ IV ‖ ciphertext ‖ tag`, the final
/// frame is `FF FF FF FF ‖ u32 k ‖ IV ‖ u32 L ‖ ciphertext ‖ tag`.
struct FrameCipher: ~Copyable {
    private var gcm: AES256GCM
    /// message id ‖ label ‖ 12 bytes rewritten per frame (sequence number, length).
    private var regularAAD: [UInt8]
    private var finalAAD: [UInt8]
    private var iv = [UInt8](repeating: 0, count: AES256GCM.nonceByteCount)

    private static let regularLabel = Array("AWSKMSEncryptionClient Frame".utf8)
    private static let finalLabel = Array("AWSKMSEncryptionClient Final Frame".utf8)

    init(key: SecretBytes, messageID: [UInt8]) {
        gcm = AES256GCM(key: key)
        regularAAD = messageID + Self.regularLabel + [UInt8](repeating: 0, count: 12)
        finalAAD = messageID + Self.finalLabel + [UInt8](repeating: 0, count: 12)
    }

    /// Writes frame `sequenceNumber` (`plaintext.count` + 32 or + 40 bytes) into `frame`.
    mutating func seal(_ plaintext: UnsafeRawBufferPointer, sequenceNumber: Int, isFinal: Bool,
                       into frame: UnsafeMutableRawBufferPointer) {
        let overhead = isFinal ? MessageFormat.finalFrameOverhead : MessageFormat.regularFrameOverhead
        precondition(frame.count == plaintext.count + overhead, "the frame buffer has the wrong size")
        let sequence = UInt32(sequenceNumber)
        var offset = 0
        if isFinal {
            frame.storeBigEndian(MessageFormat.finalFrameMarker, at: 0)
            offset = 4
        }
        frame.storeBigEndian(sequence, at: offset)
        prepare(sequence: sequence, length: plaintext.count, isFinal: isFinal)
        iv.withUnsafeBytes { frame.baseAddress!.advanced(by: offset + 4).copyMemory(from: $0.baseAddress!, byteCount: 12) }
        offset += 16
        if isFinal {
            frame.storeBigEndian(UInt32(plaintext.count), at: offset)
            offset += 4
        }
        let body = UnsafeMutableRawBufferPointer(rebasing: frame[offset..<offset + plaintext.count])
        let tag = UnsafeMutableRawBufferPointer(rebasing: frame[(offset + plaintext.count)...])
        let aad = isFinal ? finalAAD : regularAAD
        let nonce = iv
        nonce.withUnsafeBytes { nonce in
            aad.withUnsafeBytes { gcm.seal(plaintext, nonce: nonce, authenticating: $0, into: body, tag: tag) }
        }
    }

    /// Checks frame `sequenceNumber`'s fields and tag and writes its `expectedLength` plaintext bytes into `plaintext`.
    mutating func open(_ frame: UnsafeRawBufferPointer, sequenceNumber: Int, isFinal: Bool, expectedLength: Int,
                       into plaintext: UnsafeMutableRawBufferPointer) throws(EncryptionError) {
        let overhead = isFinal ? MessageFormat.finalFrameOverhead : MessageFormat.regularFrameOverhead
        precondition(frame.count == expectedLength + overhead && plaintext.count == expectedLength,
                     "the frame or plaintext buffer has the wrong size")
        let sequence = UInt32(sequenceNumber)
        var offset = 0
        if isFinal {
            guard frame.loadBigEndianUInt32(at: 0) == MessageFormat.finalFrameMarker else {
                throw .finalFrameMissing(sequenceNumber: sequenceNumber)
            }
            offset = 4
        } else if frame.loadBigEndianUInt32(at: 0) == MessageFormat.finalFrameMarker {
            throw .unexpectedFinalFrame(sequenceNumber: sequenceNumber)
        }
        let found = frame.loadBigEndianUInt32(at: offset)
        guard found == sequence else { throw .frameOutOfOrder(expected: sequenceNumber, found: found) }
        prepare(sequence: sequence, length: expectedLength, isFinal: isFinal)
        let storedIV = UnsafeRawBufferPointer(rebasing: frame[(offset + 4)..<(offset + 16)])
        guard iv.withUnsafeBytes({ $0.elementsEqual(storedIV) }) else {
            throw .malformedFrame(sequenceNumber: sequenceNumber, reason: "its IV is not 8 zero bytes and its sequence number")
        }
        offset += 16
        if isFinal {
            let length = frame.loadBigEndianUInt32(at: offset)
            guard length == UInt32(expectedLength) else {
                throw .malformedFrame(sequenceNumber: sequenceNumber, reason: "its length field says \(length) bytes "
                                      + "but the object's size implies \(expectedLength): truncated or extended")
            }
            offset += 4
        }
        let body = UnsafeRawBufferPointer(rebasing: frame[offset..<offset + expectedLength])
        let tag = UnsafeRawBufferPointer(rebasing: frame[(offset + expectedLength)...])
        let aad = isFinal ? finalAAD : regularAAD
        let nonce = iv
        do {
            try nonce.withBytes { (nonce) throws(CryptoError) in
                try aad.withBytes { (aad) throws(CryptoError) in
                    try gcm.open(body, nonce: nonce, authenticating: aad, tag: tag, into: plaintext)
                }
            }
        } catch {
            throw .frameAuthenticationFailed(sequenceNumber: sequenceNumber)
        }
    }

    /// Sets the IV and the AAD's sequence number and length for one frame.
    private mutating func prepare(sequence: UInt32, length: Int, isFinal: Bool) {
        iv.withUnsafeMutableBytes { $0.storeBigEndian(sequence, at: 8) }
        func fill(_ aad: inout [UInt8]) {
            aad.withUnsafeMutableBytes { buffer in
                buffer.storeBigEndian(sequence, at: buffer.count - 12)
                buffer.storeBigEndian(UInt64(length), at: buffer.count - 8)
            }
        }
        if isFinal { fill(&finalAAD) } else { fill(&regularAAD) }
    }
}

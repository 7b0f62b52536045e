import CofferCrypto
import Testing

@Suite("Message layout and frame-range arithmetic")
struct MessageLayoutTests {
    @Test func sizesFromTheFormatDocument() throws {
        // C = H + (n−1)(F+32) + 40 + L, from the manifest: P = 200000, H = 234, F = 65536 → C = 200370, n = 4, L = 3392.
        let layout = try MessageLayout(plaintextSize: 200_000, headerLength: 234, frameLength: 65536)
        #expect(layout.frameCount == 4)
        #expect(layout.finalFrameLength == 3392)
        #expect(layout.ciphertextSize == 200_370)
        #expect(try MessageLayout(ciphertextSize: 200_370, headerLength: 234, frameLength: 65536) == layout)
        // Exact multiples end with an empty final frame; empty plaintext is one empty final frame.
        let multiple = try MessageLayout(plaintextSize: 262_144, headerLength: 234, frameLength: 65536)
        #expect(multiple.frameCount == 5 && multiple.finalFrameLength == 0 && multiple.ciphertextSize == 262_546)
        let empty = try MessageLayout(plaintextSize: 0, headerLength: 234, frameLength: 65536)
        #expect(empty.frameCount == 1 && empty.ciphertextSize == 274)
    }

    @Test func ciphertextSizeInvertsPlaintextSize() throws {
        for frameLength in [1, 2, 31, 32, 33, 4096, 65536] {
            for size in [0, 1, 2, 31, 32, 33, 4095, 4096, 4097, 65535, 65536, 65537, 200_000, 1 << 20] as [UInt64] {
                let layout = try MessageLayout(plaintextSize: size, headerLength: 300, frameLength: frameLength)
                let back = try MessageLayout(ciphertextSize: layout.ciphertextSize, headerLength: 300, frameLength: frameLength)
                #expect(back == layout, "P \(size), F \(frameLength)")
            }
        }
    }

    @Test func impossibleSizesAreRefused() throws {
        let header = 234, frame = 65536
        // Shorter than header + empty final frame.
        #expect(throws: EncryptionError.invalidMessageSize(ciphertextSize: 273, headerLength: header, frameLength: frame)) {
            try MessageLayout(ciphertextSize: 273, headerLength: header, frameLength: frame)
        }
        // A final frame longer than F: 41...(F+32)−1 extra bytes after n−1 regular frames with L > F.
        let tooLong = UInt64(header + 40 + frame + 1)
        #expect(throws: EncryptionError.self) {
            try MessageLayout(ciphertextSize: tooLong, headerLength: header, frameLength: frame)
        }
        for size in UInt64(header + 40 + frame + 1)..<UInt64(header + 40 + frame + 32) {
            #expect(throws: EncryptionError.self) { try MessageLayout(ciphertextSize: size, headerLength: header, frameLength: frame) }
        }
    }

    @Test func aFullFinalFrameIsAccepted() throws {
        // The specification allows L = F for an exact multiple; the SDKs write an empty final frame instead.
        let layout = try MessageLayout(ciphertextSize: UInt64(234 + 40 + 65536), headerLength: 234, frameLength: 65536)
        #expect(layout.frameCount == 1 && layout.finalFrameLength == 65536 && layout.plaintextSize == 65536)
        #expect(layout.frames(coveringPlaintext: 0..<65536) == 1...1)
    }

    @Test func tooManyFramesAreRefused() {
        let size = UInt64(UInt32.max) * 16
        #expect(throws: EncryptionError.messageTooLarge(plaintextSize: size, frameLength: 16)) {
            try MessageLayout(plaintextSize: size, headerLength: 234, frameLength: 16)
        }
        #expect(throws: Never.self) { try MessageLayout(plaintextSize: size - 1, headerLength: 234, frameLength: 16) }
    }

    @Test func framesCoveringPlaintextRanges() throws {
        let layout = try MessageLayout(plaintextSize: 200_000, headerLength: 234, frameLength: 65536)
        #expect(layout.frames(coveringPlaintext: 0..<1) == 1...1)
        #expect(layout.frames(coveringPlaintext: 0..<65536) == 1...1)
        #expect(layout.frames(coveringPlaintext: 65535..<65537) == 1...2)
        #expect(layout.frames(coveringPlaintext: 65536..<131072) == 2...2)
        #expect(layout.frames(coveringPlaintext: 100_000..<104_096) == 2...2)
        // Reaching the end always includes the final frame; ranges past the end are cut.
        #expect(layout.frames(coveringPlaintext: 199_999..<200_000) == 4...4)
        #expect(layout.frames(coveringPlaintext: 150_000..<1_000_000) == 3...4)
        #expect(layout.frames(coveringPlaintext: 200_000..<200_001) == nil)
        #expect(layout.frames(coveringPlaintext: 5..<5) == nil)

        let multiple = try MessageLayout(plaintextSize: 131_072, headerLength: 234, frameLength: 65536)
        #expect(multiple.frames(coveringPlaintext: 65536..<131_072) == 2...3, "the empty final frame is read too")
        #expect(multiple.frames(coveringPlaintext: 0..<65536) == 1...1)
        let empty = try MessageLayout(plaintextSize: 0, headerLength: 234, frameLength: 65536)
        #expect(empty.frames(coveringPlaintext: 0..<4096) == nil)
    }

    @Test func ciphertextAndPlaintextRangesOfFrames() throws {
        let layout = try MessageLayout(plaintextSize: 200_000, headerLength: 234, frameLength: 65536)
        #expect(layout.ciphertextRange(of: 1...1) == 234..<65_802)
        #expect(layout.ciphertextRange(of: 2...3) == 65_802..<196_938)
        #expect(layout.ciphertextRange(of: 4...4) == 196_938..<200_370)
        #expect(layout.ciphertextRange(of: layout.allFrames) == 234..<200_370)
        #expect(layout.plaintextRange(of: 2...4) == 65_536..<200_000)
        #expect(layout.plaintextLength(ofFrame: 4) == 3392 && layout.ciphertextLength(ofFrame: 4) == 3432)
        #expect(layout.ciphertextLength(ofFrame: 1) == 65_568)

        // A 1 MiB cache block of 16 frames is 16 × 65 568 = 1 049 088 ciphertext bytes (format doc §5.3).
        let big = try MessageLayout(plaintextSize: 10 << 20, headerLength: 300, frameLength: 65536)
        let block = try #require(big.frames(coveringPlaintext: (1 << 20)..<(2 << 20)))
        #expect(block == 17...32)
        #expect(big.ciphertextRange(of: block).count == 1_049_088)
        #expect(big.ciphertextRange(of: block).lowerBound == 300 + 16 * 65_568)
    }
}

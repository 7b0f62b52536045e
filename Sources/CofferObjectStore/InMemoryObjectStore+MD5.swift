extension InMemoryObjectStore {
    /// MD5 (RFC 1321) in plain Swift, so that the in-memory store's ETags are exactly S3's: the hex MD5 of the
    /// bytes for a single PUT, and the MD5 of the parts' binary MD5s for a multipart upload.
    ///
    /// CofferObjectStore depends on no other module, so it cannot use CofferCrypto's OpenSSL MD5. This one is only
    /// for ETags; nothing here is used for security.
    struct MD5 {
        private var a: UInt32 = 0x6745_2301
        private var b: UInt32 = 0xefcd_ab89
        private var c: UInt32 = 0x98ba_dcfe
        private var d: UInt32 = 0x1032_5476
        /// Bytes not yet forming a whole 64-byte block.
        private var pending: [UInt8] = []
        private var length: UInt64 = 0

        /// The 16-byte digest of `bytes`.
        static func digest(_ bytes: [UInt8]) -> [UInt8] {
            var md5 = MD5()
            md5.update(bytes)
            return md5.finalize()
        }

        /// The digest of `bytes` as 32 lower-case hex digits.
        static func hex(_ bytes: [UInt8]) -> String { hexString(digest(bytes)) }

        /// Lower-case hex of `bytes`.
        static func hexString(_ bytes: [UInt8]) -> String {
            let digits = Array("0123456789abcdef".utf8)
            var out = [UInt8]()
            out.reserveCapacity(bytes.count * 2)
            for byte in bytes {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0f)])
            }
            return String(decoding: out, as: UTF8.self)
        }

        mutating func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { update($0) }
        }

        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            length &+= UInt64(bytes.count)
            var rest = bytes[...]
            if !pending.isEmpty {
                let take = min(64 - pending.count, rest.count)
                pending += rest.prefix(take)
                rest = rest.dropFirst(take)
                guard pending.count == 64 else { return }
                let block = pending
                block.withUnsafeBytes { compress(blocks: $0) }
                pending.removeAll(keepingCapacity: true)
            }
            let whole = rest.count / 64 * 64
            if whole > 0 {
                compress(blocks: UnsafeRawBufferPointer(rebasing: rest.prefix(whole)))
            }
            pending += rest.dropFirst(whole)
        }

        mutating func finalize() -> [UInt8] {
            let bitLength = length &* 8
            var tail = pending
            tail.append(0x80)
            while tail.count % 64 != 56 { tail.append(0) }
            for i in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
            tail.withUnsafeBytes { compress(blocks: $0) }
            pending = []
            var out = [UInt8]()
            out.reserveCapacity(16)
            for word in [a, b, c, d] {
                for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(i)))) }
            }
            return out
        }

        /// Runs the compression function over each whole 64-byte block of `blocks`.
        /// (Written over raw pointers so that it stays fast in unoptimised test builds.)
        private mutating func compress(blocks: UnsafeRawBufferPointer) {
            guard blocks.count >= 64, let base = blocks.baseAddress else { return }
            var (a, b, c, d) = (self.a, self.b, self.c, self.d)
            Self.k.withUnsafeBufferPointer { kBuffer in
                Self.shifts.withUnsafeBufferPointer { shiftsBuffer in
                    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { mBuffer in
                        let (k, shifts, m) = (kBuffer.baseAddress!, shiftsBuffer.baseAddress!, mBuffer.baseAddress!)
                        var offset = 0
                        while offset + 64 <= blocks.count {
                            for i in 0..<16 {
                                m[i] = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset &+ 4 &* i, as: UInt32.self))
                            }
                            var (aa, bb, cc, dd) = (a, b, c, d)
                            for i in 0..<64 {
                                var f: UInt32
                                let g: Int
                                switch i >> 4 {
                                case 0: f = (bb & cc) | (~bb & dd); g = i
                                case 1: f = (dd & bb) | (~dd & cc); g = (5 &* i &+ 1) & 15
                                case 2: f = bb ^ cc ^ dd; g = (3 &* i &+ 5) & 15
                                default: f = cc ^ (bb | ~dd); g = (7 &* i) & 15
                                }
                                f = f &+ aa &+ k[i] &+ m[g]
                                aa = dd
                                dd = cc
                                cc = bb
                                let s = shifts[i]
                                bb = bb &+ ((f &<< s) | (f &>> (32 &- s)))
                            }
                            a = a &+ aa
                            b = b &+ bb
                            c = c &+ cc
                            d = d &+ dd
                            offset &+= 64
                        }
                    }
                }
            }
            (self.a, self.b, self.c, self.d) = (a, b, c, d)
        }

        private static let shifts: [UInt32] = [
            7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
            5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
            4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
        ]

        private static let k: [UInt32] = [
            0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
            0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
            0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
            0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
            0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
            0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
            0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
            0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
        ]
    }
}

internal import COpenSSL

/// Key material in memory that is wiped with `OPENSSL_cleanse` when the last reference goes away.
///
/// Use it for data keys, wrapping keys and derived keys. The bytes live in one heap allocation that is never copied
/// by Swift's copy-on-write machinery, so wiping it wipes the only copy Coffer made. Bytes you pass in from an array
/// are copied; wipe or drop that array yourself (or use `init(count:initializingWith:)` to fill the secret in place).
///
/// The contents are immutable, so a `SecretBytes` can be shared between threads. Its `description` never shows them.
public final class SecretBytes: @unchecked Sendable, Equatable, CustomStringConvertible {
    private let allocation: UnsafeMutableRawBufferPointer

    /// The number of bytes.
    public let count: Int

    /// A secret of `count` bytes, filled in place by `body` (which receives the whole buffer, zeroed).
    ///
    /// If `body` throws, the buffer is wiped and freed before the error propagates.
    public init<Failure: Error>(
        count: Int, initializingWith body: (UnsafeMutableRawBufferPointer) throws(Failure) -> Void
    ) throws(Failure) {
        precondition(count >= 0, "SecretBytes needs a non-negative count")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        let secret = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
        do {
            try body(secret)
        } catch {
            OPENSSL_cleanse(buffer.baseAddress, buffer.count)
            buffer.deallocate()
            throw error
        }
        allocation = buffer
        self.count = count
    }

    /// A copy of `bytes` as a secret. The source collection is not wiped.
    public convenience init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, fromContentsOf: bytes)
        }
    }

    /// `count` bytes from `RAND_bytes`, written straight into the wiped-on-release buffer.
    public convenience init(randomCount count: Int) {
        self.init(count: count) { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else { return }
            let ok = RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count))
            precondition(ok == 1, "OpenSSL RAND_bytes failed: the system has no usable entropy source")
        }
    }

    deinit {
        OPENSSL_cleanse(allocation.baseAddress, allocation.count)
        allocation.deallocate()
    }

    /// Calls `body` with the secret's bytes. Do not let the pointer escape, and wipe any copy you make.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeRawBufferPointer(rebasing: allocation[0..<count]))
    }

    /// Compares two secrets in time that depends only on their lengths (`CRYPTO_memcmp`).
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in ConstantTime.isEqual(l, r) } }
    }

    /// `SecretBytes(32 bytes)`: the length only, never the contents.
    public var description: String { "SecretBytes(\(count) bytes)" }
}

/// Overwrites an array's bytes with `OPENSSL_cleanse` and empties it, for temporary copies of key material.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
    bytes.removeAll()
}

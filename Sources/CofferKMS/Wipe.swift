#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Overwrites `bytes` with zeros in a way the optimizer keeps, then empties the array. For temporary copies of key
/// material (request bodies holding a base64 plaintext, response bodies holding one).
///
/// A buffer shared with another array is copied by `withUnsafeMutableBytes` first, so only wipe arrays nothing else
/// still references.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        #if canImport(Darwin)
        _ = memset_s(base, buffer.count, 0, buffer.count)
        #else
        explicit_bzero(base, buffer.count)
        #endif
    }
    bytes.removeAll()
}

import CofferCrypto
import Synchronization

/// Remembers the last derived SigV4 signing key of one signer, so that signing many requests on the same day
/// costs 1 HMAC instead of 5. Shared by copies of the signer; safe from any thread.
///
/// It holds secret material: it has no description and is never logged.
final class SigV4SigningKeyCache: Sendable {
    private struct Entry {
        var secretAccessKey: String
        var dateStamp: String
        var key: [UInt8]
    }

    private let entry = Mutex<Entry?>(nil)

    /// The signing key for `secretAccessKey` on `dateStamp` (region and service are fixed per signer).
    func key(secretAccessKey: String, dateStamp: String, derive: () -> [UInt8]) -> [UInt8] {
        if let cached = entry.withLock({ entry -> [UInt8]? in
            guard let entry, entry.dateStamp == dateStamp, entry.secretAccessKey == secretAccessKey else { return nil }
            return entry.key
        }) {
            return cached
        }
        let key = derive()
        entry.withLock { $0 = Entry(secretAccessKey: secretAccessKey, dateStamp: dateStamp, key: key) }
        return key
    }
}

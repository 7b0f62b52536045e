import Foundation
import Synchronization

/// The difference between the server's clock and ours, learnt from `RequestTimeTooSkewed` answers, so that
/// signatures use the server's idea of now.
public final class ClockSkew: Sendable {
    private let offset = Mutex<TimeInterval>(0)

    /// No skew yet.
    public init() {}

    /// Now, as the server sees it.
    public func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    /// The current correction in seconds (server minus local).
    public var seconds: TimeInterval { offset.withLock { $0 } }

    /// Learns the skew from a server's `Date` header. Returns false when the header is missing or unreadable.
    @discardableResult
    public func correct(fromServerDate header: String?) -> Bool {
        guard let header, let serverDate = HTTPDate.parse(header) else { return false }
        offset.withLock { $0 = serverDate.timeIntervalSinceNow }
        return true
    }
}

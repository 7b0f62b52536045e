import Foundation
import Logging

/// Caches the credentials of another provider and refreshes temporary ones before they expire.
///
/// - Credentials without an expiration are fetched once and kept.
/// - Temporary credentials are refreshed `refreshBefore` seconds before their expiration, and at once when expired.
/// - Single flight: callers arriving during a refresh await the same fetch; the underlying provider is never
///   called twice at once.
/// - If a refresh fails while the cached credentials are still valid, callers get the cached ones, the failure is
///   logged, and the refresh is retried after `retryAfterFailure` seconds. Only when nothing valid is left does the
///   error reach callers.
///
/// The state lives in the actor; the fetch itself runs in a task of its own, so a caller that is cancelled does not
/// cancel the fetch the others are waiting for. Nothing here blocks a thread.
public actor CachingCredentialsProvider: CredentialsProvider {
    private let base: any CredentialsProvider
    private let refreshBefore: TimeInterval
    private let retryAfterFailure: TimeInterval
    private let now: @Sendable () -> Date
    private let logger: Logger

    private var cached: AWSCredentials?
    /// When the cached credentials should be refreshed; nil for credentials that never expire.
    private var refreshAt: Date?
    private var inFlight: (id: UInt64, task: Task<Result<AWSCredentials, CredentialsError>, Never>)?
    private var nextFetchId: UInt64 = 0

    /// Wraps `base`.
    /// - Parameters:
    ///   - refreshBefore: how long before expiration to refresh (default 5 minutes).
    ///   - retryAfterFailure: how long to keep serving still-valid credentials before retrying a failed refresh.
    ///   - now: the clock (injected by tests).
    ///   - logger: where refresh failures are reported. Credentials themselves are never logged.
    public init(_ base: any CredentialsProvider, refreshBefore: TimeInterval = 300, retryAfterFailure: TimeInterval = 10,
                now: @escaping @Sendable () -> Date = { Date() },
                logger: Logger = Logger(label: "coffer.credentials")) {
        self.base = base
        self.refreshBefore = refreshBefore
        self.retryAfterFailure = retryAfterFailure
        self.now = now
        self.logger = logger
    }

    public func credentials() async throws(CredentialsError) -> AWSCredentials {
        if let cached, isValid(cached, at: now()) {
            guard let refreshAt, now() >= refreshAt else { return cached }
        }
        let result = await fetchShared()
        switch result {
        case .success(let credentials):
            return credentials
        case .failure(let error):
            // The fetch already logged and kept serving valid credentials; it may have finished after they expired.
            if let cached, isValid(cached, at: now()) { return cached }
            throw error
        }
    }

    /// Forgets the cached credentials, so the next call fetches new ones (for instance after an `ExpiredToken`).
    public func invalidate() {
        cached = nil
        refreshAt = nil
    }

    /// Joins the fetch in flight, or starts one.
    private func fetchShared() async -> Result<AWSCredentials, CredentialsError> {
        let task: Task<Result<AWSCredentials, CredentialsError>, Never>
        if let inFlight {
            task = inFlight.task
        } else {
            nextFetchId += 1
            let id = nextFetchId
            let base = self.base
            task = Task {
                let result: Result<AWSCredentials, CredentialsError>
                do throws(CredentialsError) {
                    result = .success(try await base.credentials())
                } catch {
                    result = .failure(error)
                }
                self.finish(id, result)
                return result
            }
            inFlight = (id, task)
        }
        return await task.value
    }

    /// Records the outcome of fetch `id`; runs before any waiter sees the result.
    private func finish(_ id: UInt64, _ result: Result<AWSCredentials, CredentialsError>) {
        guard inFlight?.id == id else { return }
        inFlight = nil
        let time = now()
        switch result {
        case .success(let credentials):
            cached = credentials
            if let expiration = credentials.expiration {
                let planned = expiration.addingTimeInterval(-refreshBefore)
                // Credentials that arrive already inside the refresh window are retried later, not on every call.
                refreshAt = planned > time ? planned : min(expiration, time.addingTimeInterval(retryAfterFailure))
            } else {
                refreshAt = nil
            }
        case .failure(let error):
            if let cached, isValid(cached, at: time), let expiration = cached.expiration {
                refreshAt = min(expiration, time.addingTimeInterval(retryAfterFailure))
                logger.warning("refreshing AWS credentials failed; still using the current ones, which expire at \(expiration): \(error)")
            }
        }
    }

    private func isValid(_ credentials: AWSCredentials, at time: Date) -> Bool {
        guard let expiration = credentials.expiration else { return true }
        return time < expiration
    }
}

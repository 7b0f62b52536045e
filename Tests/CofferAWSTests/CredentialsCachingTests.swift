import CofferAWS
import Foundation
import Testing

/// `CachingCredentialsProvider`: when it fetches, refreshes, shares a fetch, and survives refresh failures.
@Suite("Credentials: caching and refresh")
struct CredentialsCachingTests {
    @Test("temporary credentials are reused until the refresh window, then refreshed once")
    func refreshWindow() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CachingCredentialsProvider(base, refreshBefore: 300, now: clock.closure)
        let first = try await cache.credentials()
        #expect(first.accessKeyId == "AKIDCALL1")
        clock.advance(3000)  // 10 minutes before expiry: still outside the 5-minute window
        #expect(try await cache.credentials() == first)
        #expect(base.calls == 1)
        clock.advance(301)   // inside the window
        let second = try await cache.credentials()
        #expect(second.accessKeyId == "AKIDCALL2")
        #expect(base.calls == 2)
        #expect(try await cache.credentials() == second)
        #expect(base.calls == 2)
    }

    @Test("expired credentials are never served; credentials without expiration are fetched once")
    func expiryAndLongTerm() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CachingCredentialsProvider(base, refreshBefore: 0, now: clock.closure)
        _ = try await cache.credentials()
        clock.advance(3600)  // exactly expired
        #expect(try await cache.credentials().accessKeyId == "AKIDCALL2")

        let longTerm = CountingProvider(clock: clock, lifetime: nil)
        let longCache = CachingCredentialsProvider(longTerm, now: clock.closure)
        for _ in 0..<5 {
            _ = try await longCache.credentials()
            clock.advance(86_400)
        }
        #expect(longTerm.calls == 1)
        await longCache.invalidate()
        _ = try await longCache.credentials()
        #expect(longTerm.calls == 2)
    }

    @Test("a failed refresh keeps serving still-valid credentials, retries later, and fails once they expire")
    func refreshFailure() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CachingCredentialsProvider(base, refreshBefore: 300, retryAfterFailure: 10, now: clock.closure)
        let original = try await cache.credentials()
        base.fail(with: .fetchFailed("STS is down"))
        clock.advance(3400)  // 200 s left: in the window
        #expect(try await cache.credentials() == original)
        #expect(base.calls == 2)
        // Within the retry delay, no new attempt.
        clock.advance(5)
        #expect(try await cache.credentials() == original)
        #expect(base.calls == 2)
        // After it, one more attempt, still served the old ones.
        clock.advance(6)
        #expect(try await cache.credentials() == original)
        #expect(base.calls == 3)
        // Once expired, the error reaches the caller.
        clock.advance(200)
        await #expect(throws: CredentialsError.fetchFailed("STS is down")) { _ = try await cache.credentials() }
        // And recovery works.
        base.fail(with: nil)
        #expect(try await cache.credentials().accessKeyId.hasPrefix("AKIDCALL"))
    }

    @Test("credentials that arrive already inside the refresh window are not refetched on every call")
    func shortLivedCredentials() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 120)  // shorter than the 5-minute window
        let cache = CachingCredentialsProvider(base, refreshBefore: 300, retryAfterFailure: 10, now: clock.closure)
        _ = try await cache.credentials()
        _ = try await cache.credentials()
        clock.advance(5)
        _ = try await cache.credentials()
        #expect(base.calls == 1)
        clock.advance(6)
        _ = try await cache.credentials()
        #expect(base.calls == 2)
    }

    @Test("concurrent callers during a fetch share it (single flight)")
    func singleFlight() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CachingCredentialsProvider(base, now: clock.closure)
        base.hold()
        let results = try await withThrowingTaskGroup(of: AWSCredentials.self) { group in
            for _ in 0..<50 {
                group.addTask { try await cache.credentials() }
            }
            // Let every caller reach the cache before the one fetch completes.
            while base.waiting < 1 { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(100))
            base.release()
            var all: [AWSCredentials] = []
            for try await credentials in group { all.append(credentials) }
            return all
        }
        #expect(results.count == 50)
        #expect(Set(results.map(\.accessKeyId)) == ["AKIDCALL1"])
        #expect(base.calls == 1)
    }

    @Test("concurrent callers during a refresh that fails all get the still-valid credentials")
    func concurrentRefreshFailure() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CachingCredentialsProvider(base, refreshBefore: 300, now: clock.closure)
        let original = try await cache.credentials()
        clock.advance(3400)
        base.fail(with: .fetchFailed("throttled"))
        base.hold()
        let results = try await withThrowingTaskGroup(of: AWSCredentials.self) { group in
            for _ in 0..<20 {
                group.addTask { try await cache.credentials() }
            }
            while base.waiting < 1 { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(100))
            base.release()
            var all: [AWSCredentials] = []
            for try await credentials in group { all.append(credentials) }
            return all
        }
        #expect(results.count == 20)
        #expect(results.allSatisfy { $0 == original })
        #expect(base.calls == 2)
    }

    @Test("a cancelled caller does not cancel the fetch others wait for")
    func cancellation() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CachingCredentialsProvider(base, now: clock.closure)
        base.hold()
        let cancelled = Task { try await cache.credentials() }
        let patient = Task { try await cache.credentials() }
        while base.waiting < 1 { try await Task.sleep(for: .milliseconds(5)) }
        cancelled.cancel()
        base.release()
        #expect(try await patient.value.accessKeyId == "AKIDCALL1")
        _ = try? await cancelled.value
        #expect(base.calls == 1)
    }
}

import Synchronization

/// A mount-wide limit on requests of one kind in flight: `run` waits for one of `limit` permits, so that several
/// programs listing at once (two `ls -l`, a `find` and an rsync) share one pool of connections instead of each
/// opening its own. Waiters are served in arrival order.
final class RequestBudget: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var firstWaiter = 0
        var inFlight = 0
        var mostInFlight = 0

        mutating func note() {
            inFlight += 1
            mostInFlight = max(mostInFlight, inFlight)
        }
    }

    /// The most requests in flight at once.
    let limit: Int
    private let state: Mutex<State>

    init(limit: Int) {
        self.limit = max(1, limit)
        state = Mutex(State(available: self.limit))
    }

    /// The most requests that were in flight at once so far.
    var mostInFlight: Int { state.withLock { $0.mostInFlight } }

    /// Runs `body` holding one permit.
    func run<T: Sendable>(_ body: () async -> T) async -> T {
        await acquire()
        defer { release() }
        return await body()
    }

    private func acquire() async {
        let granted = state.withLock { state -> Bool in
            guard state.available > 0 else { return false }
            state.available -= 1
            state.note()
            return true
        }
        if granted { return }
        await withCheckedContinuation { continuation in
            let grantedNow = state.withLock { state -> Bool in
                // A permit may have come back meanwhile.
                guard state.available == 0 else {
                    state.available -= 1
                    state.note()
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if grantedNow { continuation.resume() }
        }
    }

    private func release() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.inFlight -= 1
            guard state.firstWaiter < state.waiters.count else {
                state.available += 1
                return nil
            }
            // The permit passes straight to the next waiter.
            let waiter = state.waiters[state.firstWaiter]
            state.firstWaiter += 1
            if state.firstWaiter == state.waiters.count {
                state.waiters.removeAll(keepingCapacity: true)
                state.firstWaiter = 0
            }
            state.note()
            return waiter
        }
        next?.resume()
    }
}

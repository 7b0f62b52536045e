import Foundation
import Synchronization

/// Schedules the uploads of files closed with changes: each is uploaded once it has been quiet for `delay`
/// seconds (every new change pushes it back), at most `concurrency` at a time, retried with exponential backoff
/// when it fails. Files are named by an id (the filesystem's inode number); the upload itself is the owner's
/// `perform` function, which reads the file's latest name, metadata and bytes when it runs — so whatever happened
/// to the file before then (renames, chmod, more writes) folds into that one upload.
///
/// `drain` uploads everything now (fsync of a directory, unmount, SIGTERM); `waitForRoom` makes writers wait while
/// more than `maxPendingBytes` are waiting to be uploaded (backpressure instead of filling the cache disk).
public final class WriteBackQueue: Sendable {
    /// How the queue behaves.
    public struct Settings: Sendable, Equatable {
        /// Seconds a file must be quiet before it is uploaded.
        public var delay: Double
        /// Above this many bytes waiting, writers wait (`waitForRoom`) and everything is uploaded at once.
        public var maxPendingBytes: UInt64
        /// Files uploaded at the same time.
        public var concurrency: Int
        /// The longest wait between two attempts of a failing upload, in seconds (the first retry comes after 1 s).
        public var maxRetryDelay: Double
        /// The longest a `.background` entry waits, in seconds after its last change, while `.normal` ones are
        /// pending (it never waits less than `delay`).
        public var backgroundWait: Double

        /// Settings from their parts.
        public init(delay: Double = 1.5, maxPendingBytes: UInt64 = 1 << 30, concurrency: Int = 16,
                    maxRetryDelay: Double = 60, backgroundWait: Double = 30) {
            self.delay = max(0, delay)
            self.maxPendingBytes = max(1, maxPendingBytes)
            self.concurrency = max(1, concurrency)
            self.maxRetryDelay = max(1, maxRetryDelay)
            self.backgroundWait = max(self.delay, backgroundWait)
        }
    }

    /// When a quiet entry is uploaded relative to the others.
    public enum Precedence: Sendable, Equatable {
        /// Once it has been quiet for `delay` (file data).
        case normal
        /// Once it has been quiet for `delay` and no `.normal` entry is pending, or after `backgroundWait`
        /// (a directory's marker: its mode and times are set again by rsync and tar once its files are written, so
        /// waiting for the files folds those changes into one PUT).
        case background
    }

    /// What one upload attempt came to.
    public enum Outcome: Sendable, Equatable {
        /// The file is in the store (or there was nothing left to upload: it was removed or is clean).
        case uploaded
        /// It failed; the data stays staged and the queue tries again later. The message is for status and logs.
        case failed(String)
        /// Nothing is left to upload, but not as asked (another host had changed the object: the owner kept this
        /// version elsewhere). Done for the queue; a failure for `drain`.
        case conflict(String)
    }

    /// The queue's state, for `coffer status` and metrics.
    public struct Status: Sendable, Equatable, Codable {
        /// Files waiting for upload or being uploaded.
        public var pendingFiles: Int
        /// Their bytes.
        public var pendingBytes: UInt64
        /// Seconds since the oldest of them first became pending.
        public var oldestPendingSeconds: Double
        /// Uploads in flight.
        public var uploading: Int
        /// Files whose last attempt failed.
        public var failing: Int
        /// The most recent failure.
        public var lastError: String?
    }

    public let settings: Settings

    private struct Entry {
        var bytes: UInt64
        var pendingSince: Double
        var due: Double
        var precedence: Precedence = .normal
        /// For `.background`: due at the latest then, even while `.normal` entries are pending.
        var latest: Double
        var generation: UInt64 = 0
        var uploading = false
        var failures = 0
        var lastError: String?

        /// When the entry may start, with `filesPending` telling whether `.normal` entries are pending.
        func start(filesPending: Bool) -> Double {
            precedence == .background && filesPending ? max(due, latest) : due
        }

        /// Counts a failed attempt and makes the entry due after the backoff: 1 s doubling to `maxDelay`.
        mutating func recordFailure(_ message: String, now: Double, maxDelay: Double) {
            failures += 1
            lastError = message
            due = now + min(maxDelay, pow(2, Double(min(failures, 30) - 1)))
            latest = due
        }

        /// Makes it due now, whatever its precedence (drain, backpressure).
        mutating func startNow(_ now: Double) {
            due = now
            latest = now
        }
    }

    private struct Drain {
        var remaining: Set<UInt64>
        var failures: [UInt64: String] = [:]
        let continuation: CheckedContinuation<[UInt64: String], Never>
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var wake: CheckedContinuation<Void, Never>?
        var roomWaiters: [CheckedContinuation<Void, Never>] = []
        var drains: [Drain] = []
        var isStopped = false
        var isRunning = false
        /// When the sleeping loop wakes by itself (monotonic seconds); nil while it runs. A file due no earlier
        /// need not wake it.
        var plannedWake: Double?
        /// A wake-up came while the loop was running: its next sleep returns at once.
        var wakeRequested = false
        /// Counts the loop's sleeps, so that the timer of a sleep that was cut short wakes no later one.
        var sleepNumber: UInt64 = 0
        var pendingBytes: UInt64 { entries.values.reduce(0) { $0 + $1.bytes } }
    }

    private let state = Mutex(State())

    /// A queue with `settings`; nothing runs until `start(perform:)`.
    public init(settings: Settings) {
        self.settings = settings
    }

    /// Starts the scheduling loop; `perform` uploads one file and reports the outcome.
    public func start(perform: @escaping @Sendable (UInt64) async -> Outcome) {
        let first = state.withLock { state -> Bool in
            guard !state.isRunning else { return false }
            state.isRunning = true
            return true
        }
        guard first else { return }
        Task.detached { [self] in await run(perform) }
    }

    /// Stops the loop (uploads in flight finish; nothing new starts).
    public func stop() {
        state.withLock { $0.isStopped = true }
        wakeLoop()
    }

    /// Records that file `id` has `bytes` of changes to upload: it is uploaded after `settings.delay` seconds of
    /// quiet (at once with `immediately`), later for `.background` entries while files are pending. Scheduling a
    /// file again pushes its upload back.
    public func schedule(_ id: UInt64, bytes: UInt64, precedence: Precedence = .normal, immediately: Bool = false) {
        let now = Self.now()
        let wake = state.withLock { state -> Bool in
            var entry = state.entries[id] ?? Entry(bytes: bytes, pendingSince: now, due: now, latest: now)
            entry.bytes = bytes
            entry.generation += 1
            entry.precedence = precedence
            entry.due = immediately ? now : now + settings.delay
            entry.latest = immediately ? now : now + settings.backgroundWait
            state.entries[id] = entry
            // Only an earlier deadline than the loop's own, or backpressure, needs the loop now: a burst of closes
            // (rsync: several per file) must not run it once each.
            return state.plannedWake.map { entry.due < $0 } ?? true || state.pendingBytes > settings.maxPendingBytes
        }
        if wake { wakeLoop() }
    }

    /// Records that the owner's own upload of file `id` failed (a write-through close reported the error to the
    /// application): the queue retries it with the backoff of a failed attempt of its own — first after 1 s, not at
    /// once — and counts it as failing for `status`.
    public func scheduleRetry(_ id: UInt64, bytes: UInt64, failure: String) {
        let now = Self.now()
        state.withLock { state in
            var entry = state.entries[id] ?? Entry(bytes: bytes, pendingSince: now, due: now, latest: now)
            entry.bytes = bytes
            entry.generation += 1
            entry.recordFailure(failure, now: now, maxDelay: settings.maxRetryDelay)
            state.entries[id] = entry
        }
        wakeLoop()
    }

    /// Forgets file `id`: it was uploaded by its owner directly (fsync), removed, or its changes were dropped.
    public func remove(_ id: UInt64) {
        var wake = false
        let resumed = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let uploading = state.entries[id]?.uploading ?? false
            let wasFile = state.entries[id]?.precedence == .normal
            state.entries[id] = nil
            // The last file gone: background entries need not wait any more.
            wake = wasFile && !state.entries.values.contains { $0.precedence == .normal }
            // Removed by the upload the queue itself runs (its owner found the file clean at the end): the attempt's
            // outcome, a conflict included, settles the drains waiting for it when it returns.
            if uploading { return [] }
            return Self.settle(id, failure: nil, in: &state, limit: settings.maxPendingBytes)
        }
        for waiter in resumed { waiter.resume() }
        if wake { wakeLoop() }
    }

    /// True when file `id` waits for upload (or is being uploaded).
    public func isPending(_ id: UInt64) -> Bool {
        state.withLock { $0.entries[id] != nil }
    }

    /// The ids waiting for upload.
    public var pendingIDs: [UInt64] {
        state.withLock { Array($0.entries.keys) }
    }

    /// Uploads `ids` (every pending file when nil) now and returns once each has been uploaded or has failed once
    /// more; returns the failures by id.
    public func drain(_ ids: Set<UInt64>? = nil) async -> [UInt64: String] {
        let now = Self.now()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<[UInt64: String], Never>) in
            let immediate = state.withLock { state -> Bool in
                let wanted = ids.map { $0.filter { state.entries[$0] != nil } } ?? Set(state.entries.keys)
                guard !wanted.isEmpty else { return true }
                for id in wanted { state.entries[id]?.startNow(now) }
                state.drains.append(Drain(remaining: wanted, continuation: continuation))
                return false
            }
            if immediate { continuation.resume(returning: [:]) }
            wakeLoop()
        }
        return result
    }

    /// Waits while more than `settings.maxPendingBytes` wait for upload (and has them all uploaded at once).
    public func waitForRoom() async {
        let now = Self.now()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let wait = state.withLock { state -> Bool in
                guard state.pendingBytes > settings.maxPendingBytes, !state.isStopped else { return false }
                for id in Array(state.entries.keys) { state.entries[id]?.startNow(now) }
                state.roomWaiters.append(continuation)
                return true
            }
            if !wait { continuation.resume() }
            wakeLoop()
        }
    }

    /// The queue now.
    public var status: Status {
        let now = Self.now()
        return state.withLock { state in
            Status(pendingFiles: state.entries.count, pendingBytes: state.pendingBytes,
                   oldestPendingSeconds: state.entries.values.map { now - $0.pendingSince }.max() ?? 0,
                   uploading: state.entries.values.filter(\.uploading).count,
                   failing: state.entries.values.filter { $0.lastError != nil }.count,
                   lastError: state.entries.values.compactMap(\.lastError).last)
        }
    }

    // MARK: - The loop

    private func run(_ perform: @escaping @Sendable (UInt64) async -> Outcome) async {
        while true {
            let now = Self.now()
            let (starts, nextDue, stopped) = state.withLock { state -> ([(UInt64, UInt64)], Double?, Bool) in
                if state.isStopped { return ([], nil, true) }
                state.plannedWake = nil
                var running = state.entries.values.filter(\.uploading).count
                var starts: [(UInt64, UInt64)] = []
                let filesPending = state.entries.values.contains { $0.precedence == .normal }
                // Only the due entries are ordered (most of a long queue is waiting for its delay).
                let due = state.entries.filter { !$0.value.uploading && $0.value.start(filesPending: filesPending) <= now }
                for (id, entry) in due.sorted(by: { $0.value.due < $1.value.due }) where running < settings.concurrency {
                    state.entries[id]?.uploading = true
                    starts.append((id, entry.generation))
                    running += 1
                }
                let nextDue = running < settings.concurrency
                    ? state.entries.values.filter { !$0.uploading }.map { $0.start(filesPending: filesPending) }.min()
                    : nil
                return (starts, nextDue, false)
            }
            if stopped { return }
            for (id, generation) in starts {
                Task.detached { [self] in
                    let outcome = await perform(id)
                    finish(id, generation: generation, outcome: outcome)
                }
            }
            await sleep(until: nextDue)
        }
    }

    /// Records the end of an upload attempt.
    private func finish(_ id: UInt64, generation: UInt64, outcome: Outcome) {
        let now = Self.now()
        let resumed = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard var entry = state.entries[id] else {
                let failure: String? = if case .conflict(let message) = outcome { message } else { nil }
                return Self.settle(id, failure: failure, in: &state, limit: settings.maxPendingBytes)
            }
            entry.uploading = false
            switch outcome {
            case .uploaded, .conflict:
                if entry.generation == generation {
                    state.entries[id] = nil
                    let failure: String? = if case .conflict(let message) = outcome { message } else { nil }
                    return Self.settle(id, failure: failure, in: &state, limit: settings.maxPendingBytes)
                }
                // Changed again during the upload: it stays, due when its new changes are quiet.
                entry.failures = 0
                entry.lastError = nil
                state.entries[id] = entry
                return []
            case .failed(let message):
                entry.recordFailure(message, now: now, maxDelay: settings.maxRetryDelay)
                state.entries[id] = entry
                return Self.settle(id, failure: message, in: &state, limit: settings.maxPendingBytes)
            }
        }
        for waiter in resumed { waiter.resume() }
        wakeLoop()
    }

    /// Resolves drains waiting on `id` and returns the writers that may go on.
    private static func settle(_ id: UInt64, failure: String?, in state: inout State,
                               limit: UInt64) -> [CheckedContinuation<Void, Never>] {
        var index = 0
        while index < state.drains.count {
            if state.drains[index].remaining.remove(id) != nil, let failure {
                state.drains[index].failures[id] = failure
            }
            if state.drains[index].remaining.isEmpty {
                let drain = state.drains.remove(at: index)
                drain.continuation.resume(returning: drain.failures)
            } else {
                index += 1
            }
        }
        guard state.pendingBytes <= limit || state.entries.isEmpty else { return [] }
        defer { state.roomWaiters = [] }
        return state.roomWaiters
    }

    /// Sleeps until `deadline` (monotonic seconds; at most a second when nil) or until woken.
    private func sleep(until deadline: Double?) async {
        let now = Self.now()
        let seconds = max(0, min(deadline.map { $0 - now } ?? 1, 1))
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let number = state.withLock { state -> UInt64? in
                if state.wakeRequested || state.isStopped {
                    state.wakeRequested = false
                    return nil
                }
                state.sleepNumber += 1
                state.wake = continuation
                state.plannedWake = now + seconds
                return state.sleepNumber
            }
            guard let number else {
                continuation.resume()
                return
            }
            Task.detached { [self] in
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9) + 1_000_000)
                let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    guard state.sleepNumber == number else { return nil }
                    defer { state.wake = nil }
                    return state.wake
                }
                waiting?.resume()
            }
        }
    }

    private func wakeLoop() {
        let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.wake = nil }
            if state.wake == nil { state.wakeRequested = true }
            return state.wake
        }
        waiting?.resume()
    }

    private static func now() -> Double { ProcessInfo.processInfo.systemUptime }
}

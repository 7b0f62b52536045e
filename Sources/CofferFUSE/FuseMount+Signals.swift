import Foundation

/// Termination signals: SIGINT, SIGTERM and SIGHUP end a mount cleanly instead of leaving a dead one.
extension FuseMount {
    /// The signals `unmountOnTerminationSignals()` handles.
    static let terminationSignals: [(number: Int32, name: String)] = [
        (SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP"),
    ]

    /// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and every thread it creates later), restores their
    /// default disposition, and ignores SIGPIPE.
    ///
    /// Call it first thing on the main thread, before any other thread exists: a thread that does not block them
    /// would take the default action (the process dies and leaves a dead mount). libdispatch's own worker threads
    /// already block them. The signals are then delivered to `unmountOnTerminationSignals()`'s handlers.
    public static func blockTerminationSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in terminationSignals { sigaddset(&set, signal.number) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // An inherited SIG_IGN (a background job of a non-interactive shell ignores SIGINT) would discard the
        // signal before the handler's signalfd sees it; the default is safe now that the signals are blocked.
        for signal in terminationSignals { Glibc.signal(signal.number, SIG_DFL) }
        signal(SIGPIPE, SIG_IGN)
    }

    /// Handles SIGINT, SIGTERM and SIGHUP while the mount runs: the first one uploads pending changes
    /// (`FileSystem.shutdown()`) and then unmounts; a second one unmounts at once. The signals must be blocked
    /// (`blockTerminationSignals()`).
    public func unmountOnTerminationSignals() {
        for signal in Self.terminationSignals {
            let source = DispatchSource.makeSignalSource(signal: signal.number, queue: .global())
            let name = signal.name
            source.setEventHandler { @Sendable [self] in
                receivedSignal(name)
            }
            source.resume()
            retain(source)
        }
    }
}

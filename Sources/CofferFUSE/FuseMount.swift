internal import CFuse
import CofferFS
import Foundation
import Logging

/// A `FileSystem` mounted through the kernel's FUSE driver (libfuse 3 low-level API).
///
/// ```swift
/// FuseMount.blockTerminationSignals()          // first thing in main, before other threads exist
/// let mount = try FuseMount(fileSystem: fs, mountpoint: "/mnt/bucket",
///                           options: FuseMountOptions(fileSystemName: "coffer:bucket"))
/// mount.unmountOnTerminationSignals()          // SIGINT/SIGTERM/SIGHUP: upload, then unmount
/// try await mount.serve()                      // returns once unmounted (here or by `fusermount3 -u`)
/// ```
///
/// Lifecycle of `run()`: `fuse_session_new` → `fuse_session_mount` → `fuse_session_loop_mt` (up to
/// `options.maxThreads` threads) until unmounted → wait for requests still being served (at most
/// `options.drainTimeout`) → `fileSystem.shutdown()` (pending uploads finish) → `fuse_session_destroy` →
/// `umount2(MNT_DETACH)` if the kernel still lists the mount (an aborted connection leaves a dead one).
public final class FuseMount: @unchecked Sendable {
    /// The filesystem being served.
    public let fileSystem: FileSystem
    /// The mountpoint, absolute with symlinks resolved.
    public let mountpoint: String
    /// How the mount presents itself.
    public let options: FuseMountOptions
    let logger: Logger
    private let adapter: FuseAdapter
    private let state = Locked(State())

    private struct State {
        var phase = Phase.idle
        /// The session while `run()` owns it; nil once destroyed (then `unmount()` does nothing).
        var session: OpaquePointer?
        var unmountRequested = false
        var signalSources: [any DispatchSourceSignal] = []
        var signalsReceived = 0
    }

    private enum Phase { case idle, running, finished }

    /// Prepares a mount of `fileSystem` on `mountpoint`, which must be an existing empty directory with nothing
    /// mounted on it.
    /// - Parameter observer: told about each operation served through the core (metrics).
    /// - Throws: `FuseMountError` saying what is wrong with the mountpoint.
    public init(fileSystem: FileSystem, mountpoint: String, options: FuseMountOptions,
                logger: Logger = Logger(label: "coffer.fuse"),
                observer: (any FuseOperationObserver)? = nil) throws(FuseMountError) {
        self.mountpoint = try Self.checkMountpoint(mountpoint)
        self.fileSystem = fileSystem
        self.options = options
        self.logger = logger
        adapter = FuseAdapter(fileSystem: fileSystem, logger: logger,
                              directoryEntryTimeout: options.directoryEntryTimeout,
                              maxTransferSize: options.maxTransferSize, observer: observer,
                              readAhead: KernelReadAhead(mountpoint: self.mountpoint, bytes: options.maxTransferSize,
                                                         logger: logger))
    }

    /// Checks that `path` can be mounted on and returns it absolute with symlinks resolved.
    /// - Throws: `FuseMountError` when it is missing, not a directory, not empty, already mounted on, or a dead mount.
    public static func checkMountpoint(_ path: String) throws(FuseMountError) -> String {
        var status = stat()
        if stat(path, &status) != 0 {
            let code = errno
            switch code {
            case ENOENT: throw .mountpointMissing(path)
            case ENOTCONN:
                throw .mountpointUnusable(path, reason: "a dead FUSE mount is left there (transport endpoint is not "
                    + "connected): clear it with `coffer unmount \(path)` or `umount -l \(path)`")
            default: throw .mountpointUnusable(path, reason: String(cString: strerror(code)))
            }
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw .mountpointNotDirectory(path) }
        let canonical = MountTable.canonical(path)
        if MountTable.isMounted(canonical) { throw .mountpointInUse(path) }
        guard let directory = opendir(canonical) else {
            throw .mountpointUnusable(path, reason: String(cString: strerror(errno)))
        }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { throw .mountpointNotEmpty(path) }
        }
        return canonical
    }

    /// True while the kernel lists a filesystem at `mountpoint`.
    public var isMounted: Bool { MountTable.isMounted(mountpoint) }

    // MARK: - Running

    /// Mounts and serves requests on the calling thread until the filesystem is unmounted, then tears down.
    ///
    /// Blocks: call it from the main thread or a thread of its own, never from Swift concurrency's cooperative
    /// pool (use `serve(onMounted:)` from async code).
    /// - Parameter onMounted: called once the kernel has the mount, before requests are read.
    /// - Throws: `FuseMountError` when mounting fails or the request loop ends with an error.
    public func run(onMounted: (@Sendable () -> Void)? = nil) throws(FuseMountError) {
        try state.withLock { (state: inout State) throws(FuseMountError) in
            guard state.phase == .idle else { throw FuseMountError.alreadyRun }
            state.phase = .running
        }
        _ = try Self.checkMountpoint(mountpoint)
        let userdata = Unmanaged.passRetained(adapter).toOpaque()
        guard let session = makeSession(userdata: userdata) else {
            Unmanaged<FuseAdapter>.fromOpaque(userdata).release()
            state.withLock { $0.phase = .finished }
            throw .invalidOptions(options.arguments.dropFirst().joined(separator: " "))
        }
        guard fuse_session_mount(session, mountpoint) == 0 else {
            fuse_session_destroy(session)
            Unmanaged<FuseAdapter>.fromOpaque(userdata).release()
            state.withLock { $0.phase = .finished }
            throw .mountFailed(mountpoint)
        }
        let unmountEarly = state.withLock { (state: inout State) -> Bool in
            state.session = session
            return state.unmountRequested
        }
        logger.notice("mounted", metadata: ["mountpoint": "\(mountpoint)", "source": "\(options.fileSystemName)"])
        onMounted?()
        if unmountEarly {
            state.withLock { $0.unmountRequested = false }
            endSession(reason: "requested before the mount was ready")
        }

        let configuration = fuse_loop_cfg_create()
        fuse_loop_cfg_set_max_threads(configuration, UInt32(max(1, options.maxThreads)))
        fuse_loop_cfg_set_idle_threads(configuration, UInt32(max(1, options.maxThreads / 2)))
        fuse_loop_cfg_set_clone_fd(configuration, 0)
        let result = fuse_session_loop_mt(session, configuration)
        fuse_loop_cfg_destroy(configuration)

        let requestedByUs = tearDown(session, userdata: userdata)
        if result != 0 && !requestedByUs {
            logger.error("FUSE request loop failed", metadata: ["error": "\(result)"])
            throw .loopFailed(result)
        }
        logger.notice("unmounted", metadata: ["mountpoint": "\(mountpoint)"])
    }

    /// Mounts and serves requests on a thread of its own; returns once unmounted and torn down.
    /// - Parameter onMounted: called once the kernel has the mount.
    /// - Throws: what `run(onMounted:)` throws.
    public func serve(onMounted: (@Sendable () -> Void)? = nil) async throws(FuseMountError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, FuseMountError>, Never>) in
            let thread = Thread { [self] in
                do throws(FuseMountError) {
                    try run(onMounted: onMounted)
                    continuation.resume(returning: .success(()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = "coffer-fuse-loop"
            thread.start()
        }
        try result.get()
    }

    /// Ends the request loop and unmounts (lazily: files still open keep the filesystem alive until closed).
    /// Idempotent and safe from any thread; does nothing before `run()` mounted or after it finished.
    public func unmount() {
        endSession(reason: "requested")
    }

    /// Uploads every pending change (`FileSystem.shutdown()`), then unmounts.
    public func unmountAfterUploading() async {
        await fileSystem.shutdown()
        unmount()
    }

    // MARK: - Internals

    /// Exits the loop and unmounts, once; `reason` nil when the kernel already ended the session.
    private func endSession(reason: String?) {
        state.withLock { state in
            guard !state.unmountRequested else { return }
            state.unmountRequested = true
            guard let session = state.session else { return }
            if let reason { logger.info("unmounting", metadata: ["mountpoint": "\(mountpoint)", "reason": "\(reason)"]) }
            fuse_session_exit(session)
            fuse_session_unmount(session)
        }
    }

    private func makeSession(userdata: UnsafeMutableRawPointer) -> OpaquePointer? {
        var operations = FuseOperations.make()
        var arguments = options.arguments.map { strdup($0) }
        defer { arguments.forEach { free($0) } }
        return arguments.withUnsafeMutableBufferPointer { argv in
            var fuseArguments = fuse_args(argc: Int32(argv.count), argv: argv.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&fuseArguments) }
            return fuse_session_new(&fuseArguments, &operations, MemoryLayout<fuse_lowlevel_ops>.size, userdata)
        }
    }

    /// After the loop: unmount, drain replies, upload, destroy, clear a dead mount. Returns whether the unmount
    /// was asked for through `unmount()` (then a loop error is expected).
    private func tearDown(_ session: OpaquePointer, userdata: UnsafeMutableRawPointer) -> Bool {
        let requestedByUs = state.withLock { $0.unmountRequested }
        endSession(reason: nil)
        let abandoned = adapter.tracker.close(waitingAtMost: options.drainTimeout)
        if abandoned > 0 {
            logger.warning("requests still running after unmount; their replies are dropped",
                           metadata: ["count": "\(abandoned)"])
        }
        let uploaded = DispatchSemaphore(value: 0)
        Task { [fileSystem] in
            await fileSystem.shutdown()
            uploaded.signal()
        }
        uploaded.wait()
        let sources = state.withLock { (state: inout State) -> [any DispatchSourceSignal] in
            state.session = nil
            state.phase = .finished
            defer { state.signalSources = [] }
            return state.signalSources
        }
        sources.forEach { $0.cancel() }
        fuse_session_destroy(session)
        Unmanaged<FuseAdapter>.fromOpaque(userdata).release()
        if let mount = MountTable.mount(at: mountpoint), mount.type == "fuse." + options.subtype {
            logger.warning("the kernel still lists the mount (connection aborted?): detaching it",
                           metadata: ["mountpoint": "\(mountpoint)"])
            if umount2(mountpoint, Int32(MNT_DETACH)) != 0 {
                logger.error("cannot detach the mount", metadata: ["error": "\(String(cString: strerror(errno)))"])
            }
        }
        return requestedByUs
    }

    /// Records a termination signal; the first uploads then unmounts, a second unmounts at once.
    func receivedSignal(_ name: String) {
        let count = state.withLock { (state: inout State) -> Int in
            state.signalsReceived += 1
            return state.signalsReceived
        }
        if count == 1 {
            logger.notice("received \(name): uploading pending changes, then unmounting (send it again to unmount now)")
            Task { [self] in
                await fileSystem.shutdown()
                endSession(reason: name)
            }
        } else {
            logger.warning("received \(name) again: unmounting now")
            endSession(reason: name)
        }
    }

    /// Keeps a signal source alive as long as the mount runs.
    func retain(_ source: any DispatchSourceSignal) {
        state.withLock { $0.signalSources.append(source) }
    }
}

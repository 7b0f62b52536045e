import CofferFUSE
import Foundation

/// Background mode of `coffer mount`: the command starts itself again with `--daemon-child` in a new session
/// (posix_spawn + setsid: no fork in a process that already has threads) and waits until the child has mounted
/// or exited. Until it has mounted, the child's standard output and error come through a pipe to this terminal,
/// so every start-up error is shown here and becomes the exit status; once mounted, the child points both at
/// its log file (or /dev/null), which closes the pipe.
enum Daemon {
    /// The hidden flag that marks the background child.
    static let childFlag = "--daemon-child"

    /// Starts the background child with `arguments` (without the program name), relays its start-up output, and
    /// returns the exit status for this process: 0 once `mountpoint` is mounted, else the child's.
    static func start(arguments: [String], mountpoint: String) throws -> Int32 {
        let program = executablePath()
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw DaemonError("cannot create a pipe: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        // The daemon must not keep this process's descriptors: a caller waiting for EOF on one of them (Foundation's
        // Process watches a socket its child inherits) would wait for the daemon instead of for us.
        closeOnExec(except: writeEnd)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, writeEnd)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // This thread's mask (a Dispatch worker's) blocks most signals: give the child a clean one, and default
        // dispositions for the signals it handles (a background shell job inherits SIGINT ignored).
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let setsid: Int32 = 0x80  // POSIX_SPAWN_SETSID (glibc >= 2.26), not imported into Swift
        posix_spawnattr_setflags(&attributes, Int16(setsid | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environment.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, &attributes, argv, environment)
        close(writeEnd)
        guard spawned == 0 else {
            close(readEnd)
            throw DaemonError("cannot start \(program): \(String(cString: strerror(spawned)))")
        }

        relay(from: readEnd)
        close(readEnd)
        if MountTable.isMounted(mountpoint) { return 0 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        if signal != 0 {
            FileHandle.standardError.write(Data("coffer: the background mount process died of signal \(signal)\n".utf8))
            return 128 + signal
        }
        let code = (status >> 8) & 0xff
        if code == 0 {
            // The child exited cleanly without mounting (for example it was unmounted at once).
            FileHandle.standardError.write(Data("coffer: \(mountpoint) is not mounted\n".utf8))
            return 1
        }
        return code
    }

    /// Sets FD_CLOEXEC on every open descriptor above 2 but `kept`.
    private static func closeOnExec(except kept: Int32) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names {
            guard let descriptor = Int32(name), descriptor > 2, descriptor != kept else { continue }
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Copies the child's output to this process's standard error until the child closes it.
    private static func relay(from descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            _ = buffer.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, count) }
        }
    }

    /// In the child, once mounted: standard output and error go to `logFile` (or /dev/null), which ends the
    /// parent's wait; the working directory becomes / so the mount does not keep a directory busy.
    static func detachOutput(logFile: String?) {
        var target: Int32 = -1
        if let logFile { target = open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640) }
        if target < 0 { target = open("/dev/null", O_WRONLY | O_CLOEXEC) }
        guard target >= 0 else { return }
        dup2(target, 1)
        dup2(target, 2)
        close(target)
        _ = chdir("/")
    }

    /// This program's absolute path.
    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return buffer.withUnsafeBufferPointer { String(decoding: UnsafeRawBufferPointer($0).prefix(count), as: UTF8.self) }
    }
}

/// The background process could not be started.
struct DaemonError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

import CofferAWS
import Foundation

/// A `coffer mount --foreground` process serving a bucket of a `SignedMoto` on a fresh mountpoint under /tmp.
///
/// Tests need the `coffer` binary built first (`swift build`, or `make test` which builds everything): it is
/// looked up in `$COFFER_BINARY`, next to the test bundle (same scratch path), then in `.build/debug/coffer`.
///
/// ```swift
/// let mount = try await MountedCoffer.start(moto: moto, prefix: "t1/")
/// defer { mount.unmountNow() }            // or: await mount.unmount() in a do/catch
/// let listing = try await Shell.check("ls \(mount.path(""))")
/// ```
/// `unmount()` always cleans up: `fusermount3 -u`, wait for the process, SIGTERM/SIGKILL it if it lingers,
/// `umount -l` as a last resort, then remove the mountpoint and the cache directory. `deinit` does the same.
public final class MountedCoffer: @unchecked Sendable {
    /// The mountpoint (absolute).
    public let mountpoint: String
    /// The cache directory given with `--cache-dir`.
    public let cacheDirectory: String
    /// Standard output and error of the coffer process.
    public let logPath: String
    /// The bucket.
    public let bucket: String
    /// The mounted prefix ("" or ending with "/").
    public let prefix: String
    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    public let endpoint: String
    /// Variables that give a child process the mount's credentials (for boto3 or the AWS CLI).
    public let environment: [String: String]
    private let process: Process
    private let workDirectory: String
    private let state = NSLock()
    private var finished = false

    /// The `coffer` executable the tests run.
    public static func binaryPath() -> String {
        if let explicit = ProcessInfo.processInfo.environment["COFFER_BINARY"], !explicit.isEmpty { return explicit }
        if let testBinary = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let sibling = URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent("coffer").path
            if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        }
        return ProjectPaths.root + "/.build/debug/coffer"
    }

    /// The environment for `coffer` and helper scripts with `credentials`: no host AWS config, no EC2 metadata.
    public static func awsEnvironment(_ credentials: AWSCredentials, endpoint: String) -> [String: String] {
        [
            "AWS_ACCESS_KEY_ID": credentials.accessKeyId,
            "AWS_SECRET_ACCESS_KEY": credentials.secretAccessKey,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "COFFER_TEST_ENDPOINT": endpoint,
        ]
    }

    /// The command line of a foreground mount (without the binary). Unless `extra` sets `--write-back-delay`,
    /// the mount uploads at close (`--write-back-delay 0`), so that tests can check S3 right after a close; the
    /// write-back tests give their own delay.
    public static func arguments(source: String, mountpoint: String, endpoint: String, cacheDirectory: String,
                                 extra: [String] = []) -> [String] {
        let delay = extra.contains("--write-back-delay") ? [] : ["--write-back-delay", "0"]
        return ["mount", source, mountpoint, "--foreground", "--endpoint-url", endpoint, "--path-style",
                "--region", "us-east-1", "--cache-dir", cacheDirectory] + delay + extra
    }

    /// Mounts `s3://bucket/prefix` of `moto` as `user` and waits until the kernel lists the mount.
    /// - Parameters:
    ///   - extraArguments: more `coffer mount` arguments (`-o ro`, `--uid 1000`, `--log-level debug`…).
    ///   - source: the source argument, if not `s3://bucket/prefix`.
    /// - Throws: `TestSupportError` with the process's output when it exits or does not mount within `timeout`.
    public static func start(moto: SignedMoto, user: String = "full", prefix: String = "",
                             extraArguments: [String] = [], source: String? = nil, cacheDirectory: String? = nil,
                             timeout: Double = 30) async throws -> MountedCoffer {
        try await start(endpoint: moto.server.endpoint, bucket: moto.bucket, credentials: moto.users[user]!,
                        prefix: prefix, extraArguments: extraArguments, source: source,
                        cacheDirectory: cacheDirectory, timeout: timeout)
    }

    /// Mounts `s3://bucket/prefix` of the server at `endpoint` with `credentials` and waits until the kernel lists
    /// the mount.
    /// - Parameter cacheDirectory: a cache directory of the caller's (kept at unmount), to remount with the
    ///   staging files and journal of an earlier mount; by default one of the mount's own, removed at unmount.
    public static func start(endpoint: String, bucket: String, credentials: AWSCredentials, prefix: String = "",
                             extraArguments: [String] = [], source: String? = nil, cacheDirectory: String? = nil,
                             timeout: Double = 30) async throws -> MountedCoffer {
        let mount = try MountedCoffer(endpoint: endpoint, bucket: bucket, prefix: prefix,
                                      credentials: credentials, extraArguments: extraArguments, source: source,
                                      cacheDirectory: cacheDirectory)
        do {
            try await mount.waitUntilMounted(timeout: timeout)
        } catch {
            await mount.unmount()
            throw error
        }
        return mount
    }

    private init(endpoint: String, bucket: String, prefix: String, credentials: AWSCredentials,
                 extraArguments: [String], source: String?, cacheDirectory: String?) throws {
        self.endpoint = endpoint
        self.bucket = bucket
        self.prefix = prefix
        let created = try ProjectPaths.temporaryDirectory("coffer-mount")
        workDirectory = URL(fileURLWithPath: created).resolvingSymlinksInPath().path
        mountpoint = workDirectory + "/mnt"
        self.cacheDirectory = cacheDirectory ?? workDirectory + "/cache"
        logPath = workDirectory + "/coffer.log"
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        environment = Self.awsEnvironment(credentials, endpoint: endpoint)

        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaryPath())
        process.arguments = Self.arguments(source: source ?? "s3://\(bucket)/\(prefix)", mountpoint: mountpoint,
                                           endpoint: endpoint, cacheDirectory: self.cacheDirectory,
                                           extra: extraArguments)
        process.environment = Shell.mergedEnvironment(environment)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
    }

    deinit {
        unmountNow()
    }

    /// The path of `relative` inside the mount, quoted for the shell.
    public func path(_ relative: String) -> String {
        Shell.quote(relative.isEmpty ? mountpoint : mountpoint + "/" + relative)
    }

    /// What the coffer process has written so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// True while the coffer process runs.
    public var isRunning: Bool { process.isRunning }

    /// The exit status of the coffer process, once it has exited.
    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// The coffer process's id.
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Sends `signal` (SIGTERM, SIGINT…) to the coffer process.
    public func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Kills the coffer process with SIGKILL (no upload, no clean-up: a crash) and detaches its dead mount; the
    /// cache directory stays as the process left it.
    public func crash() async {
        guard beginFinishing() else { return }
        kill(process.processIdentifier, SIGKILL)
        _ = await waitForExit(timeout: 10)
        if isMounted { _ = try? await Shell.run("umount -l \(Shell.quote(mountpoint))", timeout: 30) }
        removeWorkDirectory()
    }

    /// True while the kernel lists a mount at the mountpoint.
    public var isMounted: Bool { Self.isMounted(mountpoint) }

    /// Waits for the mount to appear; throws with the process output if it exits first or time runs out.
    public func waitUntilMounted(timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !isMounted {
            if !process.isRunning {
                throw TestSupportError("coffer mount exited with \(process.terminationStatus) before mounting:\n\(log)")
            }
            guard Date() < deadline else {
                throw TestSupportError("coffer mount did not mount within \(Int(timeout)) s:\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits up to `timeout` seconds for the coffer process to exit; true if it did.
    public func waitForExit(timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !process.isRunning
    }

    /// Unmounts and cleans up; idempotent, never throws. See the type's documentation for the steps.
    public func unmount() async {
        guard beginFinishing() else { return }
        if isMounted { _ = try? await Shell.run("fusermount3 -u \(Shell.quote(mountpoint))", timeout: 30) }
        if !(await waitForExit(timeout: 30)) {
            kill(process.processIdentifier, SIGTERM)
            if !(await waitForExit(timeout: 10)) {
                kill(process.processIdentifier, SIGKILL)
                _ = await waitForExit(timeout: 10)
            }
        }
        if isMounted { _ = try? await Shell.run("umount -l \(Shell.quote(mountpoint))", timeout: 30) }
        removeWorkDirectory()
    }

    /// The same as `unmount()`, blocking the calling thread (for `defer` and `deinit`).
    public func unmountNow() {
        guard beginFinishing() else { return }
        if isMounted { Self.execute(["fusermount3", "-u", mountpoint]) }
        if !waitForExitBlocking(timeout: 30) {
            kill(process.processIdentifier, SIGTERM)
            if !waitForExitBlocking(timeout: 10) {
                kill(process.processIdentifier, SIGKILL)
                _ = waitForExitBlocking(timeout: 10)
            }
        }
        if isMounted { Self.execute(["umount", "-l", mountpoint]) }
        removeWorkDirectory()
    }

    // MARK: - Internals

    private func beginFinishing() -> Bool {
        state.lock()
        defer { state.unlock() }
        if finished { return false }
        finished = true
        return true
    }

    private func waitForExitBlocking(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        return !process.isRunning
    }

    private func removeWorkDirectory() {
        // Only once nothing is mounted there: never recurse into a live (or dead) mount.
        guard !isMounted else { return }
        _ = rmdir(mountpoint)
        try? FileManager.default.removeItem(atPath: workDirectory)
    }

    private static func execute(_ arguments: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
    }

    /// True when /proc/self/mountinfo lists a mount at `path` (octal escapes decoded).
    public static func isMounted(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && decode(fields[4]) == path
        }
    }

    private static func decode(_ field: Substring) -> String {
        field.replacingOccurrences(of: "\\040", with: " ").replacingOccurrences(of: "\\011", with: "\t")
            .replacingOccurrences(of: "\\012", with: "\n").replacingOccurrences(of: "\\134", with: "\\")
    }
}

import Foundation

/// Runs shell commands in separate processes without blocking Swift concurrency's cooperative pool.
///
/// Mount tests do every filesystem call on a mount through here (`ls`, `cat`, `stat`, `python3 -c …`), so a hung
/// mount can only hang a child process, which the timeout kills.
public enum Shell {
    /// The environment every command gets on top of the test process's own: no EC2 metadata lookups ever
    /// (tests must not contact 169.254.169.254).
    public static let baseEnvironment: [String: String] = ["AWS_EC2_METADATA_DISABLED": "true"]

    /// Runs `/bin/sh -c command` and returns its exit status and output.
    ///
    /// The process is awaited with a termination handler and a continuation, its output goes to temporary files
    /// (no pipe to drain), and `timeout(1)` kills it and its children with SIGKILL after `timeout` seconds
    /// (status 137).
    /// - Parameters:
    ///   - environment: variables added to (or replacing) the test process's environment (see `mergedEnvironment`).
    ///   - timeout: seconds before the command is killed.
    public static func run(_ command: String, environment: [String: String] = [:],
                           timeout: Int = 60) async throws -> (status: Int32, stdout: String, stderr: String) {
        let directory = try ProjectPaths.temporaryDirectory("coffer-shell")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outPath = directory + "/stdout"
        let errPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-s", "KILL", "\(timeout)", "/bin/sh", "-c", command]
        process.environment = mergedEnvironment(environment)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in
                // Like the shell's $?: 128 + the signal number for a process killed by a signal.
                let killed = finished.terminationReason == .uncaughtSignal
                continuation.resume(returning: killed ? 128 + finished.terminationStatus : finished.terminationStatus)
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return (status, stdout, stderr)
    }

    /// Runs `command` and returns its standard output; throws with the output when it exits non-zero.
    @discardableResult
    public static func check(_ command: String, environment: [String: String] = [:], timeout: Int = 60) async throws
        -> String {
        let result = try await run(command, environment: environment, timeout: timeout)
        guard result.status == 0 else {
            throw TestSupportError("`\(command)` exited with \(result.status): \(result.stderr)\(result.stdout)")
        }
        return result.stdout
    }

    /// The test process's environment with `baseEnvironment` and `overrides` applied. When `overrides` sets any
    /// `AWS_*` variable, every inherited `AWS_*` variable is dropped first, so a host's credentials, profile or
    /// session token never mix with a test's.
    public static func mergedEnvironment(_ overrides: [String: String]) -> [String: String] {
        var merged = ProcessInfo.processInfo.environment
        if overrides.keys.contains(where: { $0.hasPrefix("AWS_") }) {
            for key in merged.keys where key.hasPrefix("AWS_") { merged.removeValue(forKey: key) }
        }
        for (key, value) in baseEnvironment.merging(overrides, uniquingKeysWith: { $1 }) { merged[key] = value }
        return merged
    }

    /// `text` quoted for the shell (single quotes).
    public static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

import Foundation

/// A helper process (usually a Python script) that listens on a loopback port for the duration of a test.
public final class ScriptProcess: @unchecked Sendable {
    /// The port it listens on.
    public let port: Int
    private let process = Process()
    private let lock = NSLock()

    /// Starts `arguments` (with `{port}` replaced by a free port) and waits until the port answers.
    /// - Parameters:
    ///   - removingEnvironment: variables of the test process the child must not inherit.
    ///   - startFailure: what to say when the process exits before listening.
    public init(_ arguments: [String], port: Int? = nil, timeout: TimeInterval = 20,
                removingEnvironment: [String] = [], startFailure: String? = nil) throws {
        self.port = try port ?? TestPorts.free()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments.map { $0.replacingOccurrences(of: "{port}", with: "\(self.port)") }
        if !removingEnvironment.isEmpty {
            var environment = ProcessInfo.processInfo.environment
            for name in removingEnvironment { environment.removeValue(forKey: name) }
            process.environment = environment
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while !TestPorts.isListening(self.port) {
            guard process.isRunning else {
                throw TestSupportError(startFailure ?? "\(arguments.joined(separator: " ")) exited at start")
            }
            guard Date() < deadline else {
                stop()
                throw TestSupportError("\(arguments.joined(separator: " ")) did not listen within \(Int(timeout)) s")
            }
            usleep(30_000)
        }
    }

    deinit { stop() }

    /// Ends the process.
    public func stop() {
        lock.withLock {
            // SIGKILL, not SIGTERM: children spawned from Dispatch worker threads inherit a mask that blocks SIGTERM.
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }
}

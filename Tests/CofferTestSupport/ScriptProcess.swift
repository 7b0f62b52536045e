import Foundation

/// A helper process (usually a Python script) that listens on a loopback port for the duration of a test.
public final class ScriptProcess: @unchecked Sendable {
    /// The port it listens on.
    public let port: Int
    private let process = Process()

    /// Starts `arguments` (with `{port}` replaced by a free port) and waits until the port answers.
    public init(_ arguments: [String], port: Int? = nil, timeout: TimeInterval = 20) throws {
        self.port = try port ?? TestPorts.free()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments.map { $0.replacingOccurrences(of: "{port}", with: "\(self.port)") }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while !TestPorts.isListening(self.port) {
            guard process.isRunning else { throw TestSupportError("\(arguments.joined(separator: " ")) exited at start") }
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
        // SIGKILL, not SIGTERM: children spawned from Dispatch worker threads inherit a mask that blocks SIGTERM.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

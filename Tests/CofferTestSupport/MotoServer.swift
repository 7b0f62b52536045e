import Foundation

/// A local S3 server (moto, through `scripts/s3server.py`) started for one test or suite on a free loopback port.
///
/// The server exits by itself if the test process dies; call `stop()` (or let it deinit) to end it sooner.
public final class MotoServer: @unchecked Sendable {
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    /// `http://127.0.0.1:PORT`.
    public let endpoint: String
    /// The file where every request is logged (see `requests()`).
    public let logPath: String
    /// While this file exists the server answers matching requests with errors (see `injectFaults`).
    public let faultFilePath: String
    private let process: ScriptProcess

    /// Starts a server and waits until it answers.
    /// - Parameters:
    ///   - authActions: when set, the first `authActions` requests are unauthenticated and every later request
    ///     must be correctly signed and allowed by IAM (moto's `INITIAL_NO_AUTH_ACTION_COUNT`).
    ///   - delayMilliseconds: added latency per request.
    public init(authActions: Int? = nil, delayMilliseconds: Int = 0) throws {
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("coffer-moto-\(UUID().uuidString).tsv").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let faults = log + ".faults"
        var arguments = ["python3", ProjectPaths.script("s3server.py"), "-p", "{port}", "--log", log, "--watch-parent",
                         "--fault-file", faults, "--seeding"]
        if let authActions { arguments += ["--auth-actions", "\(authActions)"] }
        if delayMilliseconds > 0 { arguments += ["--delay-ms", "\(delayMilliseconds)"] }
        do {
            process = try ScriptProcess(
                arguments, timeout: 30,
                removingEnvironment: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"],
                startFailure: "moto server exited at start (is moto[server] installed? run scripts/install-deps.sh)")
        } catch {
            try? FileManager.default.removeItem(atPath: log)
            throw error
        }
        logPath = log
        faultFilePath = faults
        port = process.port
        endpoint = "http://127.0.0.1:\(port)"
    }

    deinit { stop() }

    /// Stops the server and removes its log.
    public func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: logPath)
        try? FileManager.default.removeItem(atPath: faultFilePath)
    }

    /// From now on, requests whose path or query contains `matching` are answered with `status` (503 SlowDown,
    /// 500 InternalError) without reaching the store, until `endFaults()`.
    public func injectFaults(status: Int = 503, matching: String) throws {
        try "\(status) \(matching)\n".write(toFile: faultFilePath, atomically: true, encoding: .utf8)
    }

    /// Until `endFaults`, drops the connection of every request whose path or query contains `matching` without
    /// any answer (the client sees an empty reply or a TCP reset, as when a load balancer or NAT drops it).
    public func injectResets(matching: String) throws {
        try "reset \(matching)\n".write(toFile: faultFilePath, atomically: true, encoding: .utf8)
    }

    /// Stores `count` one-byte objects `prefix00000000`, `prefix00000001`… in `bucket` straight into the server's
    /// backend (`s3server.py --seeding`): seconds for tens of thousands of objects that PUTs would take minutes for.
    public func seed(bucket: String, prefix: String, count: Int) async throws {
        let request = try JSONSerialization.data(withJSONObject: ["bucket": bucket, "prefix": prefix, "count": count,
                                                                  "body": "x"])
        let body = String(decoding: request, as: UTF8.self)
        try await Shell.check("curl -sSf -X POST --data-binary \(Shell.quote(body)) \(endpoint)/_coffer/seed",
                              timeout: 120)
    }

    /// Serves every request again.
    public func endFaults() {
        try? FileManager.default.removeItem(atPath: faultFilePath)
    }

    /// Every request logged so far, oldest first.
    public func requests() -> [LoggedRequest] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap(LoggedRequest.init(line:))
    }

    /// The requests logged so far, once `isComplete` says they include what the caller waits for, or after
    /// `timeout` seconds (the server logs a request when its response body is closed, which can come a moment
    /// after the client has the whole response).
    public func requests(whenComplete isComplete: ([LoggedRequest]) -> Bool,
                         timeout: Double = 5) async -> [LoggedRequest] {
        let deadline = Date().addingTimeInterval(timeout)
        var logged = requests()
        while !isComplete(logged) && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            logged = requests()
        }
        return logged
    }

    /// Forgets the requests logged so far, so a test can count what one operation costs.
    public func resetLog() {
        _ = try? FileHandle(forWritingTo: URL(fileURLWithPath: logPath)).truncate(atOffset: 0)
    }
}

/// One line of the server's request log.
public struct LoggedRequest: Sendable, CustomStringConvertible {
    public let method: String
    public let path: String
    public let query: String
    public let isCopy: Bool
    public let range: String
    /// The HTTP status, or 0 for a connection the server reset (an injected fault) or a line it could not read.
    public let status: Int
    /// The request's `x-amz-request-payer` header ("" when absent).
    public let requestPayer: String
    /// Bytes of the response body the server sent.
    public let responseBytes: Int

    init?(line: Substring) {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard f.count >= 10 else { return nil }
        method = f[2]; path = f[3]; query = f[4]; isCopy = f[5] == "1"; range = f[6]; status = Int(f[8]) ?? 0
        requestPayer = f.count > 10 ? f[10] : ""
        responseBytes = Int(f[9]) ?? 0
    }

    public var description: String { "\(method) \(path)\(query.isEmpty ? "" : "?" + query) -> \(status)" }
}

/// An error in the test scaffolding itself.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

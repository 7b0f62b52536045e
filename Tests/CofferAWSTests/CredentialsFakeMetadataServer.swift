import CofferHTTP
import CofferTestSupport
import Foundation

/// `Resources/fake_metadata_server.py` (a fake IMDSv2 and ECS credentials endpoint) on a free loopback port.
///
/// Stop it with `stop()` (tests use `defer`); it also exits by itself when the test process dies.
final class FakeMetadataServer: @unchecked Sendable {
    let port: Int
    /// `http://127.0.0.1:PORT`.
    let endpoint: String
    /// The path of the ECS credentials document.
    let ecsPath = "/v2/credentials/task"
    private let process: ScriptProcess
    private let control = CurlTransport()

    /// Starts the server and waits until it accepts connections.
    /// - Parameters:
    ///   - ecsToken: the `Authorization` value the ECS endpoint requires (nil: none).
    ///   - expirySeconds: the lifetime of the credentials it issues.
    init(ecsToken: String? = nil, expirySeconds: Int = 3600, role: String = "coffer-test-role") throws {
        var arguments = ["python3", ProjectPaths.resource("CofferAWSTests", "fake_metadata_server.py"),
                         "--port", "{port}", "--expiry-seconds", "\(expirySeconds)", "--role", role,
                         "--ecs-path", ecsPath, "--watch-parent"]
        if let ecsToken { arguments += ["--ecs-token", ecsToken] }
        process = try ScriptProcess(arguments)
        port = process.port
        endpoint = "http://127.0.0.1:\(port)"
    }

    deinit { stop() }

    /// Starts a server.
    static func start(ecsToken: String? = nil, expirySeconds: Int = 3600,
                      role: String = "coffer-test-role") async throws -> FakeMetadataServer {
        try FakeMetadataServer(ecsToken: ecsToken, expirySeconds: expirySeconds, role: role)
    }

    /// Ends the server process and the control transport.
    func stop() {
        process.stop()
        control.shutdown()
    }

    /// Request counts by kind: token, role, credentials, ecs, unauthorized, bad_request, failed.
    func stats() async throws -> [String: Int] {
        let response = try await control.send(HTTPRequest(method: "GET", url: endpoint + "/__stats"))
        let object = try JSONSerialization.jsonObject(with: Data(response.body))
        return object as? [String: Int] ?? [:]
    }

    /// Changes the server's behaviour (see the script's documentation).
    func configure(_ settings: [String: Any]) async throws {
        let body = try JSONSerialization.data(withJSONObject: settings)
        let response = try await control.send(HTTPRequest(method: "POST", url: endpoint + "/__config",
                                                          headers: ["Content-Type": "application/json"],
                                                          body: .bytes(Array(body))))
        guard response.isSuccess else { throw TestSupportError("fake server refused the configuration") }
    }
}

import CofferAWS
import CofferHTTP
import CofferTestSupport
import Foundation
import Synchronization

/// A temporary directory holding `config` and `credentials` files, and an environment pointing at them.
struct TemporaryAWSFiles {
    let directory: String
    var configPath: String { directory + "/config" }
    var credentialsPath: String { directory + "/credentials" }

    /// Writes the files given (nil: the file does not exist).
    init(config: String? = nil, credentials: String? = nil) throws {
        directory = try ProjectPaths.temporaryDirectory("coffer-creds")
        if let config { try config.write(toFile: configPath, atomically: true, encoding: .utf8) }
        if let credentials { try credentials.write(toFile: credentialsPath, atomically: true, encoding: .utf8) }
    }

    /// An environment naming the two files (and a HOME inside the directory, so ~/.aws is never the real one).
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ["AWS_CONFIG_FILE": configPath, "AWS_SHARED_CREDENTIALS_FILE": credentialsPath,
                           "HOME": directory, "AWS_EC2_METADATA_DISABLED": "true"]
        environment.merge(extra) { _, new in new }
        return environment
    }

    /// Writes `text` to a file in the directory and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(start) }

    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    func set(_ date: Date) { current.withLock { $0 = date } }
    /// The clock as the `now` closure providers take.
    var closure: @Sendable () -> Date { { [self] in self.now } }
}

/// A provider that counts its calls and returns new credentials each time, expiring `lifetime` after the clock's now.
/// It can fail on demand, and hold every fetch until `release()` (to test concurrent callers).
final class CountingProvider: CredentialsProvider {
    private struct State {
        var calls = 0
        var failing: CredentialsError?
        var gate: [CheckedContinuation<Void, Never>] = []
        var holding = false
    }

    private let state = Mutex(State())
    private let clock: TestClock
    private let lifetime: TimeInterval?

    init(clock: TestClock, lifetime: TimeInterval? = 3600) {
        self.clock = clock
        self.lifetime = lifetime
    }

    var calls: Int { state.withLock { $0.calls } }
    /// Fetches waiting for `release()`.
    var waiting: Int { state.withLock { $0.gate.count } }

    func fail(with error: CredentialsError?) { state.withLock { $0.failing = error } }
    func hold() { state.withLock { $0.holding = true } }
    func release() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.holding = false
            defer { s.gate.removeAll() }
            return s.gate
        }
        for continuation in waiting { continuation.resume() }
    }

    func credentials() async throws(CredentialsError) -> AWSCredentials {
        let call = state.withLock { s -> Int in
            s.calls += 1
            return s.calls
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.holding { s.gate.append(continuation); return false }
                return true
            }
            if resumeNow { continuation.resume() }
        }
        if let error = state.withLock({ $0.failing }) { throw error }
        return AWSCredentials(accessKeyId: "AKIDCALL\(call)", secretAccessKey: "secret\(call)", sessionToken: "token\(call)",
                              expiration: lifetime.map { clock.now.addingTimeInterval($0) })
    }
}

/// An HTTP transport answering from a closure and recording every request (for STS without a server).
final class ScriptedTransport: HTTPTransport {
    private let recorded = Mutex<[HTTPRequest]>([])
    private let answer: @Sendable (HTTPRequest) -> HTTPResponse

    init(_ answer: @escaping @Sendable (HTTPRequest) -> HTTPResponse) { self.answer = answer }

    var requests: [HTTPRequest] { recorded.withLock { $0 } }

    func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        recorded.withLock { $0.append(request) }
        return answer(request)
    }

    /// The decoded form fields of a recorded STS request body.
    static func form(_ request: HTTPRequest) -> [String: String] {
        guard case .bytes(let bytes) = request.body else { return [:] }
        var fields: [String: String] = [:]
        for pair in String(decoding: bytes, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let value = parts.count > 1 ? parts[1] : ""
            fields[AWSURIEncoding.decode(parts[0]) ?? parts[0]] = AWSURIEncoding.decode(value) ?? value
        }
        return fields
    }

    /// An STS AssumeRole/AssumeRoleWithWebIdentity success document whose keys name the role (`ASIA<n>`).
    static func stsSuccess(action: String, accessKeyId: String, expiration: String = "2030-01-01T00:00:00Z") -> HTTPResponse {
        let xml = """
        <\(action)Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <\(action)Result>
            <Credentials>
              <AccessKeyId>\(accessKeyId)</AccessKeyId>
              <SecretAccessKey>secret-\(accessKeyId)</SecretAccessKey>
              <SessionToken>token-\(accessKeyId)</SessionToken>
              <Expiration>\(expiration)</Expiration>
            </Credentials>
            <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn><AssumedRoleId>ARO:s</AssumedRoleId></AssumedRoleUser>
          </\(action)Result>
          <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
        </\(action)Response>
        """
        return HTTPResponse(status: 200, body: Array(xml.utf8))
    }

    /// An STS error document.
    static func stsError(status: Int, code: String, message: String) -> HTTPResponse {
        let xml = """
        <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <Error><Type>Sender</Type><Code>\(code)</Code><Message>\(message)</Message></Error>
          <RequestId>req-err</RequestId>
        </ErrorResponse>
        """
        return HTTPResponse(status: status, body: Array(xml.utf8))
    }
}

/// The access key id in a SigV4 `Authorization` header (`Credential=AKID/...`).
func signingAccessKey(_ request: HTTPRequest) -> String? {
    guard let authorization = request.headers["Authorization"],
          let range = authorization.range(of: "Credential=") else { return nil }
    return authorization[range.upperBound...].split(separator: "/").first.map(String.init)
}

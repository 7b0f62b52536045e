import CofferHTTP
import CofferTestSupport
import Foundation
import Testing

/// The libcurl transport against a real loopback HTTP server: bodies streamed both ways, failures typed.
@Suite("CurlTransport against a loopback HTTP server")
struct CurlTransportTests {
    static let script = ProjectPaths.resource("CofferHTTPTests", "http_test_server.py")

    static func server() throws -> ScriptProcess { try ScriptProcess(["python3", script, "{port}"]) }

    static func json(_ response: HTTPResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func sendsHeadersAndInMemoryBody() async throws {
        let server = try Self.server()
        let transport = CurlTransport()
        let body = Array("hello, body".utf8)
        let response = try await transport.send(HTTPRequest(
            method: "PUT", url: "http://127.0.0.1:\(server.port)/echo", headers: ["x-amz-meta-a": "1", "X-Empty": ""],
            body: .bytes(body)))
        #expect(response.status == 200)
        let info = try Self.json(response)
        #expect(info["length"] as? Int == body.count)
        let headers = try #require(info["headers"] as? [String: String])
        #expect(headers["x-amz-meta-a"] == "1")
        #expect(headers["x-empty"] == "")
        #expect(headers["expect"] == nil, "no 100-continue round trip")
        #expect(headers["content-length"] == "\(body.count)")
    }

    @Test func streamsAFileRangeAsTheBody() async throws {
        let server = try Self.server()
        let dir = try ProjectPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/f"))
        let response = try await CurlTransport().send(HTTPRequest(
            method: "PUT", url: "http://127.0.0.1:\(server.port)/echo",
            body: .file(path: dir + "/f", offset: 1000, count: 2 << 20)))
        let info = try Self.json(response)
        #expect(info["length"] as? Int == 2 << 20)
        #expect(info["sha256"] as? String == sha256Hex(Array(bytes[1000..<(1000 + (2 << 20))])))
    }

    @Test func writesTheResponseIntoAFileAtAnOffset() async throws {
        let server = try Self.server()
        let dir = try ProjectPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out"
        let response = try await CurlTransport().send(HTTPRequest(
            method: "GET", url: "http://127.0.0.1:\(server.port)/bytes/1000000", responseSink: .file(path: path, offset: 10)))
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        #expect(response.bodyCount == 1_000_000)
        let onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(onDisk.count == 1_000_010)
        #expect(Array(onDisk[10...]) == (0..<1_000_000).map { UInt8($0 % 251) })
        // An error answer is never written into the file; it comes back in memory.
        let error = try await CurlTransport().send(HTTPRequest(
            method: "GET", url: "http://127.0.0.1:\(server.port)/status/404", responseSink: .file(path: dir + "/err", offset: 0)))
        #expect(error.status == 404)
        #expect(String(decoding: error.body, as: UTF8.self).contains("<Code>Test</Code>"))
    }

    @Test func reusesConnectionsAndRunsManyRequestsAtOnce() async throws {
        let server = try Self.server()
        let transport = CurlTransport()
        let base = "http://127.0.0.1:\(server.port)"
        func connections() async throws -> String {
            String(decoding: try await transport.send(HTTPRequest(method: "GET", url: base + "/connections")).body, as: UTF8.self)
        }
        let before = try await connections()
        for _ in 0..<20 { _ = try await transport.send(HTTPRequest(method: "GET", url: base + "/bytes/10")) }
        #expect(try await connections() == before, "20 sequential requests reuse the connection")
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<32 {
                group.addTask {
                    let r = try await transport.send(HTTPRequest(method: "GET", url: base + "/bytes/\(1000 + i)"))
                    #expect(r.body == (0..<(1000 + i)).map { UInt8($0 % 251) })
                    return r.status
                }
            }
            for try await status in group { #expect(status == 200) }
        }
    }

    @Test func connectionRefusedIsRetryableCannotConnect() async throws {
        let port = try TestPorts.free()
        await #expect(throws: HTTPError.self) {
            try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/"))
        }
        do {
            _ = try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(port)/"))
        } catch {
            #expect(error.isRetryable)
            guard case .cannotConnect = error else { Issue.record("expected cannotConnect, got \(error)"); return }
        }
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let server = try Self.server()
        var options = CurlTransport.Options()
        options.lowSpeedTime = 1
        do {
            _ = try await CurlTransport(options: options).send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/hang"))
            Issue.record("expected a timeout")
        } catch {
            guard case .timedOut = error else { Issue.record("expected timedOut, got \(error)"); return }
            #expect(error.isRetryable)
        }
    }

    @Test func aConnectionClosedWithoutAnswerIsConnectionLost() async throws {
        let server = try Self.server()
        do {
            _ = try await CurlTransport().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/reset"))
            Issue.record("expected a failure")
        } catch {
            #expect(error.isRetryable, "\(error)")
        }
    }

    @Test func tlsCertificatesAreVerifiedByDefault() async throws {
        let dir = try ProjectPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try SignedMoto.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                                "-addext", "subjectAltName=IP:127.0.0.1",
                                "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem"])
        let server = try ScriptProcess(["python3", Self.script, "{port}", "--tls", dir + "/cert.pem", dir + "/key.pem"])
        let url = "https://127.0.0.1:\(server.port)/bytes/5"
        do {
            _ = try await CurlTransport().send(HTTPRequest(method: "GET", url: url))
            Issue.record("a self-signed certificate must be refused")
        } catch {
            guard case .tls = error else { Issue.record("expected a TLS error, got \(error)"); return }
            #expect(!error.isRetryable)
        }
        var trusting = CurlTransport.Options()
        trusting.caBundlePath = dir + "/cert.pem"
        let ok = try await CurlTransport(options: trusting).send(HTTPRequest(method: "GET", url: url))
        #expect(ok.body == [0, 1, 2, 3, 4])
    }

    @Test func headHasNoBodyAndKeepsHeaders() async throws {
        let server = try Self.server()
        let response = try await CurlTransport().send(HTTPRequest(method: "HEAD", url: "http://127.0.0.1:\(server.port)/bytes/777"))
        #expect(response.status == 200)
        #expect(response.headers["content-length"] == "777")
        #expect(response.body.isEmpty)
    }
}

private func sha256Hex(_ bytes: [UInt8]) -> String {
    // Python computes the same digest; the crypto module is tested on its own, so compare with it here.
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"]
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try? process.run()
    input.fileHandleForWriting.write(Data(bytes))
    try? input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

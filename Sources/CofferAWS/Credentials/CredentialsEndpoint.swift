import Foundation
import CofferHTTP

/// What the container and instance-metadata providers share: retried requests and the JSON credentials document.
enum CredentialsEndpoint {
    /// Sends `request`, retrying transport failures that may pass and 5xx answers, `attempts` times in all.
    /// - Parameter what: the endpoint, for messages ("the EC2 instance metadata service at http://…").
    /// - Returns: the last response (any status) once one was received.
    static func send(_ request: HTTPRequest, transport: any HTTPTransport, attempts: Int,
                     what: String) async throws(CredentialsError) -> HTTPResponse {
        var attempt = 0
        while true {
            attempt += 1
            do throws(HTTPError) {
                let response = try await transport.send(request)
                if response.status >= 500 && attempt < attempts {
                    await pause(attempt)
                    continue
                }
                return response
            } catch {
                if error.isRetryable && attempt < attempts {
                    await pause(attempt)
                    continue
                }
                throw .fetchFailed("cannot reach \(what): \(error)")
            }
        }
    }

    private static func pause(_ attempt: Int) async {
        try? await Task.sleep(for: .milliseconds(100 * attempt))
    }

    /// A short, printable excerpt of an error body for messages.
    static func excerpt(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? "" : ": \(text)"
    }

    /// Parses the JSON document served by ECS/EKS container endpoints and by IMDS:
    /// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (IMDS adds `"Code": "Success"`).
    static func parseCredentials(_ body: [UInt8], from what: String) throws(CredentialsError) -> AWSCredentials {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)), let json = object as? [String: Any] else {
            throw .fetchFailed("\(what) did not return a JSON object")
        }
        if let code = json["Code"] as? String, code != "Success" {
            let message = (json["Message"] as? String).map { " (\($0))" } ?? ""
            throw .fetchFailed("\(what) answered with code \(code)\(message)")
        }
        guard let accessKeyId = json["AccessKeyId"] as? String, !accessKeyId.isEmpty,
              let secretAccessKey = json["SecretAccessKey"] as? String, !secretAccessKey.isEmpty else {
            throw .fetchFailed("\(what) returned a document without AccessKeyId and SecretAccessKey")
        }
        var expiration: Date?
        if let text = json["Expiration"] as? String {
            guard let date = HTTPDate.parseISO8601(text) else {
                throw .fetchFailed("\(what) returned an unreadable Expiration '\(text)'")
            }
            expiration = date
        }
        let token = (json["Token"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, sessionToken: token,
                              expiration: expiration)
    }
}

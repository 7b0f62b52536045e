import Foundation

/// Reads the small local files credential providers need (shared config, token files) off the cooperative pool.
///
/// File reads block their thread; done on the Swift concurrency pool they could starve it (2 threads on 2 cores),
/// so each read hops to a dispatch queue and resumes the caller when done.
enum CredentialFiles {
    private static let queue = DispatchQueue(label: "coffer.credentials.files", attributes: .concurrent)

    /// The contents of `path` as UTF-8, or nil when the file does not exist.
    /// - Throws: `CredentialsError.invalidConfiguration` when the file exists but cannot be read.
    static func readIfPresent(_ path: String) async throws(CredentialsError) -> String? {
        let result: Result<String?, CredentialsError> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: readIfPresentBlocking(path)) }
        }
        return try result.get()
    }

    /// The contents of `path`, which must exist.
    /// - Parameter purpose: what the file is, for the error message (for instance "web identity token file").
    static func read(_ path: String, purpose: String) async throws(CredentialsError) -> String {
        guard let text = try await readIfPresent(path) else {
            throw .invalidConfiguration("the \(purpose) \(path) does not exist")
        }
        return text
    }

    private static func readIfPresentBlocking(_ path: String) -> Result<String?, CredentialsError> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return .success(nil) }
        if isDirectory.boolValue { return .failure(.invalidConfiguration("\(path) is a directory, not a file")) }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(.invalidConfiguration("cannot read \(path): check its permissions"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(.invalidConfiguration("\(path) is not UTF-8 text"))
        }
        return .success(text)
    }

    /// Expands a leading `~` or `~/` to the home directory given by `HOME` in `environment` (or the process's).
    static func expandHome(_ path: String, environment: [String: String]) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + path.dropFirst()
    }
}

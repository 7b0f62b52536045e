import CofferTestSupport
import Foundation
import Testing

/// The harness itself: output capture and the timeout that keeps a hung mount from hanging the tests.
@Suite("Shell")
struct ShellTests {
    @Test("captures status, standard output and standard error separately")
    func capture() async throws {
        let result = try await Shell.run("echo out; echo err >&2; exit 3")
        #expect(result.status == 3)
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
    }

    @Test("kills a command that outlives its timeout")
    func timeout() async throws {
        let start = Date()
        let result = try await Shell.run("sleep 30", timeout: 1)
        #expect(result.status == 137)
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test("AWS variables of the host are dropped when a test sets its own")
    func awsEnvironment() async throws {
        let result = try await Shell.check("echo \"${AWS_PROFILE-unset} $AWS_ACCESS_KEY_ID $AWS_EC2_METADATA_DISABLED\"",
                                           environment: ["AWS_ACCESS_KEY_ID": "AKIDTEST"])
        #expect(result == "unset AKIDTEST true\n")
    }
}

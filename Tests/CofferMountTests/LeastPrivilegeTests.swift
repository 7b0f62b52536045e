import CofferTestSupport
import Foundation
import Testing

/// Mounts whose credentials may not do everything: a backup host that may only List and Put, and a failed upload
/// that must reach the application.
@Suite("Least privilege and upload errors", .serialized, .timeLimit(.minutes(2)))
struct LeastPrivilegeTests {
    /// A command that writes `text` and a newline to `path` and fails when write or close fails (a shell's `>`
    /// redirection ignores errors from close).
    static func write(_ text: String, to path: String) -> String {
        "printf '%s\\n' \(Shell.quote(text)) > /tmp/coffer-lp-$$ && cp /tmp/coffer-lp-$$ \(path); s=$?; rm -f /tmp/coffer-lp-$$; exit $s"
    }

    @Test("a List+Put-only host writes new files, and --no-overwrite refuses to replace them")
    func backupHostWithoutGetOrHead() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("backup")
        let mount = try await MountedCoffer.start(moto: moto, user: "writer", prefix: prefix,
                                                  extraArguments: ["--no-overwrite"])
        try await using(mount) { mount in
            try await Shell.check("mkdir -p \(mount.path("2026/11")) && \(Self.write("nightly dump", to: mount.path("2026/11/db.sql")))")
            #expect(try await BucketScript(moto: moto).get(prefix + "2026/11/db.sql") == "nightly dump\n", "\(mount.log)")
            let listing = try await Shell.check("ls \(mount.path("2026/11"))")
            #expect(listing == "db.sql\n")
            let overwrite = try await Shell.run(Self.write("tampered", to: mount.path("2026/11/db.sql")))
            #expect(overwrite.status != 0, "replacing a backup must fail")
            #expect(try await BucketScript(moto: moto).get(prefix + "2026/11/db.sql") == "nightly dump\n")
        }
    }

    @Test("an upload S3 refuses fails close() with EIO and the data stays staged")
    func failedUploadReachesClose() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("denied")
        // `reader` may List and Get but not Put.
        let mount = try await MountedCoffer.start(moto: moto, user: "reader", prefix: prefix)
        try await using(mount) { mount in
            let result = try await Shell.run(Self.write("precious data", to: mount.path("report.txt")))
            #expect(result.status != 0)
            #expect(result.stderr.contains("Input/output error") || result.stderr.contains("Permission denied"),
                    "\(result.stderr)")
            let staged = try await Shell.check("grep -rl 'precious data' \(Shell.quote(mount.cacheDirectory)) | wc -l")
            #expect(staged.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "the data is kept in the cache directory")
            #expect(try await BucketScript(moto: moto).get(prefix + "report.txt") == nil)
        }
    }

    @Test("logs at the most verbose level hold no secret key, session token or signature")
    func logsHoldNoSecrets() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("secrets")
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: ["--log-level", "trace"])
        try await Shell.check("echo x > \(mount.path("a")) && ls -l \(mount.path("")) && cat \(mount.path("a")) && rm \(mount.path("a"))")
        _ = try await Shell.run("cat \(mount.path("missing"))")
        let log = mount.log  // read before unmount(), which removes the mount's work directory
        await mount.unmount()
        #expect(log.contains("mounted"), "the log was written")
        #expect(!log.contains(moto.users["full"]!.secretAccessKey))
        #expect(!log.contains("Signature="))
        #expect(!log.contains("Authorization"))
    }
}

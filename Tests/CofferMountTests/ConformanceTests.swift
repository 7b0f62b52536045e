import CofferTestSupport
import Foundation
import Testing

/// The POSIX conformance tables of `Resources/posix_conformance.py` (pjdfstest style: operation, expected errno,
/// expected stat fields) run through the kernel, as root and as an unprivileged user (uid 65534, via setpriv), on a
/// mount with `--allow-other` (the kernel checks permissions: `default_permissions`). docs/semantics.md carries the
/// table the script generates, and this test keeps the two equal.
@Suite("POSIX conformance tables", .serialized, .timeLimit(.minutes(4)))
struct ConformanceTests {
    static var script: String { ProjectPaths.resource("CofferMountTests", "posix_conformance.py") }

    @Test("every case of the tables, as root and as an unprivileged user")
    func tables() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("posix")
        // The unprivileged user must reach the script and the mountpoint.
        let work = try ProjectPaths.temporaryDirectory("coffer-posix")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let copy = work + "/posix_conformance.py"
        try await Shell.check("cp \(Shell.quote(Self.script)) \(Shell.quote(copy)) && chmod 755 \(Shell.quote(work)) && chmod 644 \(Shell.quote(copy))")
        try await MigrationTests.withMount(moto, prefix: prefix, extra: ["--allow-other"]) { mount in
            let mountpoint = mount.path("")
            try await Shell.check("chmod 755 \(Shell.quote((mount.mountpoint as NSString).deletingLastPathComponent)) \(mountpoint)")
            try await Shell.check("mkdir \(mount.path("root")) \(mount.path("user")) && chmod 755 \(mount.path("user"))")
            let root = try await Shell.run("python3 \(Shell.quote(copy)) \(mount.path("root")) root", timeout: 120)
            #expect(root.status == 0, "as root:\n\(root.stdout)\(root.stderr)")
            try await Shell.check("python3 \(Shell.quote(copy)) \(mount.path("user")) prepare")
            let user = try await Shell.run("""
                cd / && setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 \(Shell.quote(copy)) \
                \(mount.path("user")) user
                """, timeout: 120)
            #expect(user.status == 0, "as uid 65534:\n\(user.stdout)\(user.stderr)")
            // O_CREAT|O_RDONLY made an empty file: it is uploaded like any other (fsync of the root drains the queue).
            try await Shell.check("python3 -c 'import os; fd = os.open(\"\(mountpoint)\", os.O_RDONLY); os.fsync(fd)'")
            let size = try await BucketScript(mount: mount).python(
                "print(s3.head_object(Bucket=bucket, Key=os.environ['K'])['ContentLength'])", ["K": prefix + "root/o2-empty"])
            #expect(size == "0\n")
            let owner = try await BucketScript(mount: mount).python(
                "print(s3.head_object(Bucket=bucket, Key=os.environ['K'])['Metadata']['uid'])", ["K": prefix + "user/open/mine"])
            #expect(owner == "65534\n", "the unprivileged user's file is stored with its owner")
        }
    }

    @Test("docs/semantics.md shows the table the tests run")
    func documentedTable() async throws {
        let table = try await Shell.check("python3 \(Shell.quote(Self.script)) --markdown")
        let semantics = try String(contentsOfFile: ProjectPaths.root + "/docs/semantics.md", encoding: .utf8)
        #expect(semantics.contains(table), "regenerate it: python3 Tests/CofferMountTests/Resources/posix_conformance.py --markdown")
    }
}

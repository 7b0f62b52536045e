import CofferTestSupport
import Foundation
import Testing

/// `--sse`, `--storage-class`, `--acl` and `--requester-pays` (and their `-o` forms) through the kernel: what S3
/// stored for a small file, a multipart upload, a metadata change (CopyObject) and a rename, read back with boto3,
/// and the request-payer header of every request in the server's log.
@Suite("S3 object options through the mount", .serialized, .timeLimit(.minutes(3)))
struct S3ObjectOptionsMountTests {
    @Test("SSE-S3, a storage class, a public-read ACL and requester-pays on every object the mount creates")
    func objectOptionsReachS3() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("s3opts")
        let label = String(prefix.dropLast())
        let bucket = BucketScript(moto: moto)
        let options = ["--sse", "AES256", "-o", "storage_class=standard_ia", "-o", "acl=public-read",
                       "--requester-pays"]
        moto.server.resetLog()
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: options)) { mount in
            try await Shell.check("printf small > \(mount.path("small.txt"))")
            try await Shell.check("head -c \(20 << 20) /dev/urandom > \(mount.path("large.bin"))", timeout: 120)
            try await Shell.check("chmod 600 \(mount.path("small.txt"))")
            try await Shell.check("mv \(mount.path("small.txt")) \(mount.path("moved.txt"))")
            try await Shell.check("mkdir \(mount.path("dir"))")
            #expect(mount.log.contains("public ACL"), "a public ACL is announced")
        }
        // Every request of the mount (boto3's checks below send none).
        let ours = moto.server.requests().filter { ($0.path + "?" + $0.query).contains(label) }
        #expect(ours.count >= 5, "\(ours)")
        #expect(ours.allSatisfy { $0.requestPayer == "requester" }, "\(ours.filter { $0.requestPayer != "requester" })")
        let report = try await bucket.python("""
            for name in ["moved.txt", "large.bin", "dir/"]:
                key = os.environ["P"] + name
                head = s3.head_object(Bucket=bucket, Key=key)
                grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
                print(name, head.get("ServerSideEncryption"), head.get("StorageClass"),
                      sorted(g["Permission"] for g in grants), head["Metadata"].get("mode"))
            """, ["P": prefix])
        let lines = report.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(report)")
        for line in lines {
            // public-read adds a READ grant for everyone: an ACL S3 would not give without the header.
            #expect(line.contains(" AES256 STANDARD_IA ['FULL_CONTROL', 'READ']"), "\(line)")
        }
        #expect(lines.first?.hasSuffix(" 33152") == true, "the chmod (a copy) kept the settings: \(report)")
    }

    @Test("bad values are refused before mounting, with the accepted ones named")
    func badValuesAreUsageErrors() async throws {
        let moto = try await SignedMoto.shared()
        for (arguments, expected) in [(["--sse", "AES128"], "AES256 (SSE-S3), aws:kms"),
                                      (["-o", "storage_class=COLD"], "STANDARD_IA"),
                                      (["--acl", "world-writable"], "bucket-owner-full-control"),
                                      (["--sse", "AES256", "--sse-kms-key-id", "alias/k"], "needs KMS encryption"),
                                      (["-o", "metrics_addr=9464"], "is not HOST:PORT")] {
            let mountpoint = try ProjectPaths.temporaryDirectory("coffer-s3opts-bad")
            defer { try? FileManager.default.removeItem(atPath: mountpoint) }
            let command = ([MountedCoffer.binaryPath(), "mount", "s3://\(moto.bucket)/", mountpoint, "--foreground",
                            "--endpoint-url", moto.server.endpoint, "--path-style"] + arguments)
                .map(Shell.quote).joined(separator: " ")
            let result = try await Shell.run(command, environment: MountedCoffer.awsEnvironment(
                moto.users["full"]!, endpoint: moto.server.endpoint), timeout: 30)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
    }
}

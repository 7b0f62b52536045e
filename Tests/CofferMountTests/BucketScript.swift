import CofferTestSupport
import Foundation
import Testing

/// Reads and writes the bucket behind a mount with boto3, in a separate `python3` process, to check what the
/// mount stored (and to seed objects) independently of Coffer's own S3 client.
struct BucketScript {
    let environment: [String: String]
    let bucket: String

    init(mount: MountedCoffer) {
        environment = mount.environment
        bucket = mount.bucket
    }

    init(moto: SignedMoto, user: String = "full") {
        environment = MountedCoffer.awsEnvironment(moto.users[user]!, endpoint: moto.server.endpoint)
        bucket = moto.bucket
    }

    private static let prelude = """
        import os, sys, boto3
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=os.environ["COFFER_TEST_ENDPOINT"], region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        bucket = os.environ["COFFER_TEST_BUCKET"]
        """

    /// Runs a Python snippet (after the prelude above) and returns its standard output.
    func python(_ code: String, _ variables: [String: String] = [:]) async throws -> String {
        var environment = self.environment
        environment["COFFER_TEST_BUCKET"] = bucket
        for (key, value) in variables { environment[key] = value }
        return try await Shell.check("python3 -c \(Shell.quote(Self.prelude + "\n" + code))", environment: environment)
    }

    /// PutObject.
    func put(_ key: String, _ body: String) async throws {
        _ = try await python("s3.put_object(Bucket=bucket, Key=os.environ['K'], Body=os.environ['B'].encode())",
                         ["K": key, "B": body])
    }

    /// GetObject's body, or nil when there is no such key.
    func get(_ key: String) async throws -> String? {
        let output = try await python("""
            try:
                sys.stdout.write("+" + s3.get_object(Bucket=bucket, Key=os.environ['K'])["Body"].read().decode())
            except s3.exceptions.NoSuchKey:
                sys.stdout.write("-")
            """, ["K": key])
        return output.hasPrefix("+") ? String(output.dropFirst()) : nil
    }

    /// Every key under `prefix`, sorted.
    func keys(under prefix: String) async throws -> [String] {
        let output = try await python("""
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=os.environ['P']):
                for o in page.get("Contents", []):
                    print(o["Key"])
            """, ["P": prefix])
        return output.split(separator: "\n").map(String.init).sorted()
    }
}

/// A shell command that fsyncs `quotedPath` (a file, or a directory of the mount: its pending uploads) from a
/// process of its own and fails with the error fsync returned.
func fsyncCommand(_ quotedPath: String) -> String {
    "python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' \(quotedPath)"
}

/// A fresh key prefix for one test.
func uniquePrefix(_ label: String) -> String {
    "\(label)-\(UUID().uuidString.prefix(8).lowercased())/"
}

/// Runs `body` with `mount` and always unmounts it; when `body` fails, the end of the coffer log is attached to the
/// test.
func using(_ mount: MountedCoffer, _ body: (MountedCoffer) async throws -> Void) async throws {
    do {
        try await body(mount)
    } catch {
        Issue.record("coffer log:\n\(mount.log.suffix(4000))")
        await mount.unmount()
        throw error
    }
    await mount.unmount()
}

import CofferAWS
import CofferTestSupport
import Foundation
import Testing

/// A moto server for the encryption tests: S3 and KMS without signature checking (KMS keys are created per test and
/// live as long as this process), one bucket, and a local key made with `coffer keygen`.
final class EncryptionServer: Sendable {
    static let bucket = "coffer-encryption"
    static let credentials = AWSCredentials(accessKeyId: "testing", secretAccessKey: "testing")

    let moto: MotoServer
    let directory: String
    let keyFile: String

    private static let instance = Task { try await EncryptionServer() }

    /// The process-wide instance.
    static func shared() async throws -> EncryptionServer { try await instance.value }

    private init() async throws {
        moto = try MotoServer()
        directory = try ProjectPaths.temporaryDirectory("coffer-encryption")
        keyFile = directory + "/local.key"
        try await Shell.check("\(Shell.quote(MountedCoffer.binaryPath())) keygen \(Shell.quote(keyFile))")
        let environment = MountedCoffer.awsEnvironment(Self.credentials, endpoint: moto.endpoint)
        try await Shell.check("aws --endpoint-url \(moto.endpoint) s3 mb s3://\(Self.bucket)", environment: environment)
    }

    /// The environment of the AWS CLI, boto3 and the Encryption SDK tools for this server (KMS included).
    var environment: [String: String] {
        var environment = MountedCoffer.awsEnvironment(Self.credentials, endpoint: moto.endpoint)
        environment["AWS_ENDPOINT_URL_KMS"] = moto.endpoint
        environment["AWS_ENDPOINT_URL_S3"] = moto.endpoint
        return environment
    }

    /// Mounts `prefix` with the local key (or `arguments` instead) and encryption options.
    func mount(_ prefix: String, arguments: [String]? = nil, extra: [String] = [],
               cacheDirectory: String? = nil) async throws -> MountedCoffer {
        try await MountedCoffer.start(endpoint: moto.endpoint, bucket: Self.bucket, credentials: Self.credentials,
                                      prefix: prefix,
                                      extraArguments: (arguments ?? ["--encryption-key-file", keyFile]) + extra,
                                      cacheDirectory: cacheDirectory)
    }

    /// Runs `esdk_tool.py` (the AWS Encryption SDK for Python) with `arguments`.
    @discardableResult
    func esdk(_ arguments: String) async throws -> String {
        try await Shell.check("python3 \(Shell.quote(ProjectPaths.resource("CofferMountTests", "esdk_tool.py"))) \(arguments)",
                              environment: environment, timeout: 120)
    }

    /// `aws s3 cp` with this server.
    func s3(_ arguments: String) async throws {
        try await Shell.check("aws s3 \(arguments) --only-show-errors", environment: environment, timeout: 120)
    }

    /// A new KMS key (and `alias`, if given); returns its ARN.
    func createKMSKey(alias: String? = nil) async throws -> String {
        try await esdk("create-kms-key" + (alias.map { " --alias \($0)" } ?? ""))
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The GET requests of `key` logged since the last reset.
    func gets(of key: String) -> [LoggedRequest] {
        moto.requests().filter { $0.method == "GET" && $0.path.hasSuffix("/" + Self.bucket + "/" + key) }
    }
}

/// Encryption end to end: a real mount, moto's S3 and KMS, and the AWS Encryption SDK for Python and
/// aws-encryption-cli on the other side.
@Suite("Encryption through the mount", .timeLimit(.minutes(5)))
struct EncryptionTests {
    /// A work directory with random files of the given sizes, named `f<size>`.
    static func randomFiles(_ sizes: [Int]) async throws -> String {
        let directory = try ProjectPaths.temporaryDirectory("coffer-enc-files")
        for size in sizes {
            try await Shell.check("head -c \(size) /dev/urandom > \(directory)/f\(size)")
        }
        return directory
    }

    @Test("the Python SDK decrypts what the mount writes (sizes around the frame length, multipart), also after an append")
    func sdkDecryptsMountWrites() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("write")
        let sizes = [0, 1, 65_535, 65_536, 65_537, 1_000_000, 17 << 20]
        let local = try await Self.randomFiles(sizes)
        defer { try? FileManager.default.removeItem(atPath: local) }
        try await using(try await server.mount(prefix)) { mount in
            for size in sizes {
                try await Shell.check("cp \(local)/f\(size) \(mount.path("f\(size)"))", timeout: 120)
            }
            try await server.s3("cp --recursive s3://\(EncryptionServer.bucket)/\(prefix) \(local)/s3")
            for size in sizes {
                let object = "\(local)/s3/f\(size)"
                let header = try await Shell.check("head -c 3 \(object) | od -An -tx1")
                #expect(header.contains("02 04 78"), "f\(size) is stored as an ESDK v2 message of suite 0x0478")
                // Fetched with boto3 and decrypted by the Python SDK.
                try await server.esdk("decrypt --key-file \(server.keyFile) --context coffer:v=1 "
                                      + "--s3-in \(EncryptionServer.bucket)/\(prefix)f\(size) --out \(object).plain")
                try await Shell.check("cmp \(local)/f\(size) \(object).plain")
                try await Shell.check("cmp \(local)/f\(size) \(mount.path("f\(size)"))")
            }
            let hints = try await Shell.check(
                "aws s3api head-object --bucket \(EncryptionServer.bucket) --key \(prefix)f65537 --query Metadata --output json",
                environment: server.environment)
            #expect(hints.contains("\"coffer-size\": \"65537\""), "\(hints)")
            #expect(hints.contains("\"coffer-enc\": \"esdk2-0478\""), "\(hints)")
            #expect(try await Shell.check("stat -c %s \(mount.path("f65537"))") == "65537\n", "st_size is the plaintext size")

            // An append rewrites the whole file under a new message id.
            let before = try await Shell.check("head -c 35 \(local)/s3/f65537 | tail -c 32 | od -An -tx1")
            try await Shell.check("printf 'appended' >> \(mount.path("f65537"))")
            try await Shell.check("cat \(local)/f65537 > \(local)/expected && printf 'appended' >> \(local)/expected")
            try await server.s3("cp s3://\(EncryptionServer.bucket)/\(prefix)f65537 \(local)/appended.esdk")
            let after = try await Shell.check("head -c 35 \(local)/appended.esdk | tail -c 32 | od -An -tx1")
            #expect(before != after, "a changed file gets a new message id")
            try await server.esdk("decrypt --key-file \(server.keyFile) --in \(local)/appended.esdk --out \(local)/appended")
            try await Shell.check("cmp \(local)/expected \(local)/appended")
        }
    }

    @Test("files the SDK encrypted (64 KiB and 4 KiB frames) and uploaded with boto3 or the AWS CLI read back identical")
    func mountReadsSDKWrites() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("sdk")
        let local = try await Self.randomFiles([0, 4096, 300_000, 3 << 20])
        defer { try? FileManager.default.removeItem(atPath: local) }
        for size in [0, 4096, 300_000, 3 << 20] {
            // Encrypted by the Python SDK and uploaded with boto3.
            try await server.esdk("encrypt --key-file \(server.keyFile) --in \(local)/f\(size) "
                                  + "--s3-out \(EncryptionServer.bucket)/\(prefix)f\(size)")
        }
        try await server.esdk("encrypt --key-file \(server.keyFile) --frame-length 4096 --in \(local)/f300000 "
                              + "--out \(local)/small-frames.esdk")
        try await server.s3("cp \(local)/small-frames.esdk s3://\(EncryptionServer.bucket)/\(prefix)small-frames")
        try await using(try await server.mount(prefix)) { mount in
            for size in [0, 4096, 300_000, 3 << 20] {
                #expect(try await Shell.check("stat -c %s \(mount.path("f\(size)"))") == "\(size)\n",
                        "the size of a message without hints comes from its header")
                try await Shell.check("cmp \(local)/f\(size) \(mount.path("f\(size)"))")
            }
            try await Shell.check("cmp \(local)/f300000 \(mount.path("small-frames"))")
            // Reading from the middle of a 4 KiB-frame message.
            try await Shell.check("""
                tail -c +150001 \(local)/f300000 | head -c 10000 > \(local)/middle && \
                dd if=\(mount.path("small-frames")) bs=10000 skip=15 count=1 status=none > \(local)/read && \
                cmp \(local)/middle \(local)/read
                """)
        }
    }

    @Test("a 4 KiB read in the middle of a large encrypted file costs one header GET and one ranged GET")
    func randomReadRequests() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("random")
        let local = try await Self.randomFiles([12 << 20])
        defer { try? FileManager.default.removeItem(atPath: local) }
        try await using(try await server.mount(prefix)) { mount in
            try await Shell.check("cp \(local)/f\(12 << 20) \(mount.path("big"))", timeout: 120)
        }
        // A new mount: nothing cached.
        try await using(try await server.mount(prefix)) { mount in
            #expect(try await Shell.check("stat -c %s \(mount.path("big"))") == "\(12 << 20)\n")
            server.moto.resetLog()
            let offset = (5 << 20) + 300 * 1024
            let read = try await Shell.check(
                "dd if=\(mount.path("big")) bs=4096 skip=\(offset / 4096) count=1 status=none | od -An -tx1 | md5sum")
            let expected = try await Shell.check(
                "dd if=\(local)/f\(12 << 20) bs=4096 skip=\(offset / 4096) count=1 status=none | od -An -tx1 | md5sum")
            #expect(read == expected)
            let gets = server.gets(of: prefix + "big")
            #expect(gets.count == 2, "one header GET and one frame GET: \(gets.map { "\($0) \($0.range)" })")
            #expect(gets.first?.range.contains("bytes=0-") == true, "\(gets.map(\.range))")
            let frames = server.gets(of: prefix + "big").last?.range ?? ""
            #expect(!frames.contains("bytes=0-"), "the second GET is a ranged read of frames: \(frames)")
        }
    }

    @Test("a flipped byte fails its range only; truncation, plaintext replacement and signed messages are refused")
    func tamperingIsDetected() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("tamper")
        let local = try await Self.randomFiles([3 << 20])
        defer { try? FileManager.default.removeItem(atPath: local) }
        let file = "\(local)/f\(3 << 20)"
        try await using(try await server.mount(prefix)) { mount in
            for name in ["flipped", "truncated", "replaced"] {
                try await Shell.check("cp \(file) \(mount.path(name))", timeout: 120)
            }
        }
        let bucket = "s3://\(EncryptionServer.bucket)/\(prefix)"
        try await server.s3("cp \(bucket)flipped \(local)/flipped.esdk")
        // Flip one byte inside frame 2 (plaintext bytes 64 KiB..<128 KiB, in the first 1 MiB block).
        let header = Int(try await Shell.check("""
            aws s3api head-object --bucket \(EncryptionServer.bucket) --key \(prefix)flipped \
                --query Metadata.\\"coffer-hlen\\" --output text
            """, environment: server.environment).trimmingCharacters(in: .whitespacesAndNewlines))!
        let position = header + (65_536 + 32) + 100
        try await Shell.check("""
            python3 -c 'import sys; p, n = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read()); \
            b[n] ^= 1; open(p, "wb").write(b)' \(local)/flipped.esdk \(position)
            """)
        try await server.s3("cp \(local)/flipped.esdk \(bucket)flipped")
        // Cut the message after its first 20 frames: a frame boundary, so only the missing final frame tells.
        try await server.s3("cp \(bucket)truncated \(local)/truncated.esdk")
        try await Shell.check("truncate -s \(header + 20 * (65_536 + 32)) \(local)/truncated.esdk")
        try await server.s3("cp \(local)/truncated.esdk \(bucket)truncated")
        try await server.s3("cp \(local)/truncated.esdk \(bucket)truncated-hinted --metadata "
                            + "coffer-enc=esdk2-0478,coffer-size=\(3 << 20),coffer-hlen=\(header)")
        try await server.s3("cp \(file) \(bucket)replaced")
        try await server.esdk("encrypt --suite signed --key-file \(server.keyFile) --in \(file) --out \(local)/signed.esdk")
        try await server.s3("cp \(local)/signed.esdk \(bucket)signed")

        try await using(try await server.mount(prefix)) { mount in
            let bad = try await Shell.run("dd if=\(mount.path("flipped")) bs=65536 skip=1 count=1 status=none | wc -c")
            #expect(bad.stderr.contains("Input/output error"), "frame 2 fails: \(bad)")
            try await Shell.check("""
                tail -c +\((2 << 20) + 1) \(file) > \(local)/tail && \
                dd if=\(mount.path("flipped")) bs=1M skip=2 status=none > \(local)/read && cmp \(local)/tail \(local)/read
                """)
            let truncated = try await Shell.run("cat \(mount.path("truncated")) > /dev/null")
            #expect(truncated.status != 0 && truncated.stderr.contains("Input/output error"), "\(truncated)")
            let replaced = try await Shell.run("cat \(mount.path("replaced")) > /dev/null")
            #expect(replaced.status != 0 && replaced.stderr.contains("Input/output error"), "\(replaced)")
            let signed = try await Shell.run("cat \(mount.path("signed")) > /dev/null")
            #expect(signed.status != 0 && signed.stderr.contains("Input/output error"), "\(signed)")
            let log = mount.log
            #expect(log.contains("frame 2 failed authentication"), "the log names the failing frame")
            #expect(log.contains("\(prefix)replaced is not encrypted"), "the log names the plaintext object")
            #expect(log.contains("0x0578"), "the log says which suite was refused and how to re-encrypt")
        }
        // Hints copied from the intact object no longer match the cut message: every read of it fails.
        try await using(try await server.mount(prefix)) { mount in
            let first = try await Shell.run("head -c 4096 \(mount.path("truncated-hinted")) > /dev/null")
            #expect(first.status != 0, "a size that disagrees with the header is corruption: \(first)")
        }
        // Mode migrate reads the plaintext object as it is.
        try await using(try await server.mount(prefix, extra: ["--encryption-mode", "migrate"])) { mount in
            try await Shell.check("cmp \(file) \(mount.path("replaced"))")
            try await Shell.check("echo new > \(mount.path("new"))")
            try await server.s3("cp \(bucket)new \(local)/new.esdk")
            try await server.esdk("decrypt --key-file \(server.keyFile) --in \(local)/new.esdk --out \(local)/new")
            #expect(try String(contentsOfFile: "\(local)/new", encoding: .utf8) == "new\n", "new files are encrypted")
        }
    }

    @Test("ls -l after a remount with the same cache directory: no HEAD, plaintext sizes; no file bytes in its database")
    func metadataCacheAcrossRemounts() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("enc-mc")
        let cache = try ProjectPaths.temporaryDirectory("coffer-enc-mc-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let marker = "coffer-plaintext-marker-\(prefix)"
        try await using(try await server.mount(prefix, cacheDirectory: cache)) { mount in
            try await Shell.check("""
                for i in $(seq 1 40); do (echo \(marker); head -c $((i * 1000)) /dev/zero) > \(mount.path("f"))$i; done \
                && chmod 600 \(mount.path("f1")) && mv \(mount.path("f2")) \(mount.path("g2"))
                """)
        }
        try await using(try await server.mount(prefix, cacheDirectory: cache)) { mount in
            server.moto.resetLog()
            let listing = try await Shell.check("ls -ln \(mount.path(""))")
            let heads = server.moto.requests().filter { $0.method == "HEAD" && $0.path.contains(prefix) }
            #expect(heads.isEmpty, "\(heads.prefix(5))")
            let sizes = Dictionary(uniqueKeysWithValues: listing.split(separator: "\n").compactMap { line -> (String, String)? in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                return fields.count >= 9 ? (String(fields[8]), String(fields[4])) : nil
            })
            let line = "\(marker)\n".utf8.count
            #expect(sizes["f40"] == String(40_000 + line), "\(listing.prefix(400))")
            #expect(sizes["g2"] == String(2_000 + line))
            #expect(listing.split(separator: "\n").first { $0.hasSuffix(" f1") }?.hasPrefix("-rw------- ") == true)
            let first = try await Shell.check("head -1 \(mount.path("f7"))")
            #expect(first.trimmingCharacters(in: .whitespacesAndNewlines) == marker)
        }
        // The database and everything else in the cache directory: metadata only, no plaintext.
        let found = try await Shell.run("grep -rl \(Shell.quote(marker)) \(Shell.quote(cache))")
        #expect(found.status == 1, "plaintext in the cache directory: \(found.stdout)")
        #expect(FileManager.default.fileExists(atPath: cache + "/metadata.sqlite"))
    }

    @Test("rename copies the message unchanged; chmod keeps the hints; another key cannot read")
    func renameAndWrongKey() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("rename")
        try await using(try await server.mount(prefix)) { mount in
            try await Shell.check("head -c 200000 /dev/urandom > \(mount.path("a")) && cp \(mount.path("a")) /tmp/\(prefix.dropLast()).a")
            func object(_ name: String) async throws -> String {
                try await Shell.check("""
                    aws s3api head-object --bucket \(EncryptionServer.bucket) --key \(prefix)\(name) \
                        --query '[ETag, Metadata."coffer-size", Metadata.mode]' --output text
                    """, environment: server.environment)
            }
            let before = try await object("a").split(separator: "\t")
            try await Shell.check("mv \(mount.path("a")) \(mount.path("b")) && chmod 600 \(mount.path("b"))")
            let after = try await object("b").split(separator: "\t")
            #expect(after.first == before.first, "the same bytes under the new name: \(before) → \(after)")
            #expect(after.dropFirst().first == "200000", "hints survive the metadata copy: \(after)")
            #expect(after.last?.hasPrefix("33152") == true, "the new mode is stored: \(after)")
            try await Shell.check("cmp /tmp/\(prefix.dropLast()).a \(mount.path("b")); s=$?; rm -f /tmp/\(prefix.dropLast()).a; exit $s")
        }
        let otherKey = server.directory + "/\(prefix.dropLast()).key"
        try await Shell.check("\(Shell.quote(MountedCoffer.binaryPath())) keygen \(otherKey)")
        try await using(try await server.mount(prefix, arguments: ["--encryption-key-file", otherKey])) { mount in
            let result = try await Shell.run("cat \(mount.path("b")) > /dev/null")
            #expect(result.status != 0 && result.stderr.contains("Input/output error"), "\(result)")
            #expect(mount.log.contains("cannot be decrypted"), "the log says why")
        }
    }

    @Test("KMS: aws-encryption-cli decrypts mount writes, SDK KMS messages read back, KMS + recovery key")
    func kms() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("kms")
        let alias = "alias/coffer-\(prefix.dropLast())"
        let arn = try await server.createKMSKey(alias: alias)
        let local = try await Self.randomFiles([150_000])
        defer { try? FileManager.default.removeItem(atPath: local) }
        let file = "\(local)/f150000"
        try await server.esdk("encrypt --kms-key \(arn) --context tenant=acme --in \(file) --out \(local)/sdk.esdk")
        try await server.s3("cp \(local)/sdk.esdk s3://\(EncryptionServer.bucket)/\(prefix)from-sdk")
        let kmsArguments = ["--kms-key-id", alias, "--kms-endpoint-url", server.moto.endpoint]
        try await using(try await server.mount(prefix, arguments: kmsArguments + ["--encryption-key-file", server.keyFile],
                                                   extra: ["--encryption-context", "tenant=acme"])) { mount in
            try await Shell.check("cp \(file) \(mount.path("written"))")
            try await Shell.check("cmp \(file) \(mount.path("from-sdk"))")
        }
        try await server.s3("cp s3://\(EncryptionServer.bucket)/\(prefix)written \(local)/written.esdk")
        try await Shell.check("""
            aws-encryption-cli --decrypt-unsigned --input \(local)/written.esdk --output \(local)/by-cli \
                --wrapping-keys key=\(arn) --encryption-context coffer:v=1 tenant=acme \
                --commitment-policy require-encrypt-require-decrypt -S
            """, environment: server.environment, timeout: 120)
        try await Shell.check("cmp \(file) \(local)/by-cli")
        // The local key alone decrypts it too (an offline recovery key next to KMS).
        try await server.esdk("decrypt --key-file \(server.keyFile) --context tenant=acme --in \(local)/written.esdk "
                              + "--out \(local)/by-recovery-key")
        try await Shell.check("cmp \(file) \(local)/by-recovery-key")
        // KMS alone reads it back; a mount requiring another context refuses it.
        try await using(try await server.mount(prefix, arguments: kmsArguments)) { mount in
            try await Shell.check("cmp \(file) \(mount.path("written"))")
        }
        try await using(try await server.mount(prefix, arguments: kmsArguments,
                                                   extra: ["--encryption-context", "tenant=other"])) { mount in
            let result = try await Shell.run("cat \(mount.path("written")) > /dev/null")
            #expect(result.status != 0, "\(result)")
        }
    }

    @Test("a backup host allowed only List, Put and kms:GenerateDataKey writes encrypted files it cannot read back")
    func leastPrivilegeBackupHost() async throws {
        // Its own server: IAM is enforced (for S3 and KMS) once the setup's 7 requests are done.
        let moto = try MotoServer(authActions: 7)
        defer { moto.stop() }
        let bucket = "coffer-backups"
        let setup = try await Shell.check("""
            python3 \(Shell.quote(ProjectPaths.resource("CofferMountTests", "moto_backup_setup.py"))) \(moto.endpoint) \(bucket)
            """, environment: ["AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"])
        let json = try JSONSerialization.jsonObject(with: Data(setup.utf8)) as? [String: Any] ?? [:]
        func credentials(_ user: String) -> AWSCredentials {
            let keys = json[user] as? [String: String] ?? [:]
            return AWSCredentials(accessKeyId: keys["access_key_id"] ?? "", secretAccessKey: keys["secret_access_key"] ?? "")
        }
        let arn = try #require(json["key_arn"] as? String)
        let local = try await Self.randomFiles([300_000])
        defer { try? FileManager.default.removeItem(atPath: local) }
        let mount = try await MountedCoffer.start(
            endpoint: moto.endpoint, bucket: bucket, credentials: credentials("backup"), prefix: "nightly/",
            extraArguments: ["--kms-key-id", arn, "--kms-endpoint-url", moto.endpoint, "--no-overwrite"])
        try await using(mount) { mount in
            try await Shell.check("cp \(local)/f300000 \(mount.path("db.dump"))")
            let readBack = try await Shell.run("cat \(mount.path("db.dump")) > /dev/null")
            #expect(readBack.status != 0, "the backup host cannot read what it wrote: \(readBack)")
            let overwrite = try await Shell.run("cp \(local)/f300000 \(mount.path("db.dump"))")
            #expect(overwrite.status != 0, "--no-overwrite refuses to replace the backup")
            #expect(mount.log.contains("KMS key verified"), "GenerateDataKey is all the mount check needed")
        }
        var admin = MountedCoffer.awsEnvironment(credentials("admin"), endpoint: moto.endpoint)
        admin["AWS_ENDPOINT_URL_KMS"] = moto.endpoint
        try await Shell.check("""
            aws --endpoint-url \(moto.endpoint) s3 cp --only-show-errors s3://\(bucket)/nightly/db.dump \(local)/db.esdk && \
            aws-encryption-cli --decrypt-unsigned --input \(local)/db.esdk --output \(local)/db.dump \
                --wrapping-keys key=\(arn) --encryption-context coffer:v=1 \
                --commitment-policy require-encrypt-require-decrypt -S && \
            cmp \(local)/f300000 \(local)/db.dump
            """, environment: admin, timeout: 120)
    }

    @Test("rsync -a into an encrypted mount, then a second rsync transfers and writes nothing; a remount reads it all")
    func rsyncTwice() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("rsync")
        let source = try await MigrationTests.makeSourceTree()
        defer { try? FileManager.default.removeItem(atPath: source) }
        try await using(try await server.mount(prefix)) { mount in
            try await Shell.check("rsync -a \(Shell.quote(source + "/")) \(mount.path("tree"))", timeout: 240)
            server.moto.resetLog()
            let second = try await Shell.check(
                "rsync -a --itemize-changes \(Shell.quote(source + "/")) \(mount.path("tree"))", timeout: 240)
            #expect(second.isEmpty, "the second rsync reports nothing to transfer: \(second)")
            let writes = server.moto.requests().filter {
                ["PUT", "POST", "DELETE"].contains($0.method) && $0.path.contains("/" + prefix)
            }
            #expect(writes.isEmpty, "no PUT, COPY or DELETE on the second run: \(writes.prefix(5))")
        }
        try await using(try await server.mount(prefix)) { mount in
            try await Shell.check("diff -r --no-dereference \(Shell.quote(source)) \(mount.path("tree"))", timeout: 120)
        }
    }

    @Test("mounting fails fast on an unknown KMS key and on a key file others can read")
    func failFast() async throws {
        let server = try await EncryptionServer.shared()
        let mountpoint = try ProjectPaths.temporaryDirectory("coffer-enc-mnt")
        defer { try? FileManager.default.removeItem(atPath: mountpoint) }
        let binary = Shell.quote(MountedCoffer.binaryPath())
        let base = "\(binary) mount s3://\(EncryptionServer.bucket) \(mountpoint) --foreground --endpoint-url \(server.moto.endpoint) --path-style"
        let missing = try await Shell.run(base + " --kms-key-id alias/does-not-exist --kms-endpoint-url \(server.moto.endpoint)",
                                          environment: server.environment)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("alias/does-not-exist") && missing.stderr.contains("--kms-key-id"), "\(missing.stderr)")
        let loose = server.directory + "/loose.key"
        try await Shell.check("head -c 32 /dev/urandom > \(loose) && chmod 644 \(loose)")
        let insecure = try await Shell.run(base + " --encryption-key-file \(loose)", environment: server.environment)
        #expect(insecure.status != 0)
        #expect(insecure.stderr.contains("chmod 600") || insecure.stderr.contains("0644"), "\(insecure.stderr)")
        let modeOnly = try await Shell.run(base + " --encryption-mode migrate", environment: server.environment)
        #expect(modeOnly.status != 0 && modeOnly.stderr.contains("coffer keygen"), "\(modeOnly.stderr)")
        #expect(!MountedCoffer.isMounted(mountpoint))
    }
}

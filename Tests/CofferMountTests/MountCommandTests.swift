import CofferAWS
import CofferTestSupport
import Foundation
import Testing

/// `coffer mount` as a user meets it: help, start-up errors, background mode, `coffer unmount`.
@Suite("coffer mount command", .serialized, .timeLimit(.minutes(2)))
struct MountCommandTests {
    let binary = Shell.quote(MountedCoffer.binaryPath())

    /// `coffer mount …` with moto's credentials (or `credentials`) and a fresh empty mountpoint.
    private func mountCommand(_ moto: SignedMoto, source: String, mountpoint: String, foreground: Bool = true,
                              extra: [String] = []) -> String {
        var arguments = MountedCoffer.arguments(source: source, mountpoint: mountpoint,
                                                endpoint: moto.server.endpoint, cacheDirectory: mountpoint + "-cache",
                                                extra: extra)
        if !foreground { arguments.removeAll { $0 == "--foreground" } }
        return ([binary] + arguments.map(Shell.quote)).joined(separator: " ")
    }

    private func environment(_ moto: SignedMoto, credentials: AWSCredentials? = nil) -> [String: String] {
        MountedCoffer.awsEnvironment(credentials ?? moto.users["full"]!, endpoint: moto.server.endpoint)
    }

    @Test("--help explains -o, --uid and --foreground")
    func help() async throws {
        let help = try await Shell.check("\(binary) mount --help")
        for word in ["-o", "--uid", "--foreground", "allow_other", "s3://BUCKET", "--prefix", "--cache-dir"] {
            #expect(help.contains(word), "help lacks \(word)")
        }
        let top = try await Shell.check("\(binary) --help")
        #expect(top.contains("mount") && top.contains("unmount"))
    }

    @Test("a bucket that does not exist: non-zero exit, S3's NoSuchBucket message", arguments: [true, false])
    func missingBucket(foreground: Bool) async throws {
        let moto = try await SignedMoto.shared()
        let directory = try ProjectPaths.temporaryDirectory("coffer-cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try await Shell.run(
            mountCommand(moto, source: "s3://no-such-bucket-\(UUID().uuidString.prefix(6).lowercased())",
                         mountpoint: directory, foreground: foreground),
            environment: environment(moto), timeout: 60)
        #expect(result.status != 0)
        #expect(result.stderr.contains("NoSuchBucket"), "\(result.stderr)")
        #expect(!MountedCoffer.isMounted(directory))
    }

    @Test("a wrong --region: non-zero exit naming the bucket's region, even when HeadBucket answers 200")
    func wrongRegion() async throws {
        let moto = try await SignedMoto.shared()
        let directory = try ProjectPaths.temporaryDirectory("coffer-cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // moto answers HeadBucket 200 in any region, with x-amz-bucket-region: us-east-1.
        var arguments = MountedCoffer.arguments(source: "s3://\(moto.bucket)", mountpoint: directory,
                                                endpoint: moto.server.endpoint, cacheDirectory: directory + "-cache")
        let region = try #require(arguments.firstIndex(of: "--region"))
        arguments[region + 1] = "eu-west-1"
        let command = ([binary] + arguments.map(Shell.quote)).joined(separator: " ")
        let result = try await Shell.run(command, environment: environment(moto), timeout: 60)
        #expect(result.status != 0)
        #expect(result.stderr.contains("is in region us-east-1, not eu-west-1: use --region us-east-1"), "\(result.stderr)")
        #expect(!MountedCoffer.isMounted(directory))
    }

    @Test("an endpoint that accepts connections and never answers: the mount fails within the start-up timeout")
    func silentEndpoint() async throws {
        let directory = try ProjectPaths.temporaryDirectory("coffer-cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A TCP server on loopback that accepts every connection and never sends a byte.
        let portFile = directory + ".port"
        let script = """
            import socket, sys
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
            open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
            __import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
            conns = []
            while True: conns.append(s.accept())
            """
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", script, portFile]
        server.standardInput = FileHandle.nullDevice
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            try? FileManager.default.removeItem(atPath: portFile)
        }
        var port = ""
        for _ in 0..<100 where port.isEmpty {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
            if port.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(!port.isEmpty, "the silent server did not start")
        let endpoint = "http://127.0.0.1:\(port)"
        var arguments = MountedCoffer.arguments(source: "s3://silent-bucket", mountpoint: directory,
                                                endpoint: endpoint, cacheDirectory: directory + "-cache")
        arguments += ["--startup-timeout", "4", "--io-timeout", "60"]
        let command = ([binary] + arguments.map(Shell.quote)).joined(separator: " ")
        let started = Date()
        let credentials = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret")
        let result = try await Shell.run(command, environment: MountedCoffer.awsEnvironment(credentials, endpoint: endpoint),
                                         timeout: 60)
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status != 0)
        #expect(result.stderr.contains("no answer from http://127.0.0.1:\(port)"), "\(result.stderr)")
        #expect(elapsed < 30, "failed after \(elapsed) s, not at the 4 s start-up timeout (one request alone waits 60 s)")
        #expect(!MountedCoffer.isMounted(directory))
    }

    @Test("a wrong secret key: non-zero exit, S3's SignatureDoesNotMatch message")
    func wrongSecret() async throws {
        let moto = try await SignedMoto.shared()
        let directory = try ProjectPaths.temporaryDirectory("coffer-cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = moto.users["full"]!
        let bad = AWSCredentials(accessKeyId: good.accessKeyId, secretAccessKey: "wrong" + good.secretAccessKey)
        let result = try await Shell.run(mountCommand(moto, source: "s3://\(moto.bucket)", mountpoint: directory),
                                         environment: environment(moto, credentials: bad), timeout: 60)
        #expect(result.status != 0)
        #expect(result.stderr.contains("SignatureDoesNotMatch"), "\(result.stderr)")
        #expect(!MountedCoffer.isMounted(directory))
    }

    @Test("a mountpoint that is not empty, or missing: a clear error before any S3 request")
    func badMountpoint() async throws {
        let moto = try await SignedMoto.shared()
        let directory = try ProjectPaths.temporaryDirectory("coffer-cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = FileManager.default.createFile(atPath: directory + "/file", contents: Data("x".utf8))
        let full = try await Shell.run(mountCommand(moto, source: "s3://\(moto.bucket)", mountpoint: directory),
                                       environment: environment(moto))
        #expect(full.status != 0)
        #expect(full.stderr.contains("not empty"), "\(full.stderr)")
        let missing = try await Shell.run(mountCommand(moto, source: "s3://\(moto.bucket)",
                                                       mountpoint: directory + "/nowhere"),
                                          environment: environment(moto))
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let file = try await Shell.run(mountCommand(moto, source: "s3://\(moto.bucket)", mountpoint: directory + "/file"),
                                       environment: environment(moto))
        #expect(file.status != 0)
        #expect(file.stderr.contains("not a directory"), "\(file.stderr)")
    }

    @Test("bad -o values are usage errors")
    func badOptions() async throws {
        let moto = try await SignedMoto.shared()
        let directory = try ProjectPaths.temporaryDirectory("coffer-cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (option, message) in [("file_mode=999", "octal"), ("endpoint=us-west-2", "region="),
                                  ("metadata_ttl=-1", "seconds"), ("uid=no-such-user-xyz", "no user"),
                                  ("encryption=sometimes", "required"), ("encryption_context=novalue", "KEY=VALUE"),
                                  ("encryption=migrate", "coffer keygen"), ("kms_endpoint=localhost", "not a URL"),
                                  ("read_cache_mib=2", "MiB")] {
            let result = try await Shell.run(mountCommand(moto, source: "s3://\(moto.bucket)", mountpoint: directory,
                                                          extra: ["-o", option]),
                                             environment: environment(moto))
            #expect(result.status != 0, "\(option)")
            #expect(result.stderr.contains(message), "\(option): \(result.stderr)")
        }
    }

    @Test("background mode returns once mounted; coffer unmount ends the daemon")
    func backgroundMount() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("daemon")
        try await BucketScript(moto: moto).put(prefix + "x.txt", "x")
        let directory = try ProjectPaths.temporaryDirectory("coffer-cli")
        let mountpoint = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let logFile = mountpoint + "-log"
        defer {
            if MountedCoffer.isMounted(mountpoint) {
                _ = try? SignedMoto.run(["umount", "-l", mountpoint])
            }
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: logFile)
            try? FileManager.default.removeItem(atPath: mountpoint + "-cache")
        }
        let result = try await Shell.run(
            mountCommand(moto, source: "s3://\(moto.bucket)/\(prefix)", mountpoint: mountpoint, foreground: false,
                         extra: ["--log-file", logFile]),
            environment: environment(moto), timeout: 60)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(MountedCoffer.isMounted(mountpoint))
        // The brackets keep the pattern from matching the shell that runs pgrep (its command line holds "[-]-").
        let daemon = Shell.quote("\(mountpoint) .*[-]-daemon-child")
        let daemons = try await Shell.run("pgrep -f -- \(daemon)")
        #expect(daemons.status == 0, "a background process runs")
        #expect(try await Shell.check("cat \(Shell.quote(mountpoint + "/x.txt"))") == "x")

        try await Shell.check("\(binary) unmount \(Shell.quote(mountpoint))")
        #expect(!MountedCoffer.isMounted(mountpoint))
        var gone = false
        for _ in 0..<100 where !gone {
            let still = try await Shell.run("pgrep -f -- \(daemon)")
            gone = still.status != 0
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone, "the daemon exits after unmount")
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        #expect(log.contains("mounted"), "log file: \(log)")
    }
}

import CofferTestSupport
import Foundation
import Testing

/// Running under systemd: the unit template is valid for `systemd-analyze verify` and starts the command the docs
/// give, and a foreground mount reports readiness over `$NOTIFY_SOCKET` only once the kernel has the mount.
@Suite("systemd unit and readiness", .serialized, .timeLimit(.minutes(2)))
struct ServiceTests {
    static let unitPath = ProjectPaths.root + "/scripts/systemd/coffer@.service"

    @Test("coffer@.service passes systemd-analyze verify, and its ExecStart and ExecStop are the ones docs/operations.md gives")
    func unitVerifies() async throws {
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
        let directory = try ProjectPaths.temporaryDirectory("coffer-unit")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // As `make install` writes it, with the binary this test runs (verify checks that ExecStart is executable).
        let installed = unit.replacingOccurrences(of: "/usr/local/bin/coffer", with: MountedCoffer.binaryPath())
        try installed.write(toFile: directory + "/coffer@demo.service", atomically: true, encoding: .utf8)
        let verify = try await Shell.run("systemd-analyze verify --man=no \(Shell.quote(directory + "/coffer@demo.service"))")
        #expect(verify.status == 0 && verify.stderr.isEmpty, "\(verify.stderr)")

        let lines = unit.split(separator: "\n").map(String.init)
        let start = try #require(lines.first { $0.hasPrefix("ExecStart=") })
        #expect(lines.contains("Type=notify"))
        #expect(lines.contains { $0.hasPrefix("ExecStop=/usr/local/bin/coffer unmount ") })
        let docs = try String(contentsOfFile: ProjectPaths.root + "/docs/operations.md", encoding: .utf8)
        #expect(docs.contains("\n" + start + "\n"), "docs/operations.md shows \(start)")

        // The same file with a mistake fails: the check above can fail.
        let broken = installed.replacingOccurrences(of: "Type=notify", with: "Type=notified")
        try broken.write(toFile: directory + "/coffer@broken.service", atomically: true, encoding: .utf8)
        let refused = try await Shell.run("systemd-analyze verify --man=no \(Shell.quote(directory + "/coffer@broken.service"))")
        #expect(refused.stderr.contains("notified"), "\(refused.stderr)")
    }

    /// A stand-in for systemd: a datagram socket at `$NOTIFY_SOCKET`; when `READY=1` arrives, the mountpoint must
    /// already be a mount that lists the bucket's object.
    @Test("READY=1 reaches $NOTIFY_SOCKET once the mount serves the bucket, for a path and an abstract socket")
    func readinessIsNotified() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("notify")
        try await BucketScript(moto: moto).put(prefix + "present.txt", "here")
        for socketKind in ["path", "abstract"] {
            let directory = try ProjectPaths.temporaryDirectory("coffer-notify")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let arguments = MountedCoffer.arguments(source: "s3://\(moto.bucket)/\(prefix)",
                                                    mountpoint: directory + "/mnt", endpoint: moto.server.endpoint,
                                                    cacheDirectory: directory + "/cache")
            let command = ([MountedCoffer.binaryPath()] + arguments).map(Shell.quote).joined(separator: " ")
            let output = try await Shell.check("""
                mkdir -p \(Shell.quote(directory + "/mnt")) && python3 - \(Shell.quote(directory)) \(socketKind) <<'PY'
                import os, shlex, socket, subprocess, sys
                directory, kind = sys.argv[1], sys.argv[2]
                address = os.path.join(directory, "notify") if kind == "path" else "\\0coffer-test-%d" % os.getpid()
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                listener.bind(address)
                listener.settimeout(30)
                environment = dict(os.environ, NOTIFY_SOCKET=address if kind == "path" else "@" + address[1:])
                mountpoint = os.path.join(directory, "mnt")
                with open(os.path.join(directory, "log"), "wb") as log:
                    process = subprocess.Popen(shlex.split(os.environ["COFFER_COMMAND"]), env=environment,
                                               stdout=log, stderr=log)
                try:
                    message = listener.recv(4096).decode()
                    mounted = os.path.ismount(mountpoint)
                    names = os.listdir(mountpoint) if mounted else []
                    print("message:", message.replace(chr(10), " | "))
                    print("mounted:", mounted, "names:", names)
                finally:
                    subprocess.run(["fusermount3", "-u", mountpoint])
                    process.wait(timeout=30)
                    print("exit:", process.returncode)
                PY
                """, environment: MountedCoffer.awsEnvironment(moto.users["full"]!, endpoint: moto.server.endpoint)
                    .merging(["COFFER_COMMAND": command]) { $1 },
                timeout: 90)
            #expect(output.contains("message: READY=1 | STATUS=serving s3://"), "\(socketKind): \(output)")
            #expect(output.contains("mounted: True names: ['present.txt']"), "\(socketKind): \(output)")
            #expect(output.contains("exit: 0"), "\(socketKind): \(output)")
        }
    }

    /// Hosts running containers or many systemd units have mount tables far longer than one page of
    /// /proc/self/mountinfo: background mode, `coffer status` and `coffer unmount` must still find the mount.
    @Test("with 80 mounts before it, a background mount is found by the start, coffer status and coffer unmount")
    func longMountTablesAreReadWhole() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("mountinfo")
        let directory = try ProjectPaths.temporaryDirectory("coffer-mountinfo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = Shell.quote(MountedCoffer.binaryPath())
        let arguments = MountedCoffer.arguments(source: "s3://\(moto.bucket)/\(prefix)", mountpoint: directory + "/mnt",
                                                endpoint: moto.server.endpoint, cacheDirectory: directory + "/cache")
            .filter { $0 != "--foreground" }.map(Shell.quote).joined(separator: " ")
        let output = try await Shell.check("""
            unshare -m --propagation private sh -ec '
              mkdir -p \(directory)/mnt
              for i in $(seq 80); do mkdir -p \(directory)/t$i; mount -t tmpfs t$i \(directory)/t$i; done
              echo "mountinfo bytes: $(cat /proc/self/mountinfo | wc -c)"
              \(binary) \(arguments)
              echo hello > \(directory)/mnt/f.txt
              \(binary) status \(directory)/mnt
              \(binary) unmount \(directory)/mnt
              grep -c " \(directory)/mnt " /proc/self/mountinfo || true
            '
            """, environment: MountedCoffer.awsEnvironment(moto.users["full"]!, endpoint: moto.server.endpoint), timeout: 90)
        let bytes = output.split(separator: "\n").first { $0.hasPrefix("mountinfo bytes: ") }
            .flatMap { Int($0.dropFirst("mountinfo bytes: ".count)) } ?? 0
        #expect(bytes > 8192, "the table is longer than a page or two: \(output)")
        #expect(output.contains("pending uploads:"), "coffer status found the mount: \(output)")
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("\n0"),
                "coffer unmount found and ended it: \(output)")
        #expect(try await BucketScript(moto: moto).get(prefix + "f.txt") == "hello\n")
    }
}

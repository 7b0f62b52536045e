import CofferTestSupport
import Foundation
import Testing

/// FIFOs, sockets and device nodes through the kernel: stored as s3fs stores them (a zero-byte object whose `mode`
/// header carries the type bits, `rdev` for devices), shown as what they are after a remount and when s3fs wrote
/// them, copied by rsync -a twice with nothing to do the second time.
@Suite("FIFOs, sockets and devices", .serialized, .timeLimit(.minutes(4)))
struct SpecialFilesTests {
    /// Makes a FIFO, a socket, a character device (1,7) and a block device (8,1) in `directory`.
    static let makeAll = """
        mkfifo -m 640 fifo && mknod -m 600 char c 1 7 && mknod -m 660 block b 8 1 \
        && python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("sock")'
        """

    /// `name type permissions major minor uid gid`, one line per entry, sorted.
    static let describe = "stat -c '%n %F %a %t %T %u %g' fifo char block sock | sort"

    static let expected = """
        block block special file 660 8 1 0 0
        char character special file 600 1 7 0 0
        fifo fifo 640 0 0 0 0
        sock socket 755 0 0 0 0

        """

    @Test("mkfifo, mknod c/b and bind(): type, mode and rdev shown, stored in s3fs's format, kept across a remount")
    func createAndRemount() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("special")
        try await MigrationTests.withMount(moto, prefix: prefix) { mount in
            let directory = mount.path("")
            try await Shell.check("cd \(directory) && umask 022 && \(Self.makeAll)")
            #expect(try await Shell.check("cd \(directory) && \(Self.describe)") == Self.expected)
            #expect(try await Shell.check("cd \(directory) && ls -l block char fifo sock | cut -c1 | tr -d '\\n'")
                    == "bcps", "ls -l shows the type letters")
            // What any S3 tool sees: zero-byte objects with s3fs's headers.
            let stored = try await BucketScript(mount: mount).python("""
                for name in ["fifo", "char", "block", "sock"]:
                    head = s3.head_object(Bucket=bucket, Key=os.environ["P"] + name)
                    meta = head["Metadata"]
                    print(name, head["ContentLength"], oct(int(meta["mode"])), meta.get("rdev", "-"))
                """, ["P": prefix])
            let dev17 = String((1 << 8) | 7)
            let dev81 = String((8 << 8) | 1)
            #expect(stored == """
                fifo 0 0o10640 -
                char 0 0o20600 \(dev17)
                block 0 0o60660 \(dev81)
                sock 0 0o140755 -

                """)
        }
        try await MigrationTests.withMount(moto, prefix: prefix) { mount in
            let described = try await Shell.check("cd \(mount.path("")) && \(Self.describe)")
            #expect(described == Self.expected, "after a remount")
        }
    }

    @Test("chmod, chown, utimes, rename and unlink of each type; the FIFO works as a local rendezvous")
    func changeRenameRemove() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("special-ops")
        try await MigrationTests.withMount(moto, prefix: prefix) { mount in
            let directory = mount.path("")
            try await Shell.check("cd \(directory) && umask 022 && \(Self.makeAll) && mkdir moved")
            try await Shell.check("""
                cd \(directory) && chmod 604 fifo char block sock && chown 1234:5678 fifo char block sock \
                && python3 -c 'import os; [os.utime(n, (1500000000, 1500000000), follow_symlinks=False) for n in ["fifo", "char", "block", "sock"]]' \
                && mv fifo moved/fifo2 && mv char moved/char2 && mv block moved/block2 && mv sock moved/sock2
                """)
            let listing = "cd \(directory)/moved && stat -c '%n %F %a %t %T %u %g %Y' fifo2 char2 block2 sock2"
            let expected = """
                fifo2 fifo 604 0 0 1234 5678 1500000000
                char2 character special file 604 1 7 1234 5678 1500000000
                block2 block special file 604 8 1 1234 5678 1500000000
                sock2 socket 604 0 0 1234 5678 1500000000

                """
            #expect(try await Shell.check(listing) == expected)
            let keys = try await BucketScript(mount: mount).keys(under: prefix)
            #expect(keys == ["moved/", "moved/block2", "moved/char2", "moved/fifo2", "moved/sock2"].map { prefix + $0 },
                    "\(keys)")
            // The kernel serves the FIFO: a writer and a reader on this host meet through it.
            let echoed = try await Shell.check(
                "cd \(directory)/moved && (echo through-the-fifo > fifo2 &) && timeout 10 cat fifo2")
            #expect(echoed == "through-the-fifo\n")
            try await Shell.check("rm \(directory)/moved/fifo2 \(directory)/moved/char2 \(directory)/moved/block2 \(directory)/moved/sock2")
            #expect(try await Shell.check("ls -A \(directory)/moved") == "")
            #expect(try await BucketScript(mount: mount).keys(under: prefix + "moved/x").isEmpty)
            #expect(try await BucketScript(mount: mount).keys(under: prefix) == [prefix + "moved/"])
        }
        // After a remount the renamed and removed entries stay as they were left.
        try await MigrationTests.withMount(moto, prefix: prefix) { mount in
            let left = try await Shell.check("ls -A \(mount.path("moved"))")
            #expect(left == "")
        }
    }

    @Test("objects s3fs wrote for a FIFO, a socket and devices show as what they are")
    func writtenByS3FS() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("special-s3fs")
        let work = try ProjectPaths.temporaryDirectory("coffer-s3fs")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let credentials = moto.users["full"]!
        let passwd = work + "/passwd"
        try "\(credentials.accessKeyId):\(credentials.secretAccessKey)\n".write(toFile: passwd, atomically: true,
                                                                              encoding: .utf8)
        try await Shell.check("chmod 600 \(Shell.quote(passwd)) && mkdir \(Shell.quote(work + "/mnt"))")
        let source = "\(moto.bucket):/\(prefix.dropLast())"
        try await BucketScript(moto: moto).put(prefix, "")
        // s3fs daemonizes; started from python (which closes every other descriptor) so that the daemon holds
        // none of the test process's.
        try await Shell.check("""
            python3 -c 'import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, \
            stdout=open("\(work)/s3fs.log", "w"), stderr=subprocess.STDOUT).returncode)' \
            s3fs \(Shell.quote(source)) \(Shell.quote(work + "/mnt")) -o url=\(moto.server.endpoint) \
            -o use_path_request_style -o endpoint=us-east-1 -o passwd_file=\(Shell.quote(passwd)) -o retries=2
            """, timeout: 60)
        do {
            try await Shell.check("for i in $(seq 100); do mountpoint -q \(Shell.quote(work + "/mnt")) && break; sleep 0.1; done; mountpoint -q \(Shell.quote(work + "/mnt"))")
            try await Shell.check("cd \(Shell.quote(work + "/mnt")) && umask 022 && \(Self.makeAll)", timeout: 60)
        } catch {
            _ = try? await Shell.run("fusermount3 -u \(Shell.quote(work + "/mnt"))")
            throw error
        }
        try await Shell.check("fusermount3 -u \(Shell.quote(work + "/mnt"))")
        try await MigrationTests.withMount(moto, prefix: prefix) { mount in
            // s3fs 1.90 (Debian 12) stores no rdev header, so its devices read back as 0,0 in s3fs too.
            let described = try await Shell.check("cd \(mount.path("")) && \(Self.describe)")
            #expect(described == Self.expected.replacingOccurrences(of: " 8 1 ", with: " 0 0 ")
                .replacingOccurrences(of: " 1 7 ", with: " 0 0 "), "what s3fs wrote, read by Coffer")
            let stored = try await BucketScript(mount: mount).python(
                "print(s3.head_object(Bucket=bucket, Key=os.environ['K'])['Metadata']['mode'])", ["K": prefix + "fifo"])
            #expect(stored == "4512\n", "s3fs's own decimal st_mode (0o10640)")
        }
    }

    @Test("rsync -a of a tree with a FIFO, a socket and devices succeeds, and a second run transfers nothing")
    func rsyncTwice() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("special-rsync")
        let source = try ProjectPaths.temporaryDirectory("coffer-special-src")
        defer { try? FileManager.default.removeItem(atPath: source) }
        try await Shell.check("""
            cd \(Shell.quote(source)) && umask 022 && mkdir d && printf data > d/file && cd d && \(Self.makeAll) \
            && touch -h -d '2020-02-02 02:02:02' file fifo char block sock && touch -d '2020-01-01' . ..
            """)
        try await MigrationTests.withMount(moto, prefix: prefix) { mount in
            let first = try await Shell.run("rsync -a \(Shell.quote(source + "/")) \(mount.path("tree"))")
            #expect(first.status == 0, "rsync -a exits 0: \(first.stderr)")
            let listing = "find . -printf '%p %y %m %T@ %s\\n' | sort"
            let expected = try await Shell.check("cd \(Shell.quote(source)) && \(listing)")
            #expect(try await Shell.check("cd \(mount.path("tree")) && \(listing)") == expected)
            #expect(try await Shell.check("stat -c '%t %T' \(mount.path("tree/d/char")) \(mount.path("tree/d/block"))")
                    == "1 7\n8 1\n")
            moto.server.resetLog()
            let second = try await Shell.check(
                "rsync -a --itemize-changes \(Shell.quote(source + "/")) \(mount.path("tree"))")
            #expect(second.isEmpty, "the second rsync has nothing to do: \(second)")
            #expect(MigrationTests.writes(moto, prefix: prefix).isEmpty, "and writes nothing")
            // tar -x makes the same entries (tar stores whole seconds and skips sockets), cp -a exactly the same.
            let seconds = "find . ! -type s -printf '%p %y %m %T@ %s\\n' | awk '{ $4 = int($4); print }' | sort"
            try await Shell.check("mkdir \(mount.path("tar")) && tar -C \(Shell.quote(source)) -cf - . | tar -C \(mount.path("tar")) -xpf -")
            #expect(try await Shell.check("cd \(mount.path("tar")) && \(seconds)")
                    == (try await Shell.check("cd \(Shell.quote(source)) && \(seconds)")), "tar -x")
            try await Shell.check("cp -a \(Shell.quote(source)) \(mount.path("cp"))")
            #expect(try await Shell.check("cd \(mount.path("cp")) && \(listing)") == expected, "cp -a")
        }
    }
}

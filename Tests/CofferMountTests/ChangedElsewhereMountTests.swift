import CofferTestSupport
import Foundation
import Testing

/// Files another host changes while they are open here, writes S3 refuses, and brief S3 outages, through the
/// kernel: what a reader and a writer see (docs/semantics.md, "Consistency across mounts"), that a write reported
/// as failed is never applied later, that the cache directory keeps nothing that is not owed to S3, and that
/// throttling and dropped connections of a few seconds are ridden out.
@Suite("Other hosts and faults through the kernel", .serialized, .timeLimit(.minutes(5)))
struct ChangedElsewhereMountTests {
    /// Writes `text` to `path` (created or truncated) and closes it from a separate process: "ok", or the errno
    /// name close() failed with (a shell's `>` ignores errors of close).
    static func write(_ text: String, to path: String) async throws -> String {
        try await Shell.check("""
            python3 - \(path) <<'PY'
            import errno, os, sys
            fd = os.open(sys.argv[1], os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
            os.write(fd, \(Shell.quote(text)).encode())
            try:
                os.close(fd)
                print("ok")
            except OSError as error:
                print(errno.errorcode[error.errno])
            PY
            """, timeout: 120).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The cache directory's files that hold data: staging files with bytes, journal records, lost+found entries.
    /// Emptied files kept for reuse (`coffer-spare-*`, emptied record files) hold nothing and are not counted.
    static func leftovers(in cache: String) -> [String] {
        let manager = FileManager.default
        var found: [String] = []
        for name in (try? manager.contentsOfDirectory(atPath: cache)) ?? [] where name.hasPrefix("coffer-") {
            let size = (try? manager.attributesOfItem(atPath: cache + "/" + name)[.size] as? NSNumber)?.intValue ?? 0
            if size > 0 { found.append("\(name) (\(size) bytes)") }
        }
        for name in (try? manager.contentsOfDirectory(atPath: cache + "/journal")) ?? []
        where name.hasSuffix(".json") || (name.hasSuffix(".rec") && !name.hasPrefix("coffer-spare")) {
            found.append("journal/\(name)")
        }
        for name in (try? manager.contentsOfDirectory(atPath: cache + "/lost+found")) ?? [] {
            found.append("lost+found/\(name)")
        }
        return found
    }

    /// Issue #14, 1: B replaces a file A is reading. A's descriptor keeps the size it opened with and reads only
    /// bytes of that version; what it no longer holds fails with ESTALE (the read cache is small, so most of the
    /// file is not held); the next open after the close reads the new version.
    @Test("a descriptor open while another host replaces the file reads its own version or ESTALE, never the new bytes")
    func aReaderStaysOnTheVersionItOpened() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("cw-read")
        let bucket = BucketScript(moto: moto)
        _ = try await bucket.python("""
            s3.put_object(Bucket=bucket, Key=os.environ["P"] + "f", Body=b"one-" * (10 << 20))
            """, ["P": prefix])
        let options = ["--metadata-ttl", "0.2", "--read-cache-size", "8"]
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: options)) { mount in
            let output = try await bucket.python("""
                import errno, time
                path = os.environ["F"]
                v1 = b"one-" * (10 << 20)
                v2 = b"TWO!" * (12 << 20)
                fd = os.open(path, os.O_RDONLY)
                assert os.pread(fd, 1 << 20, 0) == v1[:1 << 20]
                s3.put_object(Bucket=bucket, Key=os.environ["P"] + "f", Body=v2)
                time.sleep(1)
                os.stat(path)  # the kernel looks the name up again: the mount sees the new version
                offset, stale = 1 << 20, False
                while True:
                    try:
                        chunk = os.pread(fd, 1 << 20, offset)
                    except OSError as error:
                        assert error.errno == errno.ESTALE, error
                        stale = True
                        break
                    if not chunk:
                        break
                    assert chunk == v1[offset:offset + len(chunk)], "bytes of another version at %d" % offset
                    offset += len(chunk)
                assert os.fstat(fd).st_size == len(v1), os.fstat(fd).st_size
                assert offset <= len(v1)
                os.close(fd)
                time.sleep(0.5)
                os.stat(path)
                with open(path, "rb") as f:
                    assert f.read() == v2, "the next open reads the new version"
                print("stale" if stale else "complete", offset)
                """, ["P": prefix, "F": mount.mountpoint + "/f"])
            #expect(output.hasPrefix("stale"), "the 40 MiB version cannot be held in an 8 MiB cache: \(output)")
        }
    }

    /// Issue #14, 2: A has read all of a file (every byte is local) when B replaces it; A's change must not
    /// overwrite B's version: close fails with EIO, B's bytes stay, A's are stored under a conflict name.
    @Test("a change made to a version another host replaced fails close with EIO and overwrites nothing, however much was cached")
    func aWriterNeverOverwritesANewerVersion() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("cw-write")
        let bucket = BucketScript(moto: moto)
        let cache = try ProjectPaths.temporaryDirectory("coffer-cw-write-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        _ = try await bucket.python("""
            s3.put_object(Bucket=bucket, Key=os.environ["P"] + "g", Body=b"base" * (256 << 10))
            """, ["P": prefix])
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix,
                                                  extraArguments: ["--metadata-ttl", "0.2"], cacheDirectory: cache)
        try await using(mount) { mount in
            let output = try await bucket.python("""
                import errno, time
                path = os.environ["F"]
                fd = os.open(path, os.O_RDWR)
                data, offset = b"", 0
                while True:
                    chunk = os.pread(fd, 128 << 10, offset)
                    if not chunk:
                        break
                    data += chunk
                    offset += len(chunk)
                assert data == b"base" * (256 << 10)
                s3.put_object(Bucket=bucket, Key=os.environ["P"] + "g", Body=b"from B" * 1000)
                time.sleep(1)
                os.stat(path)
                os.pwrite(fd, b"A" * 4096, 0)
                try:
                    os.close(fd)
                    print("close succeeded")
                except OSError as error:
                    print("close", errno.errorcode[error.errno])
                """, ["P": prefix, "F": mount.mountpoint + "/g"])
            #expect(output.contains("close EIO"), "\(output)")
            #expect(try await bucket.get(prefix + "g") == String(repeating: "from B", count: 1000))
            let keys = try await bucket.keys(under: prefix)
            let conflict = try #require(keys.first { $0.hasPrefix(prefix + "g.conflict-") }, "\(keys)")
            let kept = try await bucket.python("""
                body = s3.get_object(Bucket=bucket, Key=os.environ["K"])["Body"].read()
                print(body == b"A" * 4096 + (b"base" * (256 << 10))[4096:])
                """, ["K": conflict])
            #expect(kept.contains("True"), "the conflict copy is A's version: A's bytes over the base")
        }
        #expect(Self.leftovers(in: cache).isEmpty, "\(Self.leftovers(in: cache))")
    }

    /// Issue #14, 3 and 4: two mounts create one 24 MiB name with O_EXCL at once (neither sees the other's file
    /// yet). A's close uploads first; B's close fails (EIO) and B's bytes go to a conflict name. B's unmount must
    /// not upload them over A's acknowledged version, and neither cache directory keeps any data afterwards.
    @Test("two O_EXCL creates of one name: the close that failed is never applied later, and no staging file is left")
    func aFailedCloseIsNeverAppliedLater() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("cw-excl")
        let bucket = BucketScript(moto: moto)
        let cacheA = try ProjectPaths.temporaryDirectory("coffer-cw-excl-a")
        let cacheB = try ProjectPaths.temporaryDirectory("coffer-cw-excl-b")
        defer {
            try? FileManager.default.removeItem(atPath: cacheA)
            try? FileManager.default.removeItem(atPath: cacheB)
        }
        let a = try await MountedCoffer.start(moto: moto, prefix: prefix, cacheDirectory: cacheA)
        try await using(a) { a in
            let b = try await MountedCoffer.start(moto: moto, prefix: prefix, cacheDirectory: cacheB)
            try await using(b) { b in
                let output = try await Shell.check("""
                    python3 - \(a.path("shared.bin")) \(b.path("shared.bin")) <<'PY'
                    import errno, os, sys
                    fa = os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                    fb = os.open(sys.argv[2], os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                    os.write(fa, b"A" * (24 << 20))
                    os.write(fb, b"B" * (24 << 20))
                    for name, fd in (("A", fa), ("B", fb)):
                        try:
                            os.close(fd)
                            print(name, "ok")
                        except OSError as error:
                            print(name, errno.errorcode[error.errno])
                    PY
                    """, timeout: 120)
                #expect(output.contains("A ok") && output.contains("B EIO"), "\(output)")
            }
            // B is unmounted: nothing of it may have replaced A's version.
            let stored = try await bucket.python("""
                body = s3.get_object(Bucket=bucket, Key=os.environ["P"] + "shared.bin")["Body"].read()
                print(body == b"A" * (24 << 20))
                """, ["P": prefix])
            #expect(stored.contains("True"), "A's acknowledged version stays")
            let keys = try await bucket.keys(under: prefix)
            let conflict = try #require(keys.first { $0.hasPrefix(prefix + "shared.bin.conflict-") }, "\(keys)")
            let kept = try await bucket.python("""
                print(s3.get_object(Bucket=bucket, Key=os.environ["K"])["Body"].read() == b"B" * (24 << 20))
                """, ["K": conflict])
            #expect(kept.contains("True"), "B's bytes are kept under the conflict name")
            let viaA = try await Shell.check("tr -d A < \(a.path("shared.bin")) | wc -c; wc -c < \(a.path("shared.bin"))")
            #expect(viaA.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["0", "\(24 << 20)"],
                    "A's mount reads A's bytes: \(viaA)")
        }
        #expect(Self.leftovers(in: cacheA).isEmpty, "\(Self.leftovers(in: cacheA))")
        #expect(Self.leftovers(in: cacheB).isEmpty, "\(Self.leftovers(in: cacheB))")
    }

    /// Issue #14, 4: with `--no-overwrite`, an upload refused because another host created the name meanwhile
    /// keeps this mount's bytes under a conflict name (fsync: EEXIST); files uploaded at unmount leave nothing
    /// behind either.
    @Test("--no-overwrite refusals and uploads at unmount leave no staging file in the cache directory")
    func refusalsAndUnmountLeaveNothingStaged() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("cw-leak")
        let bucket = BucketScript(moto: moto)
        let cache = try ProjectPaths.temporaryDirectory("coffer-cw-leak-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let options = ["--no-overwrite", "--write-back-delay", "600"]
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: options,
                                                  cacheDirectory: cache)
        try await using(mount) { mount in
            try await Shell.check("head -c 3000000 /dev/urandom > \(mount.path("taken.bin"))")
            try await Shell.check("for i in 1 2 3; do head -c $((i * 100000)) /dev/urandom > \(mount.path(""))/later-$i.bin; done")
            try await bucket.put(prefix + "taken.bin", "another host's")
            let sync = try await Shell.run(fsyncCommand(mount.path("taken.bin")))
            #expect(sync.status != 0 && sync.stderr.contains("File exists"), "\(sync.stderr)")
            #expect(try await bucket.get(prefix + "taken.bin") == "another host's")
            let keys = try await bucket.keys(under: prefix)
            #expect(keys.contains { $0.hasPrefix(prefix + "taken.bin.conflict-") }, "\(keys)")
            #expect(!keys.contains(prefix + "later-1.bin"), "the others wait for the write-back delay")
        }
        let keys = try await bucket.keys(under: prefix)
        #expect(keys.filter { $0.hasPrefix(prefix + "later-") }.count == 3, "uploaded at unmount: \(keys)")
        #expect(Self.leftovers(in: cache).isEmpty, "\(Self.leftovers(in: cache))")
    }

    /// Issue #14, 5: throttling (503 SlowDown) and dropped connections lasting a few seconds are retried by the
    /// S3 client until they pass: the application sees nothing. With retries turned off (`-o retries=0`) the close
    /// reports the failure, and the mount uploads the staged file in the background once S3 answers again.
    @Test("two seconds of 503s or of connection resets are ridden out; with retries=0 the close fails and the upload follows later")
    func briefOutagesAreRiddenOut() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("cw-retry")
        let label = String(prefix.dropLast())
        let bucket = BucketScript(moto: moto)
        defer { moto.server.endFaults() }
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix)) { mount in
            _ = try await Shell.check("ls \(mount.path(""))")
            let faults: [(name: String, inject: () throws -> Void)] = [
                ("slowdown.txt", { try moto.server.injectFaults(status: 503, matching: label) }),
                ("reset.txt", { try moto.server.injectResets(matching: label) }),
            ]
            for (name, inject) in faults {
                moto.server.resetLog()
                try inject()
                let end = Task {
                    try? await Task.sleep(for: .seconds(2))
                    moto.server.endFaults()
                }
                let closed = try await Self.write("survived \(name)", to: mount.path(name))
                await end.value
                #expect(closed == "ok", "\(name): close gave \(closed)")
                #expect(try await bucket.get(prefix + name) == "survived \(name)")
                // The fault meets whichever request of the mount comes first (the PUT, or a LIST of the directory
                // when its listing has expired): the label is in the path or the query.
                let ours = moto.server.requests().filter { ($0.path + "?" + $0.query).contains(label) }
                let code = name == "reset.txt" ? 0 : 503
                #expect(ours.contains { $0.status == code }, "\(name): the fault was met: \(ours)")
            }
        }
        let noRetries = ["-o", "retries=0"]
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: noRetries)) { mount in
            _ = try await Shell.check("ls \(mount.path(""))")
            try moto.server.injectFaults(status: 503, matching: label)
            let closed = try await Self.write("later", to: mount.path("later.txt"))
            #expect(closed == "EIO", "without retries the close reports the 503")
            let status = try await Shell.check("\(Shell.quote(MountedCoffer.binaryPath())) status \(mount.path(""))")
            #expect(status.contains("pending uploads: 1 files") && status.contains("failing: 1"), "\(status)")
            moto.server.endFaults()
            var stored: String?
            for _ in 0..<60 where stored == nil {
                try await Task.sleep(for: .milliseconds(500))
                stored = try await bucket.get(prefix + "later.txt")
            }
            #expect(stored == "later", "the staged file is uploaded in the background once S3 answers")
        }
    }
}

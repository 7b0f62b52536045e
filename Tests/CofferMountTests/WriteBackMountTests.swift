import CofferTestSupport
import Foundation
import Testing

/// The write-back engine through the kernel: request counts of rsync from moto's log,
/// kill -9 and remount with the same cache directory, two mounts writing one file.
@Suite("Write-back through the kernel", .serialized, .timeLimit(.minutes(5)))
struct WriteBackMountTests {

    /// Requests the server logged under `prefix`, by method (COPY counted apart from PUT).
    static func requests(_ moto: SignedMoto, prefix: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        // Other suites run at the same time on the same server: count only what names this test's prefix.
        let label = String(prefix.dropLast())
        for request in moto.server.requests() where request.path.contains("/" + prefix) || request.query.contains(label) {
            let name = request.isCopy ? "COPY" : request.method
            counts[name, default: 0] += 1
        }
        return counts
    }

    /// Directories cost a marker PUT each plus one per chmod/utimens rsync gives them, and a few lookups: with 250
    /// files per directory that is under a tenth of a request per file. The delay is longer than the run (the
    /// queue would otherwise upload a temporary file whose rename a loaded machine delayed past it: a COPY and a
    /// DELETE more), and the metadata TTL too: lookups of new names re-list their directory once per TTL, so at
    /// the default 1 s a slow run adds a LIST per second (docs/semantics.md, request costs).
    @Test("rsync -a of 500 new files costs one PUT per file, with modes and mtimes")
    func rsyncIsOnePutPerFile() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("wb-rsync")
        let source = try ProjectPaths.temporaryDirectory("coffer-wb-src")
        defer { try? FileManager.default.removeItem(atPath: source) }
        try await Shell.check("""
            python3 - \(Shell.quote(source)) <<'PY'
            import os, sys
            root = sys.argv[1]
            for d in range(2):
                os.makedirs(os.path.join(root, f"d{d}"))
                for i in range(250):
                    p = os.path.join(root, f"d{d}", f"file-{i}.txt")
                    with open(p, "wb") as f:
                        f.write(os.urandom(100 + i * 7))
                    os.chmod(p, 0o640)
                    os.utime(p, (1600000000 + i, 1600000000 + i))
            PY
            """)
        let options = ["--write-back-delay", "300", "--metadata-ttl", "300"]
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: options)) { mount in
            try await Shell.check("mkdir \(mount.path("tree"))")
            moto.server.resetLog()
            try await Shell.check("rsync -a \(Shell.quote(source + "/")) \(mount.path("tree"))", timeout: 240)
            try await Shell.check(fsyncCommand(mount.path("")))
            let counts = Self.requests(moto, prefix: prefix)
            let files = 500.0
            let total = Double(counts.values.reduce(0, +))
            let filePuts = moto.server.requests().filter {
                $0.method == "PUT" && !$0.isCopy && $0.path.contains("/" + prefix) && !$0.path.hasSuffix("/")
            }.count
            #expect(filePuts == 500, "one PUT per file: \(counts)")
            #expect(counts["COPY", default: 0] == 0 && counts["DELETE", default: 0] == 0, "\(counts)")
            let gets = moto.server.requests().filter { $0.method == "GET" }.prefix(8).map { "\($0.path)?\($0.query)" }
            #expect(total / files <= 1.1, "requests per file: \(counts); GETs: \(gets)")
            try await Shell.check("diff -r \(Shell.quote(source)) \(mount.path("tree"))", timeout: 120)
            let modes = "find . -type f -printf '%p %M %T@\\n' | sort"
            let expected = try await Shell.check("cd \(Shell.quote(source)) && \(modes)")
            #expect(try await Shell.check("cd \(mount.path("tree")) && \(modes)") == expected)
        }
    }

    @Test("kill -9 after close: a remount with the same cache directory uploads every closed file")
    func killAndRemountUploadsEveryClosedFile() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("wb-kill")
        let cache = try ProjectPaths.temporaryDirectory("coffer-wb-kill-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let bucket = BucketScript(moto: moto)
        let first = try await MountedCoffer.start(moto: moto, prefix: prefix,
                                                  extraArguments: ["--write-back-delay", "600"], cacheDirectory: cache)
        do {
            try await Shell.check("""
                cd \(first.path("")) && for i in $(seq 1 40); do head -c $((i * 997)) /dev/urandom > f$i.bin; done \
                && head -c 20000000 /dev/urandom > large.bin && sha256sum f*.bin large.bin > /tmp/\(prefix.dropLast()).sums
                """, timeout: 120)
        } catch {
            await first.crash()
            throw error
        }
        // A file still open (written, never closed) when the process dies: nothing acknowledged it, so its staging
        // file is an orphan that the next mount reports and removes.
        let holder = Task {
            try await Shell.run("""
                python3 -c 'import os, sys, time; fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644); \\
                os.write(fd, os.urandom(300000)); time.sleep(15)' \(first.path("open.bin"))
                """, timeout: 20)
        }
        try await Task.sleep(for: .seconds(1))
        #expect(try await bucket.keys(under: prefix).isEmpty, "nothing was uploaded before the kill")
        await first.crash()
        holder.cancel()
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, cacheDirectory: cache)) { mount in
            #expect(mount.log.contains("replayed the write-back journal"))
            #expect(mount.log.contains("removed staging files of an earlier run that held no acknowledged data"))
            let keys = try await bucket.keys(under: prefix)
            #expect(keys.count == 41 && !keys.contains(prefix + "open.bin"), "\(keys)")
            let sums = try String(contentsOfFile: "/tmp/\(prefix.dropLast()).sums", encoding: .utf8)
            _ = sums
            try await Shell.check("cd \(mount.path("")) && sha256sum -c --quiet /tmp/\(prefix.dropLast()).sums")
            let fromS3 = try await bucket.python("""
                import hashlib
                for line in open(os.environ['S']):
                    digest, name = line.split()
                    body = s3.get_object(Bucket=bucket, Key=os.environ['P'] + name)["Body"].read()
                    assert hashlib.sha256(body).hexdigest() == digest, name
                print("ok")
                """, ["S": "/tmp/\(prefix.dropLast()).sums", "P": prefix])
            #expect(fromS3.contains("ok"))
            let journal = try FileManager.default.contentsOfDirectory(atPath: cache + "/journal")
                .filter { $0.hasSuffix(".rec") || $0.hasSuffix(".json") }
            #expect(journal.isEmpty, "\(journal)")
            let staged = try FileManager.default.contentsOfDirectory(atPath: cache).filter { $0.hasPrefix("coffer-staged-") }
            #expect(staged.isEmpty, "\(staged)")
        }
        try? FileManager.default.removeItem(atPath: "/tmp/\(prefix.dropLast()).sums")
    }

    @Test("two mounts write one file: both versions survive, one under a conflict name")
    func twoMountsKeepBothVersions() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("wb-conflict")
        let bucket = BucketScript(moto: moto)
        try await bucket.put(prefix + "shared.txt", "base")
        let a = try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: ["--write-back-delay", "0"])
        try await using(a) { a in
            try await using(try await MountedCoffer.start(moto: moto, prefix: prefix,
                                                          extraArguments: ["--write-back-delay", "600"])) { b in
                #expect(try await Shell.check("cat \(a.path("shared.txt"))") == "base")
                #expect(try await Shell.check("cat \(b.path("shared.txt"))") == "base")
                // B changes its copy but has not uploaded yet; A writes and uploads first.
                try await Shell.check("printf 'from B' > \(b.path("shared.txt"))")
                try await Shell.check("printf 'from A' > \(a.path("shared.txt"))")
                // B's fsync meets A's version: EIO, and B's bytes under a conflict name.
                let sync = try await Shell.run(fsyncCommand(b.path("shared.txt")))
                #expect(sync.status != 0)
                #expect(try await bucket.get(prefix + "shared.txt") == "from A")
                let keys = try await bucket.keys(under: prefix)
                let conflict = try #require(keys.first { $0.contains("shared.txt.conflict-") }, "\(keys)")
                #expect(try await bucket.get(conflict) == "from B")
                #expect(b.log.contains("conflict"))
                let status = try await Shell.check("\(Shell.quote(MountedCoffer.binaryPath())) status \(b.path(""))")
                #expect(status.contains("conflicts: 1"), "\(status)")
            }
        }
    }

    /// S3 answers every request of this mount with 503 SlowDown for 30 s while `rsync -a` copies a tree into it.
    /// Writes, mkdirs, renames and metadata changes keep succeeding locally (lookups answer from the last listing
    /// while S3 is unreachable), uploads retry with backoff, and once S3 is back every file arrives with its bytes.
    @Test("30 s of 503 SlowDown during rsync -a: rsync succeeds and nothing is lost")
    func rsyncThroughThirtySecondsOfSlowDown() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("wb-503")
        let label = String(prefix.dropLast())
        let source = try ProjectPaths.temporaryDirectory("coffer-wb-503-src")
        defer {
            moto.server.endFaults()
            try? FileManager.default.removeItem(atPath: source)
        }
        try await Shell.check("""
            python3 - \(Shell.quote(source)) <<'PY'
            import os, sys
            root = sys.argv[1]
            for d in range(3):
                os.makedirs(os.path.join(root, f"dir{d}", "sub"))
                for i in range(60):
                    p = os.path.join(root, f"dir{d}", "sub" if i % 4 == 0 else "", f"f{i}.dat")
                    with open(p, "wb") as f:
                        f.write(os.urandom(500 + i * 331))
                    os.chmod(p, 0o600 + (i % 2) * 0o40)
            with open(os.path.join(root, "big.bin"), "wb") as f:
                f.write(os.urandom(6 << 20))
            PY
            """)
        let sums = "cd \(Shell.quote(source)) && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum"
        let expected = try await Shell.check(sums)
        // The default metadata TTL: listings expire during the outage, as they would in production.
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix,
                                                      extraArguments: ["--write-back-delay", "1"])) { mount in
            _ = try await Shell.check("ls -la \(mount.path(""))")
            moto.server.resetLog()
            try moto.server.injectFaults(status: 503, matching: label)
            let started = Date()
            // Slowed down so that the copy spans the outage: about 9 MiB at 600 KiB/s.
            async let copy = Shell.run("rsync -a --bwlimit=600 \(Shell.quote(source + "/")) \(mount.path("tree"))",
                                       timeout: 240)
            try await Task.sleep(for: .seconds(20))
            let during = try await Shell.check("\(Shell.quote(MountedCoffer.binaryPath())) status \(mount.path(""))")
            #expect(!during.contains("pending uploads: 0 files"), "uploads wait for S3: \(during)")
            let remaining = 30 - Date().timeIntervalSince(started)
            if remaining > 0 { try await Task.sleep(for: .seconds(remaining)) }
            let refused = moto.server.requests().filter { $0.status == 503 }.count
            moto.server.endFaults()
            let result = try await copy
            #expect(result.status == 0, "rsync: \(result.stderr)")
            #expect(refused > 10, "S3 refused \(refused) requests during the outage")
            try await Shell.check(fsyncCommand(mount.path("")),
                                  timeout: 180)
            let after = try await Shell.check("\(Shell.quote(MountedCoffer.binaryPath())) status \(mount.path(""))")
            #expect(after.contains("pending uploads: 0 files"), "\(after)")
            #expect(try await Shell.check("cd \(mount.path("tree")) && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum")
                    == expected)
        }
        // Straight from S3 with boto3: every file, every byte.
        let fromS3 = try await BucketScript(moto: moto).python("""
            import hashlib
            out = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=os.environ["P"] + "tree/"):
                for o in page.get("Contents", []):
                    name = o["Key"][len(os.environ["P"]) + len("tree/"):]
                    if name == "" or name.endswith("/"):
                        continue
                    body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                    out.append(hashlib.sha256(body).hexdigest() + "  " + name)
            print("\\n".join(sorted(out, key=lambda line: line.split("  ", 1)[1])))
            """, ["P": prefix])
        #expect(fromS3.trimmingCharacters(in: .whitespacesAndNewlines)
                == expected.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

import CofferTestSupport
import Foundation
import Testing

/// The persistent metadata cache through the kernel, request counts from moto's log: after a remount with the same
/// cache directory, `ls -l` and a second `rsync -a` cost LIST pages and no HEAD of unchanged files; an object
/// another client rewrote is fetched again and shown with its new metadata.
@Suite("Metadata cache through the kernel", .serialized, .timeLimit(.minutes(5)))
struct MetadataCacheMountTests {
    static func count(_ moto: SignedMoto, _ method: String, prefix: String) -> Int {
        let label = String(prefix.dropLast())
        return moto.server.requests().filter {
            ($0.path.contains("/" + prefix) || $0.query.contains(label)) && $0.method == method && !$0.isCopy
        }.count
    }

    @Test("ls -l after a remount: LIST only, no HEAD; a rewritten object shows its new mode")
    func lsAfterRemountSendsNoHead() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("mc-ls")
        let cache = try ProjectPaths.temporaryDirectory("coffer-mc-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let bucket = BucketScript(moto: moto)
        _ = try await bucket.python("""
            for i in range(300):
                s3.put_object(Bucket=bucket, Key=os.environ["P"] + f"doc-{i:03}.txt", Body=b"x" * i,
                              Metadata={"mode": str(0o100640), "uid": "33", "gid": "33", "mtime": "1600000000"})
            print("ok")
            """, ["P": prefix])
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, cacheDirectory: cache)) { mount in
            moto.server.resetLog()
            let listing = try await Shell.check("ls -ln \(mount.path(""))")
            #expect(listing.components(separatedBy: "-rw-r----- 1 33 33").count - 1 == 300, "\(listing.prefix(300))")
            #expect(Self.count(moto, "HEAD", prefix: prefix) >= 300, "a cold cache asks about every object")
        }
        #expect(FileManager.default.fileExists(atPath: cache + "/metadata.sqlite"))
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, cacheDirectory: cache)) { mount in
            moto.server.resetLog()
            let listing = try await Shell.check("ls -ln \(mount.path(""))")
            #expect(listing.components(separatedBy: "-rw-r----- 1 33 33").count - 1 == 300)
            #expect(Self.count(moto, "HEAD", prefix: prefix) == 0, "\(moto.server.requests().prefix(5))")
            #expect(Self.count(moto, "GET", prefix: prefix) >= 1, "the listing itself")
            // Another client gives one object new metadata (same bytes: the ETag stays, Last-Modified moves on).
            try await Task.sleep(for: .milliseconds(1100))
            _ = try await bucket.python("""
                key = os.environ["P"] + "doc-007.txt"
                s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
                               MetadataDirective="REPLACE", Metadata={"mode": str(0o100600), "uid": "33", "gid": "33"})
                print("ok")
                """, ["P": prefix])
            try await Task.sleep(for: .milliseconds(1500))  // past the metadata TTL
            moto.server.resetLog()
            let again = try await Shell.check("ls -ln \(mount.path(""))")
            let line = again.split(separator: "\n").first { $0.hasSuffix(" doc-007.txt") } ?? ""
            #expect(line.hasPrefix("-rw------- "), "\(line)")
            #expect(Self.count(moto, "HEAD", prefix: prefix) == 1, "only the rewritten object")
        }
    }

    @Test("rsync -a again after a remount: no PUT, no COPY, no HEAD")
    func rsyncAgainAfterRemountSendsNoHeadOfFiles() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("mc-rsync")
        let cache = try ProjectPaths.temporaryDirectory("coffer-mc-rsync-cache")
        let source = try ProjectPaths.temporaryDirectory("coffer-mc-src")
        defer {
            try? FileManager.default.removeItem(atPath: cache)
            try? FileManager.default.removeItem(atPath: source)
        }
        try await Shell.check("""
            cd \(Shell.quote(source)) && for d in a b c; do mkdir $d; for i in $(seq 1 60); do \
            head -c $((i * 37)) /dev/urandom > $d/f$i; done; done && chmod 640 a/* && touch -d 2021-01-01 b/*
            """)
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, cacheDirectory: cache)) { mount in
            try await Shell.check("rsync -a \(Shell.quote(source + "/")) \(mount.path(""))", timeout: 120)
        }
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, cacheDirectory: cache)) { mount in
            moto.server.resetLog()
            let output = try await Shell.check("rsync -a --stats \(Shell.quote(source + "/")) \(mount.path(""))",
                                               timeout: 120)
            #expect(output.contains("Number of regular files transferred: 0"), "\(output)")
            #expect(Self.count(moto, "PUT", prefix: prefix) == 0)
            #expect(moto.server.requests().filter { $0.isCopy && $0.path.contains("/" + prefix) }.isEmpty)
            // Not even the directories' markers: each directory's own listing (which the lookups in it need) shows
            // its marker unchanged.
            #expect(Self.count(moto, "HEAD", prefix: prefix) == 0,
                    "\(moto.server.requests().filter { $0.method == "HEAD" }.prefix(6))")
            try await Shell.check("diff -r \(Shell.quote(source)) \(mount.path(""))", timeout: 60)
        }
    }

    @Test("ls -U | head -1 of 20,000 entries returns after at most 2 LIST pages of the directory")
    func theFirstEntriesOfAHugeDirectoryCostOneListPage() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("mc-huge")
        try await moto.server.seed(bucket: moto.bucket, prefix: prefix + "big/e", count: 20_000)
        // LIST pages of the directory itself (not the lookup of its name in the root).
        func listPages() -> Int {
            moto.server.requests().filter {
                $0.method == "GET" && $0.query.contains("list-type") && $0.query.contains("big%2F&")
            }.count
        }
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix)) { mount in
            _ = try await Shell.check("stat \(mount.path("big"))")
            moto.server.resetLog()
            // Unsorted, one per line: ls prints as it reads, and dies of SIGPIPE once head has its line (the
            // test process ignores SIGPIPE, which its children would inherit).
            let first = try await Shell.check("env --default-signal=PIPE ls -U \(mount.path("big")) | head -1")
            #expect(first.hasPrefix("e"), "\(first)")
            #expect(listPages() <= 2, "\(moto.server.requests().filter { $0.method == "GET" }.prefix(5))")
            #expect(listPages() >= 1)
            // Python's scandir: the first entry of a fresh handle, then the handle closed.
            moto.server.resetLog()
            let name = try await Shell.check("python3 -c 'import os,sys; print(next(os.scandir(sys.argv[1])).name)' "
                                             + mount.path("big"))
            #expect(name.hasPrefix("e"))
            #expect(listPages() == 1)
        }
    }
}

import CofferTestSupport
import Foundation
import Testing

/// The read path through the kernel, bytes and requests from moto's log: the disk cache serves a file read again
/// after a remount with no GET, random 4 KiB reads download one 64 KiB block each, an encrypted mount puts no
/// plaintext in its cache directory, and a full cache disk costs nothing but a warning.
@Suite("Read path through the kernel", .serialized, .timeLimit(.minutes(5)))
struct ReadPathMountTests {
    static func gets(_ moto: SignedMoto, of key: String) -> [LoggedRequest] {
        moto.server.requests().filter { $0.method == "GET" && $0.path.hasSuffix("/" + key) }
    }

    /// `size` random bytes written to `local` and uploaded with boto3 as `key`.
    static func uploadRandomFile(moto: SignedMoto, key: String, size: Int, local: String) async throws {
        try await Shell.check("head -c \(size) /dev/urandom > \(local)")
        _ = try await BucketScript(moto: moto).python(
            "s3.upload_file(os.environ['L'], bucket, os.environ['K']); print('ok')", ["L": local, "K": key])
    }

    @Test("a file read again after a remount comes from the disk cache: 0 GETs, the same bytes")
    func diskCacheAcrossRemounts() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("rp-disk")
        let cache = try ProjectPaths.temporaryDirectory("coffer-rp-cache")
        let local = try ProjectPaths.temporaryDirectory("coffer-rp-local")
        defer {
            try? FileManager.default.removeItem(atPath: cache)
            try? FileManager.default.removeItem(atPath: local)
        }
        try await Shell.check("head -c 6000000 /dev/urandom > \(local)/f && head -c 100000 /dev/urandom > \(local)/g")
        let bucket = BucketScript(moto: moto)
        _ = try await bucket.python("""
            for name in ("f", "g"):
                s3.upload_file(os.environ["L"] + "/" + name, bucket, os.environ["P"] + name)
            print("ok")
            """, ["L": local, "P": prefix])
        let arguments = ["--data-cache-mib", "64"]
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: arguments,
                                                      cacheDirectory: cache)) { mount in
            try await Shell.check("cmp \(local)/f \(mount.path("f")) && cmp \(local)/g \(mount.path("g"))")
        }
        let blocks = try await Shell.check("find \(cache)/blocks -type f | wc -l")
        #expect(Int(blocks.trimmingCharacters(in: .whitespacesAndNewlines)) == 94, "92 + 2 blocks of 64 KiB")
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: arguments,
                                                      cacheDirectory: cache)) { mount in
            moto.server.resetLog()
            try await Shell.check("cmp \(local)/f \(mount.path("f")) && cmp \(local)/g \(mount.path("g"))")
            #expect(Self.gets(moto, of: prefix + "f").isEmpty, "\(Self.gets(moto, of: prefix + "f").prefix(3))")
            #expect(Self.gets(moto, of: prefix + "g").isEmpty)
            // Another client replaces g: the next open sees the new ETag and never the cached blocks.
            try await Shell.check("head -c 100000 /dev/urandom > \(local)/g")
            _ = try await bucket.python("s3.upload_file(os.environ['L'] + '/g', bucket, os.environ['P'] + 'g'); print('ok')",
                                        ["L": local, "P": prefix])
            try await Task.sleep(for: .milliseconds(1500))
            try await Shell.check("cmp \(local)/g \(mount.path("g"))")
            #expect(Self.gets(moto, of: prefix + "g").count >= 1)
        }
    }

    @Test("a cold sequential read: 1 MiB kernel reads, few GETs of up to 16 MiB, no byte fetched twice")
    func sequentialReadUsesLargeRequests() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("rp-seq")
        let local = try ProjectPaths.temporaryDirectory("coffer-rp-local")
        defer { try? FileManager.default.removeItem(atPath: local) }
        let size = 40 << 20
        try await Self.uploadRandomFile(moto: moto, key: prefix + "big", size: size, local: local + "/big")
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix)) { mount in
            _ = try await Shell.check("stat \(mount.path("big"))")
            // The kernel's read-ahead for this mount was raised after FUSE_INIT to one FUSE read (it would be 128 KiB).
            let readAhead = try await Shell.check("cat /sys/class/bdi/$(mountpoint -d \(mount.mountpoint))/read_ahead_kb")
            #expect(readAhead.trimmingCharacters(in: .whitespacesAndNewlines) == "1024")
            moto.server.resetLog()
            try await Shell.check("dd if=\(mount.path("big")) of=\(local)/copy bs=1M status=none && cmp \(local)/big \(local)/copy")
            let key = "/" + prefix + "big"
            let logged = await moto.server.requests { requests in
                requests.filter { $0.method == "GET" && $0.path.hasSuffix(key) }.reduce(0) { $0 + $1.responseBytes } >= size
            }
            let gets = logged.filter { $0.method == "GET" && $0.path.hasSuffix(key) }
            #expect(gets.allSatisfy { $0.responseBytes <= 16 << 20 }, "\(gets.map(\.responseBytes))")
            #expect(gets.reduce(0) { $0 + $1.responseBytes } == size, "no byte fetched twice: \(gets.map(\.responseBytes))")
            // 1 MiB reads start with 1 MiB windows that double to 32 MiB (two GETs of 16 MiB).
            #expect(gets.count <= 10, "\(gets.count) GETs: \(gets.map(\.responseBytes))")
        }
    }

    @Test("random 4 KiB reads download one 64 KiB block each")
    func randomReadsFetchSmallBlocks() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("rp-rand")
        let local = try ProjectPaths.temporaryDirectory("coffer-rp-local")
        defer { try? FileManager.default.removeItem(atPath: local) }
        try await Self.uploadRandomFile(moto: moto, key: prefix + "big", size: 33554432, local: local + "/big")
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix)) { mount in
            _ = try await Shell.check("stat \(mount.path("big"))")
            moto.server.resetLog()
            // 64 reads of 4 KiB at random offsets (fixed seed), compared with the local copy; fadvise(RANDOM)
            // as fio does, so the kernel reads no more than asked.
            try await Shell.check("""
                python3 - \(mount.path("big")) \(local)/big <<'PY'
                import os, random, sys
                random.seed(7)
                mounted = os.open(sys.argv[1], os.O_RDONLY)
                os.posix_fadvise(mounted, 0, 0, os.POSIX_FADV_RANDOM)
                with open(sys.argv[2], "rb") as local:
                    for _ in range(64):
                        offset = random.randrange(0, 33554432 // 4096) * 4096
                        local.seek(offset)
                        assert os.pread(mounted, 4096, offset) == local.read(4096), offset
                PY
                """)
            let gets = Self.gets(moto, of: prefix + "big")
            #expect(!gets.isEmpty && gets.count <= 64)
            #expect(gets.allSatisfy { $0.responseBytes <= 65536 }, "\(gets.map(\.responseBytes).max() ?? 0) bytes")
            let downloaded = gets.reduce(0) { $0 + $1.responseBytes }
            #expect(downloaded <= 64 * 65536, "\(downloaded) bytes for 64 reads of 4 KiB")
        }
    }

    @Test("an encrypted mount with --data-cache-mib puts no plaintext in its cache directory")
    func encryptedMountKeepsNoPlaintextOnDisk() async throws {
        let server = try await EncryptionServer.shared()
        let prefix = uniquePrefix("rp-enc")
        let cache = try ProjectPaths.temporaryDirectory("coffer-rp-enc-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let marker = "coffer-read-plaintext-\(prefix.dropLast())"
        try await using(try await server.mount(prefix, extra: ["--data-cache-mib", "64"], cacheDirectory: cache)) { mount in
            try await Shell.check("for i in $(seq 1 2000); do echo \(marker) $i; done > \(mount.path("secret.txt"))")
        }
        try await using(try await server.mount(prefix, extra: ["--data-cache-mib", "64"], cacheDirectory: cache)) { mount in
            let count = try await Shell.check("grep -c \(marker) \(mount.path("secret.txt"))")
            #expect(count.trimmingCharacters(in: .whitespacesAndNewlines) == "2000")
            #expect(mount.log.contains("no disk cache with encryption"))
        }
        let found = try await Shell.run("grep -rl \(Shell.quote(marker)) \(Shell.quote(cache))")
        #expect(found.status == 1, "plaintext in the cache directory: \(found.stdout)")
    }

    @Test("a full cache disk: reads still return every byte, one warning")
    func fullCacheDisk() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("rp-full")
        let cache = try ProjectPaths.temporaryDirectory("coffer-rp-tiny")
        let local = try ProjectPaths.temporaryDirectory("coffer-rp-local")
        try await Shell.check("mount -t tmpfs -o size=1m coffer-test-tiny \(cache)")
        defer { try? FileManager.default.removeItem(atPath: local) }
        do {
            try await Self.readThroughAFullDisk(moto: moto, prefix: prefix, cache: cache, local: local)
        } catch {
            _ = try? await Shell.run("umount \(cache); rmdir \(cache)")
            throw error
        }
        try await Shell.check("umount \(cache) && rmdir \(cache)")
    }

    static func readThroughAFullDisk(moto: SignedMoto, prefix: String, cache: String, local: String) async throws {
        try await Shell.check("head -c 8000000 /dev/urandom > \(local)/f")
        let bucket = BucketScript(moto: moto)
        _ = try await bucket.python("s3.upload_file(os.environ['L'] + '/f', bucket, os.environ['P'] + 'f'); print('ok')",
                                    ["L": local, "P": prefix])
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix,
                                                      extraArguments: ["--data-cache-mib", "64"],
                                                      cacheDirectory: cache)) { mount in
            try await Shell.check("cmp \(local)/f \(mount.path("f"))")
            try await Shell.check("cat \(mount.path("f")) > /dev/null")
            #expect(mount.log.components(separatedBy: "the disk cache cannot be written").count - 1 == 1,
                    "\(mount.log.suffix(2000))")
        }
    }
}

import CofferTestSupport
import Foundation
import Testing

/// Real kernel mounts of a moto bucket through the `coffer` binary. Every filesystem call on the mount runs in a
/// child process (`Shell`); every test unmounts, also when it fails.
@Suite("Mounted bucket", .serialized, .timeLimit(.minutes(2)))
struct MountTests {
    @Test("ls, cat and stat show objects uploaded with boto3; unmount ends the process")
    func listReadStat() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("read")
        let bucket = BucketScript(moto: moto)
        try await bucket.put(prefix + "hello.txt", "hello world\n")
        try await bucket.put(prefix + "docs/readme.md", "# readme\n")
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix)
        do {
            let source = try await Shell.check("findmnt -n -o FSTYPE,SOURCE \(mount.path(""))")
            #expect(source.contains("fuse.coffer"))
            #expect(source.contains("coffer:\(moto.bucket)/\(prefix)"))
            let listing = try await Shell.check("ls -a \(mount.path(""))")
            #expect(listing.split(separator: "\n").sorted() == [".", "..", "docs", "hello.txt"])
            #expect(try await Shell.check("cat \(mount.path("hello.txt"))") == "hello world\n")
            #expect(try await Shell.check("cat \(mount.path("docs/readme.md"))") == "# readme\n")
            let status = try await Shell.check("stat -c '%s %F' \(mount.path("hello.txt")) \(mount.path("docs"))")
            #expect(status == "12 regular file\n0 directory\n" || status.hasPrefix("12 regular file\n"))
            let missing = try await Shell.run("cat \(mount.path("nope.txt"))")
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("No such file"))
        } catch {
            Issue.record("coffer log:\n\(mount.log)")
            await mount.unmount()
            throw error
        }
        await mount.unmount()
        #expect(!mount.isRunning, "the coffer process exits once unmounted")
        #expect(mount.exitStatus == 0, "\(mount.log)")
    }

    @Test("mount-s3 style: BUCKET MOUNTPOINT --prefix")
    func bucketNameAndPrefixOption() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("style")
        try await BucketScript(moto: moto).put(prefix + "a.txt", "a")
        let mount = try await MountedCoffer.start(moto: moto, extraArguments: ["--prefix", prefix], source: moto.bucket)
        defer { mount.unmountNow() }
        #expect(try await Shell.check("ls \(mount.path(""))") == "a.txt\n", "\(mount.log)")
    }

    @Test("--read-cache-size bounds the memory a large read takes")
    func readCacheSizeBoundsMemory() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("readcache")
        let local = try ProjectPaths.temporaryDirectory("coffer-readcache")
        defer { try? FileManager.default.removeItem(atPath: local) }
        try await Shell.check("head -c \(96 << 20) /dev/urandom > \(local)/big")
        let writer = try await MountedCoffer.start(moto: moto, prefix: prefix)
        try await Shell.check("cp \(local)/big \(writer.path("big"))", timeout: 120)
        await writer.unmount()
        // 96 MiB read through a mount whose cache may hold 8: its peak memory stays far below the file's size
        // (with the default 256 MiB cache the same read peaks at about 140 MiB).
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: ["-o", "read_cache_mib=8"])
        defer { mount.unmountNow() }
        try await Shell.check("cmp \(local)/big \(mount.path("big"))", timeout: 120)
        let status = try String(contentsOfFile: "/proc/\(mount.processIdentifier)/status", encoding: .utf8)
        let peak = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        #expect(peak > 0 && peak < 100 << 10, "peak RSS \(peak) KiB with an 8 MiB read cache")
    }

    @Test("echo > file is stored as an object")
    func writeNewFile() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("write")
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix)
        defer { mount.unmountNow() }
        try await Shell.check("echo 'written through coffer' > \(mount.path("new.txt"))")
        #expect(try await Shell.check("cat \(mount.path("new.txt"))") == "written through coffer\n")
        let stored = try await BucketScript(mount: mount).get(prefix + "new.txt")
        #expect(stored == "written through coffer\n", "\(mount.log)")
    }

    @Test("mkdir -p makes nested directories")
    func makeNestedDirectories() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("mkdir")
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix)
        defer { mount.unmountNow() }
        try await Shell.check("mkdir -p \(mount.path("a/b/c")) && test -d \(mount.path("a/b/c"))")
        #expect(try await Shell.check("ls \(mount.path("a/b"))") == "c\n")
        let keys = try await BucketScript(mount: mount).keys(under: prefix)
        #expect(keys.contains(prefix + "a/b/c/"), "directory marker objects: \(keys)")
    }

    @Test("rm deletes the object")
    func removeFile() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("rm")
        let bucket = BucketScript(moto: moto)
        try await bucket.put(prefix + "gone.txt", "bye")
        try await bucket.put(prefix + "kept.txt", "stay")
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix)
        defer { mount.unmountNow() }
        try await Shell.check("rm \(mount.path("gone.txt"))")
        #expect(try await Shell.check("ls \(mount.path(""))") == "kept.txt\n")
        #expect(try await bucket.get(prefix + "gone.txt") == nil)
        #expect(try await bucket.get(prefix + "kept.txt") == "stay")
    }

    @Test("mv renames the object")
    func renameFile() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("mv")
        let bucket = BucketScript(moto: moto)
        try await bucket.put(prefix + "old.txt", "contents")
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix)
        defer { mount.unmountNow() }
        try await Shell.check("mv \(mount.path("old.txt")) \(mount.path("new.txt"))")
        #expect(try await Shell.check("ls \(mount.path(""))") == "new.txt\n")
        #expect(try await Shell.check("cat \(mount.path("new.txt"))") == "contents")
        #expect(try await bucket.keys(under: prefix) == [prefix + "new.txt"])
    }
}

/// Kernel-facing details of the adapter: long listings, statfs, xattrs, signals.
@Suite("FUSE adapter", .serialized, .timeLimit(.minutes(4)))
struct AdapterTests {
    @Test("a directory of 600 entries lists completely and in order (readdir offsets, readdirplus overflow)")
    func longListing() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("many")
        let bucket = BucketScript(moto: moto)
        _ = try await bucket.python("""
            p = os.environ['P']
            for i in range(600):
                s3.put_object(Bucket=bucket, Key=p + "file-with-a-longish-name-%04d.txt" % i, Body=b"x" * (i % 7))
            """, ["P": prefix])
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix)
        defer { mount.unmountNow() }
        let expected = (0..<600).map { String(format: "file-with-a-longish-name-%04d.txt", $0) }
        let plain = try await Shell.check("ls -f \(mount.path("")) | grep -v '^\\.\\.\\?$' | sort")
        #expect(plain.split(separator: "\n").map(String.init) == expected)
        // 600 HEADs on the moto the other suites share: give a loaded machine time.
        let long = try await Shell.check("ls -l \(mount.path("")) | tail -n +2 | wc -l", timeout: 150)
        #expect(long.trimmingCharacters(in: .whitespacesAndNewlines) == "600")
        let sizes = try await Shell.check("stat -c %s \(mount.path("file-with-a-longish-name-0013.txt"))")
        #expect(sizes == "6\n")
    }

    @Test("df and stat -f report a large, constant filesystem")
    func statfs() async throws {
        let moto = try await SignedMoto.shared()
        let mount = try await MountedCoffer.start(moto: moto, prefix: uniquePrefix("statfs"))
        defer { mount.unmountNow() }
        let output = try await Shell.check("stat -f -c '%S %b %a %l' \(mount.path(""))")
        #expect(output == "4096 1099511627776 1099511627776 255\n")
        try await Shell.check("df -h \(mount.path(""))")
    }

    @Test("user.* extended attributes round-trip, and size probes work (getfattr/listxattr semantics)")
    func extendedAttributes() async throws {
        let moto = try await SignedMoto.shared()
        let mount = try await MountedCoffer.start(moto: moto, prefix: uniquePrefix("xattr"))
        defer { mount.unmountNow() }
        try await Shell.check("echo data > \(mount.path("f"))")
        let output = try await Shell.check("""
            python3 -c 'import os, sys
            p = sys.argv[1]
            os.setxattr(p, "user.color", b"blue")
            print(os.getxattr(p, "user.color").decode(), "user.color" in os.listxattr(p))
            os.removexattr(p, "user.color")
            print("user.color" in os.listxattr(p))' \(mount.path("f"))
            """)
        #expect(output == "blue True\nFalse\n", "\(mount.log)")
    }

    @Test("SIGTERM uploads a file still open for writing, then unmounts and exits 0")
    func terminationUploadsPendingWrites() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("sigterm")
        let mount = try await MountedCoffer.start(moto: moto, prefix: prefix)
        defer { mount.unmountNow() }
        // The shell keeps the file open (no flush yet) while coffer gets SIGTERM, and closes it a second later.
        try await Shell.check("""
            exec 3>\(mount.path("open.txt")); echo pending >&3; kill -TERM \(mount.processIdentifier); sleep 1; exec 3>&-
            """)
        #expect(await mount.waitForExit(timeout: 30), "\(mount.log)")
        #expect(mount.exitStatus == 0, "\(mount.log)")
        #expect(!mount.isMounted)
        #expect(try await BucketScript(mount: mount).get(prefix + "open.txt") == "pending\n")
    }
}

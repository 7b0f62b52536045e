import CofferTestSupport
import Foundation
import Testing

/// The commands of docs/guides, taken from the guides themselves (so a guide that changes is tested as it reads)
/// and run against real mounts: the MISP attachments move with its rsync filter, and the backup host's cron script
/// on a List+Put-only, `--no-overwrite` mount.
@Suite("Guide commands through the kernel", .serialized, .timeLimit(.minutes(3)))
struct GuideCommandTests {
    static func guide(_ name: String) throws -> String {
        try String(contentsOfFile: ProjectPaths.root + "/docs/guides/" + name, encoding: .utf8)
    }

    /// The lines of the first fenced code block after the line that contains `marker`.
    static func codeBlock(after marker: String, in text: String) throws -> [String] {
        let lines = text.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.contains(marker) }, "no \(marker)")
        let open = try #require(lines[start...].firstIndex { $0.hasPrefix("```") })
        let close = try #require(lines[(open + 1)...].firstIndex { $0.hasPrefix("```") })
        return Array(lines[(open + 1)..<close])
    }

    /// MISP: the guide's filter copies the event directories and `shadow/` and nothing else, its second pass and its
    /// dry-run check print nothing, and the mount holds the attachments byte for byte.
    @Test("MISP guide: the rsync filter moves attachments and shadow/ only; the second pass and the check print nothing")
    func mispAttachmentsMove() async throws {
        let block = try Self.codeBlock(after: "## Move the existing attachments", in: try Self.guide("misp-attachments.md"))
        let filter = try #require(block.first { $0.hasPrefix("filter=(") })
        let pass = try #require(block.first { $0.hasPrefix("rsync -a \"${filter[@]}\" \"$SRC/\" \"$DST/\"") })
        let check = try #require(try Self.guide("misp-attachments.md").components(separatedBy: "`")
            .first { $0.hasPrefix("rsync -a --dry-run --itemize-changes \"${filter[@]}\"") })
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("guide-misp")
        let source = try ProjectPaths.temporaryDirectory("coffer-guide-misp")
        defer { try? FileManager.default.removeItem(atPath: source) }
        try await Shell.check("""
            cd \(Shell.quote(source)) && mkdir -p 12/345 1234 shadow/12 scripts feed-metadata \
            && head -c 70000 /dev/urandom > 12/345/sample.bin && printf a > 1234/5678 && printf p > shadow/12/346 \
            && printf x > scripts/tool.py && printf '{}' > feed-metadata/defaults.json && chown -R 33:33 12 1234 shadow
            """)
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix,
                                                      extraArguments: ["--uid", "33", "--gid", "33"])) { mount in
            let script = """
                set -e
                SRC=\(Shell.quote(source))
                DST=\(mount.path(""))
                \(filter)
                \(pass)
                echo "second pass:"
                \(pass.replacingOccurrences(of: "rsync -a ", with: "rsync -a --itemize-changes "))
                echo "check:"
                \(check)
                echo "end"
                """
            let output = try await Shell.check("bash -c \(Shell.quote(script))", timeout: 120)
            #expect(output.hasSuffix("second pass:\ncheck:\nend\n"), "nothing to transfer again: \(output)")
            let listing = try await Shell.check("cd \(mount.path("")) && find . -type f -printf '%P %U\\n' | sort")
            #expect(listing == "12/345/sample.bin 33\n1234/5678 33\nshadow/12/346 33\n", "\(listing)")
            try await Shell.check("cmp \(Shell.quote(source + "/12/345/sample.bin")) \(mount.path("12/345/sample.bin"))")
        }
    }

    /// Backup host: the guide's cron script, with its mountpoint set to a List+Put-only `--no-overwrite` mount, makes
    /// a dated archive that is in S3 when it exits 0; run again in the same second it fails instead of replacing.
    @Test("backup guide: the cron script stores a dated archive through a List+Put-only mount, and never replaces one")
    func backupCronScript() async throws {
        var lines = try Self.codeBlock(after: "`/usr/local/sbin/coffer-backup`:", in: try Self.guide("backup-host.md"))
        #expect(lines.first == "#!/bin/sh")
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("guide-backup")
        let work = try ProjectPaths.temporaryDirectory("coffer-guide-backup")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try await Shell.check("mkdir -p \(Shell.quote(work + "/etc")) && head -c 200000 /dev/urandom > \(Shell.quote(work + "/etc/data"))")
        let mount = try await MountedCoffer.start(moto: moto, user: "writer", prefix: prefix,
                                                  extraArguments: ["--no-overwrite"])
        try await using(mount) { mount in
            // The guide's script, pointed at this mount, archiving a small stand-in for /etc, with a fixed time so
            // that the second run picks the same name.
            let index = try #require(lines.firstIndex { $0.hasPrefix("mnt=") })
            lines[index] = "mnt=\(mount.path(""))"
            let script = lines.joined(separator: "\n")
                .replacingOccurrences(of: "tar -C / -czf", with: "tar -C \(Shell.quote(work)) -czf")
                .replacingOccurrences(of: "$(date -u +%Y%m%dT%H%M%SZ)", with: "20261207T021500Z")
            try script.write(toFile: work + "/coffer-backup", atomically: true, encoding: .utf8)
            let first = try await Shell.run("sh \(Shell.quote(work + "/coffer-backup"))", timeout: 60)
            #expect(first.status == 0, "\(first.stderr)")
            let keys = try await BucketScript(moto: moto).keys(under: prefix)
            let archive = try #require(keys.first { $0.hasSuffix("/etc-20261207T021500Z.tar.gz") }, "\(keys)")
            // tar and gzip each close the new archive: the second upload replaces this mount's own first one.
            #expect(!keys.contains { $0.contains(".conflict-") }, "\(keys)")
            let listed = try await BucketScript(moto: moto).python("""
                import io, tarfile
                body = s3.get_object(Bucket=bucket, Key=os.environ["K"])["Body"].read()
                print(tarfile.open(fileobj=io.BytesIO(body)).getnames())
                """, ["K": archive])
            #expect(listed.contains("'etc/data'"), "\(listed)")
            let second = try await Shell.run("sh \(Shell.quote(work + "/coffer-backup"))", timeout: 60)
            #expect(second.status != 0, "the same name again must fail, not replace the archive")
            #expect(second.stderr.contains("File exists") || second.stderr.contains("Permission denied"),
                    "\(second.stderr)")
        }
    }
}

import CofferTestSupport
import Foundation
import Testing

/// `--metrics-addr`: Prometheus metrics scraped during a workload through the kernel, checked against the S3
/// server's own request log and against what the workload did.
@Suite("Prometheus metrics", .serialized, .timeLimit(.minutes(3)))
struct MetricsMountTests {
    /// `name{labels} value` lines of a scrape, by their `name{labels}` text.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// The sum of every series of `name` whose labels contain all of `labels` (`key="value"` texts).
    static func total(_ samples: [String: Double], _ name: String, _ labels: [String] = []) -> Double {
        samples.filter { key, _ in
            (key == name || key.hasPrefix(name + "{")) && labels.allSatisfy { key.contains($0) }
        }.values.reduce(0, +)
    }

    /// The metrics URL the mount logged ("serving metrics url=…": port 0 lets the system pick the port).
    static func metricsURL(_ mount: MountedCoffer) -> String? {
        mount.log.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("url=http://127.0.0.1:") }
            .map { String($0.dropFirst(4)) }
    }

    @Test("a scrape during a workload counts exactly the S3 requests the server logged, and the FUSE operations")
    func scrapeMatchesTheServerLog() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("metrics")
        let label = String(prefix.dropLast())
        let bucket = BucketScript(moto: moto)
        try await bucket.put(prefix + "seed.txt", String(repeating: "s", count: 5000))
        moto.server.resetLog()
        let options = ["--metrics-addr", "127.0.0.1:0"]
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: options)) { mount in
            let url = try #require(Self.metricsURL(mount), "\(mount.log)")
            try await Shell.check("""
                cd \(mount.path("")) && for i in 1 2 3; do head -c $((i * 1000)) /dev/urandom > new-$i.bin; done \
                && cat seed.txt > /dev/null && ls -l > /dev/null && ! cat missing.txt 2>/dev/null \
                && \(fsyncCommand("."))
                """)
            let text = try await Shell.check("curl -sf \(Shell.quote(url))")
            let samples = Self.samples(text)
            let logged = moto.server.requests().filter { ($0.path + "?" + $0.query).contains(label) }
            func serverCount(_ matches: (LoggedRequest) -> Bool) -> Double { Double(logged.filter(matches).count) }
            let expected: [(String, Double)] = [
                ("PutObject", serverCount { $0.method == "PUT" && !$0.isCopy }),
                ("GetObject", serverCount { $0.method == "GET" && $0.path.contains(label) }),
                ("HeadObject", serverCount { $0.method == "HEAD" }),
                ("ListObjectsV2", serverCount { $0.method == "GET" && $0.query.contains("list-type=2") }),
            ]
            for (operation, count) in expected {
                #expect(Self.total(samples, "coffer_s3_requests_total", ["operation=\"\(operation)\""]) == count,
                        "\(operation): the server logged \(count)")
            }
            // With uploads at close, each shell redirection is two uploads (the shell's own close of the new file,
            // then the writer's).
            #expect(expected[0].1 >= 3 && expected[1].1 >= 1, "the workload's own requests: \(logged)")
            #expect(Self.total(samples, "coffer_s3_requests_total", ["status=\"200\""]) >= 5)
            #expect(Self.total(samples, "coffer_s3_request_duration_seconds_count", ["operation=\"PutObject\""])
                    == expected[0].1)
            #expect(Self.total(samples, "coffer_s3_bytes_sent_total") >= 6000)
            #expect(Self.total(samples, "coffer_s3_bytes_received_total") >= 5000)
            #expect(Self.total(samples, "coffer_fuse_operations_total", ["operation=\"write\"", "errno=\"0\""]) >= 3)
            #expect(Self.total(samples, "coffer_fuse_operations_total", ["operation=\"lookup\"", "errno=\"2\""]) >= 1,
                    "the lookup of missing.txt failed with ENOENT")
            #expect(Self.total(samples, "coffer_read_cache_misses_total") >= 1)
            #expect(samples["coffer_pending_uploads"] == 0 && samples["coffer_conflicts_total"] == 0)
            #expect(text.contains("# TYPE coffer_s3_request_duration_seconds histogram"))
            let notFound = try await Shell.run("curl -s -o /dev/null -w '%{http_code}' \(Shell.quote(url + "x"))")
            #expect(notFound.stdout == "404")
        }
    }

    @Test("pending uploads and S3 errors show in the metrics while S3 refuses")
    func pendingAndFailingUploadsShow() async throws {
        let moto = try await SignedMoto.shared()
        let prefix = uniquePrefix("metrics-503")
        let label = String(prefix.dropLast())
        defer { moto.server.endFaults() }
        let options = ["--metrics-addr", "127.0.0.1:0", "--write-back-delay", "0.2", "-o", "retries=1"]
        try await using(try await MountedCoffer.start(moto: moto, prefix: prefix, extraArguments: options)) { mount in
            let url = try #require(Self.metricsURL(mount), "\(mount.log)")
            _ = try await Shell.check("ls \(mount.path(""))")
            try moto.server.injectFaults(status: 503, matching: label)
            try await Shell.check("printf queued > \(mount.path("queued.txt"))")
            var samples: [String: Double] = [:]
            for _ in 0..<40 {
                try await Task.sleep(for: .milliseconds(250))
                samples = Self.samples(try await Shell.check("curl -sf \(Shell.quote(url))"))
                if samples["coffer_failing_uploads"] == 1 { break }
            }
            #expect(samples["coffer_pending_uploads"] == 1 && samples["coffer_failing_uploads"] == 1, "\(samples)")
            #expect(Self.total(samples, "coffer_s3_requests_total", ["operation=\"PutObject\"", "status=\"503\""]) >= 2)
            #expect(Self.total(samples, "coffer_s3_retries_total", ["operation=\"PutObject\""]) >= 1)
            moto.server.endFaults()
            _ = try await Shell.run(fsyncCommand(mount.path("")))
            samples = Self.samples(try await Shell.check("curl -sf \(Shell.quote(url))"))
            #expect(samples["coffer_pending_uploads"] == 0, "\(samples)")
        }
    }
}

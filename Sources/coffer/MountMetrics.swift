import CofferCache
import CofferFS
import CofferFUSE
import CofferMetrics
import CofferS3
import Foundation

/// The metrics of one mount (`--metrics-addr`): S3 requests, FUSE operations, the read cache, pending uploads,
/// conflicts and the journal replay, in one registry the metrics server renders.
final class MountMetrics: S3RequestObserver, FuseOperationObserver {
    let registry = MetricsRegistry()

    /// Latency buckets in seconds, from a loopback round trip to a slow multipart part.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    init() {
        for family in [
            MetricsRegistry.Family("coffer_s3_requests_total", help: "S3 request attempts by operation and HTTP status (\"none\": no answer).", kind: .counter),
            MetricsRegistry.Family("coffer_s3_retries_total", help: "S3 request attempts that failed and were tried again, by operation.", kind: .counter),
            MetricsRegistry.Family("coffer_s3_request_duration_seconds", help: "Time of one S3 request attempt, by operation.", kind: .histogram, buckets: Self.latencyBuckets),
            MetricsRegistry.Family("coffer_s3_bytes_sent_total", help: "Request body bytes sent to S3.", kind: .counter),
            MetricsRegistry.Family("coffer_s3_bytes_received_total", help: "Response body bytes received from S3.", kind: .counter),
            MetricsRegistry.Family("coffer_fuse_operations_total", help: "Kernel requests served, by operation and errno (0: success).", kind: .counter),
            MetricsRegistry.Family("coffer_fuse_operation_duration_seconds", help: "Time to answer a kernel request, by operation.", kind: .histogram, buckets: Self.latencyBuckets),
            MetricsRegistry.Family("coffer_read_cache_hits_total", help: "Blocks reads found in the read cache.", kind: .counter),
            MetricsRegistry.Family("coffer_read_cache_misses_total", help: "Blocks reads did not find in the read cache.", kind: .counter),
            MetricsRegistry.Family("coffer_read_cache_fetched_bytes_total", help: "Bytes the read cache fetched from S3.", kind: .counter),
            MetricsRegistry.Family("coffer_read_cache_bytes", help: "Bytes held in the read cache.", kind: .gauge),
            MetricsRegistry.Family("coffer_inodes", help: "Inodes held in memory.", kind: .gauge),
            MetricsRegistry.Family("coffer_listed_names", help: "Names held by cached directory listings.", kind: .gauge),
            MetricsRegistry.Family("coffer_pending_uploads", help: "Closed files and directory markers waiting for upload.", kind: .gauge),
            MetricsRegistry.Family("coffer_pending_upload_bytes", help: "Bytes of the files waiting for upload.", kind: .gauge),
            MetricsRegistry.Family("coffer_pending_upload_oldest_seconds", help: "Age of the oldest pending upload.", kind: .gauge),
            MetricsRegistry.Family("coffer_failing_uploads", help: "Pending uploads whose last attempt failed.", kind: .gauge),
            MetricsRegistry.Family("coffer_open_files_with_changes", help: "Files written and not closed yet.", kind: .gauge),
            MetricsRegistry.Family("coffer_conflicts_total", help: "Uploads that met another host's change since the mount started.", kind: .counter),
            MetricsRegistry.Family("coffer_journal_replayed_records", help: "Journal records of an earlier run found at mount, by outcome.", kind: .gauge),
        ] {
            registry.register(family)
        }
    }

    /// Reads the filesystem's queue, conflict and cache counters at each scrape.
    func follow(_ fileSystem: FileSystem) {
        registry.onScrape { [weak fileSystem] registry in
            guard let fileSystem else { return }
            let status = fileSystem.writeBackStatus
            registry.set("coffer_pending_uploads", [:], Double(status.queue.pendingFiles))
            registry.set("coffer_pending_upload_bytes", [:], Double(status.queue.pendingBytes))
            registry.set("coffer_pending_upload_oldest_seconds", [:], status.queue.oldestPendingSeconds)
            registry.set("coffer_failing_uploads", [:], Double(status.queue.failing))
            registry.set("coffer_open_files_with_changes", [:], Double(status.openWithChanges))
            registry.set("coffer_conflicts_total", [:], Double(status.conflictCount))
            let cache = fileSystem.readCacheStatistics
            registry.set("coffer_read_cache_hits_total", [:], Double(cache.hits))
            registry.set("coffer_read_cache_misses_total", [:], Double(cache.misses))
            registry.set("coffer_read_cache_fetched_bytes_total", [:], Double(cache.bytesFetched))
            registry.set("coffer_read_cache_bytes", [:], Double(cache.cachedBytes))
            let metadata = fileSystem.metadataStatistics
            registry.set("coffer_inodes", [:], Double(metadata.inodes))
            registry.set("coffer_listed_names", [:], Double(metadata.listedNames))
        }
    }

    /// The journal replay at mount.
    func record(_ recovery: RecoverySummary) {
        registry.set("coffer_journal_replayed_records", ["outcome": "found"], Double(recovery.found))
        registry.set("coffer_journal_replayed_records", ["outcome": "uploaded"], Double(recovery.uploaded))
        registry.set("coffer_journal_replayed_records", ["outcome": "still_pending"], Double(recovery.stillPending))
        registry.set("coffer_journal_replayed_records", ["outcome": "set_aside"], Double(recovery.setAside))
    }

    func attemptEnded(operation: String, status: Int?, duration: Duration, bytesSent: UInt64, bytesReceived: UInt64,
                      retrying: Bool) {
        registry.add("coffer_s3_requests_total", ["operation": operation, "status": status.map(String.init) ?? "none"])
        if retrying { registry.add("coffer_s3_retries_total", ["operation": operation]) }
        registry.observe("coffer_s3_request_duration_seconds", ["operation": operation], Self.seconds(duration))
        if bytesSent > 0 { registry.add("coffer_s3_bytes_sent_total", [:], Double(bytesSent)) }
        if bytesReceived > 0 { registry.add("coffer_s3_bytes_received_total", [:], Double(bytesReceived)) }
    }

    func operationEnded(_ operation: String, errno: Int32, duration: Duration) {
        registry.add("coffer_fuse_operations_total", ["operation": operation, "errno": String(errno)])
        registry.observe("coffer_fuse_operation_duration_seconds", ["operation": operation], Self.seconds(duration))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

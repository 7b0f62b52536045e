import CofferMetrics
import Testing

/// The Prometheus text format as the registry writes it.
@Suite("MetricsRegistry")
struct MetricsRegistryTests {
    @Test func countersGaugesAndHistogramsRenderInTheTextFormat() {
        let registry = MetricsRegistry()
        registry.register(.init("app_requests_total", help: "Requests by \"kind\".\nSecond line", kind: .counter))
        registry.register(.init("app_queue", help: "Queue length.", kind: .gauge))
        registry.register(.init("app_seconds", help: "Latency.", kind: .histogram, buckets: [0.5, 0.1]))
        registry.add("app_requests_total", ["status": "200", "op": "Put"])
        registry.add("app_requests_total", ["op": "Put", "status": "200"], 2)
        registry.add("app_requests_total", ["op": "Get \"x\"\\"])
        registry.set("app_queue", [:], 7)
        registry.observe("app_seconds", ["op": "Get"], 0.05)
        registry.observe("app_seconds", ["op": "Get"], 0.3)
        registry.observe("app_seconds", ["op": "Get"], 2)
        registry.add("unregistered_total")
        let text = registry.render()
        #expect(text == """
            # HELP app_requests_total Requests by "kind".\\nSecond line
            # TYPE app_requests_total counter
            app_requests_total{op="Get \\"x\\"\\\\"} 1
            app_requests_total{op="Put",status="200"} 3
            # HELP app_queue Queue length.
            # TYPE app_queue gauge
            app_queue 7
            # HELP app_seconds Latency.
            # TYPE app_seconds histogram
            app_seconds_bucket{op="Get",le="0.1"} 1
            app_seconds_bucket{op="Get",le="0.5"} 2
            app_seconds_bucket{op="Get",le="+Inf"} 3
            app_seconds_sum{op="Get"} 2.35
            app_seconds_count{op="Get"} 3

            """)
        #expect(registry.value("app_requests_total", ["op": "Put", "status": "200"]) == 3)
    }

    @Test func scrapeHooksRunBeforeEachRendering() {
        let registry = MetricsRegistry()
        registry.register(.init("app_pending", help: "Pending.", kind: .gauge))
        let source = Counter()
        registry.onScrape { $0.set("app_pending", [:], Double(source.next())) }
        #expect(registry.render().contains("app_pending 1\n"))
        #expect(registry.render().contains("app_pending 2\n"))
    }

    final class Counter: @unchecked Sendable {
        private var value = 0
        func next() -> Int { value += 1; return value }
    }
}
